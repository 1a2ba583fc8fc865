/* replay.c: reading WAL segments record by record and rebuilding the log.
 *
 * A segment is read through a window (segread.c), never whole. The payload of each
 * entry after the snapshot is copied into blocks the boot owns; the core copies it
 * again. Entries at or before the snapshot index are only tracked for their position
 * and, at the snapshot index itself, their term (see st_rv_settle()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/recover_int.h"

void st_rv_note(struct rv *rv, const char *fmt, ...)
{
    if (!rv->out)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(rv->out, fmt, ap);
    va_end(ap);
    fputc('\n', rv->out);
}

static int rv_entry(struct rv *rv, const struct rec *r, const char *name, size_t off)
{
    struct storage_boot *b = rv->boot;
    raft_index snap = b->snap.index;
    raft_index bound = (rv->last > snap ? rv->last : snap) + 1;
    if (r->index == 0 || r->index > bound)
        return st_rv_err(rv, STORAGE_ECORRUPT,
                         "wal: %s offset %zu: entry %llu leaves a gap (log ends at %llu, "
                         "snapshot at %llu)",
                         name, off, (unsigned long long)r->index, (unsigned long long)rv->last,
                         (unsigned long long)snap);
    if (r->index <= snap) {
        b->n_entries = 0;
        rv->term_at_snap = r->index == snap ? r->term : 0;
    } else {
        const uint8_t *data = r->len ? st_rv_keep(rv, r->data, r->len) : NULL;
        if (r->len && !data)
            return st_rv_err(rv, STORAGE_ENOMEM, "wal: out of memory for entries");
        b->n_entries = (size_t)(r->index - snap - 1); /* ends the log before it */
        if (b->n_entries == rv->cap_entries) {
            size_t cap = rv->cap_entries ? 2 * rv->cap_entries : 1024;
            struct raft_entry *e = realloc(b->entries, cap * sizeof *e);
            if (!e)
                return st_rv_err(rv, STORAGE_ENOMEM, "wal: out of memory for entries");
            b->entries = e;
            rv->cap_entries = cap;
        }
        b->entries[b->n_entries++] = (struct raft_entry){.term = r->term,
                                                         .index = r->index,
                                                         .type = r->type,
                                                         .len = r->len,
                                                         .data = (uint8_t *)data};
    }
    rv->last = r->index;
    rv->last_term = r->term;
    return 0;
}

static int rv_apply(struct rv *rv, const struct rec *r, const char *name, size_t off, uint64_t seq)
{
    struct storage_boot *b = rv->boot;
    if (off == 0) {
        if (r->type != REC_SEGHDR || r->len != 8 || memcmp(r->data, REC_SEG_MAGIC, 8) != 0)
            return st_rv_err(rv, STORAGE_ECORRUPT, "wal: %s offset 0: no segment header", name);
        if (r->aux < STORAGE_FORMAT_OLDEST || r->aux > STORAGE_FORMAT_VERSION)
            return st_rv_err(rv, STORAGE_EVERSION,
                             "wal: %s: format version %u, this build reads %u to %u", name, r->aux,
                             STORAGE_FORMAT_OLDEST, STORAGE_FORMAT_VERSION);
        rv->seg_version = r->aux;
        if (r->index != seq)
            return st_rv_err(rv, STORAGE_ECORRUPT, "wal: %s: header names segment %llx", name,
                             (unsigned long long)r->index);
        return 0;
    }
    switch (r->type) {
    case REC_HARDSTATE:
        b->hs = (struct raft_hard_state){.term = r->term, .vote = r->aux, .commit = r->index};
        return 0;
    case REC_MARK:
        if (r->index > b->snap.index)
            return st_rv_err(rv, STORAGE_ECORRUPT,
                             "wal: %s offset %zu: install mark for snapshot %llu, but the newest "
                             "valid snapshot is %llu",
                             name, off, (unsigned long long)r->index,
                             (unsigned long long)b->snap.index);
        if (r->flags & REC_FLAG_DROP_ALL) {
            b->n_entries = 0;
            rv->last = r->index;
            rv->last_term = r->term;
            rv->term_at_snap = r->index == b->snap.index ? r->term : 0;
        }
        return 0;
    case REC_DURABLE:
        return 0; /* version 1 wrote one after every write; nothing reads it now */
    case REC_SEGHDR:
        return st_rv_err(rv, STORAGE_ECORRUPT, "wal: %s offset %zu: segment header inside", name,
                         off);
    default:
        return rv_entry(rv, r, name, off);
    }
}

