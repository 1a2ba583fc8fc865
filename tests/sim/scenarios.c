/* scenarios.c: scripted elections - Figure 8, split vote, a partitioned old
 * leader, and a rejoining node with and without pre-vote.
 *
 * Each one pins a classic situation from the Raft paper or thesis and asserts
 * both on state (who leads, what committed) and, where the wording is part of the
 * story, on an ordered list of trace substrings from the core's decision trace.
 */
#include "sim/scen.h"

#include <string.h>

/* Figure 8: strip every entry at index >= cut from APPENDs sent by node `from`. */
struct strip {
    raft_id from;
    raft_index cut;
};

static bool strip_filter(void *arg, struct raft_msg *m)
{
    const struct strip *s = arg;
    if (m->type != RAFT_MSG_APPEND || m->from != s->from)
        return false;
    while (m->n_entries && m->entries[m->n_entries - 1].index >= s->cut)
        m->n_entries--;
    return false;
}

static bool synced_term_at(struct sim_world *w, raft_id id, raft_index i, raft_term t)
{
    const struct sim_entry *e = sim_log_at(&w->node[id].cur.log, i);
    return e && e->term == t;
}

/* Figure 8 (thesis 3.6.2): an entry from an earlier term that reached a majority
 * must not be committed by counting replicas; a later leader may overwrite it. */
SIM_SCENARIO(figure8)
{
    struct scen_opts o = {.n_nodes = 5, .election_ticks = 1000};
    struct sim_world *w = scen_new(&o, verbose);
    SCEN_EXPECT(w, scen_elect(w, 0, 200));
    SCEN_EXPECT(w, scen_settle(w, 1, 200));
    /* (a) S0 (term 1) replicates index 2 to S1 only. */
    for (raft_id i = 2; i < 5; i++)
        sim_net_block(w, 0, i, true);
    raft_index i2 = 0;
    SCEN_EXPECT(w, sim_propose(w, 0, &i2) == RAFT_OK && i2 == 2);
    sim_run_ms(w, 50);
    SCEN_EXPECT(w, synced_term_at(w, 1, 2, 1));
    /* (b) S0 crashes; S4 wins term 2 with S2, S3 and writes index 2 alone. */
    sim_node_crash(w, 0);
    sim_net_heal(w);
    struct strip s4 = {4, 2};
    w->filter = strip_filter;
    w->filter_arg = &s4;
    SCEN_EXPECT(w, scen_elect(w, 4, 300));
    raft_term t4 = raft_term_now(w->node[4].rep.raft);
    sim_run_ms(w, 30);
    SCEN_EXPECT(w, synced_term_at(w, 4, 2, t4));
    /* (c) S4 crashes; S0 returns, wins a later term, and copies index 2 (term 1)
     * to S2 and S3, but nothing of its own term: a majority holds 2/1. */
    sim_node_crash(w, 4);
    struct strip s0 = {0, 3};
    w->filter_arg = &s0;
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_elect(w, 0, 500));
    sim_run_ms(w, 300);
    SCEN_EXPECT(w, synced_term_at(w, 2, 2, 1) && synced_term_at(w, 3, 2, 1));
    SCEN_EXPECT(w, scen_commit(w, 0) == 1);
    /* (d) S0 crashes; S4 (last term t4 > 1) wins and overwrites index 2. */
    sim_node_crash(w, 0);
    w->filter = NULL;
    sim_node_start(w, 4);
    SCEN_EXPECT(w, scen_elect(w, 4, 1000));
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_settle(w, 0, 1000));
    raft_term t2 = 0;
    SCEN_EXPECT(w, sim_applied_term_at(w, 2, &t2) && t2 == t4);
    SCEN_SEQ(w, "n4: 4: won term", "n0: 0: won term", "n4: 4: won term",
             "conflict at 2 (term 1 vs");
    return scen_finish(w);
}

static bool drop_votes(void *arg, struct raft_msg *m)
{
    (void)arg;
    return m->type == RAFT_MSG_VOTE &&
           ((m->from == 0 && m->to == 3) || (m->from == 1 && m->to == 2));
}

/* Split vote: two candidates in one term each get two of five votes (one node is
 * down); nobody leads that term and randomized timeouts settle it later. */
