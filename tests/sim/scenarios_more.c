/* scenarios_more.c: scripted leadership and log-management scenarios -
 * CheckQuorum step-down, leadership transfer, snapshot catch-up of a lagging
 * follower (with its state decoded on the loop or beside it), and membership (learner, promotion,
 * removal of a follower and of the leader itself), plus the configuration codec those rely on.
 */
#include "sim/scen.h"

#include <string.h>

#include "kv/kv.h"

/* An isolated leader with check-quorum steps down on its own (thesis 6.2). */
SIM_SCENARIO(check_quorum_step_down)
{
    struct scen_opts o = {
        .n_nodes = 3, .pre_vote = true, .check_quorum = true, .election_ticks = 10};
    struct sim_world *w = scen_new(&o, verbose);
    raft_id l = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, l != RAFT_NONE);
    raft_term t = raft_term_now(w->node[l].rep.raft);
    sim_net_isolate(w, l);
    sim_run_ms(w, 400);
    SCEN_EXPECT(w, raft_role(w->node[l].rep.raft) != RAFT_LEADER);
    raft_id fresh = sim_leader(w);
    SCEN_EXPECT(w, fresh != RAFT_NONE && fresh != l && raft_term_now(w->node[fresh].rep.raft) > t);
    SCEN_SEQ(w, "no quorum heard in term", "-> step down");
    sim_net_heal(w);
    SCEN_EXPECT(w, scen_settle(w, 0, 1000));
    return scen_finish(w);
}

/* Leadership transfer (thesis 3.10): the target is caught up, gets TimeoutNow,
 * and wins the next term without waiting for a timeout. */
SIM_SCENARIO(leadership_transfer)
{
    struct scen_opts o = {
        .n_nodes = 3, .pre_vote = true, .check_quorum = true, .election_ticks = 100};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 300));
    for (int i = 0; i < 5; i++)
        SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
    raft_term t = raft_term_now(w->node[0].rep.raft);
    SCEN_EXPECT(w, raft_transfer(w->node[0].rep.raft, 2) == RAFT_OK);
    sim_shell_process(w, &w->node[0]);
    SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_EBUSY);
    sim_run_ms(w, 100);
    SCEN_EXPECT(w, sim_leader(w) == 2 && raft_term_now(w->node[2].rep.raft) == t + 1);
    SCEN_EXPECT(w, raft_role(w->node[0].rep.raft) == RAFT_FOLLOWER);
    SCEN_SEQ(w, "n0: 0: transfer to 2", "n2: 2: timeout-now from 0 -> campaign",
             "n2: 2: ", "won term");
    SCEN_EXPECT(w, sim_propose(w, 2, NULL) == RAFT_OK);
    SCEN_EXPECT(w, scen_settle(w, 0, 500));
    return scen_finish(w);
}

/* A follower that was down while the leader compacted its log catches up through
 * a chunked InstallSnapshot and then ordinary appends. */
SIM_SCENARIO(snapshot_catchup)
{
    struct scen_opts o = {.n_nodes = 3,
                          .pre_vote = true,
                          .check_quorum = true,
                          .election_ticks = 100,
                          .snapshot_chunk_bytes = 16};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 300));
    sim_node_crash(w, 2);
    for (int i = 0; i < 40; i++) {
        SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
        sim_run_ms(w, 2);
    }
    SCEN_EXPECT(w, scen_settle(w, scen_last(w, 0), 500));
    sim_shell_take_snapshot(w, &w->node[0], 0);
    sim_shell_take_snapshot(w, &w->node[1], 0);
    SCEN_EXPECT(w, scen_snap(w, 0) >= 41);
    sim_node_start(w, 2);
    SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
    SCEN_EXPECT(w, scen_settle(w, 0, 1000));
    SCEN_EXPECT(w, scen_snap(w, 2) == scen_snap(w, 0));
    SCEN_EXPECT(w, w->node[2].applied == w->node[0].applied);
    SCEN_SEQ(w, "n0: 0: follower 2 behind log start", "sim: deliver snapshot n0->n2",
             "sim: deliver snapshot n0->n2", "n2: 2: snapshot", "-> install");
    return scen_finish(w);
}

/* The same catch-up with the follower's state decoded beside its loop, as vesperd's
 * install thread does. While the decode is held, the follower still appends and
 * acknowledges (the leader commits with its vote alone when the third node is cut
 * off) but applies nothing: its state stays the one it had before the snapshot.
 * Power fails once during the hold; the restarted follower restores the installed
 * snapshot from disk. During a second hold the leader dies: the held node votes
 * but does not campaign, and the new leader commits with it. Once released,
 * everything committed meanwhile is applied in order on top of the snapshot. */
