/* crashfs_crash.c: starting crashfs on a directory tree, and crashing it: turning
 * the model of durable and pending operations (crashfs_int.h) into one state a
 * disk may hold after power loss, written back to the real directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crashfs_int.h"

static uint64_t cf_rng;

static uint64_t cf_rand(void)
{
    uint64_t z = (cf_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t cf_below(uint64_t n)
{
    return n ? cf_rand() % n : 0;
}

/* ===== Start and end ===== */

static int cf_read_all(const char *path, struct cf_inode *ino)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        close(fd);
        return -1;
    }
    ino->dur_cap = ino->dur_size = (uint64_t)sb.st_size;
    ino->dur = cf_xalloc(NULL, (size_t)ino->dur_cap);
    ssize_t r = sb.st_size ? pread(fd, ino->dur, (size_t)sb.st_size, 0) : 0;
    close(fd);
    return r == sb.st_size ? 0 : -1;
}

/* Adds everything under d's real directory to the model as durable. */
static int cf_scan(struct cf_dir *d)
{
    DIR *dp = opendir(d->path);
    if (!dp)
        return -1;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", d->path, de->d_name);
        struct stat sb;
        if (lstat(path, &sb) < 0) {
            rc = -1;
            break;
        }
        struct cf_inode *ino = cf_inode_new(d);
        if (S_ISDIR(sb.st_mode))
            rc = cf_scan(cf_dir_new(path, ino));
        else if (S_ISREG(sb.st_mode))
            rc = cf_read_all(path, ino);
        cf_ents_set(&d->dur, de->d_name, ino);
        cf_ents_set(&d->cur, de->d_name, ino);
    }
    closedir(dp);
    return rc;
}

int crashfs_init(const char *root)
{
    crashfs_free();
    char canon[PATH_MAX];
    if (!realpath(root, canon))
        return -1;
    cf.root = cf_xstrdup(canon);
    struct cf_dir *d = cf_dir_new(canon, cf_inode_new(NULL));
    if (cf_scan(d) < 0) {
        int e = errno;
        crashfs_free();
        errno = e;
        return -1;
    }
    return 0;
}

void crashfs_free(void)
{
    while (cf.inodes) {
        struct cf_inode *i = cf.inodes;
        cf.inodes = i->next_all;
        cf_ops_clear(i);
        free(i->ops);
        free(i->dur);
        free(i);
    }
    while (cf.dirs) {
        struct cf_dir *d = cf.dirs;
        cf.dirs = d->next_all;
        cf_ents_clear(&d->dur);
        cf_ents_clear(&d->cur);
        free(d->dur.v);
        free(d->cur.v);
        cf_dirops_clear(d);
        free(d->ops);
        free(d->path);
        free(d);
    }
    free(cf.fds);
    free(cf.root);
    memset(&cf, 0, sizeof cf);
}

/* ===== Crash ===== */

/* How many of n pending operations survive: none, all, or any number between. */
static size_t cf_pick_count(size_t n, unsigned mode)
{
    if (mode & CRASHFS_KEEP_ALL)
        return n;
    if (mode & CRASHFS_LOSE_ALL)
        return 0;
    switch (cf_below(4)) {
    case 0:
        return 0;
    case 1:
        return n;
    default:
        return (size_t)cf_below(n + 1);
    }
}

/* Applies what survives of one unsynced write to the image. */
static void cf_tear_write(uint8_t **buf, uint64_t *size, uint64_t *cap, const struct cf_op *op,
                          unsigned mode)
{
    uint64_t kept = 0;
    bool pages = (mode & CRASHFS_PAGES) && (!(mode & CRASHFS_SECTORS) || cf_below(2));
    if (mode & (CRASHFS_KEEP_ALL | CRASHFS_LOSE_ALL)) {
        kept = mode & CRASHFS_KEEP_ALL ? op->len : 0;
        cf_apply(buf, size, cap, op, 0, kept);
    } else if (pages) {
        for (uint64_t from = 0; from < op->len;) {
            uint64_t page_end = ((op->off + from) / 4096 + 1) * 4096 - op->off;
            uint64_t to = page_end < op->len ? page_end : op->len;
            if (cf_below(2)) {
                cf_apply(buf, size, cap, op, from, to);
                kept += to - from;
            }
            from = to;
        }
    } else {
        uint64_t r = cf_below(4);
        if (r == 1) {
            kept = op->len;
        } else if (r >= 2) {
            /* a prefix ending at a sector boundary inside the write, or its end */
            uint64_t first = (op->off / 512 + 1) * 512 - op->off;
            uint64_t cuts = first < op->len ? (op->len - first - 1) / 512 + 1 : 0;
            uint64_t k = cf_below(cuts + 1);
            kept = k < cuts ? first + k * 512 : op->len;
        }
        cf_apply(buf, size, cap, op, 0, kept);
    }
    if (kept == 0)
        cf.stats.lost++;
    else if (kept < op->len)
        cf.stats.torn++;
}

