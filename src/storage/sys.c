/* sys.c: the default syscall table and the loops around it (see sys.h).
 *
 * EINTR is retried for reads and writes (a signal is not a disk error); nothing
 * retries fdatasync/fsync: a failed sync is reported once and the caller fails stop.
 */
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, mode_t mode)
{
    return open(path, flags | O_CLOEXEC, mode);
}

/* Errors are ignored: this only schedules work early, and the fsync that must
 * follow reports any failure to write the range. */
static void sys_writeback(int fd, uint64_t off, uint64_t len, bool wait)
{
    if (wait) {
        (void)sync_file_range(
            fd, (off_t)off, (off_t)len,
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        return;
    }
    (void)sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
    if (off > 0)
        (void)sync_file_range(fd, 0, (off_t)off, SYNC_FILE_RANGE_WAIT_BEFORE);
}

const struct storage_sys storage_sys_default = {
    .open = sys_open,
    .close = storage_release_close,
    .pwrite = pwrite,
    .pread = pread,
    .fdatasync = fdatasync,
    .fsync = fsync,
    .ftruncate = ftruncate,
    .rename = rename,
    .unlink = storage_release_unlink,
    .mkdir = mkdir,
    .fstat = fstat,
    .fallocate = fallocate,
    .opendir = opendir,
    .readdir = readdir,
    .closedir = closedir,
    .writeback = sys_writeback,
    .hold = storage_release_hold,
};

void storage_writeback(const struct storage_sys *sys, int fd, uint64_t off, uint64_t len, bool wait)
{
    if (sys->writeback && len > 0)
        sys->writeback(fd, off, len, wait);
}

int storage_pwrite_all(const struct storage_sys *sys, int fd, const void *buf, size_t n,
                       uint64_t off)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = sys->pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (w == 0) {
            errno = EIO; /* no progress: never loop forever */
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

ssize_t storage_pread_all(const struct storage_sys *sys, int fd, void *buf, size_t n, uint64_t off)
{
    uint8_t *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = sys->pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int storage_fsync_dir(const struct storage_sys *sys, const char *dir)
{
    int fd = sys->open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return -1;
    int rc = sys->fsync(fd);
    int saved = errno;
    sys->close(fd);
    errno = saved;
    return rc;
}

DIR *storage_opendir(const struct storage_sys *sys, const char *dir)
{
    return sys->opendir ? sys->opendir(dir) : opendir(dir);
}

struct dirent *storage_readdir(const struct storage_sys *sys, DIR *d)
{
    return sys->readdir ? sys->readdir(d) : readdir(d);
}

void storage_closedir(const struct storage_sys *sys, DIR *d)
{
    if (sys->closedir)
        sys->closedir(d);
    else
        closedir(d);
}

int storage_read_file(const struct storage_sys *sys, const char *path, uint8_t **buf, size_t *len)
{
    int fd = sys->open(path, O_RDONLY, 0);
    if (fd < 0)
        return -1;
    struct stat sb;
    if (sys->fstat(fd, &sb) < 0) {
        int saved = errno;
        sys->close(fd);
        errno = saved;
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *b = malloc(size ? size : 1);
    if (!b) {
        sys->close(fd);
        errno = ENOMEM;
        return -1;
    }
    ssize_t r = storage_pread_all(sys, fd, b, size, 0);
    int saved = errno;
    sys->close(fd);
    if (r < 0) {
        free(b);
        errno = saved;
        return -1;
    }
    *buf = b;
    *len = (size_t)r; /* a file that shrank meanwhile reads short: the parser decides */
    return 0;
}
