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

    /* settled */
    raft_index last_index; /* max(last, snapshot index) */
    raft_term last_term_all;
    bool need_mark;
};

int st_rv_err(struct rv *rv, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void st_rv_note(struct rv *rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int st_rv_segments(struct rv *rv);
void st_rv_settle(struct rv *rv);
int st_rv_open_tail(struct rv *rv);

#endif
