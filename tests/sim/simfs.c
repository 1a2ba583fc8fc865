/* simfs.c: the simulated disk's syscalls (see simfs.h): pass-through calls that
 * remember what is not yet durable, gated by the armed crash point.
 *
 * An inode here is one file's history: the name it has now, the name it has in the
 * durable directory (empty until a directory fsync), its content as of its last
 * fsync, and the writes and truncations since, in order.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/simfs_int.h"

static struct simfs *registered[SIMFS_MAX];
static struct {
    struct simfs *fs;
    long ino; /* -1: the directory itself */
} fds[SIMFS_FDS];

void *simfs_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

/* The simfs owning path, and the file name inside its directory (NULL: the dir). */
static struct simfs *lookup(const char *path, const char **name)
{
    for (int i = 0; i < SIMFS_MAX; i++) {
        struct simfs *fs = registered[i];
        if (!fs)
            continue;
        size_t n = strlen(fs->dir);
        if (strncmp(path, fs->dir, n) != 0)
            continue;
        if (path[n] == '\0') {
            *name = NULL;
            return fs;
        }
        if (path[n] == '/' && !strchr(path + n + 1, '/') && strlen(path + n + 1) < SIMFS_NAME) {
            *name = path + n + 1;
            return fs;
        }
    }
    return NULL;
}

static long find(const struct simfs *fs, const char *name)
{
    for (size_t i = 0; i < fs->n_ino; i++) {
        if (fs->ino[i].used && strcmp(fs->ino[i].name, name) == 0)
            return (long)i;
    }
    return -1;
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
    memset(in, 0, sizeof *in);
}

static long new_inode(struct simfs *fs, const char *name)
{
    size_t i = 0;
    while (i < fs->n_ino && fs->ino[i].used)
        i++;
    if (i == fs->n_ino) {
        if (fs->n_ino == fs->cap_ino) {
            fs->cap_ino = fs->cap_ino ? 2 * fs->cap_ino : 16;
            fs->ino = simfs_xrealloc(fs->ino, fs->cap_ino * sizeof *fs->ino);
        }
        fs->n_ino++;
    }
    memset(&fs->ino[i], 0, sizeof fs->ino[i]);
    fs->ino[i].used = true;
    snprintf(fs->ino[i].name, SIMFS_NAME, "%s", name);
    return (long)i;
}

/* An inode with neither a current nor a durable name is gone for good. */
static void maybe_drop(struct simfs_inode *in)
{
    if (in->used && !in->name[0] && !in->dname[0])
        simfs_drop_inode(in);
}

static void add_pend(struct simfs_inode *in, struct simfs_pend p)
{
    if (in->n_pend == in->cap_pend) {
        in->cap_pend = in->cap_pend ? 2 * in->cap_pend : 8;
        in->pend = simfs_xrealloc(in->pend, in->cap_pend * sizeof *in->pend);
    }
    in->pend[in->n_pend++] = p;
}

/* Applies the first `keep` bytes of p (all of a truncation when keep > 0). */
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

/* 0: go on; -1: fail with EIO (the process is dead). */
static int gate(struct simfs *fs)
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

static struct simfs *fs_of(int fd)
{
    return fd >= 0 && fd < SIMFS_FDS ? fds[fd].fs : NULL;
}

static int sf_open(const char *path, int flags, mode_t mode)
{
    const char *name = NULL;
    struct simfs *fs = lookup(path, &name);
    if (!fs)
        return open(path, flags, mode);
    long ino = -1;
    if (name) {
        ino = find(fs, name);
        bool creates = ino < 0 && (flags & O_CREAT);
        bool truncs = ino >= 0 && (flags & O_TRUNC);
        if ((creates || truncs) && gate(fs) != 0)
            return -1;
    }
    int fd = open(path, flags, mode);
    if (fd < 0)
        return -1;
    if (fd >= SIMFS_FDS) {
        close(fd);
        errno = EMFILE;
        return -1;
    }
    if (name && ino < 0)
        ino = new_inode(fs, name);
    else if (name && (flags & O_TRUNC))
        add_pend(&fs->ino[ino], (struct simfs_pend){.trunc = true, .off = 0});
    fds[fd].fs = fs;
    fds[fd].ino = ino;
    return fd;
}

static int sf_close(int fd)
{
    if (fs_of(fd))
        fds[fd].fs = NULL;
    return close(fd);
}

