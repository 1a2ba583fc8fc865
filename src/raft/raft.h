/* raft.h: the public interface of Vesper's pure Raft core.
 *
 * The core is a deterministic state machine in the style of etcd-raft's Ready
 * pattern. It owns no clock, socket, file or thread. Everything it needs comes in
 * as an event (tick, received message, proposal, read request, durable notice,
 * snapshot notice); everything it wants done comes out as a struct raft_ready
 * that the shell processes in this order:
 *
 *   1. persist rd.hs (if rd.hs_changed) and rd.entries, a chunk or a snapshot;
 *      write them, and fsync when rd.must_sync;
 *   2. send rd.msgs at once (leader traffic may overlap its own disk write,
 *      thesis 10.2.1);
 *   3. once everything of this ready is durable, send rd.msgs_sync (votes and
 *      acknowledgements promise durable state, so they wait) and call
 *      raft_durable(r, rd.last_index, rd.last_term);
 *   4. apply rd.committed in order, then answer rd.reads;
 *   5. call raft_advance(r, &rd).
 *
 * Between raft_ready() and raft_advance() no other raft_* call may be made; every
 * pointer in the ready stays valid exactly that long. Steps 3 and 4 may happen
 * after raft_advance() if the shell copied what it needs (msgs_sync, durable
 * index); the core never assumes durability it was not told about.
 *
 * Ownership: every pointer passed IN is borrowed for the duration of the call
 * (the core copies what it keeps). Every pointer handed OUT belongs to the core.
 */
#ifndef VESPER_RAFT_RAFT_H
#define VESPER_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_term;
typedef uint64_t raft_index;
typedef uint32_t raft_id;

#define RAFT_NONE        UINT32_MAX /* no node: no vote, no known leader */
#define RAFT_MAX_MEMBERS 16         /* voters plus learners in one configuration */
#define RAFT_ADDR_MAX    128        /* bytes of an opaque member address, NUL included */

/* One error table; raft_strerror() maps a code to its text. */
#define RAFT_ERRORS(X)                                                    \
    X(RAFT_OK, "ok")                                                      \
    X(RAFT_ENOTLEADER, "not the leader")                                  \
    X(RAFT_EBUSY, "busy: a transfer or membership change is in progress") \
    X(RAFT_ENOMEM, "out of memory")                                       \
    X(RAFT_EINVAL, "invalid argument")                                    \
    X(RAFT_ENOTCAUGHTUP, "learner has not caught up")                     \
    X(RAFT_ENOTFOUND, "no such member")                                   \
    X(RAFT_ECORRUPT, "malformed input")

enum raft_err {
#define RAFT__ENUM(code, text) code,
    RAFT_ERRORS(RAFT__ENUM)
#undef RAFT__ENUM
};
const char *raft_strerror(int err);

enum raft_role { RAFT_FOLLOWER, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };
const char *raft_role_name(enum raft_role role);

enum raft_entry_type {
    RAFT_ENTRY_NOOP = 1,   /* appended by every new leader (thesis 6.4, Figure 8) */
    RAFT_ENTRY_NORMAL = 2, /* a client command, opaque to the core */
    RAFT_ENTRY_CONF = 3,   /* a configuration, encoded by raft_conf_encode() */
};

struct raft_entry {
    raft_term term;
    raft_index index;
    uint8_t type;  /* enum raft_entry_type */
    uint32_t len;  /* bytes at data */
    uint8_t *data; /* owned by whoever owns the entry; NULL when len == 0 */
};

/* ===== Configuration ===== */

struct raft_member {
    raft_id id;
    bool voter;               /* false: a learner, which replicates but never votes */
    char addr[RAFT_ADDR_MAX]; /* opaque to the core (the shell stores a URL) */
};

struct raft_conf {
    uint32_t n;
    struct raft_member m[RAFT_MAX_MEMBERS];
};

/* Encodes into buf (cap bytes); returns the size needed, which may exceed cap. */
size_t raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap);
/* Returns RAFT_OK or RAFT_ECORRUPT. */
int raft_conf_decode(struct raft_conf *c, const uint8_t *buf, size_t len);
const struct raft_member *raft_conf_find(const struct raft_conf *c, raft_id id);
uint32_t raft_conf_voters(const struct raft_conf *c);

/* ===== Messages ===== */

