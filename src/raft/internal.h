/* internal.h: the core's private state and the functions its files share.
 *
 * Only the core's own .c files include this. Extern functions private to the core carry the
 * raft__ prefix. Every field's comment says what it means; the protocol rules live
 * in the .c files that use them.
 */
#ifndef VESPER_RAFT_INTERNAL_H
#define VESPER_RAFT_INTERNAL_H

#include "raft.h"
#include "log.h"

#define RAFT__INFLIGHT_MAX  256 /* hard cap of cfg.max_inflight */
#define RAFT__CATCHUP_SLACK 256 /* a learner within this many entries of commit may be promoted */

enum raft__pr_state {
    RAFT__PROBE,     /* one append at a time until the follower's match is known */
    RAFT__REPLICATE, /* pipelined appends, up to max_inflight in flight */
    RAFT__SNAPSHOT,  /* sending InstallSnapshot chunks, one in flight */
};

/* The leader's view of one follower (Figure 2 nextIndex/matchIndex, plus flow control). */
struct raft__progress {
    raft_id id;
    bool voter;
    enum raft__pr_state state;
    raft_index match;
    raft_index next;
    bool paused;            /* PROBE: an append is out, wait for its answer */
    bool active;            /* heard from since the last CheckQuorum round */
    uint32_t since_contact; /* ticks since the last message from this follower */
    raft_index match_at_hb; /* match when the last heartbeat went out: no progress
                               over a heartbeat round means lost appends */
    uint64_t acked_seq;     /* highest ReadIndex round this follower confirmed */
    raft_index gap;         /* REPLICATE: lowest prev index of an append the follower rejected
                               because it arrived before its predecessor; 0 = none */
    raft_index resent_from; /* REPLICATE: where the pipeline last restarted after such
                               a reject (replication.c) */
    raft_index inflight[RAFT__INFLIGHT_MAX]; /* last index of each append in flight */
    uint32_t inflight_head, inflight_n;
    raft_index snap_index; /* SNAPSHOT: which snapshot is being sent */
    uint64_t snap_offset;  /* SNAPSHOT: bytes the follower confirmed */
    uint32_t snap_wait;    /* SNAPSHOT: ticks since the last chunk went out */
};

struct raft__read {
    uint64_t id;
    raft_index index; /* commit index when the read was registered */
    uint64_t seq;     /* heartbeat round that confirms leadership for it; 0 = waiting
                         for the leader's first commit in its term */
};

struct raft__msgbuf {
    struct raft_msg *v;
    size_t n, cap;
};

struct raft {
    struct raft_config cfg;
    uint64_t prng;

    /* Persistent state (Figure 2) and what storage has of it. */
    raft_term term;
    raft_id vote;
    struct raft_hard_state hs_saved; /* last hard state handed to storage */
    struct raft__log log;

    /* Volatile state. */
    enum raft_role role;
    raft_id leader;
    raft_index commit;
    raft_index applied; /* handed out as committed and advanced */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t timeout; /* randomized election timeout in ticks */

    /* Configuration: the latest CONF entry in the log wins (thesis 4.1). */
    struct raft_conf conf;
    raft_index conf_index;      /* index of the entry conf came from; 0 = base */
    struct raft_conf base_conf; /* configuration in force at log.offset */

    /* Snapshot the shell holds (leader side sends it; follower side installs). */
    raft_index snap_index;
    raft_term snap_term;
    uint64_t snap_size;
    struct raft_conf snap_conf;

    /* Candidate. */
    raft_id votes_for[RAFT_MAX_MEMBERS];
    uint32_t n_votes_for, n_votes_against;
    raft_id voted_ids[RAFT_MAX_MEMBERS * 2];
    uint32_t n_voted;

    /* Leader. */
    struct raft__progress pr[RAFT_MAX_MEMBERS];
    uint32_t n_pr;
    raft_index term_start; /* index of this term's no-op */
    raft_id transferee;
    uint32_t transfer_elapsed;
    bool need_broadcast; /* proposals since the last ready: append to all */
    uint64_t read_seq;   /* last ReadIndex round sent */
    struct raft__read *reads;
    size_t n_reads, cap_reads;

    /* Follower receiving a snapshot. */
    raft_index recv_index;
    raft_term recv_term;
    uint64_t recv_offset;
    uint8_t *chunk_buf;
    uint32_t chunk_cap;
    bool chunk_pending;
    struct raft_snap_chunk chunk;
    bool install_pending;
    struct raft_snap_install install;
    bool apply_held; /* raft_hold_apply: no committed entries or reads go out */

    /* Output accumulated until raft_advance(). */
    struct raft__msgbuf out;
    struct raft__msgbuf out_sync;
    struct raft_read_result *results;
    size_t n_results, cap_results;
    bool committed_out; /* a ready handed out committed entries */
};

/* raft.c */
void raft__tracef(struct raft *r, const char *fmt, ...);
uint64_t raft__rand(struct raft *r);
int raft__send(struct raft *r, struct raft_msg *m);      /* queue for rd.msgs */
int raft__send_sync(struct raft *r, struct raft_msg *m); /* queue for rd.msgs_sync */
uint32_t raft__quorum(const struct raft *r);
bool raft__is_voter(const struct raft *r, raft_id id);

/* election.c */
void raft__become_follower(struct raft *r, raft_term term, raft_id leader);
void raft__tick_election(struct raft *r);
void raft__start_election(struct raft *r, bool prevote, bool transfer);
void raft__recv_vote(struct raft *r, const struct raft_msg *m);
void raft__recv_vote_resp(struct raft *r, const struct raft_msg *m);
void raft__reset_timeout(struct raft *r);

/* replication.c */
void raft__become_leader(struct raft *r);
void raft__tick_leader(struct raft *r);
void raft__broadcast_append(struct raft *r);
void raft__send_append(struct raft *r, struct raft__progress *pr);
void raft__recv_append(struct raft *r, const struct raft_msg *m);
void raft__recv_append_resp(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m);
void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m);
void raft__maybe_commit(struct raft *r);
void raft__commit_advanced(struct raft *r);
void raft__heartbeat_round(struct raft *r);
int raft__append_local(struct raft *r, uint8_t type, const void *data, uint32_t len);
struct raft__progress *raft__progress(struct raft *r, raft_id id);
void raft__progress_probe(struct raft__progress *pr, raft_index next);
/* Drops queued APPENDs, and acknowledgements of entries at or after from (cut). */
void raft__drop_queued_appends(struct raft *r);
void raft__purge_appends(struct raft *r, raft_index from);

/* read.c */
int raft__read_request(struct raft *r, uint64_t id);
void raft__reads_flush(struct raft *r);
void raft__reads_check(struct raft *r);
void raft__reads_fail_all(struct raft *r);

/* snapshot.c */
void raft__send_snapshot(struct raft *r, struct raft__progress *pr);
void raft__recv_snapshot(struct raft *r, const struct raft_msg *m);
void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m);
void raft__snapshot_restart_senders(struct raft *r);

/* membership.c */
void raft__conf_changed(struct raft *r);
void raft__conf_recompute(struct raft *r);
void raft__conf_at(const struct raft *r, raft_index index, struct raft_conf *out);
void raft__conf_compacting(struct raft *r, raft_index upto);
void raft__progress_rebuild(struct raft *r);
void raft__check_self_removed(struct raft *r);
void raft__transfer_check(struct raft *r, struct raft__progress *pr);
void raft__recv_timeout_now(struct raft *r, const struct raft_msg *m);

#endif
