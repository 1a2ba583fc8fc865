/* segread.c: reading one WAL segment through a window, and keeping the payloads of
 * the entries recovery returns.
 *
 * Replay (replay.c) decodes a segment record by record. Instead of the whole file
 * it holds a window of it: WIN_CHUNK bytes from the record being decoded, or the
 * whole record when that is larger. A segment of a preallocated log is mostly zeros
 * at its end, and a log may hold many segments, so start-up memory no longer grows
 * with the segments' size: it is the window plus the payloads of the entries after
 * the snapshot, which recovery hands to the core anyway. Those payloads are copied
 * into blocks of RV_ARENA_BLOCK bytes owned by the boot (storage_boot_free frees
 * them).
 *
 * Every read goes through the storage_sys table, so the fault-injection tests that
 * cut or fail reads reach this code as they reached the whole-file read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "storage/recover_int.h"

#define WIN_CHUNK      (1u << 20)
#define RV_ARENA_BLOCK (1u << 20)

int st_win_open(struct seg_win *w, const struct storage_sys *sys, const char *path)
{
    memset(w, 0, sizeof *w);
    w->sys = sys;
    w->fd = sys->open(path, O_RDONLY, 0);
    if (w->fd < 0)
        return -1;
    struct stat sb;
    if (sys->fstat(w->fd, &sb) < 0) {
        int saved = errno;
        sys->close(w->fd);
        w->fd = -1;
        errno = saved;
        return -1;
    }
    w->file_len = (uint64_t)sb.st_size;
    return 0;
}

void st_win_close(struct seg_win *w)
{
    if (w->fd >= 0)
        w->sys->close(w->fd);
    w->fd = -1;
    free(w->buf);
    w->buf = NULL;
}

int st_win_at(struct seg_win *w, uint64_t off, size_t want, const uint8_t **p, size_t *avail)
{
    uint64_t end = w->base + w->len;
    bool held = w->buf && off >= w->base && off <= end && (off + want <= end || end >= w->file_len);
    if (!held) {
        size_t n = want > WIN_CHUNK ? want : WIN_CHUNK;
        if (off >= w->file_len)
            n = 0;
        else if (n > w->file_len - off)
            n = (size_t)(w->file_len - off);
        if (n > w->cap || !w->buf) {
            uint8_t *b = realloc(w->buf, n ? n : 1);
            if (!b) {
                errno = ENOMEM;
                return -1;
            }
            w->buf = b;
            w->cap = n;
        }
        ssize_t r = n ? storage_pread_all(w->sys, w->fd, w->buf, n, off) : 0;
        if (r < 0)
            return -1;
        w->base = off;
        w->len = (size_t)r;
        if ((size_t)r < n) /* the file shrank meanwhile: it ends here */
            w->file_len = off + (uint64_t)r;
    }
    *p = w->buf + (off - w->base);
    *avail = (size_t)(w->base + w->len - off);
    return 0;
}

int st_win_decode(struct seg_win *w, uint64_t off, struct rec *r, size_t *size, enum rec_status *s)
{
    size_t want = REC_HDR_BYTES;
    for (;;) {
        const uint8_t *p;
        size_t avail;
        if (st_win_at(w, off, want, &p, &avail) < 0)
            return -1;
        *s = st_rec_decode(p, avail, r, size);
        if (*s != REC_SHORT || off + avail >= w->file_len)
            return 0; /* decoded, bad, or cut short by the end of the file */
        /* The window ends inside the record: its header says how much it needs
         * (st_rec_decode refused lengths past REC_MAX_PAYLOAD as bad). */
        size_t need = REC_HDR_BYTES + (size_t)st_rec_get32(p + 4);
        if (need <= want)
            return 0; /* cannot happen: st_win_at gave at least want bytes */
        want = need;
    }
}

static bool all_zero(const uint8_t *p, size_t n)
{
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        if (v)
            return false;
        p += 8;
        n -= 8;
    }
    while (n--)
        if (*p++)
            return false;
    return true;
}

int st_win_zero_from(struct seg_win *w, uint64_t off)
{
    while (off < w->file_len) {
        const uint8_t *p;
        size_t avail;
        if (st_win_at(w, off, WIN_CHUNK, &p, &avail) < 0)
            return -1;
        if (avail == 0)
            break;
        if (!all_zero(p, avail))
            return 0;
        off += avail;
    }
    return 1;
}

const uint8_t *st_rv_keep(struct rv *rv, const uint8_t *p, size_t len)
{
    if (len > rv->arena_left) {
        struct storage_boot *b = rv->boot;
        size_t cap = len > RV_ARENA_BLOCK ? len : RV_ARENA_BLOCK;
        void **bufs = realloc(b->bufs_, (b->n_bufs_ + 1) * sizeof *bufs);
        if (!bufs)
            return NULL;
        b->bufs_ = bufs;
        uint8_t *blk = malloc(cap);
        if (!blk)
            return NULL;
        b->bufs_[b->n_bufs_++] = blk;
        rv->arena = blk;
        rv->arena_left = cap;
    }
    uint8_t *dst = rv->arena;
    memcpy(dst, p, len);
    rv->arena += len;
    rv->arena_left -= len;
    return dst;
}
