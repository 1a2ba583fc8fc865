/* storage.h: Vesper's durable storage: write-ahead log, hard state, snapshots.
 *
 * One struct storage owns one data directory (layout: docs/storage-format.md).
 * The shell drives it from its Ready loop, once per event-loop iteration:
 *
 *   storage_save_hard_state(st, &rd.hs);      if rd.hs_changed
 *   storage_append(st, rd.entries, n);        truncates first when entries[0].index
 *                                             <= storage_last_index(st)
 *   storage_sync(st);                         ONE write() and ONE fdatasync() for all
 *                                             of the above (group commit), then a
 *                                             small unsynced write of the synced
 *                                             length into a sync slot (wal.c)
 *
 * Hard state lives in the WAL as its own record type, so the same fdatasync that
 * makes the entries durable makes the term and vote durable: nothing a vote or an
 * append acknowledgement promises can be lost after storage_sync() returns. The
 * call order above does not matter for safety: the hard state is written after
 * the entries of its write, and a received snapshot's install decides from the
 * log storage wrote whether the entries after it stay.
 *
 * Errors: every function returning int returns a STORAGE_* code (0 is STORAGE_OK).
 * storage_errmsg() then holds a message with context, e.g.
 * "wal: fdatasync 0000000000000001.seg: Input/output error". A failed write or sync
 * makes the object refuse every later write (STORAGE_EFAILED, sticky): the caller
 * logs the message and exits non-zero (fail stop). Nothing retries an fsync,
 * because after a failed fsync the kernel may already have dropped the dirty pages.
 * Reopening the directory then recovers a valid prefix.
 *
 * Threads: a struct storage is used by one thread. The durability bookkeeping is
 * split into written-through and synced-through indexes so a sync thread can take
 * over the fdatasync later (see storage_write()).
 *
 * Ownership: every pointer passed in is borrowed for the duration of the call
 * (storage copies what it keeps). struct storage_boot and struct storage_snapshot
 * own what they point to until storage_boot_free() / storage_snapshot_free().
 */
#ifndef VESPER_STORAGE_STORAGE_H
#define VESPER_STORAGE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "raft/raft.h"
#include "storage/sys.h"

#define STORAGE_FORMAT_VERSION 2

#define STORAGE_ERRORS(X)                                    \
    X(STORAGE_OK, "ok")                                      \
    X(STORAGE_EIO, "i/o error")                              \
    X(STORAGE_ECORRUPT, "corrupt data")                      \
    X(STORAGE_EVERSION, "unsupported format version")        \
    X(STORAGE_EINVAL, "invalid argument")                    \
    X(STORAGE_ENOMEM, "out of memory")                       \
    X(STORAGE_EFAILED, "storage failed earlier (fail stop)") \
    X(STORAGE_ENOTFOUND, "no such snapshot")

enum storage_err {
#define STORAGE__ENUM(code, text) code,
    STORAGE_ERRORS(STORAGE__ENUM)
#undef STORAGE__ENUM
};
const char *storage_strerror(int err);

struct storage_options {
    uint64_t segment_bytes;    /* roll to a new segment past this size */
    uint64_t snapshot_entries; /* storage_should_snapshot(): entries since snapshot */
    uint64_t snapshot_bytes;   /* ... or sooner, to keep the log under about this many bytes */
    uint64_t snapshot_phase;   /* where in each snapshot_entries the entries trigger falls */
    bool create;               /* create the directory when it does not exist */
    /* fallocate() each new segment to segment_bytes, so appends overwrite reserved
     * space instead of growing the file (what etcd does), and fdatasync has no size
     * to record. Off in storage_options_defaults; vesperd turns it on. Recovery
     * handles preallocated segments either way. Failure to preallocate is ignored. */
    bool preallocate;
    /* Informational lines (torn tail truncated, stale temp removed). NULL: stderr. */
    void (*log)(void *arg, const char *line);
    void *log_arg;
    const struct storage_sys *sys; /* NULL: the real syscalls */
    /* Recovery (boot.snap) and a finished install (storage_snapshot_recv_finish)
     * check the snapshot file's CRC in pieces and hand back its metadata with data
     * NULL, instead of the whole payload in memory: read it from the current
     * snapshot with storage_snapshot_read() at data_off. Memory at start-up and on
     * install is then bounded by the reader's buffer, not by the state. */
    bool snapshot_lazy;
};
void storage_options_defaults(struct storage_options *o);

