/* internal.h: the state shared by the storage files (wal, recover, snapshot).
 *
 * struct storage is defined here rather than in storage.h so the shell cannot
 * reach into it; the .c files split along concerns: wal.c appends and syncs,
 * recover.c and replay.c read a directory back, snapshot.c writes and reads
 * snapshots, snaprecv.c receives and installs a leader's, terms.c knows the term
 * of every log index, syncer.c runs the optional sync thread, storage.c opens,
 * closes and formats errors.
 *
 * Names: a function with external linkage in src/storage is either storage_* (the
 * public API, storage.h) or st_* (shared between storage files only: declared here,
 * in record.h and in recover_int.h, as st_<area>_<verb> with the area its file:
 * st_wal_*, st_terms_*, st_syncer_*, st_snap_*, st_rec_*, st_rv_* (a recovery pass);
 * the plain st_* helpers live in storage.c). Everything else is static.
 * tests/check_modules.sh fails the build on any other exported name.
 */
#ifndef VESPER_STORAGE_INTERNAL_H
#define VESPER_STORAGE_INTERNAL_H

#include <stdarg.h>

#include "storage/record.h"
#include "storage/storage.h"

#define STORAGE_PATH_MAX      4096
#define STORAGE_ERR_MAX       512
#define STORAGE_FORMAT_FILE   "FORMAT"
#define STORAGE_FORMAT_TEXT   "vesper-storage-format %u\n"
/* Oldest WAL format still read (version 1: no sync slots, see replay.c); a
 * directory holding it is upgraded at open by rolling to a new segment. */
#define STORAGE_FORMAT_OLDEST 1
/* Snapshot files keep their own version: their layout did not change with the WAL's,
 * and followers check the bytes a leader sends. */
#define SNAP_FORMAT_VERSION   1
/* Segment layout from version 2 (docs/storage-format.md): header and hard state
 * records in the first sector, two sync slots in sectors of their own, rewritten
 * in place after each fdatasync, then the records. */
#define WAL_SLOT_A            512
#define WAL_SLOT_B            1024
#define WAL_DATA_START        1536
#define SNAP_HDR_BYTES        40
#define SNAP_MAGIC            "VSPRSNAP"

struct seg_info {
    uint64_t seq;
    uint64_t max_index; /* highest entry or mark index written in it (0: none) */
    unsigned version;   /* format version of its header */
};

struct term_run {
    raft_index first; /* the run's first index; it lasts until the next run */
    raft_term term;
};

/* The CRC-32C of bytes [0, len - 4) of a file, computed as it was written. */
struct st_crc_known {
    uint64_t len;
    uint32_t crc;
};

struct storage {
    char *dir;
    const struct storage_sys *sys;
    struct storage_options opt;

    struct seg_info *segs; /* ascending seq; the last one is the active segment */
    size_t n_segs, cap_segs;
    int fd;               /* active segment, opened for writing */
    uint64_t size;        /* bytes written to the active segment */
    uint64_t synced_size; /* bytes of it known durable */
    unsigned slot_next;   /* which sync slot the next claim goes to (0: A, 1: B) */

    uint8_t *buf; /* records of this iteration, written by one pwrite */
    size_t buf_len, buf_cap;
    raft_index buf_max_index;

    raft_index last_index; /* the log as the caller sees it (buffered included) */
    raft_term last_term;
    raft_index written_index;
    raft_index synced_index;
    struct term_run *runs; /* the log's terms (terms.c) */
    size_t n_runs, cap_runs;
    struct raft_hard_state hs;         /* the latest saved (perhaps only buffered) */
    struct raft_hard_state hs_written; /* the latest written to the WAL */
    bool hs_pending;                   /* hs is newer than hs_written: write it last */
    /* WAL bytes written for the entries after bytes_base_index (about the snapshot's
     * index: estimated when a snapshot is adopted while the log ran on past it; the
     * count starts afresh at open). */
    uint64_t bytes_since_snap;
    raft_index bytes_base_index;

    struct storage_snapshot snap; /* metadata only (data NULL) */
    int snap_fd;                  /* read side of the current snapshot file, or -1 */

    int recv_fd; /* follower: the snapshot being received, or -1 */
    raft_index recv_index;
    raft_term recv_term;
    struct st_crc_known recv_crc; /* of the bytes written so far, in order */
    uint8_t recv_tail[4];         /* the last 4 of them, kept out of recv_crc */
    bool recv_in_order;           /* every write continued the last one */
    uint64_t recv_synced;         /* bytes of it fdatasync'ed on the way (snaprecv.c) */

