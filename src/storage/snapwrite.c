/* snapwrite.c: writing a new snapshot file (layout in snapshot.c), from a
 * stream of payload pieces or from one buffer.
 *
 * The stream (storage_snapshot_begin / _append / _end) lets a writer encode the
 * state machine straight into the file, 64 KiB at a time, instead of first
 * building the whole payload in memory: for a large state that buffer is as big
 * as the snapshot (hundreds of MB, in a forked writer's memory beside the
 * server's), and every page of it is faulted in and filled before the first byte
 * reaches the disk. The header holds the payload's length, so it is written last,
 * at offset 0; its CRC joins the payload's (crc32c_concat) for the trailer, which
 * covers every byte before it as before.
 *
 * Every file goes under name.tmp, is fsync'ed, renamed and the directory
 * fsync'ed: a crash leaves the old snapshot or the new one. Pieces are pushed to
 * the disk as they are written (storage_writeback, sys.h), waited for or not.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "storage/internal.h"

static void tmp_path(const struct storage_snap_writer *w, char *out, size_t cap)
{
    char tmp_name[80];
    st_snap_name(w->index, w->term, ".tmp", tmp_name, sizeof tmp_name);
    st_path(w->st->dir, tmp_name, out, cap);
}

/* The header and configuration for a payload of len bytes, malloc'd into *out. */
static int snap_header(const struct storage_snap_writer *w, uint64_t len, uint8_t **out,
                       size_t *out_len)
{
    size_t clen = st_snap_conf_encode(&w->conf, NULL, 0);
    uint8_t *h = malloc(SNAP_HDR_BYTES + clen);
    if (!h)
        return -1;
    memcpy(h, SNAP_MAGIC, 8);
    st_rec_put32(h + 8, SNAP_FORMAT_VERSION);
    st_rec_put32(h + 12, (uint32_t)clen);
    st_rec_put64(h + 16, w->index);
    st_rec_put64(h + 24, w->term);
    st_rec_put64(h + 32, len);
    st_snap_conf_encode(&w->conf, h + SNAP_HDR_BYTES, clen);
    *out = h;
    *out_len = SNAP_HDR_BYTES + clen;
    return 0;
}

int storage_snapshot_begin(struct storage *st, raft_index index, raft_term term,
                           const struct raft_conf *conf, bool wait, struct storage_snap_writer *w)
{
    *w = (struct storage_snap_writer){
        .st = st, .fd = -1, .wait = wait, .index = index, .term = term, .conf = *conf};
    /* Not st_check_writable: this may run in a forked child, which must not touch
     * the sync thread's mutex (the thread may have held it at the fork). */
    if (st->failed)
        return STORAGE_EFAILED;
    if (index == 0 || index < st->snap.index)
        return st_error(st, STORAGE_EINVAL, "snapshot: save at index %llu (current %llu)",
                        (unsigned long long)index, (unsigned long long)st->snap.index);
    st_snap_name(index, term, "", w->name, sizeof w->name);
    w->data_off = SNAP_HDR_BYTES + st_snap_conf_encode(conf, NULL, 0);
    char tmp[STORAGE_PATH_MAX];
    tmp_path(w, tmp, sizeof tmp);
    w->fd = st->sys->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w->fd < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: create %s.tmp: %s", w->name, strerror(errno));
    return STORAGE_OK;
}

/* Pushes whole pieces (all that is written when last is set) toward the disk. */
static void push_pieces(struct storage_snap_writer *w, bool last)
{
    uint64_t piece = w->wait ? STORAGE_SNAP_PIECE_BYTES : STORAGE_WRITEBACK_BYTES;
    while (w->len - w->pushed >= piece || (last && w->len > w->pushed)) {
        uint64_t n = w->len - w->pushed < piece ? w->len - w->pushed : piece;
        storage_writeback(w->st->sys, w->fd, w->data_off + w->pushed, n, w->wait);
        w->pushed += n;
    }
}

void storage_snapshot_abort(struct storage_snap_writer *w)
{
    if (w->fd < 0)
        return;
    w->st->sys->close(w->fd);
    w->fd = -1; /* the next writer of this name truncates the temp file, recovery removes it */
}

