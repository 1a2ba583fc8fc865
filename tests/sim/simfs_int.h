/* simfs_int.h: what the simulated disk's files share: simfs.c (the file calls),
 * simfs_dir.c (names, listing, the descriptor and directory tables) and
 * simfs_crash.c (setup, crash points, the post-crash state).
 */
#ifndef VESPER_TESTS_SIM_SIMFS_INT_H
#define VESPER_TESTS_SIM_SIMFS_INT_H

#include "sim/simfs.h"

#define SIMFS_SECTOR  512
#define SIMFS_FDS     4096
#define SIMFS_FD_BASE 1000000 /* descriptors simfs hands out: far from any real one */
#define SIMFS_MAX     32
#define SIMFS_NAME    96

/* A file's content as a reader sees it now. Shared by the directory slot that names
 * it and by every descriptor open on it, so a file unlinked or renamed over while
 * open stays readable through its descriptor, as on a real file system. */
struct simfs_data {
    uint8_t *buf;
    uint64_t len, cap;
    uint32_t refs;
};

struct simfs_pend {
    bool trunc;
    uint64_t off; /* write offset, or the new length */
    uint64_t len;
    uint8_t *data;
};

struct simfs_inode {
    bool used;
    char name[SIMFS_NAME];  /* current name, "" once unlinked */
    char dname[SIMFS_NAME]; /* durable name, "" until the directory is synced */
    uint64_t linked;        /* when the current name was made: listing is newest first */
    struct simfs_data *live;
    uint8_t *dur;
    uint64_t dur_len;
    struct simfs_pend *pend;
    size_t n_pend, cap_pend;
};

/* One open descriptor: fs NULL when the slot is free; ino -1 for the directory. */
struct simfs_fd {
    struct simfs *fs;
    long ino;
    struct simfs_data *live;
    bool writable;
};

extern struct simfs_fd simfs_fds[SIMFS_FDS];

void *simfs_xrealloc(void *p, size_t n);
void simfs_clear_pend(struct simfs_inode *in);
void simfs_drop_inode(struct simfs_inode *in);
/* A new, empty file content with one reference; and letting go of one reference. */
struct simfs_data *simfs_data_new(void);
void simfs_data_put(struct simfs_data *d);
/* Sets d's length to len, zero-filling any growth. */
void simfs_data_resize(struct simfs_data *d, uint64_t len);
/* Applies the first `keep` bytes of p (all of a truncation when keep > 0). */
void simfs_apply(uint8_t **buf, uint64_t *len, const struct simfs_pend *p, uint64_t keep);
/* The simfs owning path, and the file name in its directory (NULL: the directory). */
struct simfs *simfs_lookup(const char *path, const char **name);
/* The slot holding name now, or -1. */
long simfs_find(const struct simfs *fs, const char *name);
/* A new slot named name with empty content. */
long simfs_new_inode(struct simfs *fs, const char *name);
/* A directory fsync: every current name becomes the durable one. */
void simfs_commit_names(struct simfs *fs);
/* The calls on names (simfs_dir.c), for simfs_sys. */
int simfs_rename(const char *from, const char *to);
int simfs_unlink(const char *path);
int simfs_mkdir(const char *path, mode_t mode);
DIR *simfs_opendir(const char *dir);
struct dirent *simfs_readdir(DIR *d);
int simfs_closedir(DIR *d);
/* 0: go on; -1: fail with EIO (the process is dead). Counts one mutating call. */
int simfs_gate(struct simfs *fs);
/* Maps dir's paths and descriptors to fs; 0, or -1 when the table is full. */
int simfs_register(struct simfs *fs);
void simfs_unregister(struct simfs *fs);

extern const struct storage_sys simfs_sys;

#endif
