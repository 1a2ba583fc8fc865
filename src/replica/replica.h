/* replica.h: one replica of the replicated key-value store without its I/O shell:
 * the Raft core, the durable storage and the state machine, and the Ready loop
 * that orders work between them.
 *
 * For each ready of the core, replica_process() does, in this order:
 *   1. persist: a received snapshot chunk, a snapshot install (KEEP_AFTER when the
 *      core's log runs past the snapshot, DROP_ALL otherwise; a transfer storage
 *      rejects reloads the whole state from disk; the state machine is restored
 *      from it on the loop or, when the shell takes the decoding, beside it, and
 *      the core's committed entries and reads wait for that: replica_restore.c),
 *      the hard state, the entries;
 *   2. send rd.msgs at once (the leader's own write overlaps replication, thesis
 *      10.2.1);
 *   3. storage_sync() when the ready asks for it (group commit: one fdatasync for
 *      every proposal of a loop iteration); with sync_mode THREAD a leader's ready
 *      that sends nothing durable-dependent (no msgs_sync, no new term or vote)
 *      only starts it, and the loop goes on while it runs;
 *   4. only then send rd.msgs_sync (votes and acknowledgements promise durable
 *      state);
 *   5. apply rd.committed to the state machine, completing each entry's write;
 *   6. complete rd.reads;
 *   7. raft_advance(), raft_durable() with the ready's last index, unless a sync
 *      started in step 3 (or one before) is still running: the core then hears
 *      what is durable from replica_sync_done(), so a leader never counts its own
 *      copy early.
 * After the last ready: flush the transport, the shell's after_ready hook,
 * leadership-lost if the node stopped leading, and a snapshot when storage says
 * the log has grown past its threshold (written by a forked child in vesperd,
 * adopted on a later iteration; see replica_snap.c).
 *
 * vesperd (src/node) and the deterministic simulation (tests/sim) both run this
 * loop; they differ only in the operations below. Nothing here includes h2o.
 *
 * Errors: a storage error at any step is fail stop: ops->fail_stop is called (in
 * vesperd it never returns), the replica is marked failed and every later call
 * returns -1 without touching the core or the disk again.
 *
 * Ownership: the replica owns the core, the storage and the state machine; the
 * ops table and its arg are borrowed for the replica's life.
 */
#ifndef VESPER_REPLICA_REPLICA_H
#define VESPER_REPLICA_REPLICA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"
#include "replica/replica_lease.h"
#include "storage/storage.h"

struct kv;
struct kv_result;

enum replica_log_level { REPLICA_LOG_INFO, REPLICA_LOG_WARN, REPLICA_LOG_ERROR };

struct replica_ops {
    /* Transport. A SNAPSHOT chunk arrives with its bytes filled in from storage. */
    void (*send)(void *arg, const struct raft_msg *m);
    void (*flush)(void *arg);
    /* State machine side. res is all zero for an entry that is not a KV command. */
    void (*write_done)(void *arg, const struct raft_entry *e, const struct kv_result *res);
    void (*read_done)(void *arg, const struct raft_read_result *rr);
    void (*leadership_lost)(void *arg);
    /* Optional: after the readies, before leadership_lost and maybe-snapshot. */
    void (*after_ready)(void *arg);
    /* Optional: the state is about to be reloaded from disk (waiting requests
     * cannot be answered by the new state) and has been reloaded (pointers to the
     * core and the storage changed). */
    void (*reloading)(void *arg);
    void (*reloaded)(void *arg);
    /* Clock, for durations only (metrics, log lines). */
    uint64_t (*now_us)(void *arg);
    /* Optional: one storage_sync() took us microseconds. */
    void (*synced)(void *arg, uint64_t us);
    void (*log)(void *arg, enum replica_log_level level, const char *line);
    /* Optional observers (the simulation's invariant checks; vesperd passes NULL):
     * storage recovered boot at open or reload; the state machine was restored
     * from snapshot s; a ready's hard state and entries were handed to storage. */
    void (*recovered)(void *arg, const struct storage_boot *boot);
    void (*restored)(void *arg, const struct storage_snapshot *s);
    void (*persisted)(void *arg, const struct raft_ready *rd);
    /* Optional: start the snapshot the log's threshold asks for away from the loop
     * (vesperd forks a writer: replica_snapshot_prepare, _write in the child,
     * _finish when it ends). True when it took the job or one is still running;
     * false to take it here and now. */
    bool (*snapshot_background)(void *arg);
    /* Optional: decode an installed snapshot away from the loop (replica_restore.c).
     * The shell runs replica_restore_decode() on a thread of its own, then
     * replica_restore_finish() on the loop once it returned; the core's committed
     * entries and reads wait meanwhile. True when it took the job; false to decode
     * here and now. With it, restore_join is required: it returns once a decode
     * the shell started has ended (a dropped job is told to stop early), and that
     * job's finish must then not be called. */
    bool (*restore_background)(void *arg);
    void (*restore_join)(void *arg);
    /* Optional: frees a replaced state machine (kv_free), maybe on another thread. */
    void (*release_state)(void *arg, struct kv *old);
    /* Storage failed: the replica must stop. May return (the replica is then
     * marked failed) or not (vesperd exits). */
    void (*fail_stop)(void *arg, const char *what, const char *detail);
};