/* The larger valid claim of the two sync slots of a version 2 segment: bytes of
 * it known durable (0: none readable). Asked at the segment's first record, when
 * the window still holds its start. */
static uint64_t rv_synced_claim(struct seg_win *w)
{
    const uint8_t *buf;
    size_t len;
    if (st_win_at(w, 0, WAL_SLOT_B + REC_HDR_BYTES, &buf, &len) < 0)
        return 0; /* unreadable slots claim nothing */
    uint64_t best = 0;
    const size_t at[2] = {WAL_SLOT_A, WAL_SLOT_B};
    for (int i = 0; i < 2; i++) {
        struct rec r;
        size_t sz;
        if (len >= at[i] + REC_HDR_BYTES &&
            st_rec_decode(buf + at[i], REC_HDR_BYTES, &r, &sz) == REC_OK && r.type == REC_DURABLE &&
            r.index > best)
            best = r.index;
    }
    return best;
}

/* A record at off failed to decode, or (s == REC_OK) the records end at off
 * although synced bytes say there must be more. Decides between damage to
 * durable data (refuse) and a torn write (cut at off), from where off lies
 * relative to the synced claim only. */
static int rv_bad_record(struct rv *rv, struct seg_win *w, size_t off, enum rec_status s,
                         const char *name, bool last, uint64_t synced)
{
    const char *what = s == REC_SHORT ? "truncated record"
                       : s == REC_BAD ? "bad record (CRC or header)"
                                      : "end of records";
    if (off < synced)
        return st_rv_err(rv, STORAGE_ECORRUPT,
                         "wal: %s offset %zu: %s below the %llu bytes its sync slot says were "
                         "durable",
                         name, off, what, (unsigned long long)synced);
    if (s == REC_OK)
        return 0;
    int zero = st_win_zero_from(w, off);
    if (zero < 0)
        return st_rv_err(rv, STORAGE_EIO, "wal: read %s: %s", name, strerror(errno));
    if (zero)
        return 0; /* preallocated space: the clean end of this segment */
    size_t len = (size_t)w->file_len;
    if (!last)
        return st_rv_err(rv, STORAGE_ECORRUPT, "wal: %s offset %zu: %s in a completed segment",
                         name, off, what);
    /* Version 2 records start after the reserved header area: a tear inside it
     * means the segment never held a record that was synced. */
    size_t cut = rv->seg_version >= 2 && off < WAL_DATA_START ? 0 : off;
    rv->torn = true;
    rv->torn_at = cut;
    rv->torn_bytes = len - cut;
    st_rv_note(rv, "%s: torn tail at offset %zu (%zu bytes; open truncates them)", name, cut,
               len - cut);
    return 0;
}

