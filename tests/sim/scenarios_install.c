/* scenarios_install.c: a snapshot install and an append in one Ready.
 *
 * vesperd steps every message an event-loop iteration received before it runs the
 * Ready loop once, so one ready can carry both the entries of an APPEND and the
 * install of a snapshot whose last chunk arrived in the same iteration. Here the
 * follower's log holds an old suffix (an earlier term) covering the snapshot
 * index S; the APPEND replaces that suffix with the new leader's entries through
 * N > S, the final chunk of S (the new term) arrives right behind it, and the
 * follower acknowledges N. After power loss it must still hold S+1..N.
 */
#include "sim/scen.h"

#include <stdlib.h>

enum hold_mode { HOLD_OFF, HOLD_APPEND, HOLD_STRIP, HOLD_CHUNK };

struct hold {
    enum hold_mode mode;
    struct raft_msg append, chunk; /* deep copies */
    bool have_append, have_chunk;
};

/* n1 leads; n4 is the follower. HOLD_APPEND keeps n1's first APPEND to n4 that
 * starts at the log's beginning; HOLD_STRIP lets n2 and n3 have entries up to 5
 * only; HOLD_CHUNK keeps the final chunk of the snapshot n1 sends n4. */
static bool hold_filter(void *arg, struct raft_msg *m)
{
    struct hold *h = arg;
    if (m->from != 1)
        return false;
    if (h->mode == HOLD_STRIP && m->type == RAFT_MSG_APPEND && m->to != 4) {
        while (m->n_entries && m->entries[m->n_entries - 1].index > 5)
            m->n_entries--;
        return false;
    }
    if (m->to != 4)
        return false;
    if (h->mode == HOLD_APPEND && m->type == RAFT_MSG_APPEND) {
        if (m->index > 1)
            return false; /* let the leader probe down to the start of the log */
        if (!h->have_append) {
            h->append = sim_msg_copy(m);
            h->have_append = true;
        }
        return true;
    }
    if (h->mode == HOLD_CHUNK && m->type == RAFT_MSG_APPEND)
        return true;
    if (h->mode == HOLD_CHUNK && m->type == RAFT_MSG_SNAPSHOT && m->done) {
        if (!h->have_chunk) {
            h->chunk = sim_msg_copy(m);
            h->have_chunk = true;
        }
        return true;
    }
    return false;
}

static void link(struct sim_world *w, raft_id a, raft_id b, bool up)
{
    w->blocked[a][b] = !up;
    w->blocked[b][a] = !up;
}

static bool run_until_applied(struct sim_world *w, raft_id id, raft_index i, uint64_t max_ms)
{
    for (uint64_t t = 0; t < max_ms && !w->failed && w->node[id].applied < i; t++)
        sim_step_ms(w);
    return w->node[id].applied >= i;
}

static bool cut_to_f(void *arg, struct raft_msg *m)
{
    (void)arg;
    return m->type == RAFT_MSG_APPEND && m->from == 0 && m->to != 4;
}

/* The held messages are real ones from the leader: the APPEND (prev 1, entries
 * 2..8 of the new term, commit 2) from before its commit reached 5, the final
 * chunk of snapshot 5 from after it compacted. */
static bool install_and_append(struct sim_world *w, struct hold *h)
{
    SCEN_EXPECT(w, scen_elect(w, 0, 300) && scen_settle(w, 1, 300));
    /* n4 (and n0) get 2..9 in term 1; nobody else does: never committed. */
    w->filter = cut_to_f;
    for (int i = 0; i < 8; i++)
        SCEN_EXPECT(w, sim_propose(w, 0, NULL) == RAFT_OK);
    sim_run_ms(w, 30);
    SCEN_EXPECT(w, sim_log_last(&w->node[4].cur.log) == 9);
    sim_node_crash(w, 0);
    sim_net_isolate(w, 4);
    w->filter = NULL;
    /* n1 leads a later term; its no-op at 2 commits. Then 3..8, not committed. */
    SCEN_EXPECT(w, scen_elect(w, 1, 500));
    SCEN_EXPECT(w, run_until_applied(w, 1, 2, 300));
    link(w, 1, 2, false);
    link(w, 1, 3, false);
    for (int i = 0; i < 6; i++)
        SCEN_EXPECT(w, sim_propose(w, 1, NULL) == RAFT_OK);
    /* n4 talks to n1 only: n1 probes down to prev 1 and sends 2..8: held. */
    w->filter = hold_filter;
    w->filter_arg = h;
    h->mode = HOLD_APPEND;
    link(w, 1, 4, true);
    for (int t = 0; t < 500 && !h->have_append; t++)
        sim_step_ms(w);
    SCEN_EXPECT(w, h->have_append && h->append.n_entries == 7 && h->append.commit == 2);
    link(w, 1, 4, false);
    /* n2, n3 get 3..5 only: n1 commits and applies through 5 and compacts there. */
    h->mode = HOLD_STRIP;
    link(w, 1, 2, true);
    link(w, 1, 3, true);
    SCEN_EXPECT(w, run_until_applied(w, 1, 5, 300));
    sim_run_ms(w, 20);
    SCEN_EXPECT(w, w->node[1].applied == 5);
    sim_shell_take_snapshot(w, &w->node[1], 0);
    SCEN_EXPECT(w, scen_snap(w, 1) == 5);
    /* n4 is behind n1's log start now: the snapshot; its final chunk is held. */
    h->mode = HOLD_CHUNK;
    link(w, 1, 4, true);
    for (int t = 0; t < 1000 && !h->have_chunk; t++)
        sim_step_ms(w);
    SCEN_EXPECT(w, h->have_chunk && h->chunk.snap_index == 5);
    link(w, 1, 4, false);
    /* One iteration of n4: the APPEND (replacing the old 2..9 with 2..8), then
     * the final chunk of snapshot 5. n4 installs 5 keeping 6..8 and acks 8. */
    struct sim_node *f = &w->node[4];
    f->seen_snap_index = h->chunk.snap_index;
    f->seen_snap_size = h->chunk.snap_size;
    raft_step(f->rep.raft, &h->append);
    raft_step(f->rep.raft, &h->chunk);
    sim_shell_process(w, f);
    SCEN_EXPECT(w, f->up && scen_snap(w, 4) == 5 && scen_last(w, 4) == 8);
    /* Power loss after the iteration: all it acknowledged was synced. */
    sim_node_crash(w, 4);
    SCEN_EXPECT(w, sim_log_last(&f->syn.log) == 8);
    sim_node_start(w, 4);
    SCEN_EXPECT(w, scen_last(w, 4) == 8);
    w->filter = NULL;
    sim_net_heal(w);
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_settle(w, 0, 2000));
    SCEN_SEQ(w, "n4: 4: conflict at 2", "n4: 4: snapshot 5 term");
    return scen_finish(w);
}

SIM_SCENARIO(install_and_append_in_one_ready)
{
    struct scen_opts o = {.n_nodes = 5, .election_ticks = 1000, .max_append_bytes = 4096};
    struct hold h = {.mode = HOLD_OFF};
    bool ok = install_and_append(scen_new(&o, verbose), &h);
    sim_msg_free(&h.append);
    sim_msg_free(&h.chunk);
    return ok;
}