/* A snapshot's metadata and, when loaded, its payload (the kv module's bytes). */
struct storage_snapshot {
    raft_index index; /* 0: no snapshot */
    raft_term term;
    uint64_t size; /* bytes of the whole snapshot file (what a leader sends) */
    struct raft_conf conf;
    uint8_t *data; /* payload, malloc'd; owned by this struct (NULL: not loaded) */
    uint64_t len;
    uint64_t data_off; /* where the payload starts in the file */
};
void storage_snapshot_free(struct storage_snapshot *s);

/* What recovery found. entries hold every entry after snap.index, contiguous;
 * their data point into buffers the boot owns, so keep the boot alive until the
 * core has copied them (raft_new copies), then storage_boot_free(). */
struct storage_boot {
    struct raft_hard_state hs;
    struct storage_snapshot snap;
    struct raft_entry *entries;
    size_t n_entries;
    void **bufs_; /* private: blocks holding the entries' payloads */
    size_t n_bufs_;
};
void storage_boot_free(struct storage_boot *b);

struct storage;

/* Recovers dir: newest valid snapshot, then the WAL after it. A torn last record is
 * truncated and logged. Corruption elsewhere (a CRC mismatch before the tail, a
 * missing segment, an index gap) returns STORAGE_ECORRUPT with err naming the file
 * and offset. On success *out and *boot are set; on failure neither needs freeing. */
int storage_open(struct storage **out, const char *dir, const struct storage_options *opt,
                 struct storage_boot *boot, char *err, size_t err_len);
void storage_close(struct storage *st);
const char *storage_errmsg(const struct storage *st);

/* ===== The Ready loop ===== */

/* Saves the hard state; durable after the next storage_sync(). It is written after
 * the entries appended before that write, whatever the call order, so a durable
 * commit index never names an entry that is not durable with it. */
int storage_save_hard_state(struct storage *st, const struct raft_hard_state *hs);
/* Buffers entries (borrowed; copied). entries[0].index must be <= last index + 1;
 * when it is <= the last index the suffix from it is discarded first. The discard
 * is a property of the record order (recovery replays "a record at index i ends the
 * log at i"), so it is atomic with the new entries becoming durable: a crash either
 * keeps the old suffix (nothing new was acknowledged) or the new one. */
int storage_append(struct storage *st, const struct raft_entry *entries, size_t n);
/* Writes buffered records to the segment with one write(); no sync. Afterwards
 * storage_written_index() covers them. */
int storage_write(struct storage *st);
/* storage_write() then one fdatasync(): everything saved so far is durable. */
int storage_sync(struct storage *st);

/* ===== Optional background sync thread (syncer.c) =====
 *
 * After storage_sync_thread_start(), storage_sync_begin() writes the buffered
 * records and asks the thread to fdatasync them, returning at once; when
 * storage_sync_fd() (an eventfd) becomes readable, storage_sync_complete() applies
 * the result: storage_synced_index() moves forward (or the object fails stop if the
 * fdatasync failed). Without the thread, storage_sync_begin() is storage_sync().
 * storage_sync() remains usable and is synchronous. The thread ends in
 * storage_close().
 *
 * Manual mode (storage_sync_manual_start) is the same without a thread, for a
 * deterministic caller (the simulation): storage_sync_begin() only records the
 * request, storage_sync_pending() says one is open, and storage_sync_run() does its
 * fdatasync and applies the answer, at a moment the caller picks. storage_sync_fd()
 * is -1 then.
 *
 * A failed fdatasync in the thread is sticky: storage_sync_pending() stays true
 * (nothing it covered is durable), and every later write or sync fails stop. */
