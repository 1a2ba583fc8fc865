/* wal_bench.c: WAL append throughput under group commit, beside the physical floor.
 *
 *   wal_bench raw DIR SECONDS PAYLOAD [prezeroed|fallocate]
 *       a bare loop: append PAYLOAD+32 bytes with pwrite, fdatasync, repeat (the
 *       physical floor). "prezeroed": the file is first written full of zeros and
 *       synced, so fdatasync has no size or extent change to journal; "fallocate":
 *       the space is only reserved (unwritten extents), as etcd does.
 *   wal_bench wal DIR SECONDS PAYLOAD WRITERS
 *       WRITERS threads each append one entry and wait until it is durable, in a
 *       closed loop; one "event loop" thread gathers everything submitted since its
 *       last turn into one storage_append() + storage_sync(): one fdatasync per turn.
 *   wal_bench walt DIR SECONDS PAYLOAD WRITERS
 *       the same with the background sync thread: the loop polls an eventfd for new
 *       work and the storage's completion eventfd, and keeps writing while a sync
 *       is in flight (storage_sync_begin / storage_sync_complete).
 *
 * Prints one line of key=value pairs. Appends/s should grow with WRITERS while
 * syncs/s stays near the raw floor: that is group commit working.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"

#define MAX_WRITERS 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "wal_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int bench_raw(const char *dir, double seconds, size_t payload, int prealloc)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/raw.bench", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open");
    uint8_t *buf = calloc(1, payload + 32);
    size_t rec = payload + 32, cap = 64u << 20;
    if (prealloc == 2 && fallocate(fd, 0, 0, (off_t)cap) < 0)
        die("fallocate");
    if (prealloc == 1) {
        uint8_t *zero = calloc(1, 1u << 20);
        for (size_t off = 0; off < cap; off += 1u << 20)
            if (pwrite(fd, zero, 1u << 20, (off_t)off) != 1 << 20)
                die("prealloc");
        if (fsync(fd) < 0)
            die("fsync");
        free(zero);
    }
    uint64_t n = 0, off = 0;
    double t0 = now_s(), t;
    do {
        if (pwrite(fd, buf, rec, (off_t)off) != (ssize_t)rec)
            die("pwrite");
        if (fdatasync(fd) < 0)
            die("fdatasync");
        off = (off + rec) % (cap - rec);
        n++;
    } while ((t = now_s() - t0) < seconds);
    printf(
        "mode=raw%s payload=%zu seconds=%.2f syncs=%llu syncs_per_s=%.0f "
        "appends_per_s=%.0f\n",
        prealloc == 1   ? "-prezeroed"
        : prealloc == 2 ? "-fallocate"
                        : "",
        payload, t, (unsigned long long)n, n / t, n / t);
    close(fd);
    unlink(path);
    free(buf);
    return 0;
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    uint64_t submitted, durable;
    int stop;
    int work_fd; /* walt: writers poke the loop through this eventfd */
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, -1};

static void *writer_main(void *arg)
{
    uint64_t *count = arg;
    pthread_mutex_lock(&q.mu);
    while (!q.stop) {
        uint64_t idx = ++q.submitted;
        pthread_cond_signal(&q.work);
        if (q.work_fd >= 0) {
            uint64_t one = 1;
            if (write(q.work_fd, &one, sizeof one) != sizeof one)
                die("eventfd write");
        }
        while (q.durable < idx && !q.stop)
            pthread_cond_wait(&q.done, &q.mu);
        if (q.durable >= idx)
            (*count)++;
    }
    pthread_mutex_unlock(&q.mu);
    return NULL;
}

/* One loop turn with the sync thread: collect completions, then write new work. */
static uint64_t walt_turn(struct storage *st, struct raft_entry *ents, uint8_t *data,
                          size_t payload, uint64_t *taken, uint64_t *syncs)
{
    struct pollfd p[2] = {{.fd = q.work_fd, .events = POLLIN},
                          {.fd = storage_sync_fd(st), .events = POLLIN}};
    if (poll(p, 2, 100) < 0)
        die("poll");
    uint64_t cnt;
    if ((p[0].revents & POLLIN) && read(q.work_fd, &cnt, sizeof cnt) < 0)
        die("eventfd read");
    if (p[1].revents & POLLIN) {
        raft_index before = storage_synced_index(st);
        if (storage_sync_complete(st)) {
            fprintf(stderr, "wal_bench: %s\n", storage_errmsg(st));
            exit(1);
        }
        if (storage_synced_index(st) > before)
            (*syncs)++;
    }
    pthread_mutex_lock(&q.mu);
    uint64_t to = q.submitted;
    q.durable = storage_synced_index(st);
    pthread_cond_broadcast(&q.done);
    pthread_mutex_unlock(&q.mu);
    size_t n = 0;
    for (uint64_t i = *taken + 1; i <= to; i++, n++)
        ents[n] = (struct raft_entry){.term = 1,
                                      .index = i,
                                      .type = RAFT_ENTRY_NORMAL,
                                      .len = (uint32_t)payload,
                                      .data = data};
    if (n && (storage_append(st, ents, n) || storage_sync_begin(st))) {
        fprintf(stderr, "wal_bench: %s\n", storage_errmsg(st));
        exit(1);
    }
    *taken = to;
    return n;
}

