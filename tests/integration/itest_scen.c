/* itest_scen.c: the failover scenarios, in the order they run, each ending in one
 * PASS/FAIL line with the times it measured (tests/integration/README.md lists what each
 * one checks). They share one cluster and one recorded load, so every scenario starts by
 * waiting for the previous one's damage to heal (itest_settle) and bumps the load's phase
 * so its shared keys are fresh.
 *
 * Deadlines are in units of the default election timeout (500 ms, randomized to
 * [500, 1000) ms): "a new leader within a few election timeouts" is checked as 5 s.
 * kill-leader is in itest_scen_kill.c, the outages of a majority and of every node in
 * itest_scen_outage.c.
 */
#include "integration/itest.h"
#include "integration/itest_watch.h"

#include "client/vclient.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ITEST_ELECT_LIMIT_MS 5000  /* new leader, and first write after a failure */
#define ITEST_CATCHUP_MS     15000 /* a returning node has applied what was committed */
#define ITEST_SETTLE_MS      30000

void itest_result(struct itest_ctx *x, const char *name, bool pass, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("%s %s: %s\n", pass ? "PASS" : "FAIL", name, msg);
    fflush(stdout);
    if (x->summary) {
        fprintf(x->summary, "%s %s: %s\n", pass ? "PASS" : "FAIL", name, msg);
        fflush(x->summary);
    }
    if (pass)
        x->passed++;
    else
        x->failed++;
}

long itest_ms_since(int64_t t_us)
{
    return (long)((itest_now_us() - t_us) / 1000);
}

/* Started containers may have swapped addresses: every vclient starts afresh. */
void itest_scen_renew(struct itest_ctx *x)
{
    itest_load_renew(x->load);
    struct vclient *vc = itest_vclient(x->c, 0);
    if (vc != NULL) {
        vclient_free(x->vc);
        x->vc = vc;
    }
}

/* A raw request to one node, recorded in the probe history. */
static void itest_probe(struct itest_ctx *x, const char *base_url, const char *key,
                        const char *value, long timeout_ms, struct itest_reply *r)
{
    struct lincheck_op op = {.proc = 100,
                             .key = LINCHECK_STR(key),
                             .type = value ? LINCHECK_PUT : LINCHECK_GET,
                             .value = value ? LINCHECK_STR(value) : LINCHECK_ABSENT,
                             .expected = LINCHECK_ABSENT,
                             .result = LINCHECK_ABSENT,
                             .invoke_us = itest_now_us()};
    itest_raw(x->c, base_url, key, value, timeout_ms, r);
    op.complete_us = itest_now_us();
    bool refused =
        r->answered && (strcmp(r->error, "not_leader") == 0 || strcmp(r->error, "no_leader") == 0);
    if (r->answered && r->success) {
        op.outcome = LINCHECK_OK;
        op.cas_swapped = true;
        if (!value && r->has_value)
            op.result = LINCHECK_STR(r->value);
    } else if (!value && r->answered && strcmp(r->error, "not_found") == 0) {
        op.outcome = LINCHECK_OK;
    } else if (!value || refused) {
        op.outcome = LINCHECK_FAIL; /* a read without answer, or a write refused unproposed */
    } else {
        op.outcome = LINCHECK_INFO;
        op.complete_us = INT64_MAX;
    }
    if (lincheck_history_add(&x->probes, &op) != 0)
        x->failed++;
}

/* The current leader after the cluster settled, or -1 (with a FAIL line). */
int itest_scen_begin(struct itest_ctx *x, const char *name, struct itest_status *st)
{
    atomic_fetch_add(&x->load->phase, 1);
    int leader = -1;
    if (itest_settle(x->c, ITEST_SETTLE_MS) == 0)
        leader = itest_wait_leader(x->c, 0, -1, ITEST_SETTLE_MS, st);
    if (leader < 0)
        itest_result(x, name, false, "no settled cluster with a leader to start from");
    return leader;
}

static void scen_baseline(struct itest_ctx *x)
{
    struct itest_status st;
    int64_t t0 = itest_now_us();
    int leader = itest_scen_begin(x, "baseline", &st);
    if (leader < 0)
        return;
    itest_load_mark(x->load);
    long w = itest_load_wait_write(x->load, 5000);
    itest_result(x, "baseline", w >= 0,
                 "leader %s term %llu; settled in %ld ms; first write %ld ms",
                 x->c->nodes[leader].service, (unsigned long long)st.term, itest_ms_since(t0), w);
}

