/* node_ops.c: the operations a simulated node's replica runs with.
 *
 * They supply what the replica asks of a shell: a transport (the simulated
 * network), the clock (simulated time), the answers to writes and reads (the
 * invariant checker), and the observers that keep the checker's shadow of what
 * the node handed its storage. Once the node's disk crash struck, the process is
 * dead: nothing it does afterwards leaves it or counts.
 */
#include "sim/sim.h"

#include <stdlib.h>

#include "kv/kv.h"

static struct sim_node *node_of(void *arg)
{
    return arg;
}

/* Once the armed crash struck, the process is dead: nothing leaves it. */
static bool dead(struct sim_node *n)
{
    return n->fs.crashed || n->w->failed;
}

static void op_send(void *arg, const struct raft_msg *m)
{
    struct sim_node *n = node_of(arg);
    if (dead(n))
        return;
    sim_check_sent(n->w, n, m);
    sim_net_send(n->w, n, m);
}

static void op_flush(void *arg)
{
    (void)arg;
}

static void note_conf(struct sim_world *w, struct sim_node *n, const struct raft_entry *e)
{
    struct raft_conf c;
    if (raft_conf_decode(&c, e->data, e->len) != RAFT_OK) {
        sim_fail(w, "conf-entry", "n%u cannot decode CONF at %llu", (unsigned)n->id,
                 (unsigned long long)e->index);
        return;
    }
    n->sm_conf = c;
    if (e->index <= w->conf_index)
        return;
    for (uint32_t i = 0; i < w->conf.n; i++) {
        if (!raft_conf_find(&c, w->conf.m[i].id))
            w->remove_pending[w->conf.m[i].id] = true;
    }
    w->conf = c;
    w->conf_index = e->index;
    sim_trace(w, "sim: conf at %llu has %u members, %u voters", (unsigned long long)e->index,
              (unsigned)c.n, (unsigned)raft_conf_voters(&c));
}

static void op_write_done(void *arg, const struct raft_entry *e, const struct kv_result *res)
{
    (void)res;
    struct sim_node *n = node_of(arg);
    struct sim_world *w = n->w;
    if (dead(n))
        return;
    if (e->index != n->applied + 1) {
        sim_fail(w, "apply-order", "n%u applies %llu after %llu", (unsigned)n->id,
                 (unsigned long long)e->index, (unsigned long long)n->applied);
        return;
    }
    struct sim_entry se = {e->term, e->index, e->type, sim_hash_bytes(e->data, e->len, e->type), 0};
    n->applied = e->index;
    if (e->type == RAFT_ENTRY_NORMAL)
        n->sm_count++;
    else if (e->type == RAFT_ENTRY_CONF)
        note_conf(w, n, e);
    n->sm_hash = sim_sm_digest(n->rep.kv, &n->sm_conf);
    sim_check_apply(w, n, &se);
}

static void op_read_done(void *arg, const struct raft_read_result *r)
{
    struct sim_node *n = node_of(arg);
    struct sim_world *w = n->w;
    if (dead(n))
        return;
    sim_trace(w, "sim: n%u read %llu answered %s at %llu (applied %llu)", (unsigned)n->id,
              (unsigned long long)r->read_id, r->ok ? "ok" : "not leader",
              (unsigned long long)r->index, (unsigned long long)n->applied);
    if (!r->ok)
        return;
    sim_check_read_done(w, n, r->read_id, r->index);
    w->reads_released_ok = true;
}

static void op_leadership_lost(void *arg)
{
    struct sim_node *n = node_of(arg);
    sim_trace(n->w, "sim: n%u lost leadership", (unsigned)n->id);
}

static uint64_t op_now_us(void *arg)
{
    return node_of(arg)->w->now_ms * 1000;
}

static void op_log(void *arg, enum replica_log_level level, const char *line)
{
    (void)level;
    struct sim_node *n = node_of(arg);
    sim_trace(n->w, "n%u replica: %s", (unsigned)n->id, line);
}