static ssize_t sf_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct simfs *fs = fs_of(fd);
    if (!fs)
        return pwrite(fd, buf, n, off);
    if (gate(fs) != 0)
        return -1;
    ssize_t w = pwrite(fd, buf, n, off);
    if (w > 0 && fds[fd].ino >= 0) {
        struct simfs_pend p = {.off = (uint64_t)off, .len = (uint64_t)w};
        p.data = simfs_xrealloc(NULL, (size_t)w);
        memcpy(p.data, buf, (size_t)w);
        add_pend(&fs->ino[fds[fd].ino], p);
    }
    return w;
}

static ssize_t sf_pread(int fd, void *buf, size_t n, off_t off)
{
    return pread(fd, buf, n, off);
}

static void commit_names(struct simfs *fs)
{
    for (size_t i = 0; i < fs->n_ino; i++) {
        struct simfs_inode *in = &fs->ino[i];
        if (!in->used)
            continue;
        memcpy(in->dname, in->name, SIMFS_NAME);
        maybe_drop(in);
    }
}

static int sync_common(int fd, int (*real)(int))
{
    struct simfs *fs = fs_of(fd);
    if (!fs)
        return real(fd);
    if (gate(fs) != 0)
        return -1;
    if (real(fd) != 0)
        return -1;
    if (fds[fd].ino < 0) {
        commit_names(fs);
        return 0;
    }
    struct simfs_inode *in = &fs->ino[fds[fd].ino];
    for (size_t k = 0; k < in->n_pend; k++)
        simfs_apply(&in->dur, &in->dur_len, &in->pend[k], in->pend[k].trunc ? 1 : in->pend[k].len);
    simfs_clear_pend(in);
    return 0;
}

static int sf_fdatasync(int fd)
{
    return sync_common(fd, fdatasync);
}

static int sf_fsync(int fd)
{
    return sync_common(fd, fsync);
}

static int sf_ftruncate(int fd, off_t len)
{
    struct simfs *fs = fs_of(fd);
    if (!fs)
        return ftruncate(fd, len);
    if (gate(fs) != 0)
        return -1;
    if (ftruncate(fd, len) != 0)
        return -1;
    if (fds[fd].ino >= 0)
        add_pend(&fs->ino[fds[fd].ino], (struct simfs_pend){.trunc = true, .off = (uint64_t)len});
    return 0;
}

static int sf_rename(const char *from, const char *to)
{
    const char *a = NULL, *b = NULL;
    struct simfs *fs = lookup(from, &a);
    if (!fs || lookup(to, &b) != fs || !a || !b)
        return rename(from, to);
    if (gate(fs) != 0)
        return -1;
    if (rename(from, to) != 0)
        return -1;
    long src = find(fs, a), dst = find(fs, b);
    if (dst >= 0 && dst != src) {
        fs->ino[dst].name[0] = '\0';
        maybe_drop(&fs->ino[dst]);
    }
    if (src >= 0)
        snprintf(fs->ino[src].name, SIMFS_NAME, "%s", b);
    return 0;
}

static int sf_unlink(const char *path)
{
    const char *name = NULL;
    struct simfs *fs = lookup(path, &name);
    if (!fs || !name)
        return unlink(path);
    if (gate(fs) != 0)
        return -1;
    if (unlink(path) != 0)
        return -1;
    long i = find(fs, name);
    if (i >= 0) {
        fs->ino[i].name[0] = '\0';
        maybe_drop(&fs->ino[i]);
    }
    return 0;
}

static int sf_mkdir(const char *path, mode_t mode)
{
    return mkdir(path, mode);
}

static int sf_fstat(int fd, struct stat *st)
{
    return fstat(fd, st);
}

static int sf_fallocate(int fd, int mode, off_t off, off_t len)
{
    return fallocate(fd, mode, off, len);
}

const struct storage_sys simfs_sys = {
    .open = sf_open,
    .close = sf_close,
    .pwrite = sf_pwrite,
    .pread = sf_pread,
    .fdatasync = sf_fdatasync,
    .fsync = sf_fsync,
    .ftruncate = sf_ftruncate,
    .rename = sf_rename,
    .unlink = sf_unlink,
    .mkdir = sf_mkdir,
    .fstat = sf_fstat,
    .fallocate = sf_fallocate,
};

int simfs_register(struct simfs *fs)
{
    for (int i = 0; i < SIMFS_MAX; i++) {
        if (!registered[i]) {
            registered[i] = fs;
            return 0;
        }
    }
    return -1;
}

void simfs_unregister(struct simfs *fs)
{
    for (int i = 0; i < SIMFS_MAX; i++) {
        if (registered[i] == fs)
            registered[i] = NULL;
    }
    for (int fd = 0; fd < SIMFS_FDS; fd++) {
        if (fds[fd].fs == fs)
            fds[fd].fs = NULL;
    }
}