static void scen_stop_leader(struct itest_ctx *x)
{
    const char *name = "stop-leader";
    struct itest_status st;
    int old = itest_scen_begin(x, name, &st);
    if (old < 0)
        return;
    int64_t t0 = itest_now_us();
    if (itest_op(x->c, old, "stop") != 0) {
        itest_result(x, name, false, "docker stop failed");
        return;
    }
    long stop_ms = itest_ms_since(t0);
    itest_load_mark(x->load); /* writes invoked once the old leader is gone */
    int nl = itest_wait_leader(x->c, 1u << old, -1, ITEST_ELECT_LIMIT_MS, &st);
    long elect_ms = itest_ms_since(t0);
    long write_ms = itest_load_wait_write(x->load, ITEST_ELECT_LIMIT_MS);
    x->stopped = old;
    itest_result(x, name, nl >= 0 && write_ms >= 0,
                 "stopped %s (docker stop %ld ms); new leader %s after %ld ms; first write "
                 "acknowledged %ld ms after the stop",
                 x->c->nodes[old].service, stop_ms, nl >= 0 ? x->c->nodes[nl].service : "none",
                 elect_ms, write_ms);
}

static void scen_start_again(struct itest_ctx *x)
{
    const char *name = "restart-old-leader";
    int i = x->stopped;
    struct itest_status st;
    x->stopped = -1;
    if (i < 0 || itest_wait_leader(x->c, 1u << i, -1, ITEST_SETTLE_MS, &st) < 0) {
        itest_result(x, name, false, "no stopped node or no leader");
        return;
    }
    int64_t t0 = itest_now_us();
    if (itest_op(x->c, i, "start") != 0) {
        itest_result(x, name, false, "docker start failed");
        return;
    }
    itest_scen_renew(x);
    int rc = itest_wait_applied(x->c, i, st.commit, ITEST_CATCHUP_MS);
    itest_result(x, name, rc == 0, "%s applied the leader's commit index %llu in %ld ms",
                 x->c->nodes[i].service, (unsigned long long)st.commit, itest_ms_since(t0));
}

/* A paused leader is frozen mid-term: when it thaws it still believes it leads. Its first
 * linearizable read must not answer from its stale state. */
static void scen_pause_leader(struct itest_ctx *x)
{
    const char *name = "pause-leader";
    struct itest_status st;
    int old = itest_scen_begin(x, name, &st);
    if (old < 0)
        return;
    if (x->watch)
        itest_watch_aim(x->watch, old); /* watchers on the leader when it freezes */
    char key[32];
    struct itest_reply r;
    snprintf(key, sizeof key, "stale-%d", atomic_load(&x->load->phase));
    itest_probe(x, x->c->nodes[old].url, key, "old", 2000, &r);
    bool old_ok = r.success;
    int64_t t0 = itest_now_us();
    if (itest_op(x->c, old, "pause") != 0) {
        itest_result(x, name, false, "docker pause failed");
        return;
    }
    itest_load_mark(x->load);
    int nl = itest_wait_leader(x->c, 1u << old, -1, ITEST_ELECT_LIMIT_MS, &st);
    long elect_ms = itest_ms_since(t0);
    long write_ms = itest_load_wait_write(x->load, ITEST_ELECT_LIMIT_MS);
    bool new_ok = false;
    if (nl >= 0) {
        itest_probe(x, x->c->nodes[nl].url, key, "new", 2000, &r);
        new_ok = r.success;
    }
    if (itest_op(x->c, old, "unpause") != 0) {
        itest_result(x, name, false, "docker unpause failed");
        return;
    }
    itest_probe(x, x->c->nodes[old].url, key, NULL, 2000, &r); /* at once, no settling */
    bool stale = r.success && r.has_value && strcmp(r.value, "old") == 0;
    itest_result(x, name, old_ok && new_ok && nl >= 0 && write_ms >= 0 && !stale,
                 "paused %s; new leader %s after %ld ms; first write %ld ms; thawed old leader "
                 "read -> %s%s%s",
                 x->c->nodes[old].service, nl >= 0 ? x->c->nodes[nl].service : "none", elect_ms,
                 write_ms, r.success ? "value " : (r.answered ? "refused " : "no answer"),
                 r.success ? r.value : r.error, stale ? " (STALE)" : "");
}

