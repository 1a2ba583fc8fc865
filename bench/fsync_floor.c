/* fsync_floor.c: build/fsync-floor, the disk's durable-append rate, a physical limit for PUT.
 *
 *   build/fsync-floor [--seconds S] [--bytes N] [--preallocate] DIR
 *
 * Appends N bytes (default 100, one small log record) to a fresh file in DIR and calls
 * fdatasync after each append, for S seconds (default 3). It appends rather than overwrites
 * because a write-ahead log appends: every fdatasync then also has to make the new file size
 * durable, which is what a WAL commit pays. The file is unlinked at the end.
 *
 * --preallocate first reserves 64 MiB with fallocate, as vesperd does for each WAL segment,
 * so the appends land inside the file's size and fdatasync has no size to record.
 *
 * Prints one machine-readable line that bench/lib.sh parses:
 *   FSYNC ops=N secs=S ops_per_s=X avg_us=A p50_us=P p99_us=Q
 * A server that fsyncs once per request cannot commit faster than ops_per_s; one that
 * batches (group commit) can, by the batch size. DIR should be the data directory's
 * filesystem, since the rate is a property of that device.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FSYNC_MAX_SAMPLES (1u << 20)
#define FSYNC_PREALLOC    (64 << 20)

static int64_t fsync_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        perror("fsync-floor: clock_gettime");
        exit(2);
    }
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fsync_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int fsync_usage(void)
{
    fputs("usage: fsync-floor [--seconds S] [--bytes N] [--preallocate] DIR\n", stderr);
    return 2;
}

/* Runs the append+fdatasync loop on fd; fills lat_us and returns the op count or -1. */
static long fsync_loop(int fd, size_t bytes, double seconds, int64_t *lat_us, int64_t *total_us)
{
    char buf[4096];
    if (bytes > sizeof buf)
        bytes = sizeof buf;
    memset(buf, 'x', bytes);
    int64_t start = fsync_now_us();
    int64_t end = start + (int64_t)(seconds * 1e6);
    long n = 0;
    for (;;) {
        int64_t t0 = fsync_now_us();
        if (t0 >= end || n >= (long)FSYNC_MAX_SAMPLES)
            break;
        ssize_t w = write(fd, buf, bytes);
        if (w != (ssize_t)bytes) {
            fprintf(stderr, "fsync-floor: write: %s\n", w < 0 ? strerror(errno) : "short");
            return -1;
        }
        if (fdatasync(fd) != 0) {
            fprintf(stderr, "fsync-floor: fdatasync: %s\n", strerror(errno));
            return -1;
        }
        lat_us[n++] = fsync_now_us() - t0;
    }
    *total_us = fsync_now_us() - start;
    return n;
}

int main(int argc, char **argv)
{
    double seconds = 3;
    long bytes = 100;
    bool preallocate = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
            bytes = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--preallocate") == 0) {
            preallocate = true;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            return fsync_usage();
        }
    }
    if (!dir || seconds <= 0 || seconds > 60 || bytes <= 0 || bytes > 4096)
        return fsync_usage();
    char path[4096];
    if (snprintf(path, sizeof path, "%s/fsync-floor.XXXXXX", dir) >= (int)sizeof path)
        return fsync_usage();
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "fsync-floor: mkstemp %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (preallocate && fallocate(fd, 0, 0, FSYNC_PREALLOC) != 0) {
        fprintf(stderr, "fsync-floor: fallocate %s: %s\n", path, strerror(errno));
        close(fd);
        unlink(path);
        return 1;
    }
    int64_t *lat_us = malloc(FSYNC_MAX_SAMPLES * sizeof *lat_us);
    int64_t total_us = 0;
    long n = lat_us ? fsync_loop(fd, (size_t)bytes, seconds, lat_us, &total_us) : -1;
    int rc = n > 0 ? 0 : 1;
    if (close(fd) != 0 || unlink(path) != 0) {
        fprintf(stderr, "fsync-floor: cleanup %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    if (n > 0) {
        qsort(lat_us, (size_t)n, sizeof *lat_us, fsync_cmp_i64);
        double secs = (double)total_us / 1e6;
        printf("FSYNC ops=%ld secs=%.3f ops_per_s=%.0f avg_us=%.0f p50_us=%lld p99_us=%lld\n", n,
               secs, (double)n / secs, (double)total_us / (double)n, (long long)lat_us[n / 2],
               (long long)lat_us[(size_t)((double)n * 0.99)]);
    }
    free(lat_us);
    return rc;
}
