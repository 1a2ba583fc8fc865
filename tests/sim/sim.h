/* sim.h: the deterministic simulation world shared by every tests/sim file.
 *
 * One struct sim_world holds N simulated nodes, a simulated network (an event heap
 * of in-flight messages) and the invariant checker's bookkeeping. Each node is a
 * real struct replica (src/replica: the Raft core, the real src/storage over a
 * simulated disk, the real src/kv state machine, and the very Ready loop vesperd
 * runs); the simulation only supplies its operations: transport, clock, hooks.
 * Everything random comes from the world's one PRNG, so a seed replays a run
 * exactly. Time is in simulated milliseconds; a node ticks every SIM_TICK_MS.
 * Files: world.c (PRNG, heap, trace, stepping), node.c (node life cycle and
 * crashes), node_ops.c (the replica's operations), simfs*.c (the in-memory disk), disk.c
 * (shadow logs, state digest), apply.c (client actions), net.c (network), check.c,
 * check_restart.c and check_rules.c (invariants), random_run.c (seeded runs), main.c
 * (CLI), scen_lib.c and scenarios*.c (scripted tests).
 *
 * Ownership: the world owns every node, disk, message copy and record; nothing in
 * here is borrowed from the core past the call that handed it out.
 */
#ifndef VESPER_TESTS_SIM_SIM_H
#define VESPER_TESTS_SIM_SIM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "raft/raft.h"
#include "replica/replica.h"
#include "sim/simfs.h"

#define SIM_MAX_NODES    12 /* initial voters (<= 7) plus spare ids for learners */
#define SIM_TICK_MS      5
#define SIM_TRACE_LINES  128
#define SIM_TRACE_WIDTH  240
#define SIM_KEYS         8   /* commands write keys k0..k7 */
#define SIM_SLOW_MIN_MS  20  /* a retransmitted message is this much late, */
#define SIM_SLOW_SPAN_MS 300 /* plus up to this */

/* ---- world.c: PRNG ---- */
uint64_t sim_rand(uint64_t *state);              /* splitmix64 */
uint64_t sim_range(uint64_t *state, uint64_t n); /* [0, n) */
bool sim_chance(uint64_t *state, uint32_t per_mille);
uint64_t sim_hash_bytes(const void *p, size_t n, uint64_t h);
uint64_t sim_mix(uint64_t a, uint64_t b);

/* ---- disk.c: shadow of what a node's storage holds ---- */
struct sim_entry {
    raft_term term;
    raft_index index;
    uint8_t type;
    uint64_t hash;  /* of type and data */
    uint64_t chain; /* hash of this entry and every one before it */
};

struct sim_log {
    struct sim_entry *e;
    size_t n, cap;
    raft_index base_index; /* entry before e[0]: snapshot point or 0 */
    raft_term base_term;
    uint64_t base_chain;
};

struct sim_disk {
    struct raft_hard_state hs;
    struct sim_log log;
    raft_index snap_index; /* 0: none */
    raft_term snap_term;
};

void sim_log_free(struct sim_log *l);
raft_index sim_log_last(const struct sim_log *l);
const struct sim_entry *sim_log_at(const struct sim_log *l, raft_index i);
/* Truncates from e[0].index if needed, then appends copies. false: a gap. */
bool sim_log_write(struct sim_log *l, const struct sim_entry *e, size_t n);
/* Empties the log and starts it after (i, t), whose chain hash is chain. */
void sim_log_reset(struct sim_log *l, raft_index i, raft_term t, uint64_t chain);
void sim_disk_free(struct sim_disk *d);
/* Hash of the state machine: the kv map's contents with every key's revisions and
 * lease and the store revision (independent of layout), the lease table, the watch
 * history window, and
 * the configuration as of the applied index (the node's sm_conf). */
uint64_t sim_sm_digest(const struct kv *kv, const struct raft_conf *conf);

/* ---- the node ---- */
struct sim_world;