int storage_sync_thread_start(struct storage *st);
int storage_sync_manual_start(struct storage *st);
int storage_sync_fd(const struct storage *st);
int storage_sync_begin(struct storage *st);
int storage_sync_complete(struct storage *st);
bool storage_sync_pending(const struct storage *st);
int storage_sync_run(struct storage *st);
/* Waits for the thread's request in flight and applies its answer; fails stop on
 * its error. Before closing the object on purpose (a reload). */
int storage_sync_wait(struct storage *st);
/* The microseconds (at least 1) the sync thread's fdatasync took for the answer
 * storage_sync_complete() applied last, once; 0 when none since the last call. */
uint64_t storage_sync_take_us(struct storage *st);

raft_index storage_last_index(const struct storage *st);
raft_term storage_last_term(const struct storage *st);
raft_index storage_written_index(const struct storage *st);
raft_index storage_synced_index(const struct storage *st);
raft_index storage_snapshot_index(const struct storage *st); /* the current snapshot's; 0: none */
/* True when the entries or WAL bytes since the last snapshot pass the thresholds.
 * The entries threshold falls at the indexes k * snapshot_entries + snapshot_phase:
 * the log passed the first of them at least half an interval after the current
 * snapshot (so an interval runs from one half to one and a half snapshot_entries,
 * and exactly one in steady state). Nodes given different phases snapshot at
 * different moments, however their snapshots came to be (taken, installed,
 * recovered), rather than all at once. Where snapshot_entries entries would hold
 * more than snapshot_bytes (large entries), the interval shrinks, by coarse steps,
 * to what fits at the average entry size since the snapshot, and the phase keeps
 * its share of it: the byte threshold staggers the nodes too. A log twice
 * snapshot_bytes long is snapshotted at once, wherever its points fall. */
bool storage_should_snapshot(const struct storage *st);

/* ===== Snapshots ===== */

/* Leader side (or any node compacting): writes the snapshot of state through index
 * (temp file, fsync, rename, directory fsync), then deletes older snapshots and WAL
 * segments whose entries all lie before keep_from (the lowest index the caller still
 * needs; clamped to index + 1). *size_out (optional) receives the file size. */
int storage_snapshot_save(struct storage *st, raft_index index, raft_term term,
                          const struct raft_conf *conf, const void *data, uint64_t len,
                          raft_index keep_from, uint64_t *size_out);
/* storage_snapshot_save in its two halves. _write only writes the file (temp file,
 * fsync, rename, directory fsync) and changes nothing else in st, so a forked child
 * may run it on its copy while the parent goes on (it waits for each piece to
 * reach the disk, which _save, on the loop, does not: sys.h); *size_out receives
 * the file size. _adopt then makes that file the current snapshot and compacts as
 * _save does (STORAGE_EINVAL if a newer snapshot was adopted meanwhile). */
int storage_snapshot_write(struct storage *st, raft_index index, raft_term term,
                           const struct raft_conf *conf, const void *data, uint64_t len,
                           uint64_t *size_out);
int storage_snapshot_adopt(struct storage *st, raft_index index, raft_term term,
                           const struct raft_conf *conf, uint64_t size, raft_index keep_from);
/* storage_snapshot_write with the payload streamed in pieces instead of given in one
 * buffer (snapwrite.c): _begin creates the temp file, _append adds payload bytes in
 * order, _end writes the header (it holds the payload's length) and the trailer,
 * fsyncs, renames and fsyncs the directory, and gives the file's size. With wait,
 * each piece reaches the disk before the next is written (a writer beside the
 * loop); without, at most two are in flight (on the loop; sys.h). After an error,
 * or to give up, _abort closes the temp file. Like _write, it changes nothing else
 * in st, so a forked child may run it. */