/* Where the WAL's fdatasync runs. INLINE: on the loop, every time. THREAD: a
 * leader's sync that no message waits for runs on storage's sync thread while the
 * loop goes on (replica_sync_done() takes its answer); every other sync stays on
 * the loop. MANUAL: as THREAD, but the caller runs the sync (storage_sync_run), so
 * a deterministic simulation decides when it completes. */
enum replica_sync_mode { REPLICA_SYNC_INLINE, REPLICA_SYNC_THREAD, REPLICA_SYNC_MANUAL };

struct replica_config {
    const char *dir;             /* data directory */
    struct storage_options sopt; /* storage options (sys, thresholds, create) */
    struct raft_config rc;       /* the core's configuration (id, ticks, seed, trace) */
    struct raft_conf initial;    /* configuration before any CONF entry; n = 0 to join */
    uint64_t snapshot_trailing;  /* entries kept behind a snapshot for slow followers */
    size_t max_sessions;         /* kv_new(): exactly-once table size (0 = default) */
    size_t hist_events;          /* watch history window (kv_hist.h; 0 = default) */
    uint64_t hist_bytes;
    uint64_t lease_grace_ms; /* a new leader's extra wait per lease: an election timeout */
    enum replica_sync_mode sync_mode;
};

struct replica_stats {
    uint64_t applied_entries;
    uint64_t snapshots_taken;
    uint64_t snapshots_installed;
    uint64_t snapshot_us_total;
};

/* A restore of the state machine from the current snapshot (replica_restore.c).
 * Between begin and finish only the decoding side touches fresh and err. */
struct replica_restore {
    bool running;                 /* begun, not yet finished or dropped */
    bool background;              /* decoding away from the loop */
    struct storage_snapshot meta; /* index, term, configuration; data NULL */
    const struct storage_sys *sys;
    int fd; /* the snapshot file, by a descriptor of its own */
    struct kv *fresh;
    char err[256];
    atomic_bool stop; /* a dropped job: the decoder gives up at its next read */
    uint64_t started_us;
    uint64_t decode_us;
};

struct replica {
    struct raft *raft;
    struct storage *st;
    struct kv *kv;
    struct raft_conf applied_conf; /* configuration as of the applied index */
    struct replica_config cfg;     /* copy; cfg.dir is borrowed */
    const struct replica_ops *ops;
    void *arg;
    enum raft_role last_role;
    raft_term hs_term; /* term and vote last handed to storage */
    raft_id hs_vote;
    bool failed;
    uint8_t *snap_buf; /* scratch for outgoing snapshot chunks */
    size_t snap_buf_cap;
    struct replica_stats stats;
    struct replica_leases leases; /* the leader's lease deadlines (replica_lease.h) */
    struct replica_restore restore;
    bool in_ready; /* between raft_ready and raft_advance: no other raft_* call */
};