struct sim_node {
    struct sim_world *w;
    raft_id id;
    bool started; /* has ever run (spare ids start when added as learners) */
    bool up;
    bool ready_due;        /* batched delivery: messages stepped, Ready not yet run */
    bool removed;          /* left the configuration: stays down */
    uint64_t paused_until; /* a stopped process (SIGSTOP): no ticks, no reads until then */
    uint64_t resumed_ms;   /* when the last pause ended */
    uint64_t crash_at_ms;  /* a crash the random run scheduled; 0: none */
    struct replica rep;
    struct simfs fs;
    bool fs_ready;
    uint32_t tick_phase;

    struct sim_disk cur; /* what the running node handed its storage */
    struct sim_disk syn; /* what storage recovered from disk after the last crash */

    raft_index seen_snap_index; /* last SNAPSHOT message delivered, and its size */
    uint64_t seen_snap_size;

    raft_index applied; /* the state machine's applied index and state digest */
    uint64_t sm_hash;
    uint64_t sm_count;
    struct raft_conf sm_conf; /* configuration as of applied */

    /* An automatic snapshot "forked" (sim_world.bg_snapshot_max_ms): written when the
     * loop asked for it, adopted at snap_job_at_ms, as vesperd's forked writer. */
    bool snap_job_due;
    bool snap_job_written;
    uint64_t snap_job_at_ms;
    struct replica_snap_job snap_job;

    /* A leader's sync trailing the loop (sim_world.sync_trail_max_ms): its
     * fdatasync runs, and its answer reaches the replica, at sync_at_ms. */
    bool sync_due;
    uint64_t sync_at_ms;

    /* An installed snapshot decoded beside the loop (sim_world.restore_max_ms):
     * decoded, and swapped in, at restore_at_ms. */
    bool restore_due;
    uint64_t restore_at_ms;

    raft_index commit_seen; /* invariant: commit never goes back */
    raft_index acked_index; /* newest entry acknowledged as durable: term, chain */
    raft_term acked_term;
    uint64_t acked_chain;
    enum raft_role role_seen;
};

/* ---- events ---- */
enum sim_ev_kind { SIM_EV_MSG = 1 };

struct sim_event {
    uint64_t time_ms;
    uint64_t seq;
    int kind;
    raft_id node;
    struct raft_msg *msg; /* SIM_EV_MSG, a deep copy */
};

/* Scenario hook, given the queued copy: return true to drop it. It may also lower
 * m->n_entries to strip trailing entries (the network frees what it cut). */
typedef bool (*sim_filter_fn)(void *arg, struct raft_msg *m);

struct sim_check; /* check.c */

/* check_rules.c: what the liveness rules need to remember. */
#define SIM_PREVOTE_TERMS 4 /* pre-vote terms remembered per (receiver, candidate) */

struct sim_prevote_req {
    raft_term term;   /* of a pre-vote request delivered; 0: free slot */
    bool grantable;   /* some delivery of it found the candidate up to date */
    raft_index index; /* the candidate's advertised last entry */
    raft_term log_term;
    raft_index own_index; /* the receiver's last entry at that delivery */
    raft_term own_term;
};

struct sim_rules {
    uint64_t heard_ms[SIM_MAX_NODES][SIM_MAX_NODES]; /* [to][from]: last delivery */
    /* [to][from][slot]: requests of several terms may be stepped before one Ready
     * answers them all (a batch, or a node that resumes from a pause). */
    struct sim_prevote_req prevote[SIM_MAX_NODES][SIM_MAX_NODES][SIM_PREVOTE_TERMS];
    raft_term leader_term[SIM_MAX_NODES];
    uint64_t leader_since_ms[SIM_MAX_NODES];
    struct raft_conf conf[SIM_MAX_NODES]; /* each node's configuration, and since when */
    uint64_t conf_since_ms[SIM_MAX_NODES];
    bool seen_leader[SIM_MAX_NODES]; /* each node after its last ready */
    raft_term seen_term[SIM_MAX_NODES];
    raft_index seen_commit[SIM_MAX_NODES];
    raft_index seen_conf_index[SIM_MAX_NODES]; /* as of the last check, while leading */
};

