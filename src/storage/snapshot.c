/* snapshot.c: snapshot files: their layout, reading them for transfer and at
 * start-up, adopting a new current snapshot (older files and covered WAL segments
 * go). Writing a new one is in snapwrite.c; receiving and installing a leader's
 * on a follower in snaprecv.c.
 *
 * File layout (docs/storage-format.md):
 *
 *   off  size  field
 *     0     8  magic "VSPRSNAP"
 *     8     4  format version
 *    12     4  conf_len
 *    16     8  last included index
 *    24     8  last included term
 *    32     8  data_len
 *    40     .  configuration (conf_len bytes), then the kv payload (data_len bytes)
 *   end     4  CRC-32C of every byte before it
 *
 * A leader sends the exact bytes of this file, so a follower can check the whole
 * transfer with the one trailing CRC before it installs anything. Every snapshot
 * becomes visible the same way: written under a .tmp name, fsync'ed, renamed, and
 * the directory fsync'ed; a crash leaves either the old or the new snapshot.
 *
 * The configuration has its own small codec here (not raft_conf_encode) so this
 * file format does not change when the core's wire encoding does.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"
#include "storage/internal.h"

size_t st_snap_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap)
{
    size_t need = 4;
    for (uint32_t i = 0; i < c->n && i < RAFT_MAX_MEMBERS; i++)
        need += 7 + strnlen(c->m[i].addr, RAFT_ADDR_MAX - 1);
    if (need > cap)
        return need;
    uint8_t *p = buf;
    uint32_t n = c->n < RAFT_MAX_MEMBERS ? c->n : RAFT_MAX_MEMBERS;
    st_rec_put32(p, n);
    p += 4;
    for (uint32_t i = 0; i < n; i++) {
        size_t alen = strnlen(c->m[i].addr, RAFT_ADDR_MAX - 1);
        st_rec_put32(p, c->m[i].id);
        p[4] = c->m[i].voter ? 1 : 0;
        p[5] = (uint8_t)alen;
        p[6] = (uint8_t)(alen >> 8);
        memcpy(p + 7, c->m[i].addr, alen);
        p += 7 + alen;
    }
    return need;
}

int st_snap_conf_decode(struct raft_conf *c, const uint8_t *buf, size_t len)
{
    memset(c, 0, sizeof *c);
    if (len < 4)
        return -1;
    uint32_t n = st_rec_get32(buf);
    if (n > RAFT_MAX_MEMBERS)
        return -1;
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 7)
            return -1;
        size_t alen = buf[off + 5] | (size_t)buf[off + 6] << 8;
        if (alen > RAFT_ADDR_MAX - 1 || len - off - 7 < alen)
            return -1;
        c->m[i].id = st_rec_get32(buf + off);
        c->m[i].voter = buf[off + 4] != 0;
        memcpy(c->m[i].addr, buf + off + 7, alen);
        off += 7 + alen;
    }
    c->n = n;
    return off == len ? 0 : -1;
}

const char *st_snap_parse_header(const uint8_t *img, size_t avail, uint64_t len,
                                 struct storage_snapshot *meta, uint64_t *data_off)
{
    if (st_rec_get32(img + 8) != SNAP_FORMAT_VERSION)
        return "unsupported format version";
    uint64_t conf_len = st_rec_get32(img + 12), data_len = st_rec_get64(img + 32);
    if (conf_len > len || data_len > len || SNAP_HDR_BYTES + conf_len + data_len + 4 != len)
        return "sizes do not add up";
    if (SNAP_HDR_BYTES + conf_len > avail)
        return "configuration cut short";
    memset(meta, 0, sizeof *meta);
    meta->index = st_rec_get64(img + 16);
    meta->term = st_rec_get64(img + 24);
    meta->size = len;
    meta->len = data_len;
    if (meta->index == 0)
        return "index 0";
    if (st_snap_conf_decode(&meta->conf, img + SNAP_HDR_BYTES, conf_len) != 0)
        return "bad configuration";
    *data_off = SNAP_HDR_BYTES + conf_len;
    meta->data_off = *data_off;
    return NULL;
}

const char *st_snap_parse(const uint8_t *img, size_t len, struct storage_snapshot *meta,
                          uint64_t *data_off)
{
    if (len < SNAP_HDR_BYTES + 4)
        return "shorter than a header";
    if (memcmp(img, SNAP_MAGIC, 8) != 0)
        return "bad magic";
    if (st_rec_get32(img + len - 4) != crc32c(0, img, len - 4))
        return "CRC mismatch";
    return st_snap_parse_header(img, len, len, meta, data_off);
}

int st_snap_open_current(struct storage *st)
{
    if (st->snap_fd >= 0)
        st->sys->close(st->snap_fd);
    st->snap_fd = -1;
    if (st->snap.index == 0)
        return 0;
    char name[64], path[STORAGE_PATH_MAX];
    st_snap_name(st->snap.index, st->snap.term, "", name, sizeof name);
    st_path(st->dir, name, path, sizeof path);
    st->snap_fd = st->sys->open(path, O_RDONLY, 0);
    if (st->snap_fd < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: open %s: %s", name, strerror(errno));
    return 0;
}

/* Removes every snapshot file older than the current one. An open snap_fd keeps
 * the current file readable for a transfer in progress even after it is replaced. */
