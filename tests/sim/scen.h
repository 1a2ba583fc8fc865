/* scen.h: helpers for the scripted scenarios (scen_lib.c).
 *
 * A scenario builds its own world (scen_new), drives it with explicit campaigns,
 * partitions, crashes and filters, asserts with SCEN_EXPECT, and ends with
 * scen_finish(), which also fails the scenario if any invariant tripped on the way:
 * every scenario is checked by the same invariants as the random runs. Trace
 * assertions match an ordered list of substrings, robust to wording elsewhere.
 */
#ifndef VESPER_TESTS_SIM_SCEN_H
#define VESPER_TESTS_SIM_SCEN_H

#include "sim/sim.h"

struct scen_opts {
    uint32_t n_nodes;
    bool pre_vote, check_quorum;
    uint32_t election_ticks;       /* large values keep elections scripted */
    uint32_t snapshot_chunk_bytes; /* 0: default */
    uint64_t segment_bytes;        /* 0: storage\'s default */
    uint32_t max_append_bytes;     /* 0: the simulation\'s default */
};

struct sim_world *scen_new(const struct scen_opts *o, bool verbose);
/* Prints the failure and the trace tail, frees the world; true when it passed. */
bool scen_finish(struct sim_world *w);
/* raft_campaign() on id (again after each lost round) until it leads. */
bool scen_elect(struct sim_world *w, raft_id id, uint64_t max_ms);
/* Steps until every up member applied through index (0: the leader's last). */
bool scen_settle(struct sim_world *w, raft_index index, uint64_t max_ms);
/* The captured trace contains subs[0], then subs[1] after it, and so on. */
bool scen_trace_seq(struct sim_world *w, const char *const *subs, size_t n);
/* Runs until a leader exists; returns it or RAFT_NONE. */
raft_id scen_wait_leader(struct sim_world *w, uint64_t max_ms);
raft_index scen_commit(struct sim_world *w, raft_id id);
raft_index scen_last(struct sim_world *w, raft_id id);
raft_index scen_snap(struct sim_world *w, raft_id id); /* the core's snapshot index */

#define SCEN_EXPECT(w, cond)                                                            \
    do {                                                                                \
        if (!(w)->failed && !(cond))                                                    \
            sim_fail((w), "scenario", "%s:%d: expected %s", __FILE__, __LINE__, #cond); \
        if ((w)->failed)                                                                \
            return scen_finish(w);                                                      \
    } while (0)

#define SCEN_SEQ(w, ...)                                                     \
    do {                                                                     \
        static const char *const seq_[] = {__VA_ARGS__};                     \
        SCEN_EXPECT(w, scen_trace_seq(w, seq_, sizeof seq_ / sizeof *seq_)); \
    } while (0)

#endif
