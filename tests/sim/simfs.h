/* simfs.h: a simulated disk under each simulated node's real storage.
 *
 * The node's data directory exists only in memory: src/storage reaches it through
 * simfs_sys, a struct storage_sys whose every call (open, read, write, truncate,
 * sync, rename, unlink, stat, listing) is served from memory without a system
 * call, and which records what a power loss could undo:
 *   - per file, the content as of its last fsync/fdatasync, and every pwrite and
 *     ftruncate since, in order;
 *   - per directory, the names as of its last fsync: a created, renamed or
 *     unlinked name is durable only once the directory itself is fsynced (fsync of
 *     a file and of its directory are separate events).
 * Reads see the live content, as a running process would. simfs_crash() turns the
 * directory into one state a real disk could hold after power loss: the durable
 * names, each with its synced content plus, of every unsynced write, a prefix cut
 * at a 512-byte sector boundary (or nothing, or all of it), chosen by the world's
 * PRNG so a seed replays exactly. Space reserved by fallocate is live only: a
 * crash keeps what was written and synced.
 *
 * A crash can also be armed to strike inside the Ready loop: simfs_arm(fs, k)
 * makes the k-th mutating call from now (pwrite, fsync, fdatasync, ftruncate,
 * rename, unlink, create) the last one the process makes, either just before or
 * just after it. From then on every mutating call fails with EIO, storage fails
 * stop, and the simulation takes the node down and calls simfs_crash().
 *
 * storage_sys has no context argument, so descriptors and paths are mapped back
 * to their simfs through tables private to simfs (one process, one thread). A
 * path outside every simfs directory does not exist; simfs descriptors are
 * numbered from SIMFS_FD_BASE, far from any real one.
 */
#ifndef VESPER_TESTS_SIM_SIMFS_H
#define VESPER_TESTS_SIM_SIMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/sys.h"

enum simfs_tear {
    SIMFS_TEAR_RANDOM,   /* each unsynced write: a random sector prefix */
    SIMFS_TEAR_NONE,     /* every unsynced write lost */
    SIMFS_TEAR_ALL,      /* every unsynced write survives */
    SIMFS_TEAR_BUT_LAST, /* each unsynced write: all but its last (partial) sector */
};

struct simfs_pend;
struct simfs_inode;

struct simfs {
    char dir[200];
    size_t dir_len;
    uint64_t *prng; /* the world's */
    struct simfs_inode *ino;
    size_t n_ino, cap_ino;
    int64_t crash_in;     /* mutating calls until an armed crash; <= 0: none */
    bool crash_after;     /* the armed call itself still happens */
    bool crashed;         /* the process is dead: every mutating call fails */
    enum simfs_tear tear; /* how the next simfs_crash() tears unsynced writes */
    uint64_t n_calls;     /* mutating calls so far */
    uint64_t clock;       /* names made so far: orders the listing */
};

extern const struct storage_sys simfs_sys;

/* Registers fs for dir, an empty directory in memory only. 0 or -1. */
int simfs_init(struct simfs *fs, const char *dir, uint64_t *prng);
/* Forgets the directory and everything simfs holds. */
void simfs_destroy(struct simfs *fs);
/* Crash at the k-th mutating call from now (k >= 1), before or after it. */
void simfs_arm(struct simfs *fs, uint64_t k, bool after);
/* Turns the directory into a possible post-power-loss state and forgets every
 * unsynced change. Call with every descriptor of the node closed (any still open
 * is closed). 0 or -1. */
int simfs_crash(struct simfs *fs);
/* True when no name and no file length is unsynced outside *.tmp files: every
 * unsynced write, if any, overwrites bytes already durable (storage's sync slots,
 * rewritten after each fdatasync, are such writes; recovery copes with them torn). */
bool simfs_clean(const struct simfs *fs);

#endif
