/* wal.c: appending to the write-ahead log: buffering, group commit, roll-over,
 * compaction.
 *
 * An event-loop iteration calls storage_save_hard_state() and storage_append(),
 * which only encode records into st->buf; storage_sync() then writes the buffer
 * with one pwrite() and makes it durable with one fdatasync(). That single sync is
 * the group commit: it covers every append and the hard state of the iteration.
 *
 * Segments: when the active segment passes opt.segment_bytes, the next write goes
 * to a new one. The old segment is fdatasync'ed BEFORE anything is written to the
 * new one, so only the last segment can ever hold a torn tail (recovery relies on
 * that to tell a crash from corruption), and the new file's name is made durable
 * with a directory fsync. New segments can be fallocate'd (opt.preallocate), so that
 * appends overwrite reserved space instead of growing the file. Every segment starts
 * with a header record and the latest hard state already written, so deleting old
 * segments never deletes the latest hard state.
 *
 * Order inside a write: a saved hard state is not buffered where the caller saved
 * it but encoded at the end of the write, after every entry of the iteration. A
 * crash keeps a prefix of a write (or, with pages reaching the disk out of order,
 * recovery cuts at the first damaged record), so a hard state survives only with
 * all the entries its commit index may name, whatever order the caller used. For
 * the same reason a new segment's header carries the hard state last written,
 * never one still waiting in the buffer.
 *
 * Sync slots: after every fdatasync the number of bytes of the active segment now
 * durable is written (not synced: the next fdatasync or the kernel's writeback
 * carries it) into one of two fixed slots near the start of the segment, A and B
 * in turn, each in a sector of its own so a torn slot write can only damage the
 * slot being written. Recovery takes the larger valid claim: a bad record below it
 * is damage to durable data (refuse to start), one at or past it a torn write
 * (truncate). No byte inside a record is ever read for that decision.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "storage/internal.h"

static int wal_reserve(struct storage *st, size_t more)
{
    if (st->buf_len + more <= st->buf_cap)
        return 0;
    size_t cap = st->buf_cap ? st->buf_cap : 64 * 1024;
    while (cap < st->buf_len + more)
        cap *= 2;
    uint8_t *b = realloc(st->buf, cap);
    if (!b)
        return st_error(st, STORAGE_ENOMEM, "wal: buffer of %zu bytes: out of memory", cap);
    st->buf = b;
    st->buf_cap = cap;
    return 0;
}

int st_wal_buffer(struct storage *st, const struct rec *r)
{
    int rc = wal_reserve(st, REC_HDR_BYTES + (size_t)r->len);
    if (rc)
        return rc;
    st->buf_len += st_rec_encode(st->buf + st->buf_len, r);
    if ((st_rec_is_entry(r->type) || r->type == REC_MARK) && r->index > st->buf_max_index)
        st->buf_max_index = r->index;
    return 0;
}

/* Creates segment seq with its header and hard-state records and makes it the
 * active one. Its data becomes durable with the next fdatasync; its name now. */
int st_wal_create_segment(struct storage *st, uint64_t seq)
{
    char name[64], path[STORAGE_PATH_MAX];
    st_seg_name(seq, name, sizeof name);
    st_path(st->dir, name, path, sizeof path);
    int fd = st->sys->open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return st_fail(st, STORAGE_EIO, "wal: create %s: %s", name, strerror(errno));
    uint8_t head[WAL_DATA_START] = {0}; /* header, hard state, empty slots */
    struct rec h = {.type = REC_SEGHDR,
                    .aux = STORAGE_FORMAT_VERSION,
                    .index = seq,
                    .len = 8,
                    .data = (const uint8_t *)REC_SEG_MAGIC};
    size_t n = st_rec_encode(head, &h);
    _Static_assert(2 * REC_HDR_BYTES + 8 <= WAL_SLOT_A, "header fits before the slots");
    const struct raft_hard_state *w = &st->hs_written;
    struct rec hs = {.type = REC_HARDSTATE, .aux = w->vote, .term = w->term, .index = w->commit};
    st_rec_encode(head + n, &hs);
    n = sizeof head;
    if (storage_pwrite_all(st->sys, fd, head, n, 0) < 0) {
        int e = errno;
        st->sys->close(fd);
        return st_fail(st, STORAGE_EIO, "wal: write %s: %s", name, strerror(e));
    }
    /* Reserved space reads as zeros, which replay takes as the end of the log. An
     * fs without fallocate just grows the file as it goes. */
    if (st->opt.preallocate && st->sys->fallocate &&
        st->sys->fallocate(fd, 0, 0, (off_t)st->opt.segment_bytes) < 0 && errno != EOPNOTSUPP)
        st_log(&st->opt, "wal: fallocate %s: %s (continuing without)", name, strerror(errno));
    if (storage_fsync_dir(st->sys, st->dir) < 0) {
        int e = errno;
        st->sys->close(fd);
        return st_fail(st, STORAGE_EIO, "wal: fsync directory for %s: %s", name, strerror(e));
    }
    if (st->n_segs == st->cap_segs) {
        size_t cap = st->cap_segs ? 2 * st->cap_segs : 16;
        struct seg_info *s = realloc(st->segs, cap * sizeof *s);
        if (!s) {
            st->sys->close(fd);
            return st_fail(st, STORAGE_ENOMEM, "wal: segment table: out of memory");
        }
        st->segs = s;
        st->cap_segs = cap;
    }
    if (st->fd >= 0) {
        int drc = st_syncer_drain(st); /* the sync thread may still use the old fd */
        st->sys->close(st->fd);
        if (drc) {
            st->fd = -1;
            st->sys->close(fd);
            return drc;
        }
    }
    st->segs[st->n_segs++] =
        (struct seg_info){.seq = seq, .max_index = 0, .version = STORAGE_FORMAT_VERSION};
    st->fd = fd;
    st->size = n;
    st->synced_size = 0;
    st->slot_next = 0;
    return 0;
}