/* replica_open.c */
/* Recovers cfg->dir and starts the core; on failure err says why and -1 returns
 * (nothing to free). The replica keeps ops/arg for every later call. */
int replica_open(struct replica *r, const struct replica_config *cfg, const struct replica_ops *ops,
                 void *arg, char *err, size_t err_len);
/* Frees the core, closes the storage (no sync) and frees the state machine. */
void replica_close(struct replica *r);
/* Fail stop with storage_errmsg(); returns -1. */
int replica_fail(struct replica *r, const char *what);
/* Formats a line and hands it to ops->log. */
void replica_log(struct replica *r, enum replica_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Closes and reopens everything from disk, as a restart would. 0 or -1. */
int replica_reload(struct replica *r, const char *why);

/* replica_loop.c */
/* Runs the Ready loop until the core has nothing to do. 0, or -1 once failed. */
int replica_process(struct replica *r);
/* A sync that trails the loop has an answer (sync_mode THREAD: storage_sync_fd()
 * became readable; MANUAL: after storage_sync_run()): tells the core what is now
 * durable. Call between replica_process() calls, then replica_process(). 0 or -1
 * (fail stop: the fdatasync failed). */
int replica_sync_done(struct replica *r);
/* Takes a snapshot of the applied state now (the loop does when storage says the
 * log passed its threshold); nothing when the core's snapshot is already there.
 * Call between replica_process() calls. 0, or -1 once failed. */
int replica_snapshot(struct replica *r);

/* A snapshot in three steps (replica_snap.c); replica_snapshot runs them in a row.
 * prepare: 1 with job filled when the applied state is past the current snapshot,
 * 0 when it is not, -1 when the replica failed. write: encodes the state machine
 * and writes the snapshot file; it changes nothing else, in memory or on disk, so
 * it may run in a forked child on a copy of the process; 0, -1 (encoding failed)
 * or -2 (storage failed). finish: adopts the written file (or, with written false,
 * fails stop), unless a snapshot at job's index or later is already in place, in
 * which case the job is dropped; 0 or -1. */
struct replica_snap_job {
    raft_index index;
    raft_term term;
    struct raft_conf conf;
    uint64_t size; /* set by write */
    uint64_t started_us;
    bool forked; /* written by a child process: its time did not block the loop */
};
int replica_snapshot_prepare(struct replica *r, struct replica_snap_job *job);
int replica_snapshot_write(struct replica *r, struct replica_snap_job *job);
int replica_snapshot_finish(struct replica *r, const struct replica_snap_job *job, bool written);
/* replica_restore.c: the state machine replaced by the current snapshot's state.
 * s is the current snapshot as storage checked it (recovery's boot.snap, or what
 * storage_snapshot_recv_finish returned). restore_current runs the three steps in
 * a row (start-up, reload); 0 or -1 with err set. restore_installed follows an install on the loop:
 * begin, then decode and finish here unless ops->restore_background takes the middle; 0 or -1 (fail
 * stop). decode: reads and decodes the payload; it touches nothing but
 * r->restore, so it may run on any thread; 0 or -1 (the reason in
 * r->restore.err). finish: on the loop, after decode returned: swaps the new
 * state in and releases the core's held entries and reads; 0 or -1 (fail stop,
 * a snapshot that does not decode). drop: abandons a job not yet finished (a
 * newer install, a reload, close), waiting for a background decode to end.
 * restoring: true between begin and finish. */
int replica_restore_current(struct replica *r, const struct storage_snapshot *s, char *err,
                            size_t err_len);
int replica_restore_installed(struct replica *r, const struct storage_snapshot *s);
int replica_restore_decode(struct replica *r);
int replica_restore_finish(struct replica *r);
void replica_restore_drop(struct replica *r);
bool replica_restoring(const struct replica *r);

/* After every replica_process: a snapshot when storage says the log passed its
 * threshold, through ops->snapshot_background when that takes it. */
int replica_maybe_snapshot(struct replica *r);

#endif