struct sim_world {
    uint64_t prng;
    uint64_t now_ms;
    uint32_t n_nodes; /* ids 0..n_nodes-1 are in use */
    uint32_t n_initial;
    struct sim_node node[SIM_MAX_NODES];
    struct raft_config cfg_template;
    struct raft_conf initial;
    struct raft_conf conf; /* latest configuration applied anywhere */
    raft_index conf_index;
    uint64_t snapshot_entries; /* storage threshold for automatic snapshots */
    uint64_t snapshot_bytes;   /* > 0: storage's byte threshold as well */
    uint64_t snapshot_trailing;
    uint64_t segment_bytes;
    /* > 0: automatic snapshots go through the replica's snapshot_background, as in
     * vesperd: the file is written at once (a fork's copy of the state as of now)
     * and adopted 1..bg_snapshot_max_ms later, with the loop running meanwhile. */
    uint32_t bg_snapshot_max_ms;
    /* > 0: the replicas run with REPLICA_SYNC_MANUAL, as vesperd's sync thread: a
     * leader's fdatasync that no message waits for completes 0..sync_trail_max_ms
     * after the loop started it, with the loop (and crashes) running meanwhile. */
    uint32_t sync_trail_max_ms;
    /* > 0: an installed snapshot's state is decoded and swapped in 1..restore_max_ms
     * after the install, as vesperd's install thread does; the loop runs meanwhile
     * and the core holds back committed entries and reads. */
    uint32_t restore_max_ms;
    /* WAL segments reserved with fallocate when created, as vesperd's are: replay
     * then ends each segment at zeros rather than at the end of the file. */
    bool preallocate;
    char root[160]; /* this world's directory of node directories */

    struct sim_event *heap;
    size_t n_heap, cap_heap;
    uint64_t ev_seq;

    /* network */
    bool blocked[SIM_MAX_NODES][SIM_MAX_NODES]; /* [from][to] */
    uint32_t drop_pm, dup_pm;                   /* per mille */
    uint32_t split_pm; /* an APPEND of 2+ entries leaves as two (per mille) */
    uint32_t stall_pm; /* the receiver of an APPEND stops while it is in flight (per mille) */
    uint32_t slow_pm;  /* a message comes SIM_SLOW_MIN_MS.. late, as a retransmission (per mille) */
    uint32_t overwrite_stall_pm;  /* same as stall_pm, for an APPEND that overwrites a suffix */
    uint32_t snap_stall_pm;       /* same, for the last chunk of a snapshot */
    uint32_t crash_after_keep_pm; /* as crash_after_install_pm, for an install that kept entries */
    uint32_t crash_after_install_pm; /* a node crashes shortly after installing a snapshot */
    /* Every message due in a millisecond is stepped before the node's Ready loop
     * runs once, as vesperd steps all the events of a loop iteration into one
     * Ready; otherwise the loop runs after each message. */
    bool batch_ready;
    uint32_t max_delay_ms;
    sim_filter_fn filter;
    void *filter_arg;

    bool remove_pending[SIM_MAX_NODES]; /* left the applied conf: shut down */
    uint64_t cmd_counter;
    uint64_t read_counter;
    bool reads_released_ok;
    uint64_t crashes_in_loop; /* armed disk crashes that struck */

    /* scenarios: every trace line kept in one buffer when capture is on */
    bool capture;
    char *captured;
    size_t captured_len, captured_cap;

    /* trace ring */
    char trace[SIM_TRACE_LINES][SIM_TRACE_WIDTH];
    uint64_t n_trace;
    bool verbose;
    bool trace_core;
    /* no trace at all, not even the core's: a random run that fails is run again
     * with its trace kept, for the report (a run is a pure function of its seed) */
    bool quiet;

    struct sim_rules rules;