int st_snap_remove_older(struct storage *st)
{
    DIR *d = storage_opendir(st->sys, st->dir);
    if (!d)
        return st_fail(st, STORAGE_EIO, "snapshot: opendir %s: %s", st->dir, strerror(errno));
    int removed = 0, rc = 0;
    struct dirent *de;
    while ((de = storage_readdir(st->sys, d)) != NULL) {
        unsigned long long idx, term;
        int end = 0;
        if (sscanf(de->d_name, "%16llx-%16llx.snap%n", &idx, &term, &end) != 2 ||
            de->d_name[end] != '\0' || end != 38)
            continue;
        if (idx > st->snap.index || (idx == st->snap.index && term == st->snap.term))
            continue;
        char path[STORAGE_PATH_MAX];
        st_path(st->dir, de->d_name, path, sizeof path);
        if (st->sys->unlink(path) < 0) {
            rc = st_fail(st, STORAGE_EIO, "snapshot: unlink %s: %s", de->d_name, strerror(errno));
            break;
        }
        removed++;
    }
    storage_closedir(st->sys, d);
    if (rc == 0 && removed && storage_fsync_dir(st->sys, st->dir) < 0)
        rc = st_fail(st, STORAGE_EIO, "snapshot: fsync directory: %s", strerror(errno));
    return rc;
}

/* The new snapshot is durable: adopt it, drop older files and covered segments. */
int st_snap_adopt(struct storage *st, raft_index index, raft_term term,
                  const struct raft_conf *conf, uint64_t size, raft_index keep_from)
{
    st->snap.index = index;
    st->snap.term = term;
    st->snap.size = size;
    st->snap.conf = *conf;
    st_snap_count_bytes_from(st, index);
    st_terms_compact(st, index);
    int rc = st_snap_open_current(st);
    if (rc == 0)
        rc = st_snap_remove_older(st);
    if (rc == 0)
        rc = st_wal_compact(st, keep_from);
    return rc;
}

int storage_snapshot_adopt(struct storage *st, raft_index index, raft_term term,
                           const struct raft_conf *conf, uint64_t size, raft_index keep_from)
{
    int rc = st_check_writable(st);
    if (rc)
        return rc;
    if (index == 0 || index < st->snap.index)
        return st_error(st, STORAGE_EINVAL, "snapshot: adopt %llu (current %llu)",
                        (unsigned long long)index, (unsigned long long)st->snap.index);
    if (st->last_index < index) { /* the snapshot is ahead of the log: it is the log */
        st->last_index = index;
        st->last_term = term;
        if (st_terms_reset(st, index, term))
            return st_fail(st, STORAGE_ENOMEM, "snapshot: term index: out of memory");
    }
    return st_snap_adopt(st, index, term, conf, size,
                         keep_from < index + 1 ? keep_from : index + 1);
}

