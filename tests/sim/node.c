/* node.c: a simulated node's life cycle.
 *
 * The node is a real struct replica over the real storage (through simfs) and the
 * real kv, run with the operations of node_ops.c. A start is a real recovery from
 * the node's directory. A crash
 * is a power loss: the process state goes, the directory is rewritten by
 * simfs_crash() into what the disk could hold, and storage recovers that state at
 * once (a probe, like the restart will) so the checker knows every node's durable
 * log even while it is down.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

static void core_trace_cb(void *arg, const char *line)
{
    struct sim_node *n = arg;
    sim_trace(n->w, "n%u: %s", (unsigned)n->id, line);
}

static void storage_line(void *arg, const char *line)
{
    struct sim_node *n = arg;
    sim_trace(n->w, "n%u storage: %s", (unsigned)n->id, line);
}

static void storage_opts(struct sim_world *w, struct sim_node *n, struct storage_options *o)
{
    storage_options_defaults(o);
    o->create = true;
    o->sys = &simfs_sys;
    o->log = storage_line;
    o->log_arg = n;
    o->snapshot_entries = w->snapshot_entries ? w->snapshot_entries : UINT64_MAX / 2;
    o->snapshot_bytes = w->snapshot_bytes ? w->snapshot_bytes : UINT64_MAX / 2;
    /* Each node at its own point of the interval, as vesperd's (src/node/boot.c). */
    if (w->snapshot_entries && w->n_initial)
        o->snapshot_phase = w->snapshot_entries / w->n_initial * (n->id % w->n_initial);
    if (w->segment_bytes)
        o->segment_bytes = w->segment_bytes;
    o->preallocate = w->preallocate;
}

static bool ensure_fs(struct sim_world *w, struct sim_node *n)
{
    if (n->fs_ready)
        return true;
    char dir[200];
    snprintf(dir, sizeof dir, "%s/n%u", w->root, (unsigned)n->id);
    if (simfs_init(&n->fs, dir, &w->prng) != 0) {
        sim_fail(w, "setup", "cannot create %s", dir);
        return false;
    }
    n->fs_ready = true;
    return true;
}

/* What storage recovers from the node's directory right now (after a crash). */
static void probe(struct sim_world *w, struct sim_node *n)
{
    struct storage_options o;
    storage_opts(w, n, &o);
    struct storage *st = NULL;
    struct storage_boot boot;
    char err[512];
    if (storage_open(&st, n->fs.dir, &o, &boot, err, sizeof err) != STORAGE_OK) {
        sim_fail(w, "recovery", "n%u cannot recover its disk: %s", (unsigned)n->id, err);
        return;
    }
    sim_check_recovered(w, n, &boot, &n->syn);
    storage_boot_free(&boot);
    storage_close(st);
}

/* Whether the core has already replaced the newest acknowledged entry: a newer
 * leader's append that conflicts with it truncates it in the core at once, while the
 * Ready that writes the truncation may be cut by the crash. Losing the entry is then
 * right (a conflicting leader proves it uncommitted), whatever the disk still held. */
static bool core_replaced_acked(const struct sim_node *n)
{
    if (!n->rep.raft)
        return false;
    struct raft_status st;
    raft_status(n->rep.raft, &st);
    if (n->acked_index <= st.snap_index)
        return false; /* a newer snapshot: sim_check_acked decides */
    raft_term t;
    if (!raft_entry_term(n->rep.raft, n->acked_index, &t))
        return st.last_index < n->acked_index;
    return t != n->acked_term;
}

void sim_node_crash(struct sim_world *w, raft_id id)
{
    struct sim_node *n = &w->node[id];
    if (!n->up)
        return;
    n->fs.crashed = true; /* the process is gone: closing writes nothing */
    bool held = n->acked_index && sim_disk_holds(&n->cur, n->acked_index, n->acked_chain) &&
                !core_replaced_acked(n);
    replica_close(&n->rep);
    n->up = false;
    n->snap_job_due = false; /* the writer dies with the machine */
    n->sync_due = false;     /* so does the sync thread, its fdatasync undone */
    n->restore_due = false;  /* replica_close dropped the decode */
    sim_disk_free(&n->cur);
    if (simfs_crash(&n->fs) != 0) {
        sim_fail(w, "setup", "n%u: cannot rewrite the crashed disk", (unsigned)id);
        return;
    }
    sim_trace(w, "sim: crash n%u (unsynced writes torn or lost)", (unsigned)id);
    probe(w, n);
    if (!w->failed)
        sim_check_acked(w, n, held);
    sim_check_majority(w);
}

