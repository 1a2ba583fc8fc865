/* fsync_floor.c: build/fsync-floor, the disk's durable-append rate, a physical limit for PUT.
 *
 *   build/fsync-floor [--seconds S] [--bytes N] [--preallocate] [--writers W]
 *                     [--show-over MS] DIR
 *
 * Appends N bytes (default 100, one small log record) to a fresh file in DIR and calls
 * fdatasync after each append, for S seconds (default 3). It appends rather than overwrites
 * because a write-ahead log appends: every fdatasync then also has to make the new file size
 * durable, which is what a WAL commit pays. The file is unlinked at the end.
 *
 * --preallocate first reserves 64 MiB with fallocate, as vesperd does for each WAL segment,
 * so the appends land inside the file's size and fdatasync has no size to record.
 *
 * --writers W runs W such loops at once, each in a thread of its own on a file of its own:
 * the replicas of a W-node cluster whose data directories share one device, as in the
 * benchmarks. A device may stall its flushes when several arrive together, which one
 * writer never shows; the tail fields say how long. --show-over MS prints every call that
 * took longer than MS milliseconds to stderr, with its writer and its start in ms since
 * the writers started ("SLOW writer=1 at_ms=148.9 us=15412"), to see when pauses come.
 *
 * Prints one machine-readable line that bench/lib.sh parses:
 *   FSYNC writers=W ops=N secs=S ops_per_s=X avg_us=A p50_us=P p99_us=Q p999_us=R max_us=M
 * ops counts every writer's calls; ops_per_s is one writer's rate (the mean of the W);
 * avg and the percentiles are over all calls. A server that fsyncs once per request
 * cannot commit faster than ops_per_s; one that batches (group commit) can, by the batch
 * size. DIR should be the data directory's filesystem, since the rate is a property of
 * that device.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FSYNC_MAX_SAMPLES (1u << 20) /* per writer */
#define FSYNC_PREALLOC    (64 << 20)
#define FSYNC_MAX_WRITERS 16

/* One writer: its file, its samples, and what its loop returned. */
struct fsync_writer {
    pthread_t thread;
    int idx;
    char path[4096];
    int fd;
    size_t bytes;
    double seconds;
    int64_t *lat_us;
    int64_t total_us;
    long n;
};

static pthread_barrier_t fsync_start;
static int64_t fsync_show_over_us; /* 0: print no slow calls */
static int64_t fsync_epoch_us;     /* when the writers were released */

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
    fputs(
        "usage: fsync-floor [--seconds S] [--bytes N] [--preallocate] [--writers W] [--show-over "
        "MS]\n"
        "       DIR\n",
        stderr);
    return 2;
}

/* Runs the append+fdatasync loop on the writer's file; fills its samples and returns the
 * op count or -1. */
static long fsync_loop(struct fsync_writer *wr)
{
    char buf[4096];
    size_t bytes = wr->bytes > sizeof buf ? sizeof buf : wr->bytes;
    memset(buf, 'x', bytes);
    int64_t start = fsync_now_us();
    int64_t end = start + (int64_t)(wr->seconds * 1e6);
    long n = 0;
    for (;;) {
        int64_t t0 = fsync_now_us();
        if (t0 >= end || n >= (long)FSYNC_MAX_SAMPLES)
            break;
        ssize_t w = write(wr->fd, buf, bytes);
        if (w != (ssize_t)bytes) {
            fprintf(stderr, "fsync-floor: write: %s\n", w < 0 ? strerror(errno) : "short");
            return -1;
        }
        if (fdatasync(wr->fd) != 0) {
            fprintf(stderr, "fsync-floor: fdatasync: %s\n", strerror(errno));
            return -1;
        }
        int64_t took = fsync_now_us() - t0;
        wr->lat_us[n++] = took;
        if (fsync_show_over_us && took > fsync_show_over_us)
            fprintf(stderr, "SLOW writer=%d at_ms=%.1f us=%lld\n", wr->idx,
                    (double)(t0 - fsync_epoch_us) / 1e3, (long long)took);
    }
    wr->total_us = fsync_now_us() - start;
    return n;
}

/* Opens (and with prealloc reserves) the writer's file in dir; 0 or -1 with a message. */
static int fsync_open(struct fsync_writer *w, const char *dir, bool prealloc)
{
    if (snprintf(w->path, sizeof w->path, "%s/fsync-floor.XXXXXX", dir) >= (int)sizeof w->path) {
        fprintf(stderr, "fsync-floor: directory name too long\n");
        return -1;
    }
    w->fd = mkstemp(w->path);
    if (w->fd < 0) {
        fprintf(stderr, "fsync-floor: mkstemp %s: %s\n", w->path, strerror(errno));
        return -1;
    }
    if (prealloc && fallocate(w->fd, 0, 0, FSYNC_PREALLOC) != 0) {
        fprintf(stderr, "fsync-floor: fallocate %s: %s\n", w->path, strerror(errno));
        return -1;
    }
    w->lat_us = malloc(FSYNC_MAX_SAMPLES * sizeof *w->lat_us);
    if (!w->lat_us) {
        fprintf(stderr, "fsync-floor: out of memory\n");
        return -1;
    }
    return 0;
}