static int rv_segment(struct rv *rv, size_t k, struct seg_win *w)
{
    char name[64];
    uint64_t seq = rv->seqs[k];
    bool last = k + 1 == rv->n_seqs;
    st_seg_name(seq, name, sizeof name);
    struct seg_info info = {.seq = seq};
    size_t off = 0, records = 0;
    raft_index first = 0;
    uint64_t synced = 0; /* version 2: bytes the sync slots say were durable */
    bool stopped = false;
    rv->seg_version = 0;
    while (off < w->file_len) {
        struct rec r;
        size_t sz;
        enum rec_status s;
        if (st_win_decode(w, off, &r, &sz, &s) < 0)
            return st_rv_err(rv, STORAGE_EIO, "wal: read %s: %s", name, strerror(errno));
        if (s != REC_OK) {
            /* A damaged segment header hides the version: the slots still speak (a
             * version 1 segment has records there, which a CRC rarely passes, and
             * then the claim only makes recovery refuse, never drop data). */
            if (records == 0)
                synced = rv_synced_claim(w);
            int rc = rv_bad_record(rv, w, off, s, name, last, synced);
            if (rc)
                return rc;
            stopped = true;
            break;
        }
        int rc = rv_apply(rv, &r, name, off, seq);
        if (rc)
            return rc;
        if (records == 0 && rv->seg_version >= 2)
            synced = rv_synced_claim(w);
        if ((st_rec_is_entry(r.type) || r.type == REC_MARK) && r.index > info.max_index)
            info.max_index = r.index;
        if (st_rec_is_entry(r.type) && !first)
            first = r.index;
        records++;
        off += sz;
        if (rv->seg_version >= 2 && records == 2 && off < WAL_DATA_START)
            off = WAL_DATA_START; /* past the slots: where the records start */
    }
    size_t len = (size_t)w->file_len; /* the end the reads found */
    if (rv->seg_version >= 2 && records < 2 && !rv->torn) {
        /* The header without its hard state: the header block never reached the
         * disk whole, so no record of this segment was ever synced. */
        if (!last || synced)
            return st_rv_err(rv, STORAGE_ECORRUPT, "wal: %s: header area incomplete (%zu bytes)",
                             name, len);
        rv->torn = true;
        rv->torn_at = 0;
        rv->torn_bytes = len;
        st_rv_note(rv, "%s: header area incomplete; open removes the segment", name);
    }
    size_t end = off < len ? off : len;
    if (!stopped && end < synced) { /* the file ends before bytes that were synced */
        int rc = rv_bad_record(rv, w, end, REC_OK, name, last, synced);
        if (rc)
            return rc;
    }
    info.version = rv->seg_version;
    if (records == 0 && !rv->torn && !last)
        return st_rv_err(rv, STORAGE_ECORRUPT, "wal: %s: empty segment before the last", name);
    if (records == 0 && !rv->torn) { /* created, header never written */
        rv->torn = true;
        rv->torn_at = 0;
        rv->torn_bytes = len;
    }
    rv->prev_end = rv->tail_end;
    rv->tail_end = last && rv->torn ? rv->torn_at : off;
    st_rv_note(rv, "%s: %zu bytes, %zu records, entries %llu..%llu", name, len, records,
               (unsigned long long)first, (unsigned long long)(first ? rv->last : 0));
    if (rv->n_segs == rv->cap_segs) {
        size_t cap = rv->cap_segs ? 2 * rv->cap_segs : 16;
        struct seg_info *sg = realloc(rv->segs, cap * sizeof *sg);
        if (!sg)
            return st_rv_err(rv, STORAGE_ENOMEM, "wal: out of memory");
        rv->segs = sg;
        rv->cap_segs = cap;
    }
    rv->segs[rv->n_segs++] = info;
    return 0;
}

int st_rv_segments(struct rv *rv)
{
    for (size_t k = 0; k < rv->n_seqs; k++) {
        char name[64], path[STORAGE_PATH_MAX];
        st_seg_name(rv->seqs[k], name, sizeof name);
        if (k > 0 && rv->seqs[k] != rv->seqs[k - 1] + 1)
            return st_rv_err(rv, STORAGE_ECORRUPT, "wal: segment %016llx.seg missing (before %s)",
                             (unsigned long long)(rv->seqs[k - 1] + 1), name);
        st_path(rv->dir, name, path, sizeof path);
        struct seg_win w;
        if (st_win_open(&w, rv->sys, path) < 0)
            return st_rv_err(rv, STORAGE_EIO, "wal: read %s: %s", name, strerror(errno));
        int rc = rv_segment(rv, k, &w);
        st_win_close(&w);
        if (rc)
            return rc;
    }
    return 0;
}

/* Figure 13 step 7 at recovery: a log whose entry at the snapshot index has another
 * term conflicts with the snapshot; only an interrupted install leaves that. */