/* As SCEN_EXPECT, for a helper: fails the world, which its caller then finishes. */
#define HELD_EXPECT(w, cond)                                                            \
    do {                                                                                \
        if (!(w)->failed && !(cond))                                                    \
            sim_fail((w), "scenario", "%s:%d: expected %s", __FILE__, __LINE__, #cond); \
        if ((w)->failed)                                                                \
            return false;                                                               \
    } while (0)

static bool catch_up_held(struct sim_world *w, raft_id f, raft_index *idx)
{
    for (int i = 0; i < 40; i++) {
        HELD_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
        sim_run_ms(w, 2);
    }
    HELD_EXPECT(w, scen_settle(w, scen_last(w, 0), 500));
    sim_shell_take_snapshot(w, &w->node[0], 0);
    sim_shell_take_snapshot(w, &w->node[1], 0);
    sim_node_start(w, f);
    for (int k = 0; k < 500 && !w->node[f].restore_due; k++)
        sim_run_ms(w, 1);
    HELD_EXPECT(w, w->node[f].restore_due);
    w->node[f].restore_at_ms = UINT64_MAX; /* held */
    raft_index before = w->node[f].applied;
    sim_net_block(w, 0, 1, true);
    HELD_EXPECT(w, sim_propose(w, 0, idx) == RAFT_OK);
    sim_run_ms(w, 50);
    HELD_EXPECT(w, scen_commit(w, 0) >= *idx && scen_last(w, f) >= *idx);
    HELD_EXPECT(w, w->node[f].applied == before && kv_applied_index(w->node[f].rep.kv) == before);
    return !w->failed;
}

SIM_SCENARIO(install_decoded_beside_the_loop)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 100, .snapshot_chunk_bytes = 64};
    struct sim_world *w = scen_new(&o, verbose);
    w->restore_max_ms = 5;
    SCEN_EXPECT(w, scen_elect(w, 0, 300));
    sim_node_crash(w, 2);
    raft_index idx = 0;
    catch_up_held(w, 2, &idx);
    SCEN_EXPECT(w, true);
    sim_node_crash(w, 2); /* power fails while the state is still being decoded */
    sim_net_heal(w);
    sim_node_start(w, 2);
    SCEN_EXPECT(w, scen_settle(w, idx, 1000));
    sim_node_crash(w, 2);
    catch_up_held(w, 2, &idx);
    SCEN_EXPECT(w, true);
    /* The leader dies: the held follower votes and acknowledges, but does not stand
     * for election; n1 leads and commits with it. */
    sim_net_heal(w);
    sim_run_ms(w, 50); /* n1 gets the entry it missed: the held node's log is no newer */
    SCEN_EXPECT(w, scen_last(w, 1) >= idx);
    sim_node_crash(w, 0);
    SCEN_EXPECT(w, scen_wait_leader(w, 2000) == 1);
    SCEN_EXPECT(w, sim_propose(w, 1, &idx) == RAFT_OK);
    sim_run_ms(w, 50);
    SCEN_EXPECT(w, scen_commit(w, 1) >= idx && raft_role(w->node[2].rep.raft) != RAFT_LEADER);
    w->node[2].restore_at_ms = w->now_ms; /* released */
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_settle(w, idx, 2000));
    SCEN_EXPECT(w, w->node[2].applied == w->node[0].applied);
    SCEN_SEQ(w, "n2: 2: snapshot", "-> install", "decodes snapshot", "sim: crash n2",
             "sim: start n2", "decodes snapshot", "is decoded", "state restored from snapshot");
    return scen_finish(w);
}

static bool conf_has(const struct raft_conf *c, raft_id id, bool voter)
{
    const struct raft_member *m = raft_conf_find(c, id);
    return m && m->voter == voter;
}

/* Learner, promotion, removal of a follower, removal of the leader itself. */
SIM_SCENARIO(membership_changes)
{
    struct scen_opts o = {
        .n_nodes = 3, .pre_vote = true, .check_quorum = true, .election_ticks = 10};
    struct sim_world *w = scen_new(&o, verbose);
    raft_id l = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, l != RAFT_NONE && scen_settle(w, 0, 500));
    for (raft_id id = 3; id <= 4; id++) {
        SCEN_EXPECT(w, sim_change(w, l, RAFT_ADD_LEARNER, id) == RAFT_OK);
        SCEN_EXPECT(w, scen_settle(w, 0, 1000));
        SCEN_EXPECT(w, conf_has(&w->conf, id, false));
        SCEN_EXPECT(w, sim_change(w, l, RAFT_PROMOTE, id) == RAFT_OK);
        SCEN_EXPECT(w, scen_settle(w, 0, 1000));
        SCEN_EXPECT(w, conf_has(&w->conf, id, true));
    }
    SCEN_EXPECT(w, raft_conf_voters(&w->conf) == 5);
    raft_id f = (l + 1) % 3;
    SCEN_EXPECT(w, sim_change(w, l, RAFT_REMOVE, f) == RAFT_OK);
    SCEN_EXPECT(w, scen_settle(w, 0, 1000));
    SCEN_EXPECT(w, !raft_conf_find(&w->conf, f) && w->node[f].removed);
    SCEN_EXPECT(w, sim_change(w, l, RAFT_REMOVE, l) == RAFT_OK);
    sim_run_ms(w, 100);
    raft_id fresh = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, fresh != RAFT_NONE && fresh != l && !raft_conf_find(&w->conf, l));
    SCEN_EXPECT(w, raft_conf_voters(&w->conf) == 3);
    SCEN_EXPECT(w, sim_propose(w, fresh, NULL) == RAFT_OK);
    SCEN_EXPECT(w, scen_settle(w, 0, 1000));
    SCEN_SEQ(w, "removal committed at", "-> hand over to", "timeout-now from", "-> leader");
    return scen_finish(w);
}