    struct syncer *syncer; /* background fdatasync thread, or NULL (syncer.c) */

    bool failed; /* sticky after any write or sync error: fail stop */
    char err[STORAGE_ERR_MAX];
};

/* Errors. st_fail makes the object refuse further writes; st_error does not. */
int st_fail(struct storage *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int st_error(struct storage *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void st_log(const struct storage_options *opt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int st_check_writable(struct storage *st);
void st_path(const char *dir, const char *name, char *out, size_t cap);
void st_seg_name(uint64_t seq, char *out, size_t cap);
void st_snap_name(raft_index index, raft_term term, const char *suffix, char *out, size_t cap);

/* wal.c */
int st_wal_create_segment(struct storage *st, uint64_t seq);
int st_wal_buffer(struct storage *st, const struct rec *r);
int st_wal_mark(struct storage *st, raft_index index, raft_term term, uint8_t flags);
int st_wal_compact(struct storage *st, raft_index keep_from);
/* After an fdatasync made st->synced_size durable: records that in a sync slot. */
int st_wal_note_synced(struct storage *st);

/* terms.c: term of each log index. The int functions return -1 when out of memory. */
int st_terms_append(struct storage *st, raft_index index, raft_term term);
int st_terms_reset(struct storage *st, raft_index index, raft_term term);
raft_term st_terms_at(const struct storage *st, raft_index index); /* 0: not known */
void st_terms_compact(struct storage *st, raft_index before);

/* syncer.c */
int st_syncer_drain(struct storage *st);
/* Fails the object when the thread's fdatasync failed (st_check_writable). */
int st_syncer_check(struct storage *st);
void st_syncer_stop(struct storage *st);

/* snapshot.c */
size_t st_snap_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap);
int st_snap_conf_decode(struct raft_conf *c, const uint8_t *buf, size_t len);
/* Checks a whole snapshot file image; fills meta (data points into img, not owned).
 * Returns NULL when valid, else a static description of what is wrong. */
const char *st_snap_parse(const uint8_t *img, size_t len, struct storage_snapshot *meta,
                          uint64_t *data_off);
/* The header checks of st_snap_parse on the first avail bytes of a file of len
 * bytes (magic and CRC already checked). */
const char *st_snap_parse_header(const uint8_t *img, size_t avail, uint64_t len,
                                 struct storage_snapshot *meta, uint64_t *data_off);
int st_snap_open_current(struct storage *st);
/* Reads and checks the snapshot file at path; on success out owns the payload.
 * On failure *why says what is wrong. */
int st_snap_load_file(const struct storage_sys *sys, const char *path, struct storage_snapshot *out,
                      const char **why);
/* snapcheck.c: the checks of st_snap_load_file, reading the file in pieces and
 * keeping none of it: out gets the metadata, with data NULL. known, when not NULL
 * and its len is the file's, is the CRC of all but the file's last 4 bytes as
 * the caller wrote them (a received snapshot: snaprecv.c), and the file is not
 * read again to compute it. */
int st_snap_check_file(const struct storage_sys *sys, const char *path,
                       const struct st_crc_known *known, struct storage_snapshot *out,
                       const char **why);
/* Recovery and install: st_snap_check_file when lazy (opt.snapshot_lazy), else
 * st_snap_load_file. */
int st_snap_get_file(const struct storage_sys *sys, bool lazy, const char *path,
                     const struct st_crc_known *known, struct storage_snapshot *out,
                     const char **why);
/* A snapshot at index is adopted: the byte count keeps only what was written after
 * index (estimated in proportion to the entries, when the log ran on past index
 * while the snapshot was written) and counts from there. */
void st_snap_count_bytes_from(struct storage *st, raft_index index);
int st_snap_adopt(struct storage *st, raft_index index, raft_term term,
                  const struct raft_conf *conf, uint64_t size, raft_index keep_from);
int st_snap_remove_older(struct storage *st);

/* recover.c: reads dir. With st == NULL it only reports (storage_check). */
struct recover_report {
    FILE *out;        /* storage_check's report, or NULL */
    bool torn;        /* a torn tail was found (and, when repairing, truncated) */
    bool fresh;       /* the directory held no data yet */
    size_t bad_snaps; /* damaged snapshot files skipped */
};
int st_recover_dir(struct storage *st, const char *dir, const struct storage_options *opt,
                   struct storage_boot *boot, struct recover_report *rep, char *err,
                   size_t err_len);

#endif
