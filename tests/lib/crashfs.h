/* crashfs.h: a storage_sys that can put a directory tree into any state a real
 * disk may hold after power loss.
 *
 * crashfs_sys forwards every call to the real file system under a root directory
 * and keeps a model of what is durable there:
 *
 *   - file data: each file's content as of its last fsync/fdatasync, plus the
 *     writes, truncations and fallocate extensions issued since, in order;
 *   - names: each directory's entries as of its last fsync, plus the creates,
 *     renames, unlinks and mkdirs issued since, in order. fsync of a file never
 *     makes its name durable, and fsync of a directory never makes file data
 *     durable: they are separate events, as POSIX says.
 *
 * crashfs_crash() then rewrites a directory (and the directories below it) into
 * one state a disk could show after power loss, chosen by a seed:
 *
 *   - each file holds its synced content plus, of every unsynced write, any prefix
 *     cut at a 512-byte sector boundary (CRASHFS_SECTORS), or any subset of the
 *     4 KiB pages it touched (CRASHFS_PAGES); unsynced truncations and extensions
 *     either happened or not;
 *   - each directory holds its synced entries plus a prefix of its unsynced name
 *     operations (metadata is journaled in order); a directory whose own name did
 *     not survive disappears with everything in it.
 *
 * Afterwards the model restarts from the new state (everything durable, nothing
 * pending). The same seed and the same sequence of calls give the same state.
 * fsync and fdatasync under the root are modelled, never passed to the kernel
 * (the test machine itself does not lose power), so tests run at memory speed.
 *
 * crashfs_crash_at(n) simulates the power going out between two operations: the
 * n-th mutating call under the root (write, sync, truncate, fallocate, create,
 * rename, unlink, mkdir; crashfs_ops() counts them) and every later one fail with
 * EIO and change nothing, until crashfs_crash(). Reads keep working. A test runs
 * a workload once to count its operations, then crashes at any point of it.
 *
 * Paths outside the root, and descriptors not opened through crashfs_sys, are
 * passed straight through and not modelled. The sys table carries no context, so
 * there is one crashfs per process: crashfs_init() starts it, crashfs_free() ends
 * it. Not thread-safe: use it without the storage sync thread. Close every
 * descriptor into a directory (storage_close) before crashing it; a descriptor
 * left open into a crashed directory fails every later call with EIO.
 *
 *   crashfs_init(root);                 existing content under root counts as durable
 *   opt.sys = &crashfs_sys;             storage_open(..., root/data, &opt, ...)
 *   ... writes, syncs ...; storage_close(st);
 *   crashfs_crash(NULL, seed, CRASHFS_SECTORS);     root rewritten to a crash state
 *   storage_open(...) again and check what survived
 *   crashfs_free();
 */
#ifndef VESPER_TESTS_LIB_CRASHFS_H
#define VESPER_TESTS_LIB_CRASHFS_H

#include <stdbool.h>
#include <stdint.h>

#include "storage/sys.h"

/* crashfs_crash() modes (bits; 0 means CRASHFS_SECTORS). With both, each write
 * picks one of the two at random. */
#define CRASHFS_SECTORS  1u /* an unsynced write survives as a prefix, 512-byte cuts */
#define CRASHFS_PAGES    2u /* an unsynced write survives as any subset of 4 KiB pages */
/* Keep every unsynced write and name operation (a clean shutdown, or a disk that
 * happened to flush everything): no choices are made. */
#define CRASHFS_KEEP_ALL 4u
/* Lose every unsynced write and name operation. */
#define CRASHFS_LOSE_ALL 8u

struct crashfs_stats {
    uint64_t ops;       /* mutating calls under the root since init */
    uint64_t writes;    /* pwrite calls modelled */
    uint64_t syncs;     /* fsync/fdatasync of files */
    uint64_t dir_syncs; /* fsync of directories */
    uint64_t crashes;   /* crashfs_crash() calls */
    uint64_t torn;      /* unsynced writes kept partly, over all crashes */
    uint64_t lost;      /* unsynced writes or name operations lost entirely */
};

extern const struct storage_sys crashfs_sys;

/* Starts modelling root (an existing directory; its current content counts as
 * durable). Returns 0, or -1 with errno. */
int crashfs_init(const char *root);
/* Forgets the model (the files stay as they are on the real file system). */
void crashfs_free(void);

/* Power goes out at the n-th mutating call from now on counting from init (n is
 * compared with crashfs_ops() + 1); 0 disarms. */
void crashfs_crash_at(uint64_t n);
/* True once the armed crash point was reached (calls fail with EIO). */
bool crashfs_dead(void);
uint64_t crashfs_ops(void);
void crashfs_get_stats(struct crashfs_stats *out);

/* Rewrites dir (NULL: the root; else a directory under it) to a possible
 * post-crash state chosen by seed and mode, restarts the model from it and
 * disarms/clears the crash point. Returns 0, or -1 with errno. */
int crashfs_crash(const char *dir, uint64_t seed, unsigned mode);

#endif