SIM_SCENARIO(split_vote)
{
    struct scen_opts o = {.n_nodes = 5, .election_ticks = 10};
    struct sim_world *w = scen_new(&o, verbose);
    sim_node_crash(w, 4);
    w->filter = drop_votes;
    raft_campaign(w->node[0].rep.raft);
    sim_shell_process(w, &w->node[0]);
    raft_campaign(w->node[1].rep.raft);
    sim_shell_process(w, &w->node[1]);
    sim_run_ms(w, 30);
    SCEN_EXPECT(w, sim_leader(w) == RAFT_NONE);
    SCEN_EXPECT(w,
                raft_term_now(w->node[0].rep.raft) == 1 && raft_term_now(w->node[1].rep.raft) == 1);
    w->filter = NULL;
    raft_id l = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, l != RAFT_NONE && raft_term_now(w->node[l].rep.raft) >= 2);
    SCEN_SEQ(w, "n0: 0: start election for term 1", "n1: 1: start election for term 1", "grant",
             "won term");
    SCEN_EXPECT(w, !strstr(w->captured, "won term 1 "));
    return scen_finish(w);
}

/* A leader cut off from the majority keeps accepting proposals; they never commit
 * and are overwritten once it rejoins the new leader's term. */
SIM_SCENARIO(partitioned_old_leader)
{
    struct scen_opts o = {.n_nodes = 5, .pre_vote = true, .election_ticks = 10};
    struct sim_world *w = scen_new(&o, verbose);
    raft_id old = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, old != RAFT_NONE);
    SCEN_EXPECT(w, scen_settle(w, 0, 500));
    raft_term old_term = raft_term_now(w->node[old].rep.raft);
    sim_net_isolate(w, old);
    raft_index stale[3];
    for (int i = 0; i < 3; i++)
        SCEN_EXPECT(w, sim_propose(w, old, &stale[i]) == RAFT_OK);
    sim_run_ms(w, 1000);
    raft_id fresh = sim_leader(w);
    SCEN_EXPECT(w, fresh != RAFT_NONE && fresh != old);
    SCEN_EXPECT(w, raft_role(w->node[old].rep.raft) == RAFT_LEADER); /* no check-quorum */
    for (int i = 0; i < 3; i++)
        SCEN_EXPECT(w, sim_propose(w, fresh, NULL) == RAFT_OK);
    sim_run_ms(w, 200);
    SCEN_EXPECT(w, scen_commit(w, old) < stale[0]);
    sim_net_heal(w);
    SCEN_EXPECT(w, scen_settle(w, 0, 2000));
    SCEN_EXPECT(w, raft_role(w->node[old].rep.raft) == RAFT_FOLLOWER);
    for (int i = 0; i < 3; i++) {
        raft_term t = 0;
        SCEN_EXPECT(w, sim_applied_term_at(w, stale[i], &t) && t != old_term);
    }
    SCEN_SEQ(w, "conflict at");
    return scen_finish(w);
}

/* A follower isolated for a while rejoins. Without pre-vote its inflated term
 * deposes the leader; with pre-vote (and check-quorum) nothing changes. */
static bool rejoin(bool verbose, bool pre_vote)
{
    struct scen_opts o = {
        .n_nodes = 3, .pre_vote = pre_vote, .check_quorum = pre_vote, .election_ticks = 10};
    struct sim_world *w = scen_new(&o, verbose);
    raft_id l = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, l != RAFT_NONE);
    SCEN_EXPECT(w, scen_settle(w, 0, 500));
    raft_term before = raft_term_now(w->node[l].rep.raft);
    raft_id f = (l + 1) % 3;
    sim_net_isolate(w, f);
    for (int i = 0; i < 3; i++)
        SCEN_EXPECT(w, sim_propose(w, l, NULL) == RAFT_OK);
    sim_run_ms(w, 1000);
    SCEN_EXPECT(w, pre_vote ? raft_term_now(w->node[f].rep.raft) == before
                            : raft_term_now(w->node[f].rep.raft) > before + 2);
    sim_net_heal(w);
    sim_run_ms(w, 500);
    raft_id now = scen_wait_leader(w, 2000);
    SCEN_EXPECT(w, now != RAFT_NONE && scen_settle(w, 0, 1000));
    if (pre_vote) {
        SCEN_EXPECT(w, now == l && raft_term_now(w->node[l].rep.raft) == before);
        SCEN_SEQ(w, "start pre-vote");
    } else {
        SCEN_EXPECT(w, raft_term_now(w->node[now].rep.raft) > before);
        SCEN_SEQ(w, "start election", "-> follower");
    }
    return scen_finish(w);
}

SIM_SCENARIO(rejoin_without_prevote_disrupts)
{
    return rejoin(verbose, false);
}

SIM_SCENARIO(rejoin_with_prevote_does_not)
{
    return rejoin(verbose, true);
}
