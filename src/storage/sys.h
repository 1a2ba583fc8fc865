/* sys.h: the table of syscalls storage makes, so tests can inject faults.
 *
 * Every write-side system call of src/storage goes through a struct storage_sys:
 * tests wrap storage_sys_default with versions that fail with ENOSPC or EIO on
 * write or on sync, or write short, and show that storage fails stop and that a
 * reopen recovers a valid prefix. Directory listing goes through the table too, so
 * a simulated disk can serve it; a table that leaves the three listing members
 * NULL lists through the real opendir/readdir/closedir.
 *
 * The helpers below add the loops and the error context every caller needs.
 */
#ifndef VESPER_STORAGE_SYS_H
#define VESPER_STORAGE_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct storage_sys {
    int (*open)(const char *path, int flags, mode_t mode);
    int (*close)(int fd);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
    int (*fdatasync)(int fd);
    int (*fsync)(int fd);
    int (*ftruncate)(int fd, off_t len);
    int (*rename)(const char *from, const char *to);
    int (*unlink)(const char *path);
    int (*mkdir)(const char *path, mode_t mode);
    int (*fstat)(int fd, struct stat *st);
    int (*fallocate)(int fd, int mode, off_t off, off_t len);
    DIR *(*opendir)(const char *dir);
    struct dirent *(*readdir)(DIR *d);
    int (*closedir)(DIR *d);
    /* Optional, advisory: start writing [off, off + len) of fd to disk and wait
     * for what was started before off, or, with wait, for all of it. NULL does
     * nothing (see storage_writeback). */
    void (*writeback)(int fd, uint64_t off, uint64_t len, bool wait);
    /* Optional: fd, just opened, reads a file that must stay whole after its name
     * is gone (a backup or a restore reading a snapshot a newer one may replace):
     * the release thread then leaves its blocks alone. 0 or -1 (errno). NULL: no
     * release thread to keep away. */
    int (*hold)(int fd);
};

/* The real calls. Tests copy it and replace members. Its unlink is
 * storage_release_unlink. */
extern const struct storage_sys storage_sys_default;

/* unlink(2) whose freeing of a large file's space runs on a background thread
 * (release.c): the name is gone on return, the blocks come back later. */
int storage_release_unlink(const char *path);
/* The default table's close: a descriptor of a large file that no name holds any
 * more goes to the release thread, which frees the file; any other is closed. */
int storage_release_close(int fd);
/* The default table's hold: a shared flock(2) on fd, which the release thread
 * tests for before it truncates a file (release.c). Never blocks. */
int storage_release_hold(int fd);

struct storage_release_stats {
    uint64_t queued;        /* descriptors handed to the thread */
    uint64_t released;      /* ... and closed by it */
    uint64_t closed_inline; /* large files closed at once: queue full, no thread */
};

/* Waits until the thread has closed everything queued, then reports the counts
 * (zeros in a process that never queued one). */
void storage_release_wait(struct storage_release_stats *out);

/* Write-behind for a large file written front to back, piece by piece. Without
 * it the final fsync of a snapshot of hundreds of MB sends all of it at once, and
 * every other fsync on the disk (the WAL's) waits behind it: 130-310 ms for an
 * 860 MB file, against 20 ms with 8 MiB pieces. Durability still comes only from
 * that final fsync; this only spreads the work.
 *
 * Without wait (a snapshot received on the event loop, which must not block on
 * it), the piece starts going to disk and the one before it is waited for: at
 * most two pieces in flight; the same for a snapshot written on the loop (a small
 * state). With wait (a snapshot written by a process of its own, vesperd's forked
 * writer: storage_snapshot_write), the piece is on disk before the next one is
 * written, and pieces are STORAGE_SNAP_PIECE_BYTES: an fdatasync
 * of the WAL beside it waits behind what is in flight on the device, so less in
 * flight means shorter waits. With a writer of 150 MB files beside a loop of
 * 150-byte appends and fdatasyncs, 8 MiB pieces two at a time gave the appends a
 * p99.9 of 24 ms, 1 MiB pieces waited for 2.6-3.7 ms, 256 KiB pieces 1.3-1.6 ms,
 * at the same writer throughput. STORAGE_WRITEBACK_BYTES bounds a piece. */
#define STORAGE_WRITEBACK_BYTES  (8u << 20)
#define STORAGE_SNAP_PIECE_BYTES (256u << 10)
void storage_writeback(const struct storage_sys *sys, int fd, uint64_t off, uint64_t len,
                       bool wait);

/* Writes all n bytes at off, looping over short writes (a short write is legal;
 * the next call reports the real error, e.g. ENOSPC). Returns 0 or -1 (errno). */
int storage_pwrite_all(const struct storage_sys *sys, int fd, const void *buf, size_t n,
                       uint64_t off);
/* Reads up to n bytes at off, looping until n or end of file. Returns bytes or -1. */
ssize_t storage_pread_all(const struct storage_sys *sys, int fd, void *buf, size_t n, uint64_t off);
/* Opens dir read-only and fsyncs it so that created, renamed and removed names in it
 * are durable. Returns 0 or -1 (errno). */
int storage_fsync_dir(const struct storage_sys *sys, const char *dir);
/* Directory listing through sys (the real calls when its listing members are NULL). */
DIR *storage_opendir(const struct storage_sys *sys, const char *dir);
struct dirent *storage_readdir(const struct storage_sys *sys, DIR *d);
void storage_closedir(const struct storage_sys *sys, DIR *d);
/* Reads the whole file at path into a malloc'd buffer. Returns 0, or -1 (errno). */
int storage_read_file(const struct storage_sys *sys, const char *path, uint8_t **buf, size_t *len);

#endif
