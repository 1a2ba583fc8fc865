/* crashfs.c: the crashfs syscall table (see crashfs.h): every call goes to the
 * real file system first and, when it succeeds under the root, is recorded in the
 * model (crashfs_int.h, crashfs_model.c) as durable or pending. The crash itself
 * is in crashfs_crash.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/crashfs_int.h"

/* ===== Lookups ===== */

static struct cf_dir *cf_dir_by_path(const char *canon)
{
    for (struct cf_dir *d = cf.dirs; d; d = d->next_all)
        if (!d->dead && strcmp(d->path, canon) == 0)
            return d;
    return NULL;
}

/* Splits path into its modelled parent directory and last name; NULL when the
 * parent is outside the root or unknown (the call is passed through). */
static struct cf_dir *cf_parent(const char *path, char *name, size_t cap)
{
    if (!cf.root)
        return NULL;
    char tmp[PATH_MAX], canon[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    char *slash = strrchr(tmp, '/');
    const char *base = slash ? slash + 1 : tmp;
    if (snprintf(name, cap, "%s", base) >= (int)cap || !*name || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return NULL;
    if (slash == tmp)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(tmp, sizeof tmp, ".");
    if (!realpath(tmp, canon))
        return NULL;
    return cf_dir_by_path(canon);
}

static void cf_fd_set(int fd, struct cf_inode *ino, struct cf_dir *dir)
{
    if ((size_t)fd >= cf.n_fds) {
        size_t n = (size_t)fd + 64;
        cf.fds = cf_xalloc(cf.fds, n * sizeof *cf.fds);
        memset(cf.fds + cf.n_fds, 0, (n - cf.n_fds) * sizeof *cf.fds);
        cf.n_fds = n;
    }
    cf.fds[fd].ino = ino;
    cf.fds[fd].dir = dir;
    cf.fds[fd].stale = 0;
}

static struct cf_inode *cf_fd_inode(int fd)
{
    return fd >= 0 && (size_t)fd < cf.n_fds ? cf.fds[fd].ino : NULL;
}

static struct cf_dir *cf_fd_dir(int fd)
{
    return fd >= 0 && (size_t)fd < cf.n_fds ? cf.fds[fd].dir : NULL;
}

/* Counts a mutating call; true when the power is out (the call must fail). */
static int cf_down(void)
{
    if (cf.dead) {
        errno = EIO;
        return 1;
    }
    cf.stats.ops++;
    if (cf.crash_at && cf.stats.ops >= cf.crash_at) {
        cf.dead = 1;
        errno = EIO;
        return 1;
    }
    return 0;
}

/* A descriptor into a crashed directory: the kernel that issued it is gone. */
static int cf_stale(int fd)
{
    if (cf.fds[fd].stale) {
        errno = EIO;
        return 1;
    }
    return 0;
}

/* ===== The table ===== */

static int cf_open(const char *path, int flags, mode_t mode)
{
    char name[NAME_MAX + 1];
    struct cf_dir *parent = cf_parent(path, name, sizeof name);
    if (!parent && (flags & O_DIRECTORY) && cf.root) {
        char canon[PATH_MAX];
        struct cf_dir *d = realpath(path, canon) ? cf_dir_by_path(canon) : NULL;
        int fd = d ? open(path, flags | O_CLOEXEC, mode) : -1;
        if (fd >= 0)
            cf_fd_set(fd, NULL, d);
        if (d)
            return fd;
    }
    if (!parent)
        return open(path, flags | O_CLOEXEC, mode);
    struct cf_ent *e = cf_ents_find(&parent->cur, name);
    bool mutates = (flags & (O_CREAT | O_TRUNC)) != 0;
    if (mutates && cf_down())
        return -1;
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (e && e->ino->dir) {
        cf_fd_set(fd, NULL, e->ino->dir);
        return fd;
    }
    struct cf_inode *ino = e ? e->ino : NULL;
    if (!ino) { /* created (a file made behind crashfs' back counts as created too) */
        ino = cf_inode_new(parent);
        cf_dirop_add(parent, CF_LINK, name, NULL, ino);
    }
    if ((flags & O_TRUNC) && e)
        cf_op_add(ino, CF_TRUNC, 0, NULL, 0);
    cf_fd_set(fd, ino, NULL);
    return fd;
}

static int cf_close(int fd)
{
    if (fd >= 0 && (size_t)fd < cf.n_fds)
        cf_fd_set(fd, NULL, NULL);
    return close(fd);
}

static ssize_t cf_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    struct cf_inode *ino = cf_fd_inode(fd);
    if (!ino)
        return pwrite(fd, buf, n, off);
    if (cf_stale(fd) || cf_down())
        return -1;
    ssize_t w = pwrite(fd, buf, n, off);
    if (w > 0) {
        cf_op_add(ino, CF_WRITE, (uint64_t)off, buf, (uint64_t)w);
        cf.stats.writes++;
    }
    return w;
}

static int cf_sync(int fd, int (*real)(int))
{
    struct cf_inode *ino = cf_fd_inode(fd);
    struct cf_dir *dir = cf_fd_dir(fd);
    if (!ino && !dir)
        return real(fd);
    if (cf_stale(fd) || cf_down())
        return -1;
    (void)real; /* modelled, not performed: the real machine does not lose power */
    if (ino) {
        cf_inode_sync(ino);
        cf.stats.syncs++;
    } else {
        cf_ents_copy(&dir->dur, &dir->cur);
        cf_dirops_clear(dir);
        cf.stats.dir_syncs++;
    }
    return 0;
}

static int cf_fsync(int fd)
{
    return cf_sync(fd, fsync);
}

static int cf_fdatasync(int fd)
{
    return cf_sync(fd, fdatasync);
}

static int cf_ftruncate(int fd, off_t len)
{
    struct cf_inode *ino = cf_fd_inode(fd);
    if (!ino)
        return ftruncate(fd, len);
    if (cf_stale(fd) || cf_down() || ftruncate(fd, len) < 0)
        return -1;
    cf_op_add(ino, CF_TRUNC, (uint64_t)len, NULL, 0);
    return 0;
}

static int cf_fallocate(int fd, int mode, off_t off, off_t len)
{
    struct cf_inode *ino = cf_fd_inode(fd);
    if (!ino)
        return fallocate(fd, mode, off, len);
    if (cf_stale(fd) || cf_down() || fallocate(fd, mode, off, len) < 0)
        return -1;
    if (mode == 0)
        cf_op_add(ino, CF_EXTEND, (uint64_t)(off + len), NULL, 0);
    return 0;
}

static int cf_rename(const char *from, const char *to)
{
    char n1[NAME_MAX + 1], n2[NAME_MAX + 1];
    struct cf_dir *d1 = cf_parent(from, n1, sizeof n1), *d2 = cf_parent(to, n2, sizeof n2);
    if (!d1 && !d2)
        return rename(from, to);
    if (cf_down() || rename(from, to) < 0)
        return -1;
    struct cf_ent *e = d1 ? cf_ents_find(&d1->cur, n1) : NULL;
    struct cf_inode *ino = e ? e->ino : cf_inode_new(d2);
    if (d2)
        ino->home = d2;
    if (d1 == d2) {
        cf_dirop_add(d1, CF_LINK, n2, n1, ino);
        return 0;
    }
    if (d1)
        cf_dirop_add(d1, CF_UNLINK, n1, NULL, NULL);
    if (d2)
        cf_dirop_add(d2, CF_LINK, n2, NULL, ino);
    return 0;
}

static int cf_unlink(const char *path)
{
    char name[NAME_MAX + 1];
    struct cf_dir *d = cf_parent(path, name, sizeof name);
    if (!d)
        return unlink(path);
    if (cf_down() || unlink(path) < 0)
        return -1;
    cf_dirop_add(d, CF_UNLINK, name, NULL, NULL);
    return 0;
}

static int cf_mkdir(const char *path, mode_t mode)
{
    char name[NAME_MAX + 1], canon[PATH_MAX];
    struct cf_dir *d = cf_parent(path, name, sizeof name);
    if (!d)
        return mkdir(path, mode);
    if (cf_down() || mkdir(path, mode) < 0)
        return -1;
    if (!realpath(path, canon))
        return -1;
    struct cf_inode *ino = cf_inode_new(d);
    cf_dir_new(canon, ino);
    cf_dirop_add(d, CF_LINK, name, NULL, ino);
    return 0;
}

static int cf_open_plain(const char *path, int flags, mode_t mode)
{
    return cf_open(path, flags, mode);
}

const struct storage_sys crashfs_sys = {
    .open = cf_open_plain,
    .close = cf_close,
    .pwrite = cf_pwrite,
    .pread = pread,
    .fdatasync = cf_fdatasync,
    .fsync = cf_fsync,
    .ftruncate = cf_ftruncate,
    .rename = cf_rename,
    .unlink = cf_unlink,
    .mkdir = cf_mkdir,
    .fstat = fstat,
    .fallocate = cf_fallocate,
};

void crashfs_crash_at(uint64_t n)
{
    cf.crash_at = n;
}

bool crashfs_dead(void)
{
    return cf.dead != 0;
}

uint64_t crashfs_ops(void)
{
    return cf.stats.ops;
}

void crashfs_get_stats(struct crashfs_stats *out)
{
    *out = cf.stats;
}