/* The configuration codec round-trips (membership depends on it). */
SIM_SCENARIO(conf_codec)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 100};
    struct sim_world *w = scen_new(&o, verbose);
    struct raft_conf c = w->initial, back;
    c.m[1].voter = false;
    uint8_t buf[2048];
    size_t len = raft_conf_encode(&c, buf, sizeof buf);
    SCEN_EXPECT(w, len > 0 && len <= sizeof buf);
    SCEN_EXPECT(w, raft_conf_encode(&c, buf, 3) == len);
    SCEN_EXPECT(w, raft_conf_decode(&back, buf, len) == RAFT_OK);
    SCEN_EXPECT(w, back.n == 3 && !back.m[1].voter && back.m[2].voter);
    SCEN_EXPECT(w, strcmp(back.m[2].addr, "n2") == 0);
    SCEN_EXPECT(w, raft_conf_decode(&back, buf, len - 1) == RAFT_ECORRUPT);
    return scen_finish(w);
}

/* ReadIndex on a leader cut off from the majority: the read is accepted but never
 * answered "ok" (a newer leader commits meanwhile); once the old leader learns of
 * the new term it answers "not leader". Without check-quorum the stale leader
 * lives on, which is exactly when the heartbeat round matters. */
SIM_SCENARIO(stale_leader_read)
{
    struct scen_opts o = {.n_nodes = 5, .pre_vote = true, .election_ticks = 10};
    struct sim_world *w = scen_new(&o, verbose);
    raft_id old = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, old != RAFT_NONE && scen_settle(w, 0, 500));
    SCEN_EXPECT(w, sim_read(w, old) == RAFT_OK); /* read 1: confirmed normally */
    sim_run_ms(w, 50);
    sim_net_isolate(w, old);
    SCEN_EXPECT(w, sim_read(w, old) == RAFT_OK); /* read 2: cannot be confirmed */
    sim_run_ms(w, 1000);
    raft_id fresh = sim_leader(w);
    SCEN_EXPECT(w, fresh != RAFT_NONE && fresh != old);
    SCEN_EXPECT(w, sim_propose(w, fresh, NULL) == RAFT_OK);
    sim_run_ms(w, 100);
    SCEN_EXPECT(w, raft_role(w->node[old].rep.raft) == RAFT_LEADER);
    SCEN_EXPECT(w, !strstr(w->captured, "read 2 answered ok"));
    sim_net_heal(w);
    SCEN_EXPECT(w, scen_settle(w, 0, 2000));
    SCEN_SEQ(w, "read 1 answered ok", "read 2 answered not leader");
    SCEN_EXPECT(w, !strstr(w->captured, "read 2 answered ok"));
    return scen_finish(w);
}

/* A follower whose process dies inside its Ready loop, after writing new entries
 * but before the fdatasync, loses them and never acknowledged them; the leader
 * cannot commit on that follower's word and later re-sends what was lost. */
SIM_SCENARIO(crash_before_sync)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 100};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 300));
    SCEN_EXPECT(w, scen_settle(w, 0, 300));
    sim_run_ms(w, 20);
    sim_net_block(w, 0, 2, true); /* only n1 can acknowledge */
    struct sim_node *f = &w->node[1];
    /* n1's next WAL write goes through, the fdatasync after it never happens. */
    simfs_arm(&f->fs, 2, false);
    f->fs.tear = SIMFS_TEAR_NONE;
    raft_index idx = 0;
    SCEN_EXPECT(w, sim_propose(w, 0, &idx) == RAFT_OK);
    sim_run_ms(w, 20);
    SCEN_EXPECT(w, !f->up && w->crashes_in_loop == 1);
    SCEN_EXPECT(w, scen_commit(w, 0) < idx);
    SCEN_EXPECT(w, sim_log_last(&f->syn.log) < idx);
    sim_node_start(w, 1);
    SCEN_EXPECT(w, scen_last(w, 1) < idx);
    SCEN_EXPECT(w, scen_commit(w, 0) < idx);
    sim_net_heal(w);
    SCEN_EXPECT(w, scen_settle(w, idx, 2000));
    SCEN_EXPECT(w, w->node[1].applied >= idx && w->node[2].applied >= idx);
    SCEN_SEQ(w, "disk crash struck during sync", "crash n1");
    return scen_finish(w);
}