void sim_node_start(struct sim_world *w, raft_id id)
{
    struct sim_node *n = &w->node[id];
    if (n->up || !ensure_fs(w, n))
        return;
    struct replica_config rc;
    memset(&rc, 0, sizeof rc);
    rc.dir = n->fs.dir;
    storage_opts(w, n, &rc.sopt);
    rc.rc = w->cfg_template;
    rc.rc.id = id;
    rc.rc.seed = sim_rand(&w->prng);
    rc.rc.trace = w->trace_core && !w->quiet ? core_trace_cb : NULL;
    rc.rc.trace_arg = n;
    rc.initial = w->initial;
    rc.snapshot_trailing = w->snapshot_trailing;
    rc.lease_grace_ms = (uint64_t)w->cfg_template.election_ticks * SIM_TICK_MS;
    /* A small watch window: snapshots carry it, and the simulation's snapshots move in
     * tiny chunks; trimming then runs all the time, under the state hash. */
    rc.hist_events = 48;
    rc.max_sessions = 64; /* the simulation uses no sessions; a small table is cheap */
    rc.sync_mode = w->sync_trail_max_ms ? REPLICA_SYNC_MANUAL : REPLICA_SYNC_INLINE;
    n->sync_due = false;
    sim_disk_free(&n->cur);
    n->applied = 0;
    n->sm_hash = 0;
    n->sm_count = 0;
    n->sm_conf = w->initial;
    char err[512];
    if (replica_open(&n->rep, &rc, &sim_replica_ops, n, err, sizeof err) != 0) {
        if (n->fs.crashed) { /* the armed crash struck during recovery */
            sim_trace(w, "sim: n%u crashed again while recovering", (unsigned)id);
            n->up = true;
            sim_node_crash(w, id);
            return;
        }
        sim_fail(w, "recovery", "n%u does not start: %s", (unsigned)id, err);
        return;
    }
    if (n->applied == 0)
        n->sm_hash = sim_sm_digest(n->rep.kv, &n->sm_conf);
    n->started = true;
    n->up = true;
    n->commit_seen = 0;
    n->role_seen = RAFT_FOLLOWER;
    n->paused_until = 0;
    n->crash_at_ms = 0;
    if (id >= w->n_nodes)
        w->n_nodes = id + 1;
    sim_trace(w, "sim: start n%u (term %llu, snap %llu, log to %llu)", (unsigned)id,
              (unsigned long long)n->cur.hs.term, (unsigned long long)n->cur.snap_index,
              (unsigned long long)sim_log_last(&n->cur.log));
    sim_check_sm_state(w, n);
    sim_check_majority(w);
    sim_shell_process(w, n);
}

/* Removed members shut down once their removal is applied anywhere: they take no
 * further part, as an operator would stop them. Never mid-ready. */
static void reap_removed(struct sim_world *w)
{
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        if (!w->remove_pending[i])
            continue;
        w->remove_pending[i] = false;
        w->node[i].removed = true;
        sim_node_crash(w, i);
    }
}

void sim_shell_process(struct sim_world *w, struct sim_node *n)
{
    if (!n->up || w->failed)
        return;
    replica_process(&n->rep);
    if (n->fs.crashed) {
        w->crashes_in_loop++;
        sim_node_crash(w, n->id);
    } else if (!w->failed && !n->rep.failed) {
        sim_check_node(w, n);
        if (!n->sync_due && n->rep.st && storage_sync_pending(n->rep.st)) {
            n->sync_due = true;
            n->sync_at_ms = w->now_ms + sim_range(&w->prng, w->sync_trail_max_ms + 1);
            sim_trace(w, "sim: n%u syncs its log through %llu beside the loop, done at %llu ms",
                      (unsigned)n->id, (unsigned long long)storage_written_index(n->rep.st),
                      (unsigned long long)n->sync_at_ms);
        }
    }
    reap_removed(w);
}

/* After work a node did beside its loop: the crash that struck meanwhile, or the
 * loop, which may have something to do now. */
static void after_background(struct sim_world *w, struct sim_node *n)
{
    if (n->fs.crashed) {
        w->crashes_in_loop++;
        sim_node_crash(w, n->id);
        return;
    }
    sim_shell_process(w, n);
}

/* The trailing syncs whose time has come: the fdatasync, then its answer to the
 * replica, then the loop (the leader may now count its own copy). A stopped
 * process's sync thread is stopped too. */
void sim_sync_step(struct sim_world *w)
{
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        if (!n->up || !n->sync_due || n->sync_at_ms > w->now_ms || sim_paused(w, n))
            continue;
        n->sync_due = false;
        sim_trace(w, "sim: n%u's trailing sync completes", (unsigned)n->id);
        (void)storage_sync_run(n->rep.st); /* a failure is sticky: replica_sync_done sees it */
        replica_sync_done(&n->rep);
        after_background(w, n);
    }
}

/* The decodes of installed snapshots whose time has come: the decode, then the
 * swap on the loop, then the loop, which hands out what the core held back. */
void sim_restore_step(struct sim_world *w)
{
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        if (!n->up || !n->restore_due || n->restore_at_ms > w->now_ms || sim_paused(w, n))
            continue;
        n->restore_due = false;
        sim_trace(w, "sim: n%u's state from snapshot %llu is decoded", (unsigned)n->id,
                  (unsigned long long)n->rep.restore.meta.index);
        replica_restore_decode(&n->rep);
        replica_restore_finish(&n->rep);
        after_background(w, n);
    }
}

void sim_snapshot_jobs_step(struct sim_world *w)
{
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        if (!n->up || !n->snap_job_due || n->snap_job_at_ms > w->now_ms || sim_paused(w, n))
            continue;
        n->snap_job_due = false;
        sim_trace(w, "sim: n%u adopts its background snapshot at %llu", (unsigned)n->id,
                  (unsigned long long)n->snap_job.index);
        replica_snapshot_finish(&n->rep, &n->snap_job, n->snap_job_written);
        after_background(w, n);
    }
}

void sim_shell_take_snapshot(struct sim_world *w, struct sim_node *n, uint64_t trailing)
{
    if (!n->up || w->failed)
        return;
    uint64_t keep = n->rep.cfg.snapshot_trailing;
    n->rep.cfg.snapshot_trailing = trailing;
    sim_trace(w, "sim: n%u takes a snapshot at %llu, trailing %llu", (unsigned)n->id,
              (unsigned long long)n->applied, (unsigned long long)trailing);
    replica_snapshot(&n->rep);
    n->rep.cfg.snapshot_trailing = keep;
    if (n->fs.crashed) {
        w->crashes_in_loop++;
        sim_node_crash(w, n->id);
        return;
    }
    sim_shell_process(w, n);
}