enum raft_msg_type {
    RAFT_MSG_VOTE = 1,       /* RequestVote (or pre-vote when .prevote) */
    RAFT_MSG_VOTE_RESP,      /* .granted */
    RAFT_MSG_APPEND,         /* AppendEntries with entries */
    RAFT_MSG_APPEND_RESP,    /* .reject, .index (match or rejected prev), .hint_* */
    RAFT_MSG_HEARTBEAT,      /* .commit, .seq (ReadIndex round) */
    RAFT_MSG_HEARTBEAT_RESP, /* .seq echoed */
    RAFT_MSG_SNAPSHOT,       /* InstallSnapshot chunk: .snap_*, .offset, .data */
    RAFT_MSG_SNAPSHOT_RESP,  /* .snap_index, .offset = next offset wanted, .reject */
    RAFT_MSG_TIMEOUT_NOW,    /* leadership transfer: campaign now (thesis 3.10) */
};
#define RAFT_MSG_TYPE_MAX RAFT_MSG_TIMEOUT_NOW
const char *raft_msg_name(int type);

/* One flat struct for every RPC; fields not used by a type are zero. */
struct raft_msg {
    uint8_t type;
    raft_id from;
    raft_id to;
    raft_term term;

    /* VOTE: candidate's last log position. APPEND: the entry before .entries. */
    raft_index index;      /* VOTE: last index; APPEND: prev index;
                              APPEND_RESP: match index, or the rejected prev index */
    raft_term log_term;    /* VOTE: last term; APPEND: prev term; APPEND_RESP: hint term */
    raft_index commit;     /* APPEND, HEARTBEAT: leader commit */
    raft_index hint_index; /* APPEND_RESP reject: the follower's best guess of a match */
    uint64_t seq;          /* HEARTBEAT(_RESP): ReadIndex round; APPEND(_RESP) too */
    bool prevote;          /* VOTE(_RESP): a pre-vote (thesis 9.6) */
    bool transfer;         /* VOTE: caused by TIMEOUT_NOW, overrides leader stickiness */
    bool granted;          /* VOTE_RESP */
    bool reject;           /* APPEND_RESP, SNAPSHOT_RESP */

    uint32_t n_entries;         /* APPEND */
    struct raft_entry *entries; /* APPEND; owned by the sender of the struct */

    raft_index snap_index;        /* SNAPSHOT(_RESP) */
    raft_term snap_term;          /* SNAPSHOT */
    uint64_t snap_size;           /* SNAPSHOT: total bytes of the snapshot */
    uint64_t offset;              /* SNAPSHOT: chunk offset; SNAPSHOT_RESP: next wanted */
    bool done;                    /* SNAPSHOT: this chunk is the last */
    const struct raft_conf *conf; /* SNAPSHOT: configuration at snap_index */
    uint32_t len;                 /* SNAPSHOT: chunk bytes. From a leader's core data is
                                     NULL: the sender's shell fills in bytes [offset,
                                     offset+len) of its snapshot snap_index */
    const uint8_t *data;
};

/* ===== Start-up ===== */

struct raft_config {
    raft_id id;
    uint32_t election_ticks;       /* timeout drawn from [election_ticks, 2*election_ticks) */
    uint32_t heartbeat_ticks;      /* leader heartbeat period */
    uint64_t seed;                 /* the core's PRNG; runs with equal seeds are identical */
    uint32_t max_append_bytes;     /* entry payload bytes per APPEND (at least one entry) */
    uint32_t max_inflight;         /* APPENDs in flight per follower when pipelining */
    uint32_t snapshot_chunk_bytes; /* InstallSnapshot chunk size */
    bool pre_vote;                 /* thesis 9.6 */
    bool check_quorum;             /* leader steps down without a quorum; leader stickiness */
    /* Optional decision trace, "condition -> outcome" lines without newline. */
    void (*trace)(void *arg, const char *line);
    void *trace_arg;
};
void raft_config_defaults(struct raft_config *cfg, raft_id id, uint64_t seed);

struct raft_hard_state {
    raft_term term;
    raft_id vote;      /* RAFT_NONE when no vote in term */
    raft_index commit; /* a hint only: losing it is safe */
};

/* What storage recovered. entries must be contiguous; they may begin at or before
 * snap_index + 1 (entries at or before snap_index are ignored). */
struct raft_boot {
    struct raft_hard_state hs;
    raft_index snap_index; /* 0: no snapshot */
    raft_term snap_term;
    uint64_t snap_size;
    struct raft_conf snap_conf; /* configuration in the snapshot (if snap_index > 0) */
    struct raft_conf initial;   /* configuration before any CONF entry: the ip_list */
    const struct raft_entry *entries;
    size_t n_entries;
};

struct raft;

/* Returns RAFT_OK and *out, or an error. The core copies everything from boot. */
int raft_new(struct raft **out, const struct raft_config *cfg, const struct raft_boot *boot);
void raft_free(struct raft *r);

/* ===== Events ===== */

/* One logical tick of the shell's fixed timer. */
void raft_tick(struct raft *r);
/* A received message. Returns RAFT_OK, or RAFT_ECORRUPT for a message that makes no
 * sense (it is dropped; the node is unaffected). */