void st_rv_settle(struct rv *rv)
{
    struct storage_boot *b = rv->boot;
    raft_index snap = b->snap.index;
    if (snap && rv->term_at_snap && rv->term_at_snap != b->snap.term) {
        st_rv_note(rv,
                   "log entries after snapshot %llu conflict with it (interrupted install); "
                   "open drops them",
                   (unsigned long long)snap);
        b->n_entries = 0;
        rv->last = snap;
        rv->last_term = b->snap.term;
        rv->need_mark = true;
    }
    rv->last_index = rv->last > snap ? rv->last : snap;
    rv->last_term_all = rv->last > snap ? rv->last_term : b->snap.term;
    st_rv_note(rv, "hard state: term %llu vote %u commit %llu", (unsigned long long)b->hs.term,
               b->hs.vote, (unsigned long long)b->hs.commit);
    st_rv_note(rv, "log: snapshot %llu, %zu entries after it, last index %llu",
               (unsigned long long)snap, b->n_entries, (unsigned long long)rv->last_index);
}

static int rv_fail_st(struct rv *rv, int rc)
{
    return st_rv_err(rv, rc, "%s", rv->st->err);
}

/* Truncates a torn tail (or removes a segment torn in its header), then opens the
 * last segment for appending, or creates the first one. */
int st_rv_open_tail(struct rv *rv)
{
    struct storage *st = rv->st;
    const struct storage_sys *sys = rv->sys;
    st->segs = rv->segs;
    st->n_segs = rv->n_segs;
    st->cap_segs = rv->cap_segs;
    rv->segs = NULL;
    uint64_t next_seq = rv->n_seqs ? rv->seqs[rv->n_seqs - 1] : 1;
    char name[64], path[STORAGE_PATH_MAX];
    if (rv->torn && rv->torn_at == 0) {
        st_seg_name(next_seq, name, sizeof name);
        st_path(rv->dir, name, path, sizeof path);
        if (sys->unlink(path) < 0 || storage_fsync_dir(sys, rv->dir) < 0)
            return st_rv_err(rv, STORAGE_EIO, "wal: remove torn %s: %s", name, strerror(errno));
        st_log(rv->opt, "wal: %s: torn before its header was complete; removed", name);
        st->n_segs--;
    }
    if (st->n_segs == 0) {
        int rc = st_wal_create_segment(st, next_seq);
        return rc ? rv_fail_st(rv, rc) : 0;
    }
    st_seg_name(st->segs[st->n_segs - 1].seq, name, sizeof name);
    st_path(rv->dir, name, path, sizeof path);
    st->fd = sys->open(path, O_WRONLY, 0);
    if (st->fd < 0)
        return st_rv_err(rv, STORAGE_EIO, "wal: open %s: %s", name, strerror(errno));
    /* Append after the last record, over any preallocated zeros. */
    st->size = st->synced_size = rv->torn && rv->torn_at == 0 ? rv->prev_end : rv->tail_end;
    if (rv->torn && rv->torn_at > 0) {
        /* Truncate durably before anything is appended after the cut. */
        if (sys->ftruncate(st->fd, (off_t)rv->torn_at) < 0 || sys->fdatasync(st->fd) < 0)
            return st_rv_err(rv, STORAGE_EIO, "wal: truncate %s at %llu: %s", name,
                             (unsigned long long)rv->torn_at, strerror(errno));
        st_log(rv->opt, "wal: %s: torn tail at offset %llu (%llu bytes) truncated", name,
               (unsigned long long)rv->torn_at, (unsigned long long)rv->torn_bytes);
        st->size = st->synced_size = rv->torn_at;
    }
    if (st->segs[st->n_segs - 1].version < STORAGE_FORMAT_VERSION) {
        /* Written by an older build: complete as it stands (synced, or cut and synced
         * above). New records go to a segment of the current format. */
        st_log(rv->opt, "wal: %s: format version %u; continuing in a new segment", name,
               st->segs[st->n_segs - 1].version);
        int rc = st_wal_create_segment(st, st->segs[st->n_segs - 1].seq + 1);
        if (rc)
            return rv_fail_st(rv, rc);
    }
    return 0;
}
