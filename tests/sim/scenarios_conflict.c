/* scenarios_conflict.c: scripted log-conflict repair - a follower whose
 * uncommitted suffix conflicts with the leader must be brought back in line, by
 * appends or by a snapshot, however the conflicting terms compare.
 *
 * They were distilled from random seeds that never converged: the leader kept
 * re-sending the same AppendEntries because the reject hint led it back to the
 * same previous index, or waited forever on a snapshot the network had dropped.
 */
#include "sim/scen.h"

struct cut {
    raft_id from;
    raft_id keep; /* the one peer that still gets this node's APPENDs */
};

static bool cut_appends(void *arg, struct raft_msg *m)
{
    const struct cut *c = arg;
    return m->type == RAFT_MSG_APPEND && m->from == c->from && m->to != c->keep;
}

static bool synced_at(struct sim_world *w, raft_id id, raft_index i, raft_term t)
{
    const struct sim_entry *e = sim_log_at(&w->node[id].cur.log, i);
    return e && e->term == t;
}

/* Follower f applied everything leader l applied, and l applied at least min. */
static bool caught_up(struct sim_world *w, raft_id f, raft_id l, raft_index min, uint64_t max_ms)
{
    for (uint64_t t = 0; t <= max_ms && !w->failed; t++) {
        if (w->node[f].applied == w->node[l].applied && w->node[l].applied >= min)
            return true;
        sim_step_ms(w);
    }
    return false;
}

/* The follower's conflicting entry has a HIGHER term than the leader's entry at
 * that index: S3 holds 2/t2 from a deposed leader, the new leader S0 holds 2/t1.
 * The reject hint must lead below index 2, or S3 never catches up. */
SIM_SCENARIO(conflict_hint_higher_term)
{
    struct scen_opts o = {.n_nodes = 5, .election_ticks = 1000};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 200) && scen_settle(w, 1, 200));
    struct cut c0 = {0, 1};
    w->filter = cut_appends;
    w->filter_arg = &c0;
    raft_index i2 = 0;
    SCEN_EXPECT(w, sim_propose(w, 0, &i2) == RAFT_OK && i2 == 2);
    sim_run_ms(w, 30);
    SCEN_EXPECT(w, synced_at(w, 0, 2, 1) && synced_at(w, 1, 2, 1));
    sim_net_isolate(w, 0);
    sim_net_isolate(w, 1);
    struct cut c2 = {2, 3};
    w->filter_arg = &c2;
    SCEN_EXPECT(w, scen_elect(w, 2, 300));
    raft_term t2 = raft_term_now(w->node[2].rep.raft);
    sim_run_ms(w, 30);
    SCEN_EXPECT(w, synced_at(w, 3, 2, t2) && scen_last(w, 4) == 1);
    w->filter = NULL;
    sim_net_heal(w);
    sim_net_isolate(w, 2);
    sim_node_crash(w, 0); /* without check-quorum a stale leader ignores term t2 */
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_elect(w, 0, 500));
    SCEN_EXPECT(w, caught_up(w, 3, 0, 3, 2000));
    SCEN_SEQ(w, "n3: 3: append prev", "-> reject", "conflict at 2");
    return scen_finish(w);
}

/* The follower conflicts exactly at the leader's first log index after a
 * snapshot: the leader cannot look further back and must send the snapshot.
 * S1 holds 2/t1; S2 leads term t2, snapshots at 2/t2, restarts (its log now
 * starts after 2) and leads again before S1 reconnects. */
SIM_SCENARIO(conflict_at_leader_log_start)
{
    struct scen_opts o = {.n_nodes = 5, .election_ticks = 1000};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 200) && scen_settle(w, 1, 200));
    struct cut c0 = {0, 1};
    w->filter = cut_appends;
    w->filter_arg = &c0;
    SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
    sim_run_ms(w, 30);
    SCEN_EXPECT(w, synced_at(w, 1, 2, 1));
    w->filter = NULL;
    sim_node_crash(w, 0);
    sim_net_isolate(w, 1);
    SCEN_EXPECT(w, scen_elect(w, 2, 300));
    for (int t = 0; t < 300 && w->node[2].applied < 2; t++)
        sim_step_ms(w);
    SCEN_EXPECT(w, w->node[2].applied == 2);
    sim_shell_take_snapshot(w, &w->node[2], 0);
    for (int i = 0; i < 3; i++)
        SCEN_EXPECT(w, sim_propose(w, 2, NULL) == RAFT_OK);
    sim_run_ms(w, 100);
    sim_node_crash(w, 2);
    sim_node_start(w, 2);
    SCEN_EXPECT(w, scen_elect(w, 2, 500));
    sim_run_ms(w, 50);
    sim_net_heal(w);
    SCEN_EXPECT(w, caught_up(w, 1, 2, 6, 2000));
    SCEN_SEQ(w, "n2: 2: snapshot at 2", "n1: 1: append prev", "-> reject", "n1: 1: snapshot");
    return scen_finish(w);
}

/* A snapshot sent while the follower is unreachable is lost; once the follower is
 * back (it answers heartbeats) the leader must send it again. */
SIM_SCENARIO(snapshot_lost_is_retried)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 1000};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 200) && scen_settle(w, 1, 200));
    sim_net_isolate(w, 2);
    for (int i = 0; i < 5; i++)
        SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
    sim_run_ms(w, 50);
    sim_shell_take_snapshot(w, &w->node[0], 0);
    SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
    sim_run_ms(w, 100);
    sim_net_heal(w);
    SCEN_EXPECT(w, caught_up(w, 2, 0, 7, 2000));
    SCEN_SEQ(w, "n0: 0: follower 2 behind log start", "n2: 2: snapshot");
    return scen_finish(w);
}