struct storage_snap_writer {
    struct storage *st;
    int fd; /* the temp file, -1 once closed */
    bool wait;
    raft_index index;
    raft_term term;
    struct raft_conf conf;
    char name[64];
    uint64_t data_off; /* where the payload starts: the header's length */
    uint64_t len;      /* payload bytes written */
    uint64_t pushed;   /* of them handed to storage_writeback */
    uint32_t crc;      /* CRC-32C of the payload so far */
};
int storage_snapshot_begin(struct storage *st, raft_index index, raft_term term,
                           const struct raft_conf *conf, bool wait, struct storage_snap_writer *w);
int storage_snapshot_append(struct storage_snap_writer *w, const void *data, size_t len);
int storage_snapshot_end(struct storage_snap_writer *w, uint64_t *size_out);
void storage_snapshot_abort(struct storage_snap_writer *w);
/* Reads bytes [offset, offset + cap) of snapshot `index`'s file into buf;
 * *n_read may be short at the end. STORAGE_ENOTFOUND when that snapshot is no
 * longer the current one (a newer one replaced it). */
int storage_snapshot_read(struct storage *st, raft_index index, uint64_t offset, void *buf,
                          size_t cap, size_t *n_read);
/* Loads the current snapshot (metadata and payload) into *out. */
int storage_snapshot_load(struct storage *st, struct storage_snapshot *out);
/* For a backup or a restore beside the loop: a new read-only descriptor (*fd_out)
 * of the current snapshot file and its metadata (*meta, data NULL). The file stays
 * readable through fd_out after a newer snapshot replaces it. The descriptor comes
 * from storage_sys_of(st): read it with storage_pread_all and close it through
 * the same table, on any thread. STORAGE_ENOTFOUND when there is none. */
int storage_snapshot_open(struct storage *st, int *fd_out, struct storage_snapshot *meta);
/* The system-call table storage runs on (opt.sys, or the real one). */
const struct storage_sys *storage_sys_of(const struct storage *st);
/* Checks a whole snapshot file image (magic, version, sizes, trailing CRC, the
 * configuration) and fills *meta (data NULL) and *data_off, the payload's offset in
 * img. STORAGE_ECORRUPT with the reason in *why. Touches no directory. */
int storage_snapshot_parse(const uint8_t *img, size_t len, struct storage_snapshot *meta,
                           uint64_t *data_off, const char **why);

/* Follower side: the exact file bytes of the leader's snapshot arrive in chunks. */
enum storage_install {
    STORAGE_KEEP_AFTER, /* the log held (index, term): keep entries after it. Storage
                           checks this against the log it wrote and drops the log
                           when that one does not hold (index, term) */
    STORAGE_DROP_ALL,   /* the log conflicts: discard all of it */
};
int storage_snapshot_recv_begin(struct storage *st, raft_index index, raft_term term);
int storage_snapshot_recv_write(struct storage *st, uint64_t offset, const void *data, size_t len);
/* Validates the whole file (header and CRC; STORAGE_ECORRUPT rejects a bad transfer
 * and removes it, without failing the object), syncs and installs it atomically,
 * discards log entries as `mode` says, compacts, and loads it into *out (optional). */
int storage_snapshot_recv_finish(struct storage *st, enum storage_install mode,
                                 struct storage_snapshot *out);
void storage_snapshot_recv_abort(struct storage *st);

/* ===== Offline verifier ===== */

/* Reports the state of dir to out without changing anything. Returns 0 when the
 * directory would open (a torn tail, which open truncates, is reported but
 * healthy), 1 otherwise. */
int storage_check(const char *dir, FILE *out);
/* The same through sys (storage_check uses the real file system). */
int storage_check_with(const char *dir, const struct storage_sys *sys, FILE *out);

#endif