static int wal_sync_active(struct storage *st)
{
    /* The sync thread's request first: its failure must stop us before this
     * fdatasync can report the same file clean. */
    int rc = st_syncer_drain(st);
    if (rc)
        return rc;
    if (st->synced_size == st->size)
        return 0;
    if (st->sys->fdatasync(st->fd) < 0) {
        char name[64];
        st_seg_name(st->segs[st->n_segs - 1].seq, name, sizeof name);
        /* Never retried: the kernel may have dropped the pages it failed to write. */
        return st_fail(st, STORAGE_EIO, "wal: fdatasync %s: %s", name, strerror(errno));
    }
    st->synced_size = st->size;
    return st_wal_note_synced(st);
}

int st_wal_note_synced(struct storage *st)
{
    uint8_t slot[REC_HDR_BYTES];
    struct rec claim = {.type = REC_DURABLE, .index = st->synced_size};
    st_rec_encode(slot, &claim);
    uint64_t off = st->slot_next ? WAL_SLOT_B : WAL_SLOT_A;
    if (storage_pwrite_all(st->sys, st->fd, slot, sizeof slot, off) < 0) {
        char name[64];
        st_seg_name(st->segs[st->n_segs - 1].seq, name, sizeof name);
        return st_fail(st, STORAGE_EIO, "wal: write sync slot of %s: %s", name, strerror(errno));
    }
    st->slot_next ^= 1;
    return 0;
}

static int wal_roll(struct storage *st)
{
    int rc = wal_sync_active(st); /* old segment durable before the new one gets data */
    if (rc)
        return rc;
    return st_wal_create_segment(st, st->segs[st->n_segs - 1].seq + 1);
}

int storage_write(struct storage *st)
{
    int rc = st_check_writable(st);
    if (rc || (st->buf_len == 0 && !st->hs_pending))
        return rc;
    if (st->hs_pending) { /* after the entries: see the top of this file */
        struct rec h = {
            .type = REC_HARDSTATE, .aux = st->hs.vote, .term = st->hs.term, .index = st->hs.commit};
        rc = st_wal_buffer(st, &h);
        if (rc)
            return rc;
    }
    if (st->size + st->buf_len > st->opt.segment_bytes && st->size > WAL_DATA_START) {
        rc = wal_roll(st);
        if (rc)
            return rc;
    }
    if (storage_pwrite_all(st->sys, st->fd, st->buf, st->buf_len, st->size) < 0) {
        char name[64];
        st_seg_name(st->segs[st->n_segs - 1].seq, name, sizeof name);
        return st_fail(st, STORAGE_EIO, "wal: write %s at offset %llu: %s", name,
                       (unsigned long long)st->size, strerror(errno));
    }
    struct seg_info *seg = &st->segs[st->n_segs - 1];
    if (st->buf_max_index > seg->max_index)
        seg->max_index = st->buf_max_index;
    st->size += st->buf_len;
    st->bytes_since_snap += st->buf_len;
    st->buf_len = 0;
    st->buf_max_index = 0;
    st->written_index = st->last_index;
    st->hs_written = st->hs;
    st->hs_pending = false;
    return 0;
}

int storage_sync(struct storage *st)
{
    int rc = storage_write(st);
    if (rc)
        return rc;
    raft_index written = st->written_index;
    rc = wal_sync_active(st);
    if (rc)
        return rc;
    st->synced_index = written;
    return 0;
}

