/* simfs_int.h: what simfs.c (the syscalls and the model they keep) and
 * simfs_crash.c (setup, crash points, the post-crash rewrite) share.
 */
#ifndef VESPER_TESTS_SIM_SIMFS_INT_H
#define VESPER_TESTS_SIM_SIMFS_INT_H

#include "sim/simfs.h"

#define SIMFS_SECTOR 512
#define SIMFS_FDS    4096
#define SIMFS_MAX    32
#define SIMFS_NAME   96

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
    uint8_t *dur;
    uint64_t dur_len;
    struct simfs_pend *pend;
    size_t n_pend, cap_pend;
};

void *simfs_xrealloc(void *p, size_t n);
void simfs_clear_pend(struct simfs_inode *in);
void simfs_drop_inode(struct simfs_inode *in);
/* Applies the first `keep` bytes of p (all of a truncation when keep > 0). */
void simfs_apply(uint8_t **buf, uint64_t *len, const struct simfs_pend *p, uint64_t keep);
/* Maps dir's paths and descriptors to fs; 0, or -1 when the table is full. */
int simfs_register(struct simfs *fs);
void simfs_unregister(struct simfs *fs);

#endif