/* Chooses the file's post-crash content; it becomes its durable content. */
static void cf_crash_inode(struct cf_inode *ino, unsigned mode)
{
    for (size_t i = 0; i < ino->n_ops; i++) {
        const struct cf_op *op = &ino->ops[i];
        if (op->kind == CF_WRITE)
            cf_tear_write(&ino->dur, &ino->dur_size, &ino->dur_cap, op, mode);
        else if (mode & CRASHFS_KEEP_ALL ||
                 (!(mode & CRASHFS_LOSE_ALL) && cf_below(2))) /* truncate, extend */
            cf_apply(&ino->dur, &ino->dur_size, &ino->dur_cap, op, 0, 0);
    }
    cf_ops_clear(ino);
}

static int cf_rm_children(const char *path)
{
    DIR *dp = opendir(path);
    if (!dp)
        return -1;
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) < 0)
            rc = -1;
        else if (S_ISDIR(sb.st_mode))
            rc = cf_rm_children(p) < 0 || rmdir(p) < 0 ? -1 : 0;
        else
            rc = unlink(p);
    }
    closedir(dp);
    return rc;
}

static int cf_write_file(const char *path, const struct cf_inode *ino)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    uint64_t off = 0;
    while (off < ino->dur_size) {
        ssize_t w = pwrite(fd, ino->dur + off, (size_t)(ino->dur_size - off), (off_t)off);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (uint64_t)w;
    }
    return close(fd);
}

static int cf_crash_dir(struct cf_dir *d, unsigned mode)
{
    size_t keep = cf_pick_count(d->n_ops, mode);
    for (size_t i = 0; i < keep; i++)
        cf_dirop_apply(&d->dur, &d->ops[i]);
    cf.stats.lost += d->n_ops - keep;
    cf_dirops_clear(d);
    cf_ents_copy(&d->cur, &d->dur);
    d->gen = cf.gen;
    if (cf_rm_children(d->path) < 0)
        return -1;
    for (size_t i = 0; i < d->dur.n; i++) {
        struct cf_inode *ino = d->dur.v[i].ino;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", d->path, d->dur.v[i].name);
        ino->home = d;
        if (ino->dir) {
            free(ino->dir->path);
            ino->dir->path = cf_xstrdup(path);
            if (mkdir(path, 0755) < 0 || cf_crash_dir(ino->dir, mode) < 0)
                return -1;
            continue;
        }
        cf_crash_inode(ino, mode);
        if (cf_write_file(path, ino) < 0)
            return -1;
    }
    return 0;
}

static bool cf_under(const char *path, const char *top)
{
    size_t n = strlen(top);
    return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int crashfs_crash(const char *dir, uint64_t seed, unsigned mode)
{
    char canon[PATH_MAX];
    struct cf_dir *d = NULL;
    if (cf.root && realpath(dir ? dir : cf.root, canon))
        for (d = cf.dirs; d && (d->dead || strcmp(d->path, canon) != 0);)
            d = d->next_all;
    if (!d) {
        errno = ENOENT;
        return -1;
    }
    if (!(mode & (CRASHFS_SECTORS | CRASHFS_PAGES)))
        mode |= CRASHFS_SECTORS;
    cf_rng = seed;
    cf.gen++;
    /* Descriptors into the tree belong to the process that lost power. */
    for (size_t fd = 0; fd < cf.n_fds; fd++) {
        const struct cf_dir *home =
            cf.fds[fd].dir ? cf.fds[fd].dir : (cf.fds[fd].ino ? cf.fds[fd].ino->home : NULL);
        if (home && cf_under(home->path, canon))
            cf.fds[fd].stale = 1;
    }
    char *top = cf_xstrdup(canon);
    int rc = cf_crash_dir(d, mode);
    int e = errno;
    for (struct cf_dir *x = cf.dirs; x; x = x->next_all)
        if (x->gen != cf.gen && cf_under(x->path, top))
            x->dead = 1;
    free(top);
    cf.dead = 0;
    cf.crash_at = 0;
    cf.stats.crashes++;
    errno = e;
    return rc;
}