int storage_snapshot_append(struct storage_snap_writer *w, const void *data, size_t len)
{
    if (w->fd < 0 || w->st->failed)
        return STORAGE_EFAILED;
    if (len && !data)
        return st_error(w->st, STORAGE_EINVAL, "snapshot: no payload");
    if (storage_pwrite_all(w->st->sys, w->fd, data, len, w->data_off + w->len) < 0) {
        int rc =
            st_fail(w->st, STORAGE_EIO, "snapshot: write %s.tmp: %s", w->name, strerror(errno));
        storage_snapshot_abort(w); /* a file missing a piece is never finished */
        return rc;
    }
    w->crc = crc32c(w->crc, data, len);
    w->len += len;
    push_pieces(w, false);
    return STORAGE_OK;
}

int storage_snapshot_end(struct storage_snap_writer *w, uint64_t *size_out)
{
    struct storage *st = w->st;
    if (w->fd < 0 || st->failed) {
        storage_snapshot_abort(w);
        return STORAGE_EFAILED;
    }
    uint8_t *hdr;
    size_t hdr_len;
    if (snap_header(w, w->len, &hdr, &hdr_len) < 0) {
        storage_snapshot_abort(w);
        return st_error(st, STORAGE_ENOMEM, "snapshot: out of memory");
    }
    uint8_t trailer[4];
    st_rec_put32(trailer, crc32c_concat(crc32c(0, hdr, hdr_len), w->crc, w->len));
    push_pieces(w, true);
    const char *what = "write";
    int rc = storage_pwrite_all(st->sys, w->fd, hdr, hdr_len, 0);
    if (rc == 0)
        rc = storage_pwrite_all(st->sys, w->fd, trailer, 4, w->data_off + w->len);
    if (rc == 0 && (what = "fsync", st->sys->fsync(w->fd) < 0))
        rc = -1;
    int e = errno;
    free(hdr);
    st->sys->close(w->fd);
    w->fd = -1;
    if (rc < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: %s %s.tmp: %s", what, w->name, strerror(e));
    char tmp[STORAGE_PATH_MAX], path[STORAGE_PATH_MAX];
    tmp_path(w, tmp, sizeof tmp);
    st_path(st->dir, w->name, path, sizeof path);
    if (st->sys->rename(tmp, path) < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: rename %s.tmp: %s", w->name, strerror(errno));
    if (storage_fsync_dir(st->sys, st->dir) < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: fsync directory for %s: %s", w->name,
                       strerror(errno));
    if (size_out)
        *size_out = w->data_off + w->len + 4;
    return STORAGE_OK;
}

/* The whole payload from one buffer. */
static int snap_write(struct storage *st, raft_index index, raft_term term,
                      const struct raft_conf *conf, const void *data, uint64_t len,
                      uint64_t *size_out, bool wait)
{
    struct storage_snap_writer w;
    int rc = storage_snapshot_begin(st, index, term, conf, wait, &w);
    /* In pieces of the writeback's size: with wait, no more than one piece is
     * ever dirty. */
    uint64_t piece = wait ? STORAGE_SNAP_PIECE_BYTES : STORAGE_WRITEBACK_BYTES;
    for (uint64_t done = 0; rc == STORAGE_OK && done < len;) {
        size_t n = len - done < piece ? (size_t)(len - done) : (size_t)piece;
        rc = storage_snapshot_append(&w, (const uint8_t *)data + done, n);
        done += n;
    }
    if (rc == STORAGE_OK)
        return storage_snapshot_end(&w, size_out);
    storage_snapshot_abort(&w);
    return rc;
}

int storage_snapshot_write(struct storage *st, raft_index index, raft_term term,
                           const struct raft_conf *conf, const void *data, uint64_t len,
                           uint64_t *size_out)
{
    return snap_write(st, index, term, conf, data, len, size_out, true);
}

int storage_snapshot_save(struct storage *st, raft_index index, raft_term term,
                          const struct raft_conf *conf, const void *data, uint64_t len,
                          raft_index keep_from, uint64_t *size_out)
{
    uint64_t size = 0;
    int rc = snap_write(st, index, term, conf, data, len, &size, false);
    if (rc)
        return rc;
    if (size_out)
        *size_out = size;
    return storage_snapshot_adopt(st, index, term, conf, size, keep_from);
}