static void op_fail_stop(void *arg, const char *what, const char *detail)
{
    struct sim_node *n = node_of(arg);
    if (n->fs.crashed) {
        sim_trace(n->w, "sim: n%u disk crash struck during %s (call %llu)", (unsigned)n->id, what,
                  (unsigned long long)n->fs.n_calls);
        return;
    }
    sim_fail(n->w, "fail-stop", "n%u storage failed without a crash: %s: %s", (unsigned)n->id, what,
             detail ? detail : "");
}

/* A rejected snapshot transfer reloads everything from disk, like a restart. */
static void op_reloading(void *arg)
{
    struct sim_node *n = node_of(arg);
    sim_trace(n->w, "sim: n%u reloads its state from disk", (unsigned)n->id);
    n->applied = 0;
    n->sm_hash = 0;
    n->sm_count = 0;
    n->sm_conf = n->w->initial;
    n->commit_seen = 0;
}

static void op_reloaded(void *arg)
{
    struct sim_node *n = node_of(arg);
    if (n->applied == 0)
        n->sm_hash = sim_sm_digest(n->rep.kv, &n->sm_conf);
}

static void op_recovered(void *arg, const struct storage_boot *boot)
{
    struct sim_node *n = node_of(arg);
    sim_check_recovered(n->w, n, boot, &n->cur);
}

/* The state machine was replaced by a snapshot (at start or by an install). */
static void op_restored(void *arg, const struct storage_snapshot *s)
{
    struct sim_node *n = node_of(arg);
    struct sim_world *w = n->w;
    if (dead(n))
        return;
    if (s->index < n->applied) {
        sim_fail(w, "state-machine-regression", "n%u installs snapshot %llu below applied %llu",
                 (unsigned)n->id, (unsigned long long)s->index, (unsigned long long)n->applied);
        return;
    }
    if (n->rep.kv->applied_index != s->index) {
        sim_fail(w, "snapshot-image", "n%u snapshot %llu restores applied index %llu",
                 (unsigned)n->id, (unsigned long long)s->index,
                 (unsigned long long)n->rep.kv->applied_index);
        return;
    }
    n->applied = s->index;
    n->sm_conf = s->conf;
    n->sm_hash = sim_sm_digest(n->rep.kv, &n->sm_conf);
    sim_check_sm_state(w, n);
}

/* A snapshot installed from the leader (its state machine may be restored later,
 * beside the loop). */
static void note_install(struct sim_world *w, struct sim_node *n, const struct raft_ready *rd)
{
    const struct raft_snap_install *s = rd->install;
    /* An install keeps the log after the snapshot when it holds the snapshot's
     * entry, else drops it all (what the loop asks storage for). */
    struct sim_log *l = &n->cur.log;
    const struct sim_entry *e = sim_log_at(l, s->index);
    if (!(e && e->term == s->term) && !(l->base_index == s->index && l->base_term == s->term))
        sim_log_reset(l, s->index, s->term, sim_check_chain_of(w, s->index, s->term));
    n->cur.snap_index = s->index;
    n->cur.snap_term = s->term;
    /* Power fails soon after an install: what the install kept or dropped, and
     * what was appended and acknowledged on top of it, must all come back. More
     * often when the core's log runs past the snapshot: those entries may have
     * replaced a suffix in this very Ready, and storage must not resurrect it. */
    uint32_t pm = rd->last_index > s->index && w->crash_after_keep_pm ? w->crash_after_keep_pm
                                                                      : w->crash_after_install_pm;
    if (sim_chance(&w->prng, pm))
        n->crash_at_ms = w->now_ms + 1 + sim_range(&w->prng, 60);
}

