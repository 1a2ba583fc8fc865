/* simfs_dir.c: the simulated disk's names (see simfs.h): which directory a path
 * belongs to, the slots a directory names, create, rename, unlink, mkdir, the
 * directory fsync and the listing, all in memory.
 *
 * A listing returns ".", "..", then the names newest first (a name is new when it
 * is created or renamed to), the order tmpfs lists in, so that storage visits
 * files in the same order it did when simfs passed through to a real directory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim/simfs_int.h"

static struct simfs *registered[SIMFS_MAX];

struct simfs *simfs_lookup(const char *path, const char **name)
{
    for (int i = 0; i < SIMFS_MAX; i++) {
        struct simfs *fs = registered[i];
        if (!fs)
            continue;
        size_t n = fs->dir_len;
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

long simfs_find(const struct simfs *fs, const char *name)
{
    for (size_t i = 0; i < fs->n_ino; i++) {
        if (fs->ino[i].used && strcmp(fs->ino[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

long simfs_new_inode(struct simfs *fs, const char *name)
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
    struct simfs_inode *in = &fs->ino[i];
    memset(in, 0, sizeof *in);
    in->used = true;
    strcpy(in->name, name); /* simfs_lookup admits only names shorter than SIMFS_NAME */
    in->linked = ++fs->clock;
    in->live = simfs_data_new();
    return (long)i;
}

/* A slot with neither a current nor a durable name is gone for good (a descriptor
 * still open on it keeps the live content). */
static void maybe_drop(struct simfs_inode *in)
{
    if (in->used && !in->name[0] && !in->dname[0])
        simfs_drop_inode(in);
}

void simfs_commit_names(struct simfs *fs)
{
    for (size_t i = 0; i < fs->n_ino; i++) {
        struct simfs_inode *in = &fs->ino[i];
        if (!in->used)
            continue;
        memcpy(in->dname, in->name, SIMFS_NAME);
        maybe_drop(in);
    }
}

int simfs_rename(const char *from, const char *to)
{
    const char *a = NULL, *b = NULL;
    struct simfs *fs = simfs_lookup(from, &a);
    if (!fs || simfs_lookup(to, &b) != fs || !a || !b) {
        errno = fs ? EXDEV : ENOENT;
        return -1;
    }
    if (simfs_gate(fs) != 0)
        return -1;
    long src = simfs_find(fs, a), dst = simfs_find(fs, b);
    if (src < 0) {
        errno = ENOENT;
        return -1;
    }
    if (dst == src)
        return 0;
    if (dst >= 0) {
        fs->ino[dst].name[0] = '\0';
        maybe_drop(&fs->ino[dst]);
    }
    strcpy(fs->ino[src].name, b);
    fs->ino[src].linked = ++fs->clock;
    return 0;
}

int simfs_unlink(const char *path)
{
    const char *name = NULL;
    struct simfs *fs = simfs_lookup(path, &name);
    if (!fs || !name) {
        errno = fs ? EISDIR : ENOENT;
        return -1;
    }
    if (simfs_gate(fs) != 0)
        return -1;
    long i = simfs_find(fs, name);
    if (i < 0) {
        errno = ENOENT;
        return -1;
    }
    fs->ino[i].name[0] = '\0';
    maybe_drop(&fs->ino[i]);
    return 0;
}

/* A simulated directory and the directories above it exist; nothing else can be
 * made (storage keeps no subdirectories). */
int simfs_mkdir(const char *path, mode_t mode)
{
    (void)mode;
    size_t n = strlen(path);
    for (int i = 0; i < SIMFS_MAX; i++) {
        const struct simfs *fs = registered[i];
        if (fs && strncmp(fs->dir, path, n) == 0 && (fs->dir[n] == '\0' || fs->dir[n] == '/')) {
            errno = EEXIST;
            return -1;
        }
    }
    errno = EACCES;
    return -1;
}

/* An open listing: the names as of opendir (storage only removes, while listing,
 * the name it was just given). */
struct dirstream {
    struct dirent de;
    char (*names)[SIMFS_NAME];
    size_t n, pos;
};

static int newest_first(const void *a, const void *b)
{
    const struct simfs_inode *x = *(const struct simfs_inode *const *)a;
    const struct simfs_inode *y = *(const struct simfs_inode *const *)b;
    return x->linked < y->linked ? 1 : x->linked > y->linked ? -1 : 0;
}

DIR *simfs_opendir(const char *dir)
{
    const char *name = NULL;
    struct simfs *fs = simfs_lookup(dir, &name);
    if (!fs || name) {
        errno = fs ? ENOTDIR : ENOENT;
        return NULL;
    }
    struct simfs_inode **by_age = simfs_xrealloc(NULL, fs->n_ino * sizeof *by_age);
    size_t n = 0;
    for (size_t i = 0; i < fs->n_ino; i++) {
        if (fs->ino[i].used && fs->ino[i].name[0])
            by_age[n++] = &fs->ino[i];
    }
    qsort(by_age, n, sizeof *by_age, newest_first);
    struct dirstream *ds = calloc(1, sizeof *ds);
    if (!ds)
        abort();
    ds->names = simfs_xrealloc(NULL, (n + 2) * sizeof *ds->names);
    strcpy(ds->names[0], ".");
    strcpy(ds->names[1], "..");
    for (size_t k = 0; k < n; k++)
        memcpy(ds->names[k + 2], by_age[k]->name, SIMFS_NAME);
    ds->n = n + 2;
    free(by_age);
    return (DIR *)ds;
}

struct dirent *simfs_readdir(DIR *d)
{
    struct dirstream *ds = (struct dirstream *)d;
    if (ds->pos == ds->n)
        return NULL;
    size_t k = ds->pos++;
    memset(&ds->de, 0, sizeof ds->de);
    ds->de.d_ino = k + 1;
    ds->de.d_type = k < 2 ? DT_DIR : DT_REG;
    memcpy(ds->de.d_name, ds->names[k], SIMFS_NAME);
    return &ds->de;
}

int simfs_closedir(DIR *d)
{
    struct dirstream *ds = (struct dirstream *)d;
    free(ds->names);
    free(ds);
    return 0;
}

int simfs_register(struct simfs *fs)
{
    fs->dir_len = strlen(fs->dir);
    for (int i = 0; i < SIMFS_MAX; i++) {
        if (!registered[i]) {
            registered[i] = fs;
            return 0;
        }
    }
    return -1;
}

/* Forgets fs and closes every descriptor still open on it. */
void simfs_unregister(struct simfs *fs)
{
    for (int i = 0; i < SIMFS_MAX; i++) {
        if (registered[i] == fs)
            registered[i] = NULL;
    }
    for (int i = 0; i < SIMFS_FDS; i++) {
        if (simfs_fds[i].fs == fs) {
            simfs_data_put(simfs_fds[i].live);
            memset(&simfs_fds[i], 0, sizeof simfs_fds[i]);
        }
    }
}