int storage_snapshot_read(struct storage *st, raft_index index, uint64_t offset, void *buf,
                          size_t cap, size_t *n_read)
{
    *n_read = 0;
    if (st->snap_fd < 0 || index != st->snap.index)
        return st_error(st, STORAGE_ENOTFOUND, "snapshot: %llu is not the current one",
                        (unsigned long long)index);
    if (offset >= st->snap.size)
        return 0;
    if (cap > st->snap.size - offset)
        cap = (size_t)(st->snap.size - offset);
    ssize_t r = storage_pread_all(st->sys, st->snap_fd, buf, cap, offset);
    if (r < 0 || (size_t)r != cap)
        return st_error(st, STORAGE_EIO, "snapshot: read %llu at %llu: %s",
                        (unsigned long long)index, (unsigned long long)offset,
                        r < 0 ? strerror(errno) : "short file");
    *n_read = cap;
    return 0;
}

int st_snap_load_file(const struct storage_sys *sys, const char *path, struct storage_snapshot *out,
                      const char **why)
{
    uint8_t *img;
    size_t len;
    if (storage_read_file(sys, path, &img, &len) < 0) {
        *why = strerror(errno);
        return STORAGE_EIO;
    }
    uint64_t off;
    *why = st_snap_parse(img, len, out, &off);
    if (*why) {
        free(img);
        return STORAGE_ECORRUPT;
    }
    memmove(img, img + off, out->len); /* hand the image over as the payload buffer */
    out->data = img;
    return 0;
}

int storage_snapshot_load(struct storage *st, struct storage_snapshot *out)
{
    memset(out, 0, sizeof *out);
    if (st->snap.index == 0)
        return st_error(st, STORAGE_ENOTFOUND, "snapshot: none");
    char name[64], path[STORAGE_PATH_MAX];
    st_snap_name(st->snap.index, st->snap.term, "", name, sizeof name);
    st_path(st->dir, name, path, sizeof path);
    const char *why;
    int rc = st_snap_load_file(st->sys, path, out, &why);
    if (rc)
        return st_error(st, rc, "snapshot: load %s: %s", name, why);
    return 0;
}

int storage_snapshot_open(struct storage *st, int *fd_out, struct storage_snapshot *meta)
{
    *fd_out = -1;
    memset(meta, 0, sizeof *meta);
    if (st->snap_fd < 0 || st->snap.index == 0)
        return st_error(st, STORAGE_ENOTFOUND, "snapshot: none");
    /* A descriptor of its own, through storage's system calls: the file stays
     * readable after a newer snapshot replaces (unlinks) it, and the caller reads
     * it with pread through the same calls (storage_snapshot_pread). */
    char name[64], path[STORAGE_PATH_MAX];
    st_snap_name(st->snap.index, st->snap.term, "", name, sizeof name);
    st_path(st->dir, name, path, sizeof path);
    int fd = st->sys->open(path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return st_error(st, STORAGE_EIO, "snapshot: open %s: %s", name, strerror(errno));
    if (st->sys->hold && st->sys->hold(fd) < 0) { /* kept whole once replaced */
        int e = errno;
        st->sys->close(fd);
        return st_error(st, STORAGE_EIO, "snapshot: lock %s: %s", name, strerror(e));
    }
    *fd_out = fd;
    *meta = st->snap;
    meta->data = NULL;
    return 0;
}

const struct storage_sys *storage_sys_of(const struct storage *st)
{
    return st->sys;
}

int storage_snapshot_parse(const uint8_t *img, size_t len, struct storage_snapshot *meta,
                           uint64_t *data_off, const char **why)
{
    *why = st_snap_parse(img, len, meta, data_off);
    if (*why)
        return STORAGE_ECORRUPT;
    meta->data = NULL; /* the payload stays in img, at *data_off */
    return 0;
}
