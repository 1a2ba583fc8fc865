/* simfs.c: the simulated disk's file calls (see simfs.h): open, close, read,
 * write, truncate, sync, stat and allocate, served from memory and gated by the
 * armed crash point, each mutating call remembered until it is durable.
 *
 * A slot (struct simfs_inode) is one file's history: the name it has now, the name
 * it has in the durable directory (empty until a directory fsync), its content as
 * of its last fsync, and the writes and truncations since, in order. Its live
 * content (struct simfs_data) is what reads see.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "sim/simfs_int.h"

struct simfs_fd simfs_fds[SIMFS_FDS];

void *simfs_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

struct simfs_data *simfs_data_new(void)
{
    struct simfs_data *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->refs = 1;
    return d;
}

void simfs_data_put(struct simfs_data *d)
{
    if (d && --d->refs == 0) {
        free(d->buf);
        free(d);
    }
}

void simfs_data_resize(struct simfs_data *d, uint64_t len)
{
    if (len > d->cap) {
        d->cap = len > 2 * d->cap ? len : 2 * d->cap;
        d->buf = simfs_xrealloc(d->buf, d->cap);
    }
    if (len > d->len)
        memset(d->buf + d->len, 0, len - d->len);
    d->len = len;
}

void simfs_clear_pend(struct simfs_inode *in)
{
    for (size_t k = 0; k < in->n_pend; k++)
        free(in->pend[k].data);
    in->n_pend = 0;
}

void simfs_drop_inode(struct simfs_inode *in)
{
    simfs_clear_pend(in);
    free(in->pend);
    free(in->dur);
    simfs_data_put(in->live);
    memset(in, 0, sizeof *in);
}

static void add_pend(struct simfs_inode *in, struct simfs_pend p)
{
    if (in->n_pend == in->cap_pend) {
        in->cap_pend = in->cap_pend ? 2 * in->cap_pend : 8;
        in->pend = simfs_xrealloc(in->pend, in->cap_pend * sizeof *in->pend);
    }
    in->pend[in->n_pend++] = p;
}

void simfs_apply(uint8_t **buf, uint64_t *len, const struct simfs_pend *p, uint64_t keep)
{
    if (p->trunc) {
        if (!keep)
            return;
        if (p->off > *len) {
            *buf = simfs_xrealloc(*buf, p->off);
            memset(*buf + *len, 0, p->off - *len);
        }
        *len = p->off;
        return;
    }
    if (!keep)
        return;
    uint64_t end = p->off + keep;
    if (end > *len) {
        *buf = simfs_xrealloc(*buf, end);
        memset(*buf + *len, 0, end - *len);
        *len = end;
    }
    memcpy(*buf + p->off, p->data, keep);
}

int simfs_gate(struct simfs *fs)
{
    if (fs->crashed) {
        errno = EIO;
        return -1;
    }
    fs->n_calls++;
    if (fs->crash_in > 0 && --fs->crash_in == 0) {
        fs->crashed = true;
        if (!fs->crash_after) {
            errno = EIO;
            return -1;
        }
    }
    return 0;
}

static struct simfs_fd *fd_of(int fd)
{
    long i = (long)fd - SIMFS_FD_BASE;
    if (i < 0 || i >= SIMFS_FDS || !simfs_fds[i].fs) {
        errno = EBADF;
        return NULL;
    }
    return &simfs_fds[i];
}

/* The slot a descriptor writes into: NULL once its name went and the slot moved on. */
static struct simfs_inode *slot_of(const struct simfs_fd *f)
{
    if (f->ino < 0)
        return NULL;
    struct simfs_inode *in = &f->fs->ino[f->ino];
    return in->used && in->live == f->live ? in : NULL;
}

static int new_fd(struct simfs *fs, long ino, int flags)
{
    for (int i = 0; i < SIMFS_FDS; i++) {
        struct simfs_fd *f = &simfs_fds[i];
        if (f->fs)
            continue;
        f->fs = fs;
        f->ino = ino;
        f->live = ino >= 0 ? fs->ino[ino].live : NULL;
        if (f->live)
            f->live->refs++;
        f->writable = (flags & O_ACCMODE) != O_RDONLY;
        return SIMFS_FD_BASE + i;
    }
    errno = EMFILE;
    return -1;
}