int storage_save_hard_state(struct storage *st, const struct raft_hard_state *hs)
{
    int rc = st_check_writable(st);
    if (rc)
        return rc;
    st->hs = *hs; /* encoded by storage_write(), after the entries */
    st->hs_pending = true;
    return 0;
}

int storage_append(struct storage *st, const struct raft_entry *e, size_t n)
{
    int rc = st_check_writable(st);
    if (rc || n == 0)
        return rc;
    if (e[0].index == 0 || e[0].index > st->last_index + 1)
        return st_error(st, STORAGE_EINVAL, "wal: append at %llu after last index %llu",
                        (unsigned long long)e[0].index, (unsigned long long)st->last_index);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && e[i].index != e[i - 1].index + 1)
            return st_error(st, STORAGE_EINVAL, "wal: entries not contiguous at %llu",
                            (unsigned long long)e[i].index);
        if (!st_rec_is_entry(e[i].type) || e[i].len > REC_MAX_PAYLOAD)
            return st_error(st, STORAGE_EINVAL, "wal: entry %llu: bad type or size",
                            (unsigned long long)e[i].index);
    }
    /* Truncation is rare (a new leader overwrote us): let an in-flight background
     * sync finish first, so its answer cannot vouch for entries replaced since. */
    if (e[0].index <= st->last_index && (rc = st_syncer_drain(st)) != 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (st_terms_append(st, e[i].index, e[i].term))
            return st_fail(st, STORAGE_ENOMEM, "wal: term index: out of memory");
    for (size_t i = 0; i < n; i++) {
        struct rec r = {.type = e[i].type,
                        .term = e[i].term,
                        .index = e[i].index,
                        .len = e[i].len,
                        .data = e[i].data};
        rc = st_wal_buffer(st, &r);
        if (rc)
            return rc;
    }
    /* A truncated suffix also leaves the durable-through bookkeeping, and the byte
     * count, which knows nothing of the entries that replace it, starts again. */
    if (e[0].index <= st->bytes_base_index) {
        st->bytes_base_index = e[0].index - 1;
        st->bytes_since_snap = 0;
    }
    if (e[0].index <= st->written_index)
        st->written_index = e[0].index - 1;
    if (e[0].index <= st->synced_index)
        st->synced_index = e[0].index - 1;
    st->last_index = e[n - 1].index;
    st->last_term = e[n - 1].term;
    return 0;
}

/* Writes a REC_MARK and syncs it (snapshot install; see snapshot.c). */
int st_wal_mark(struct storage *st, raft_index index, raft_term term, uint8_t flags)
{
    struct rec r = {.type = REC_MARK, .flags = flags, .term = term, .index = index};
    int rc = st_wal_buffer(st, &r);
    return rc ? rc : storage_sync(st);
}

/* Deletes, oldest first, segments that are not active and hold nothing at or after
 * keep_from. Oldest first keeps the remaining segments a contiguous suffix even if
 * we crash halfway. */
int st_wal_compact(struct storage *st, raft_index keep_from)
{
    size_t drop = 0;
    while (drop + 1 < st->n_segs && st->segs[drop].max_index < keep_from)
        drop++;
    if (drop == 0)
        return 0;
    /* The active segment's first records carry the hard state that the dropped
     * segments also held: make sure they are durable before the old copies go. */
    int rc = wal_sync_active(st);
    if (rc)
        return rc;
    for (size_t i = 0; i < drop; i++) {
        char name[64], path[STORAGE_PATH_MAX];
        st_seg_name(st->segs[i].seq, name, sizeof name);
        st_path(st->dir, name, path, sizeof path);
        if (st->sys->unlink(path) < 0)
            return st_fail(st, STORAGE_EIO, "wal: unlink %s: %s", name, strerror(errno));
    }
    memmove(st->segs, st->segs + drop, (st->n_segs - drop) * sizeof *st->segs);
    st->n_segs -= drop;
    if (storage_fsync_dir(st->sys, st->dir) < 0)
        return st_fail(st, STORAGE_EIO, "wal: fsync directory after compaction: %s",
                       strerror(errno));
    return 0;
}

raft_index storage_last_index(const struct storage *st)
{
    return st->last_index;
}

raft_term storage_last_term(const struct storage *st)
{
    return st->last_term;
}

raft_index storage_written_index(const struct storage *st)
{
    return st->written_index;
}

raft_index storage_synced_index(const struct storage *st)
{
    return st->synced_index;
}

raft_index storage_snapshot_index(const struct storage *st)
{
    return st->snap.index;
}
