/* scenarios_crash.c: power loss inside the Ready loop, at every disk call.
 *
 * A follower that lags behind catches up one entry per Ready: the write carries
 * the entry and a commit index that covers it. The follower's disk crash is armed
 * at each call of that write in turn (before and after it), the crash tears the
 * unsynced bytes in a chosen way, and the follower restarts from what storage
 * recovers. The restart invariants (check_restart.c) must hold every time: above
 * all, a node never restarts with a commit index beyond its durable log or over
 * entries that were never committed.
 */
#include "sim/scen.h"

#define ROUNDS 6 /* disk calls swept per write: create, header, dir sync, write, sync */

/* Entries of `value_len` bytes reach follower 1 while it lags, one per write. */
static bool sweep(bool verbose, uint64_t segment_bytes, enum simfs_tear tear, size_t value_len)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 1000, .segment_bytes = segment_bytes};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 300) && scen_settle(w, 0, 300));
    struct sim_node *f = &w->node[1];
    for (uint64_t k = 1; k <= ROUNDS; k++) {
        for (int after = 0; after < 2; after++) {
            sim_net_block(w, 0, 1, false);
            raft_index idx = 0;
            SCEN_EXPECT(w, sim_propose_sized(w, 0, value_len, &idx) == RAFT_OK);
            sim_run_ms(w, 30);
            SCEN_EXPECT(w, scen_commit(w, 0) >= idx);
            simfs_arm(&f->fs, k, after);
            f->fs.tear = tear;
            sim_net_heal(w);
            sim_run_ms(w, 30);
            f->fs.crash_in = 0;
            f->fs.tear = SIMFS_TEAR_RANDOM;
            if (!f->up)
                sim_node_start(w, 1);
            SCEN_EXPECT(w, scen_settle(w, 0, 1000));
        }
    }
    SCEN_EXPECT(w, w->crashes_in_loop >= 2);
    return scen_finish(w);
}

/* One write holds the hard state (commit N) and entry N; power fails before the
 * fdatasync and the disk keeps all but the last sector of it: the hard state
 * survives, entry N does not. The node must not restart with commit N. */
SIM_SCENARIO(torn_write_hard_state_ahead_of_entries)
{
    return sweep(verbose, 0, SIMFS_TEAR_BUT_LAST, 600);
}

/* Every write rolls to a new segment, whose header is written (and its name made
 * durable) before the entries; power fails in between and the header survives.
 * It must not carry a commit index the entries behind it never reached. */
SIM_SCENARIO(torn_write_segment_roll)
{
    return sweep(verbose, 1024, SIMFS_TEAR_ALL, 600);
}

/* The same sweep with sector-random tearing and small entries. */
SIM_SCENARIO(torn_write_random_tear)
{
    return sweep(verbose, 2048, SIMFS_TEAR_RANDOM, 200);
}

/* The leader's fdatasync trails its loop, as with vesperd's sync thread. While it
 * runs, the leader and one follower hold the entry but only the follower's copy is
 * durable: not a majority, so the entry must not commit. It commits once the
 * leader's sync completes; then the leader loses power, and the entry survives on
 * the two disks that made it durable. */
SIM_SCENARIO(leader_sync_trails_the_loop)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 1000};
    struct sim_world *w = scen_new(&o, verbose);
    w->sync_trail_max_ms = 5;
    for (raft_id i = 0; i < 3; i++) { /* the mode replica_open picks for such a world */
        w->node[i].rep.cfg.sync_mode = REPLICA_SYNC_MANUAL;
        SCEN_EXPECT(w, storage_sync_manual_start(w->node[i].rep.st) == STORAGE_OK);
    }
    SCEN_EXPECT(w, scen_elect(w, 0, 300) && scen_settle(w, 0, 300));
    struct sim_node *l = &w->node[0];
    sim_net_block(w, 0, 2, true);
    raft_index idx = 0;
    SCEN_EXPECT(w, sim_propose(w, 0, &idx) == RAFT_OK && l->sync_due);
    l->sync_at_ms = UINT64_MAX; /* held */
    sim_run_ms(w, 40);
    SCEN_EXPECT(w, scen_last(w, 1) >= idx && scen_commit(w, 0) < idx);
    l->sync_at_ms = w->now_ms; /* released */
    sim_run_ms(w, 20);
    SCEN_EXPECT(w, scen_commit(w, 0) >= idx);
    sim_node_crash(w, 0);
    sim_net_heal(w);
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_elect(w, 1, 300) && scen_settle(w, idx, 1000));
    return scen_finish(w);
}