static int sf_open(const char *path, int flags, mode_t mode)
{
    (void)mode;
    const char *name = NULL;
    struct simfs *fs = simfs_lookup(path, &name);
    if (!fs) {
        errno = ENOENT;
        return -1;
    }
    if (!name)
        return (flags & O_ACCMODE) == O_RDONLY ? new_fd(fs, -1, flags) : (errno = EISDIR, -1);
    long ino = simfs_find(fs, name);
    bool creates = ino < 0 && (flags & O_CREAT);
    bool truncs = ino >= 0 && (flags & O_TRUNC);
    if ((creates || truncs) && simfs_gate(fs) != 0)
        return -1;
    if (ino < 0 && !creates) {
        errno = ENOENT;
        return -1;
    }
    if (ino >= 0 && (flags & O_CREAT) && (flags & O_EXCL)) {
        errno = EEXIST;
        return -1;
    }
    if (flags & O_DIRECTORY) {
        errno = ENOTDIR;
        return -1;
    }
    if (creates) {
        ino = simfs_new_inode(fs, name);
    } else if (truncs) {
        simfs_data_resize(fs->ino[ino].live, 0);
        add_pend(&fs->ino[ino], (struct simfs_pend){.trunc = true, .off = 0});
    }
    return new_fd(fs, ino, flags);
}

static int sf_close(int fd)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    simfs_data_put(f->live);
    memset(f, 0, sizeof *f);
    return 0;
}

static ssize_t sf_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    if (simfs_gate(f->fs) != 0)
        return -1;
    if (!f->live || !f->writable || off < 0) {
        errno = f->live ? EBADF : EISDIR;
        return -1;
    }
    if (n == 0)
        return 0;
    uint64_t end = (uint64_t)off + n;
    if (end > f->live->len)
        simfs_data_resize(f->live, end);
    memcpy(f->live->buf + off, buf, n);
    struct simfs_inode *in = slot_of(f);
    if (in) {
        struct simfs_pend p = {.off = (uint64_t)off, .len = n};
        p.data = simfs_xrealloc(NULL, n);
        memcpy(p.data, buf, n);
        add_pend(in, p);
    }
    return (ssize_t)n;
}

static ssize_t sf_pread(int fd, void *buf, size_t n, off_t off)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    if (!f->live || off < 0) {
        errno = f->live ? EINVAL : EISDIR;
        return -1;
    }
    if ((uint64_t)off >= f->live->len)
        return 0;
    uint64_t avail = f->live->len - (uint64_t)off;
    size_t k = avail < n ? (size_t)avail : n;
    memcpy(buf, f->live->buf + off, k);
    return (ssize_t)k;
}

static int sf_sync(int fd)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    if (simfs_gate(f->fs) != 0)
        return -1;
    if (f->ino < 0) {
        simfs_commit_names(f->fs);
        return 0;
    }
    struct simfs_inode *in = slot_of(f);
    if (!in)
        return 0;
    for (size_t k = 0; k < in->n_pend; k++)
        simfs_apply(&in->dur, &in->dur_len, &in->pend[k], in->pend[k].trunc ? 1 : in->pend[k].len);
    simfs_clear_pend(in);
    return 0;
}

static int sf_ftruncate(int fd, off_t len)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    if (simfs_gate(f->fs) != 0)
        return -1;
    if (!f->live || !f->writable || len < 0) {
        errno = EINVAL;
        return -1;
    }
    simfs_data_resize(f->live, (uint64_t)len);
    struct simfs_inode *in = slot_of(f);
    if (in)
        add_pend(in, (struct simfs_pend){.trunc = true, .off = (uint64_t)len});
    return 0;
}

static int sf_fstat(int fd, struct stat *st)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    memset(st, 0, sizeof *st);
    st->st_mode = f->live ? S_IFREG | 0644 : S_IFDIR | 0755;
    st->st_nlink = 1;
    st->st_size = f->live ? (off_t)f->live->len : 0;
    st->st_blksize = 4096;
    return 0;
}

/* Space reservation only: the live size grows, nothing of it is modelled as
 * durable (a crash keeps the synced writes, not the reserved length). */
static int sf_fallocate(int fd, int mode, off_t off, off_t len)
{
    struct simfs_fd *f = fd_of(fd);
    if (!f)
        return -1;
    if (!f->live || !f->writable || mode != 0 || off < 0 || len <= 0) {
        errno = f->live && f->writable && mode != 0 ? EOPNOTSUPP : EINVAL;
        return -1;
    }
    uint64_t end = (uint64_t)off + (uint64_t)len;
    if (end > f->live->len)
        simfs_data_resize(f->live, end);
    return 0;
}

const struct storage_sys simfs_sys = {
    .open = sf_open,
    .close = sf_close,
    .pwrite = sf_pwrite,
    .pread = sf_pread,
    .fdatasync = sf_sync,
    .fsync = sf_sync,
    .ftruncate = sf_ftruncate,
    .rename = simfs_rename,
    .unlink = simfs_unlink,
    .mkdir = simfs_mkdir,
    .fstat = sf_fstat,
    .fallocate = sf_fallocate,
    .opendir = simfs_opendir,
    .readdir = simfs_readdir,
    .closedir = simfs_closedir,
};
