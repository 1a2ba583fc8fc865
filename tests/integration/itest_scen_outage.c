/* itest_scen_outage.c: the scenarios without a quorum: stop-majority (three of five
 * stopped: a write must give up within its deadline and nothing may commit; started
 * again, writes flow) and restart-all (every node stopped and started: the data comes
 * back from the named volumes). They run last: both restart containers, and every
 * client starts afresh after them (itest_scen_renew).
 */
#include "integration/itest.h"

#include "client/vclient.h"

#include <stdio.h>
#include <string.h>

/* One write through every node with the client's 2 s deadline, recorded in the probe
 * history; true if acknowledged. *ms is how long the client took to give its answer. */
static bool itest_write_once(struct itest_ctx *x, char *err, long *ms)
{
    char key[32];
    snprintf(key, sizeof key, "majority-%d", atomic_load(&x->load->phase));
    struct vclient_req req = {
        .op = VCLIENT_PUT, .key = key, .key_len = strlen(key), .value = "x", .value_len = 1};
    struct vclient_resp resp;
    struct lincheck_op op = {.proc = 100,
                             .type = LINCHECK_PUT,
                             .key = LINCHECK_STR(key),
                             .value = LINCHECK_STR("x"),
                             .expected = LINCHECK_ABSENT,
                             .result = LINCHECK_ABSENT,
                             .invoke_us = itest_now_us()};
    vclient_do(x->vc, &req, &resp);
    *ms = itest_ms_since(op.invoke_us);
    bool acked = resp.status == VCLIENT_SUCCESS;
    op.outcome = acked ? LINCHECK_OK : LINCHECK_INFO;
    op.complete_us = acked ? itest_now_us() : INT64_MAX;
    op.cas_swapped = true;
    snprintf(err, sizeof resp.error, "%s", resp.error[0] ? resp.error : "-");
    vclient_resp_free(&resp);
    if (lincheck_history_add(&x->probes, &op) != 0)
        x->failed++;
    return acked;
}

/* With three of five stopped nothing can commit: a write must come back (not hang) without
 * success, and the survivors' commit index must stand still; after a restart writes flow. */
void itest_scen_stop_majority(struct itest_ctx *x)
{
    const char *name = "stop-majority";
    struct itest_status st, s0[ITEST_MAX_NODES], s1[ITEST_MAX_NODES];
    int leader = itest_scen_begin(x, name, &st);
    if (leader < 0)
        return;
    int n = x->c->n, k = n / 2 + 1;
    unsigned down = 0;
    for (int j = 0; j < k; j++) {
        int i = (leader + j) % n;
        if (itest_op(x->c, i, "stop") != 0) {
            itest_result(x, name, false, "docker stop failed");
            return;
        }
        down |= 1u << i;
    }
    char err[sizeof((struct vclient_resp *)0)->error];
    long write_ms;
    bool acked = itest_write_once(x, err, &write_ms);
    bool still = true;
    for (int i = 0; i < n; i++)
        still = still && (((down >> i) & 1u) || itest_status(x->c, i, &s0[i]) == 0);
    itest_sleep_ms(1000);
    for (int i = 0; i < n; i++)
        still = still && (((down >> i) & 1u) ||
                          (itest_status(x->c, i, &s1[i]) == 0 && s1[i].commit == s0[i].commit));
    int64_t t0 = itest_now_us();
    itest_load_mark(x->load);
    for (int i = 0; i < n; i++) {
        if (((down >> i) & 1u) && itest_op(x->c, i, "start") != 0) {
            itest_result(x, name, false, "docker start failed");
            return;
        }
    }
    long start_ms = itest_ms_since(t0);
    itest_scen_renew(x);
    long back_ms = itest_load_wait_write(x->load, 20000);
    itest_result(x, name, !acked && write_ms < 3500 && still && back_ms >= 0,
                 "stopped %d of %d: a write gave up cleanly after %ld ms (%s), survivors' commit "
                 "index %s; restarted (docker start %ld ms), first write acknowledged %ld ms after "
                 "the first start",
                 k, n, write_ms, acked ? "ACKNOWLEDGED" : err, still ? "unchanged" : "MOVED",
                 start_ms, back_ms);
}

/* Every node stopped, then started: the data comes back from the named volumes. */
void itest_scen_restart_all(struct itest_ctx *x)
{
    const char *name = "restart-all";
    struct itest_status st;
    if (itest_scen_begin(x, name, &st) < 0)
        return;
    for (int i = 0; i < x->c->n; i++) {
        if (itest_op(x->c, i, "stop") != 0) {
            itest_result(x, name, false, "docker stop failed");
            return;
        }
    }
    int64_t t0 = itest_now_us();
    itest_load_mark(x->load);
    for (int i = 0; i < x->c->n; i++) {
        if (itest_op(x->c, i, "start") != 0) {
            itest_result(x, name, false, "docker start failed");
            return;
        }
    }
    itest_scen_renew(x);
    int leader = itest_wait_leader(x->c, 0, -1, 20000, NULL);
    long elect_ms = itest_ms_since(t0);
    long write_ms = itest_load_wait_write(x->load, 20000);
    uint64_t before = st.commit;
    bool kept = leader >= 0 && itest_status(x->c, leader, &st) == 0 && st.commit >= before;
    itest_result(x, name, leader >= 0 && write_ms >= 0 && kept,
                 "all %d stopped and started: leader %s %ld ms after the first start, first write "
                 "%ld ms, commit "
                 "index %llu (was %llu before)",
                 x->c->n, leader >= 0 ? x->c->nodes[leader].service : "none", elect_ms, write_ms,
                 (unsigned long long)st.commit, (unsigned long long)before);
}