/* Closes and removes the writer's file if it was made; 0 or -1 with a message. */
static int fsync_close(struct fsync_writer *w)
{
    int rc = 0;
    if (w->fd >= 0 && (close(w->fd) != 0 || unlink(w->path) != 0)) {
        fprintf(stderr, "fsync-floor: cleanup %s: %s\n", w->path, strerror(errno));
        rc = -1;
    }
    free(w->lat_us);
    return rc;
}

static void *fsync_thread(void *arg)
{
    struct fsync_writer *w = arg;
    pthread_barrier_wait(&fsync_start);
    w->n = fsync_loop(w);
    return NULL;
}

/* Prints the FSYNC line over every writer's samples (gathered into the first's array). */
static int fsync_report(struct fsync_writer *ws, int writers)
{
    long n = 0;
    int64_t total_us = 0;
    for (int i = 0; i < writers; i++) {
        if (ws[i].n <= 0)
            return -1;
        n += ws[i].n;
        total_us += ws[i].total_us;
    }
    int64_t *all = malloc((size_t)n * sizeof *all);
    if (!all) {
        fprintf(stderr, "fsync-floor: out of memory\n");
        return -1;
    }
    int64_t sum_us = 0;
    for (long i = 0, k = 0; i < writers; i++)
        for (long j = 0; j < ws[i].n; j++, k++) {
            all[k] = ws[i].lat_us[j];
            sum_us += all[k];
        }
    qsort(all, (size_t)n, sizeof *all, fsync_cmp_i64);
    double secs = (double)total_us / 1e6 / writers;
    printf(
        "FSYNC writers=%d ops=%ld secs=%.3f ops_per_s=%.0f avg_us=%.0f p50_us=%lld "
        "p99_us=%lld p999_us=%lld max_us=%lld\n",
        writers, n, secs, (double)n / writers / secs, (double)sum_us / (double)n,
        (long long)all[n / 2], (long long)all[(size_t)((double)n * 0.99)],
        (long long)all[(size_t)((double)n * 0.999)], (long long)all[n - 1]);
    free(all);
    return 0;
}

int main(int argc, char **argv)
{
    double seconds = 3;
    long bytes = 100, writers = 1;
    bool preallocate = false;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--bytes") == 0 && i + 1 < argc) {
            bytes = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--writers") == 0 && i + 1 < argc) {
            writers = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--show-over") == 0 && i + 1 < argc) {
            fsync_show_over_us = (int64_t)(strtod(argv[++i], NULL) * 1e3);
        } else if (strcmp(argv[i], "--preallocate") == 0) {
            preallocate = true;
        } else if (argv[i][0] != '-' && !dir) {
            dir = argv[i];
        } else {
            return fsync_usage();
        }
    }
    if (!dir || seconds <= 0 || seconds > 60 || bytes <= 0 || bytes > 4096 || writers < 1 ||
        writers > FSYNC_MAX_WRITERS)
        return fsync_usage();
    struct fsync_writer ws[FSYNC_MAX_WRITERS];
    int rc = 0, opened = 0, started = 0;
    if (pthread_barrier_init(&fsync_start, NULL, (unsigned)writers) != 0) {
        fprintf(stderr, "fsync-floor: pthread_barrier_init failed\n");
        return 1;
    }
    for (; opened < writers; opened++) {
        struct fsync_writer *w = &ws[opened];
        *w = (struct fsync_writer){
            .idx = opened, .fd = -1, .bytes = (size_t)bytes, .seconds = seconds};
        if (fsync_open(w, dir, preallocate) != 0) {
            rc = 1;
            opened++;
            break;
        }
    }
    /* The barrier needs all writers: start none unless every file is ready. */
    fsync_epoch_us = fsync_now_us();
    for (; rc == 0 && started < writers; started++)
        if (pthread_create(&ws[started].thread, NULL, fsync_thread, &ws[started]) != 0) {
            fprintf(stderr, "fsync-floor: pthread_create failed\n");
            exit(1); /* the started threads wait on the barrier forever */
        }
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].thread, NULL);
    if (rc == 0 && fsync_report(ws, (int)writers) != 0)
        rc = 1;
    for (int i = 0; i < opened; i++)
        if (fsync_close(&ws[i]) != 0)
            rc = 1;
    pthread_barrier_destroy(&fsync_start);
    return rc;
}