static int bench_wal(const char *dir, double seconds, size_t payload, int writers, int threaded)
{
    struct storage_options o;
    storage_options_defaults(&o);
    struct storage *st;
    struct storage_boot boot;
    char err[512];
    if (storage_open(&st, dir, &o, &boot, err, sizeof err)) {
        fprintf(stderr, "wal_bench: %s\n", err);
        return 1;
    }
    uint64_t base = storage_last_index(st);
    q.submitted = q.durable = base;
    storage_boot_free(&boot);
    uint8_t *data = calloc(1, payload ? payload : 1);
    struct raft_entry *ents = calloc(MAX_WRITERS, sizeof *ents);
    pthread_t th[MAX_WRITERS];
    uint64_t counts[MAX_WRITERS] = {0};
    for (int i = 0; i < writers; i++)
        pthread_create(&th[i], NULL, writer_main, &counts[i]);
    uint64_t syncs = 0, taken = base;
    double sync_s = 0; /* time inside storage_append + storage_sync (wal mode) */
    if (threaded) {
        q.work_fd = eventfd(0, EFD_NONBLOCK);
        if (q.work_fd < 0 || storage_sync_thread_start(st))
            die("sync thread");
    }
    double t0 = now_s(), t;
    while ((t = now_s() - t0) < seconds) {
        if (threaded) {
            walt_turn(st, ents, data, payload, &taken, &syncs);
            continue;
        }
        pthread_mutex_lock(&q.mu);
        while (q.submitted == taken)
            pthread_cond_wait(&q.work, &q.mu);
        uint64_t to = q.submitted;
        pthread_mutex_unlock(&q.mu);
        size_t n = 0;
        for (uint64_t i = taken + 1; i <= to; i++, n++)
            ents[n] = (struct raft_entry){.term = 1,
                                          .index = i,
                                          .type = RAFT_ENTRY_NORMAL,
                                          .len = (uint32_t)payload,
                                          .data = data};
        /* One iteration of the Ready loop: buffer, one write, one fdatasync. */
        double s0 = now_s();
        if (storage_append(st, ents, n) || storage_sync(st)) {
            fprintf(stderr, "wal_bench: %s\n", storage_errmsg(st));
            exit(1);
        }
        sync_s += now_s() - s0;
        syncs++;
        taken = to;
        pthread_mutex_lock(&q.mu);
        q.durable = to;
        pthread_cond_broadcast(&q.done);
        pthread_mutex_unlock(&q.mu);
    }
    pthread_mutex_lock(&q.mu);
    q.stop = 1;
    pthread_cond_broadcast(&q.done);
    pthread_mutex_unlock(&q.mu);
    uint64_t appends = 0;
    for (int i = 0; i < writers; i++) {
        pthread_join(th[i], NULL);
        appends += counts[i];
    }
    printf(
        "mode=%s writers=%d payload=%zu seconds=%.2f appends=%llu appends_per_s=%.0f "
        "syncs_per_s=%.0f entries_per_sync=%.1f mean_latency_us=%.0f storage_us_per_sync=%.0f\n",
        threaded ? "walt" : "wal", writers, payload, t, (unsigned long long)appends, appends / t,
        syncs / t, syncs ? (double)appends / syncs : 0.0,
        appends ? 1e6 * t * writers / appends : 0.0,
        syncs && !threaded ? 1e6 * sync_s / syncs : 0.0);
    storage_close(st);
    free(ents);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "raw") == 0)
        return bench_raw(argv[2], atof(argv[3]), (size_t)atol(argv[4]),
                         argc <= 5                           ? 0
                         : strcmp(argv[5], "prezeroed") == 0 ? 1
                         : strcmp(argv[5], "fallocate") == 0 ? 2
                                                             : 0);
    if (argc >= 6 && (strcmp(argv[1], "wal") == 0 || strcmp(argv[1], "walt") == 0)) {
        int w = atoi(argv[5]);
        if (w < 1 || w > MAX_WRITERS)
            w = 1;
        return bench_wal(argv[2], atof(argv[3]), (size_t)atol(argv[4]), w,
                         strcmp(argv[1], "walt") == 0);
    }
    fprintf(stderr,
            "usage: wal_bench raw DIR SECONDS PAYLOAD [prezeroed|fallocate]\n"
            "       wal_bench wal|walt DIR SECONDS PAYLOAD WRITERS\n");
    return 2;
}