static void op_persisted(void *arg, const struct raft_ready *rd)
{
    struct sim_node *n = node_of(arg);
    struct sim_world *w = n->w;
    if (dead(n))
        return;
    if (rd->install)
        note_install(w, n, rd);
    if (rd->hs_changed)
        n->cur.hs = rd->hs;
    if (!rd->n_entries)
        return;
    struct sim_log *l = &n->cur.log;
    raft_index first = rd->entries[0].index;
    uint64_t chain;
    if (first == l->base_index + 1)
        chain = l->base_chain;
    else if (sim_log_at(l, first - 1))
        chain = sim_log_at(l, first - 1)->chain;
    else {
        sim_fail(w, "disk", "n%u writes entries from %llu, log is %llu..%llu", (unsigned)n->id,
                 (unsigned long long)first, (unsigned long long)l->base_index + 1,
                 (unsigned long long)sim_log_last(l));
        return;
    }
    struct sim_entry *es = calloc(rd->n_entries, sizeof *es);
    if (!es)
        abort();
    for (size_t i = 0; i < rd->n_entries; i++) {
        const struct raft_entry *re = &rd->entries[i];
        es[i] = (struct sim_entry){re->term, re->index, re->type,
                                   sim_hash_bytes(re->data, re->len, re->type), 0};
        chain = es[i].chain = sim_mix(chain, sim_mix(es[i].hash, re->term));
    }
    sim_check_entries(w, n, es, rd->n_entries);
    /* A write that replaces the acknowledged entry (a newer leader's append
     * truncated it, which Raft allows only for uncommitted entries) voids that
     * acknowledgement; the same entry written back later is acknowledged anew. */
    const struct sim_entry *old = sim_log_at(l, first);
    if (n->acked_index >= first && (!old || old->chain != es[0].chain)) {
        n->acked_index = 0;
        n->acked_term = 0;
        n->acked_chain = 0;
    }
    if (!sim_log_write(l, es, rd->n_entries))
        sim_fail(w, "disk", "n%u write at %llu leaves a gap", (unsigned)n->id,
                 (unsigned long long)first);
    free(es);
}

/* vesperd forks a writer (src/node/snapfork.c); here the write happens at once on
 * the state as of now, which is what the child's copy holds, and the adoption
 * waits for a later millisecond (sim_snapshot_jobs_step). */
static bool op_snapshot_background(void *arg)
{
    struct sim_node *n = node_of(arg);
    struct sim_world *w = n->w;
    if (w->bg_snapshot_max_ms == 0)
        return false;
    if (n->snap_job_due)
        return true;
    struct replica_snap_job job;
    if (replica_snapshot_prepare(&n->rep, &job) <= 0)
        return true;
    job.forked = true;
    n->snap_job_written = replica_snapshot_write(&n->rep, &job) == 0;
    n->snap_job = job;
    n->snap_job_due = true;
    n->snap_job_at_ms = w->now_ms + 1 + sim_range(&w->prng, w->bg_snapshot_max_ms);
    sim_trace(w, "sim: n%u wrote a snapshot at %llu in the background%s, adopted at %llu ms",
              (unsigned)n->id, (unsigned long long)job.index,
              n->snap_job_written ? "" : " (the write failed)",
              (unsigned long long)n->snap_job_at_ms);
    return true;
}

/* vesperd decodes an installed snapshot on a thread (src/node/install_thread.c);
 * here the decode and the swap wait for a later millisecond (sim_restore_step),
 * with the loop, the network and crashes running meanwhile. */
static bool op_restore_background(void *arg)
{
    struct sim_node *n = node_of(arg);
    struct sim_world *w = n->w;
    if (w->restore_max_ms == 0)
        return false;
    n->restore_due = true;
    n->restore_at_ms = w->now_ms + 1 + sim_range(&w->prng, w->restore_max_ms);
    sim_trace(w, "sim: n%u decodes snapshot %llu beside the loop, done at %llu ms", (unsigned)n->id,
              (unsigned long long)n->rep.restore.meta.index, (unsigned long long)n->restore_at_ms);
    return true;
}

/* The decode had not begun: nothing to wait for. */
static void op_restore_join(void *arg)
{
    node_of(arg)->restore_due = false;
}

const struct replica_ops sim_replica_ops = {
    .send = op_send,
    .flush = op_flush,
    .write_done = op_write_done,
    .read_done = op_read_done,
    .leadership_lost = op_leadership_lost,
    .reloading = op_reloading,
    .reloaded = op_reloaded,
    .now_us = op_now_us,
    .log = op_log,
    .recovered = op_recovered,
    .restored = op_restored,
    .persisted = op_persisted,
    .snapshot_background = op_snapshot_background,
    .restore_background = op_restore_background,
    .restore_join = op_restore_join,
    .fail_stop = op_fail_stop,
};