/* A cut-off follower falls behind while the majority commits, then catches up. */
static void scen_partition_follower(struct itest_ctx *x)
{
    const char *name = "partition-follower";
    struct itest_status st, fs;
    int leader = itest_scen_begin(x, name, &st);
    if (leader < 0)
        return;
    int f = (leader + 1) % x->c->n;
    long w0 = atomic_load(&x->load->writes_ok);
    int64_t tc = itest_now_us();
    if (itest_isolate(x->c, f) != 0) {
        itest_result(x, name, false, "network disconnect failed");
        return;
    }
    long cut_ms = itest_ms_since(tc);
    itest_sleep_ms(2000);
    long writes = atomic_load(&x->load->writes_ok) - w0;
    int have_fs = itest_status(x->c, f, &fs);
    int nl = itest_wait_leader(x->c, 0, -1, 2000, &st);
    bool behind = have_fs == 0 && nl >= 0 && fs.commit < st.commit;
    int64_t t0 = itest_now_us();
    if (itest_heal(x->c, f) != 0) {
        itest_result(x, name, false, "network reconnect failed");
        return;
    }
    int rc = nl >= 0 ? itest_wait_applied(x->c, f, st.commit, ITEST_CATCHUP_MS) : -1;
    itest_result(x, name, writes > 0 && behind && rc == 0,
                 "cut %s (docker network calls %ld ms): majority acknowledged %ld writes in 2 s "
                 "while it stayed at commit %llu < %llu; reconnected, caught up in %ld ms",
                 x->c->nodes[f].service, cut_ms, writes, (unsigned long long)fs.commit,
                 (unsigned long long)st.commit, itest_ms_since(t0));
}

/* A cut-off leader (the minority) cannot commit; the majority elects another and goes on. */
static void scen_partition_leader(struct itest_ctx *x)
{
    const char *name = "partition-leader";
    struct itest_status st, ls0, ls1;
    int old = itest_scen_begin(x, name, &st);
    if (old < 0)
        return;
    if (x->watch)
        itest_watch_aim(x->watch, old); /* watchers on the leader when it is cut off */
    char key[32];
    struct itest_reply r;
    snprintf(key, sizeof key, "minority-%d", atomic_load(&x->load->phase));
    int64_t t0 = itest_now_us();
    if (itest_isolate(x->c, old) != 0) {
        itest_result(x, name, false, "network disconnect failed");
        return;
    }
    long cut_ms = itest_ms_since(t0);
    itest_load_mark(x->load);
    int nl = itest_wait_leader(x->c, 1u << old, -1, ITEST_ELECT_LIMIT_MS, &st);
    long elect_ms = itest_ms_since(t0);
    long write_ms = itest_load_wait_write(x->load, ITEST_ELECT_LIMIT_MS);
    /* The old leader, alone, either still believes it leads (the write times out) or has
     * stepped down (CheckQuorum: it refuses); acknowledging would be a split brain. */
    itest_probe(x, x->c->nodes[old].ctl_url, key, "lost", 2000, &r);
    bool minority_acked = r.success;
    char said[64];
    snprintf(said, sizeof said, "%s", r.answered ? r.error : "no answer in 2 s");
    bool frozen = itest_status(x->c, old, &ls0) == 0;
    itest_sleep_ms(1000);
    frozen = frozen && itest_status(x->c, old, &ls1) == 0 && ls1.commit == ls0.commit;
    int64_t t1 = itest_now_us();
    if (itest_heal(x->c, old) != 0) {
        itest_result(x, name, false, "network reconnect failed");
        return;
    }
    int rc = -1;
    if (itest_wait_leader(x->c, 0, -1, ITEST_SETTLE_MS, &st) >= 0)
        rc = itest_wait_applied(x->c, old, st.commit, ITEST_CATCHUP_MS);
    long catch_ms = itest_ms_since(t1);
    int l2 = itest_wait_leader(x->c, 0, -1, ITEST_SETTLE_MS, &st);
    if (l2 >= 0)
        itest_probe(x, x->c->nodes[l2].url, key, NULL, 2000, &r);
    bool absent = l2 >= 0 && r.answered && strcmp(r.error, "not_found") == 0;
    itest_result(
        x, name, !minority_acked && frozen && nl >= 0 && write_ms >= 0 && rc == 0 && absent,
        "cut leader %s (docker network calls %ld ms); new leader %s %ld ms after the "
        "cut began; first write %ld ms; the old leader's write %s (%s), its commit "
        "index %s; reconnected, caught up in %ld ms; minority write %s",
        x->c->nodes[old].service, cut_ms, nl >= 0 ? x->c->nodes[nl].service : "none", elect_ms,
        write_ms, minority_acked ? "ACKNOWLEDGED" : "not acknowledged", said,
        frozen ? "frozen" : "MOVED", catch_ms, absent ? "absent" : "NOT ABSENT or unreadable");
}

void itest_scenarios(struct itest_ctx *x)
{
    x->stopped = -1;
    scen_baseline(x);
    scen_stop_leader(x);
    scen_start_again(x);
    itest_scen_kill_leader(x);
    scen_pause_leader(x);
    scen_partition_follower(x);
    scen_partition_leader(x);
    itest_scen_stop_majority(x);
    itest_scen_restart_all(x);
}
