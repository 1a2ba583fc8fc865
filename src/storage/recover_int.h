/* recover_int.h: state of one recovery pass, shared by recover.c (directory,
 * FORMAT, snapshots, repair) and replay.c (segments and records). */
#ifndef VESPER_STORAGE_RECOVER_INT_H
#define VESPER_STORAGE_RECOVER_INT_H

#include "storage/internal.h"

struct rv_snap {
    raft_index index;
    raft_term term;
};

struct rv {
    struct storage *st; /* NULL: report only, change nothing */
    const struct storage_sys *sys;
    const char *dir;
    const struct storage_options *opt;
    struct storage_boot *boot;
    FILE *out;
    char *err;
    size_t err_len;

    uint64_t *seqs; /* segment sequence numbers found, ascending */
    size_t n_seqs, cap_seqs;
    struct rv_snap *snaps; /* snapshot files found, newest first */
    size_t n_snaps, cap_snaps;
    size_t n_tmps, bad_snaps;
    bool have_format, fresh;
    unsigned version;

    /* replay */
    raft_index last; /* last entry index of the replayed log (0: none) */
    raft_term last_term;
    raft_term term_at_snap; /* term of the log's entry at the snapshot index (0: none) */
    size_t cap_entries;
    struct seg_info *segs;
    size_t n_segs, cap_segs;
    unsigned seg_version; /* of the segment being replayed */
    bool torn;
    uint64_t torn_at; /* offset of the torn record in the last segment */
    uint64_t torn_bytes;
    uint64_t tail_end; /* end of the last segment's records: where appends go */
    uint64_t prev_end; /* the same for the segment before it */
    uint8_t *arena;    /* where st_rv_keep copies the next payload */
    size_t arena_left;

    /* settled */
    raft_index last_index; /* max(last, snapshot index) */
    raft_term last_term_all;
    bool need_mark;
};

/* segread.c: a window onto one segment file (replay holds one record of it, not the
 * file), and the blocks entry payloads are copied into. */
struct seg_win {
    const struct storage_sys *sys;
    int fd;
    uint64_t file_len;
    uint8_t *buf;
    size_t cap, len; /* buf holds len bytes from file offset base */
    uint64_t base;
};

/* 0, or -1 with errno (open or fstat failed). */
int st_win_open(struct seg_win *w, const struct storage_sys *sys, const char *path);
void st_win_close(struct seg_win *w);
/* Decodes the record at off into *r (pointing into the window, valid until the next
 * call); *s as st_rec_decode's, REC_SHORT only when the file ends inside the record.
 * 0, or -1 with errno on a read error. */
int st_win_decode(struct seg_win *w, uint64_t off, struct rec *r, size_t *size, enum rec_status *s);
/* 1 when every byte from off to the end of the file is zero, 0 when one is not, -1 on
 * a read error. */
int st_win_zero_from(struct seg_win *w, uint64_t off);
/* Points *p at offset off with *avail >= min(want, bytes left in the file) bytes
 * behind it (valid until the next call), reading only when the window does not
 * hold them. 0, or -1 with errno set. */
int st_win_at(struct seg_win *w, uint64_t off, size_t want, const uint8_t **p, size_t *avail);
/* A copy of len > 0 bytes owned by the boot; NULL when out of memory. */
const uint8_t *st_rv_keep(struct rv *rv, const uint8_t *p, size_t len);

int st_rv_err(struct rv *rv, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void st_rv_note(struct rv *rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int st_rv_segments(struct rv *rv);
void st_rv_settle(struct rv *rv);
int st_rv_open_tail(struct rv *rv);

#endif
