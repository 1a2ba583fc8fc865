/* scen_lib.c: the small driver the scripted scenarios share (see scen.h).
 *
 * Scenarios run on the same world, replicas and invariant checks as the random runs;
 * what differs is that they pin down the choices a seed would make: who campaigns
 * and when, which links are cut, which messages a filter trims. Waiting is always
 * bounded in simulated milliseconds, so a broken core fails a scenario instead of
 * hanging it.
 */
#include "sim/scen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sim_world *scen_new(const struct scen_opts *o, bool verbose)
{
    struct sim_world *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    struct sim_opts so;
    sim_opts_default(&so, o->n_nodes, 42);
    so.pre_vote = o->pre_vote;
    so.check_quorum = o->check_quorum;
    so.election_ticks = o->election_ticks;
    if (o->snapshot_chunk_bytes)
        so.snapshot_chunk_bytes = o->snapshot_chunk_bytes;
    so.segment_bytes = o->segment_bytes;
    if (o->max_append_bytes)
        so.max_append_bytes = o->max_append_bytes;
    so.verbose = verbose;
    sim_world_init(w, &so);
    w->capture = true;
    w->max_delay_ms = 3;
    return w;
}

bool scen_finish(struct sim_world *w)
{
    bool ok = !w->failed;
    if (!ok) {
        printf("  %s: %s\n", w->fail_inv, w->fail_msg);
        if (!w->verbose)
            sim_trace_dump(w, 60);
    }
    sim_world_free(w);
    free(w);
    return ok;
}

static bool leads(struct sim_world *w, raft_id id)
{
    return w->node[id].up && raft_role(w->node[id].rep.raft) == RAFT_LEADER;
}

bool scen_elect(struct sim_world *w, raft_id id, uint64_t max_ms)
{
    uint64_t end = w->now_ms + max_ms;
    while (!w->failed && w->now_ms < end && !leads(w, id)) {
        if (w->node[id].up) {
            raft_campaign(w->node[id].rep.raft);
            sim_shell_process(w, &w->node[id]);
        }
        sim_run_ms(w, 25); /* a vote round trip: two deliveries and a sync */
    }
    return leads(w, id);
}

raft_index scen_commit(struct sim_world *w, raft_id id)
{
    struct raft_status st;
    raft_status(w->node[id].rep.raft, &st);
    return st.commit;
}

raft_index scen_last(struct sim_world *w, raft_id id)
{
    struct raft_status st;
    raft_status(w->node[id].rep.raft, &st);
    return st.last_index;
}

raft_index scen_snap(struct sim_world *w, raft_id id)
{
    struct raft_status st;
    raft_status(w->node[id].rep.raft, &st);
    return st.snap_index;
}

raft_id scen_wait_leader(struct sim_world *w, uint64_t max_ms)
{
    for (uint64_t t = 0; t < max_ms && !w->failed; t++) {
        raft_id l = sim_leader(w);
        if (l != RAFT_NONE)
            return l;
        sim_step_ms(w);
    }
    return sim_leader(w);
}

static bool settled(struct sim_world *w, raft_index index)
{
    raft_id l = sim_leader(w);
    if (index == 0) {
        if (l == RAFT_NONE)
            return false;
        index = scen_last(w, l);
    }
    for (uint32_t i = 0; i < w->conf.n; i++) {
        const struct sim_node *n = &w->node[w->conf.m[i].id];
        if (n->up && n->applied < index)
            return false;
    }
    return true;
}

bool scen_settle(struct sim_world *w, raft_index index, uint64_t max_ms)
{
    for (uint64_t t = 0; t < max_ms && !w->failed; t++) {
        if (settled(w, index))
            return true;
        sim_step_ms(w);
    }
    return settled(w, index);
}

bool scen_trace_seq(struct sim_world *w, const char *const *subs, size_t n)
{
    const char *at = w->captured ? w->captured : "";
    for (size_t i = 0; i < n; i++) {
        const char *hit = strstr(at, subs[i]);
        if (!hit) {
            sim_trace(w, "scenario: trace lacks \"%s\" (after the earlier expected lines)",
                      subs[i]);
            return false;
        }
        at = hit + strlen(subs[i]);
    }
    return true;
}