    /* first failure */
    bool failed;
    char fail_inv[64];
    char fail_msg[512];

    struct sim_check *check;
};

/* ---- world.c ---- */
struct sim_opts {
    uint32_t n_nodes;
    uint64_t seed;
    bool pre_vote, check_quorum;
    uint32_t election_ticks, heartbeat_ticks;
    uint32_t max_append_bytes, snapshot_chunk_bytes;
    uint64_t snapshot_entries;  /* 0: no automatic snapshots */
    uint64_t snapshot_trailing; /* entries kept behind an automatic snapshot */
    uint64_t segment_bytes;     /* WAL segment size (small: many rolls) */
    bool verbose;
    bool quiet; /* see sim_world.quiet */
};
void sim_opts_default(struct sim_opts *o, uint32_t n_nodes, uint64_t seed);
void sim_world_init(struct sim_world *w, const struct sim_opts *o);
void sim_world_free(struct sim_world *w);
void sim_trace(struct sim_world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_trace_dump(const struct sim_world *w, int last_n);
void sim_fail(struct sim_world *w, const char *inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_heap_push(struct sim_world *w, struct sim_event *ev);
/* True while n is up but stopped (no ticks, nothing read, nothing proposed). */
bool sim_paused(const struct sim_world *w, const struct sim_node *n);
/* Stops n for ms milliseconds; what arrives meanwhile is read in one iteration. */
void sim_pause(struct sim_world *w, raft_id id, uint64_t ms);
bool sim_heap_pop_due(struct sim_world *w, struct sim_event *out);
/* Advances time by one millisecond: delivers due events, ticks due nodes. */
void sim_step_ms(struct sim_world *w);
void sim_run_ms(struct sim_world *w, uint64_t ms);
raft_id sim_leader(struct sim_world *w); /* up leader with the highest term, or NONE */
bool sim_is_member(const struct sim_world *w, raft_id id);

/* ---- node_ops.c: the operations a node's replica runs with ---- */
extern const struct replica_ops sim_replica_ops;

/* ---- node.c: life cycle ---- */
/* Starts (or restarts) a node from what its disk holds. */
void sim_node_start(struct sim_world *w, raft_id id);
/* Power loss: the process dies, the disk keeps what simfs_crash() leaves. */
void sim_node_crash(struct sim_world *w, raft_id id);
/* Runs the node's Ready loop; takes the node down if its disk crash struck. */
void sim_shell_process(struct sim_world *w, struct sim_node *n);
/* Adopts the background snapshots whose time has come (every simulated ms). */
void sim_snapshot_jobs_step(struct sim_world *w);
void sim_sync_step(struct sim_world *w);
void sim_restore_step(struct sim_world *w);
/* A snapshot now, keeping `trailing` entries behind it. */
void sim_shell_take_snapshot(struct sim_world *w, struct sim_node *n, uint64_t trailing);

/* ---- apply.c: client actions ---- */
int sim_propose(struct sim_world *w, raft_id id, raft_index *index);
/* Proposes a transaction over keys k0..k7 (a compare, puts, a delete, a get). */
int sim_propose_txn(struct sim_world *w, raft_id id);
/* Proposes a lease command chosen by the command counter: a grant of 1 or 2 s, a put
 * attached to one of leases 1..4 (which may not exist), a keepalive or a revoke. The
 * leader's expiries come from replica_lease_tick on every tick (world.c). */
int sim_propose_lease(struct sim_world *w, raft_id id);
/* A PUT whose value is value_len bytes (large values make multi-sector writes). */
int sim_propose_sized(struct sim_world *w, raft_id id, size_t value_len, raft_index *index);
int sim_read(struct sim_world *w, raft_id id);
int sim_change(struct sim_world *w, raft_id leader, enum raft_change op, raft_id id);

/* ---- net.c ---- */
void sim_net_send(struct sim_world *w, struct sim_node *from, const struct raft_msg *m);
void sim_net_deliver(struct sim_world *w, struct raft_msg *m);
void sim_msg_free(struct raft_msg *m);
struct raft_msg sim_msg_copy(const struct raft_msg *m);
void sim_net_heal(struct sim_world *w);
void sim_net_isolate(struct sim_world *w, raft_id id);
void sim_net_block(struct sim_world *w, raft_id a, raft_id b, bool both);

/* ---- check.c ---- */
void sim_check_init(struct sim_world *w);
void sim_check_free(struct sim_world *w);
void sim_check_entries(struct sim_world *w, struct sim_node *n, const struct sim_entry *e,
                       size_t count);
uint64_t sim_check_chain_of(struct sim_world *w, raft_index index, raft_term term);
void sim_check_apply(struct sim_world *w, struct sim_node *n, const struct sim_entry *e);
void sim_check_node(struct sim_world *w, struct sim_node *n);
/* Votes and acknowledgements leave only when the disk holds what they promise. */
void sim_check_sent(struct sim_world *w, struct sim_node *n, const struct raft_msg *m);
void sim_check_read_start(struct sim_world *w, uint64_t read_id);
void sim_check_read_done(struct sim_world *w, struct sim_node *n, uint64_t read_id,
                         raft_index read_index);
/* The node's state machine equals what others had at its applied index. */
void sim_check_sm_state(struct sim_world *w, struct sim_node *n);
/* Invariant 8: true when all up members agree on applied index and state. */
bool sim_converged(struct sim_world *w, char *why, size_t cap);
bool sim_applied_term_at(struct sim_world *w, raft_index i, raft_term *term);
/* The highest index applied anywhere and its chain hash (0 when none). */
raft_index sim_check_max_applied(struct sim_world *w, uint64_t *chain);

/* ---- check_restart.c: what a node recovers after a crash ---- */
/* Rebuilds d from a storage boot, checking it: commit within the durable log, the
 * recovered entries consistent with every other log. */
void sim_check_recovered(struct sim_world *w, struct sim_node *n, const struct storage_boot *b,
                         struct sim_disk *d);
/* Every entry applied anywhere is still held by enough voters' disks that every
 * majority of the configuration includes one. */
void sim_check_majority(struct sim_world *w);
/* Whether d holds entry i with that chain (or a snapshot at or past i). */
bool sim_disk_holds(const struct sim_disk *d, raft_index i, uint64_t chain);
/* After a crash: the newest acknowledged entry, if the log still held it, survived. */
void sim_check_acked(struct sim_world *w, struct sim_node *n, bool held);

/* ---- random_run.c ---- */
/* Runs one seed; true when it passes, otherwise prints the failure and the trace. */
bool sim_random_run(uint64_t seed, uint64_t steps, bool verbose);
/* SKIP FLAG: set when the core's conf codec cannot round-trip a configuration (see
 * main.c); random runs then make no membership changes so the rest stays testable.
 * The conf_codec scenario keeps failing while it is set. */
extern bool sim_skip_membership;

/* ---- main.c: scripted scenarios register themselves ---- */
typedef bool (*sim_scenario_fn)(bool verbose);
void sim_scenario_register(const char *name, sim_scenario_fn fn);
#define SIM_SCENARIO(name)                                         \
    static bool scen_##name(bool verbose);                         \
    __attribute__((constructor)) static void scen_reg_##name(void) \
    {                                                              \
        sim_scenario_register(#name, scen_##name);                 \
    }                                                              \
    static bool scen_##name(bool verbose)

/* ---- check_rules.c: Pre-Vote, CheckQuorum and the own-term commit rule ---- */
void sim_rules_delivered(struct sim_world *w, const struct raft_msg *m); /* before the step */
void sim_rules_sent(struct sim_world *w, struct sim_node *n, const struct raft_msg *m);
void sim_rules_node(struct sim_world *w, struct sim_node *n); /* after each ready */
void sim_rules_step(struct sim_world *w);                     /* once per simulated ms */

#endif