int raft_step(struct raft *r, const struct raft_msg *m);
/* Appends a NORMAL entry on the leader. RAFT_ENOTLEADER, RAFT_EBUSY (transfer). */
int raft_propose(struct raft *r, const void *data, uint32_t len, raft_index *index,
                 raft_term *term);
/* ReadIndex (thesis 6.4): the read is answered through rd.reads. RAFT_ENOTLEADER. */
int raft_read(struct raft *r, uint64_t read_id);
/* Leadership transfer to target (thesis 3.10). */
int raft_transfer(struct raft *r, raft_id target);
/* Membership (thesis 4.1): one change at a time, only after the leader committed an
 * entry of its term. Adds a learner, promotes a caught-up learner, or removes. */
enum raft_change { RAFT_ADD_LEARNER, RAFT_PROMOTE, RAFT_REMOVE };
int raft_change(struct raft *r, enum raft_change op, raft_id id, const char *addr,
                raft_index *index);
/* Entries through (index, term) are durable. Ignored if the log changed since. */
void raft_durable(struct raft *r, raft_index index, raft_term term);
/* The shell's snapshot of state through index (<= applied) is durable and size
 * bytes long; the core compacts its log, keeping `trailing` entries before it. */
void raft_snapshot_taken(struct raft *r, raft_index index, uint64_t size, uint64_t trailing);
/* While held, readies hand out no committed entries and no read results, and the
 * node starts no election, not even for a leadership transfer (it still votes);
 * the log, the disk and the messages go on as usual. The shell holds them while it restores
 * its state machine from an installed snapshot away from its loop (the ready that
 * installs hands out neither, so the shell may choose to do so). Released reads
 * and entries then go out with the first ready after the hold ends. */
void raft_hold_apply(struct raft *r, bool hold);
/* Starts an election now (tests and tools). */
void raft_campaign(struct raft *r);

/* ===== Output ===== */

struct raft_read_result {
    uint64_t read_id;
    bool ok;          /* false: leadership lost, answer "not leader" */
    raft_index index; /* the read index; state applied through it answers the read */
};

struct raft_snap_chunk {
    raft_index snap_index;
    raft_term snap_term;
    uint64_t offset;
    const uint8_t *data;
    uint32_t len;
    bool first; /* start a new temporary file */
};

struct raft_snap_install {
    raft_index index;
    raft_term term;
    uint64_t size;
    const struct raft_conf *conf;
};

struct raft_ready {
    bool hs_changed;
    struct raft_hard_state hs;

    const struct raft_entry *entries; /* append; entries[0].index <= last stored index
                                         means: first truncate from entries[0].index */
    size_t n_entries;
    bool must_sync;        /* hs term/vote or entries changed */
    raft_index last_index; /* pass to raft_durable() once durable */
    raft_term last_term;

    const struct raft_snap_chunk *chunk;     /* follower: write into the temp snapshot */
    const struct raft_snap_install *install; /* follower: the temp snapshot is complete:
                                                sync, rename, restore state from it, drop
                                                log entries <= index unless they match */

    const struct raft_msg *msgs; /* send now */
    size_t n_msgs;
    const struct raft_msg *msgs_sync; /* send once this ready is durable */
    size_t n_msgs_sync;

    const struct raft_entry *committed; /* apply in order */
    size_t n_committed;

    const struct raft_read_result *reads; /* answer after applying committed */
    size_t n_reads;
};

bool raft_has_ready(const struct raft *r);
void raft_ready(struct raft *r, struct raft_ready *rd);
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* ===== Queries ===== */

struct raft_progress_info {
    raft_id id;
    bool voter;
    raft_index match;
    raft_index next;
    uint32_t ticks_since_contact;
};

struct raft_status {
    raft_id id;
    enum raft_role role;
    raft_term term;
    raft_id vote;
    raft_id leader;
    raft_index commit;
    raft_index applied;
    raft_index first_index; /* first entry held in memory */
    raft_index last_index;
    raft_term last_term; /* term of the entry at last_index */
    raft_index durable_index;
    raft_index snap_index;
    raft_term snap_term;
    raft_index conf_index; /* entry the current configuration comes from; 0: the base one */
    raft_id transferee;
    uint32_t n_progress; /* leader only */
    struct raft_progress_info progress[RAFT_MAX_MEMBERS];
};
void raft_status(const struct raft *r, struct raft_status *st);
const struct raft_conf *raft_current_conf(const struct raft *r);
enum raft_role raft_role(const struct raft *r);
raft_id raft_leader(const struct raft *r);
raft_term raft_term_now(const struct raft *r);
/* The term of the entry at index (the snapshot point included); false when the
 * core holds no such entry. */
bool raft_entry_term(const struct raft *r, raft_index index, raft_term *term);

#endif
