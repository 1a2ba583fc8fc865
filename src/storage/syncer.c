/* syncer.c: an optional background thread that runs the WAL's fdatasync, so the
 * event loop never blocks on the disk, and its deterministic stand-in (manual
 * mode: no thread; the owner runs the pending fdatasync when it chooses, which is
 * how the simulation puts a sync's completion at a point of its own timeline).
 *
 * The loop keeps writing (storage_write via storage_sync_begin) while a sync is in
 * flight; each begin posts "make everything written so far durable". The thread
 * always serves the newest request, so one fdatasync covers every write that came
 * before it: group commit across loop iterations. Completion comes back through an
 * eventfd the loop polls (h2o's evloop can watch it); storage_sync_complete() then
 * moves synced_index forward, in the loop thread. struct storage itself is only
 * ever touched by the loop thread: the sync thread sees nothing but the request
 * and answer fields under the mutex. Creating a new segment drains the thread
 * first (wal.c), because the old segment's fd is closed then, and so does a suffix
 * truncation, so that an answer never vouches for entries replaced after it was
 * asked for.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "storage/internal.h"
#include "util/thread.h"

struct syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    const struct storage_sys *sys;
    /* request (loop -> thread) */
    uint64_t req_gen;
    int req_fd;
    raft_index req_index;
    uint64_t req_size;
    bool stop;
    bool manual; /* no thread: storage_sync_run() serves the request */
    /* answer (thread -> loop) */
    uint64_t done_gen;
    raft_index done_index;
    uint64_t done_size;
    int done_fd;
    uint64_t done_us;     /* how long that fdatasync took */
    int err;              /* errno of a failed fdatasync, sticky */
    uint64_t applied_gen; /* loop thread only: the last answer applied */
    uint64_t applied_us;  /* loop thread only: its duration, until taken */
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Serves the newest request: one fdatasync, then the answer. Called with mu held;
 * unlocks it around the fdatasync. */
static void serve_newest(struct syncer *sy)
{
    uint64_t gen = sy->req_gen;
    int fd = sy->req_fd;
    raft_index index = sy->req_index;
    uint64_t size = sy->req_size;
    pthread_mutex_unlock(&sy->mu);
    uint64_t t0 = mono_us();
    int rc = sy->sys->fdatasync(fd);
    int e = errno;
    uint64_t us = mono_us() - t0;
    pthread_mutex_lock(&sy->mu);
    sy->done_us = us;
    if (rc < 0 && !sy->err)
        sy->err = e;
    sy->done_gen = gen;
    sy->done_index = index;
    sy->done_size = size;
    sy->done_fd = fd;
    pthread_cond_broadcast(&sy->cv);
}

static void *syncer_main(void *arg)
{
    struct syncer *sy = arg;
    pthread_mutex_lock(&sy->mu);
    for (;;) {
        while (!sy->stop && sy->req_gen == sy->done_gen)
            pthread_cond_wait(&sy->cv, &sy->mu);
        if (sy->req_gen == sy->done_gen) /* stop, and nothing left to do */
            break;
        serve_newest(sy);
        /* The wake-up goes out unlocked, so the loop never finds the mutex held. */
        pthread_mutex_unlock(&sy->mu);
        uint64_t one = 1;
        ssize_t w = write(sy->efd, &one, sizeof one); /* wakes the loop */
        (void)w; /* the counter cannot overflow in practice; the loop re-checks gens */
        pthread_mutex_lock(&sy->mu);
    }
    pthread_mutex_unlock(&sy->mu);
    return NULL;
}

static int syncer_new(struct storage *st, bool manual)
{
    if (st->syncer)
        return 0;
    struct syncer *sy = calloc(1, sizeof *sy);
    if (!sy)
        return st_error(st, STORAGE_ENOMEM, "sync thread: out of memory");
    sy->sys = st->sys;
    sy->manual = manual;
    sy->efd = -1;
    pthread_mutex_init(&sy->mu, NULL);
    pthread_cond_init(&sy->cv, NULL);
    if (!manual) {
        sy->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (sy->efd < 0) {
            free(sy);
            return st_error(st, STORAGE_EIO, "sync thread: eventfd: %s", strerror(errno));
        }
        int rc = thread_start(&sy->thread, false, syncer_main, sy);
        if (rc) {
            close(sy->efd);
            free(sy);
            return st_error(st, STORAGE_EIO, "sync thread: start: %s", strerror(rc));
        }
    }
    st->syncer = sy;
    return 0;
}

int storage_sync_thread_start(struct storage *st)
{
    return syncer_new(st, false);
}

int storage_sync_manual_start(struct storage *st)
{
    return syncer_new(st, true);
}

bool storage_sync_pending(const struct storage *st)
{
    struct syncer *sy = st->syncer;
    if (!sy)
        return false;
    pthread_mutex_lock(&sy->mu);
    bool pending = sy->req_gen != sy->done_gen || sy->err; /* a failure is never done */
    pthread_mutex_unlock(&sy->mu);
    return pending;
}

int storage_sync_fd(const struct storage *st)
{
    return st->syncer ? st->syncer->efd : -1;
}

int storage_sync_begin(struct storage *st)
{
    if (!st->syncer)
        return storage_sync(st);
    int rc = storage_write(st);
    if (rc || st->synced_size == st->size)
        return rc;
    struct syncer *sy = st->syncer;
    pthread_mutex_lock(&sy->mu);
    sy->req_gen++;
    sy->req_fd = st->fd;
    sy->req_index = st->written_index;
    sy->req_size = st->size;
    pthread_mutex_unlock(&sy->mu);
    pthread_cond_signal(&sy->cv); /* unlocked: the thread wakes to a free mutex */
    return 0;
}

/* The thread's fdatasync failed: fail stop. Nothing may be believed durable after
 * it, not even what a later fdatasync on the same file reports as written (Linux
 * reports a writeback error to one caller only). */
static int syncer_failed(struct storage *st, int err)
{
    char name[64];
    st_seg_name(st->segs[st->n_segs - 1].seq, name, sizeof name);
    return st_fail(st, STORAGE_EIO, "wal: fdatasync %s: %s", name, strerror(err));
}

int st_syncer_check(struct storage *st)
{
    struct syncer *sy = st->syncer;
    if (!sy)
        return 0;
    pthread_mutex_lock(&sy->mu);
    int err = sy->err;
    pthread_mutex_unlock(&sy->mu);
    return err ? syncer_failed(st, err) : 0;
}

/* Applies the thread's latest answer (loop thread). wait: block until idle.
 * Only the wake-up path (!wait) resets the eventfd: one read takes the whole
 * counter. A waiter leaves it; the loop's watch reads it at its next turn. */
static int syncer_collect(struct storage *st, bool wait)
{
    struct syncer *sy = st->syncer;
    uint64_t cnt;
    if (!wait && sy->efd >= 0 && read(sy->efd, &cnt, sizeof cnt) < 0 && errno != EAGAIN &&
        errno != EINTR)
        return st_fail(st, STORAGE_EIO, "sync thread: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&sy->mu);
    if (wait && sy->manual && sy->done_gen != sy->req_gen)
        serve_newest(sy);
    while (wait && sy->done_gen != sy->req_gen)
        pthread_cond_wait(&sy->cv, &sy->mu);
    int err = sy->err, fd = sy->done_fd;
    raft_index index = sy->done_index;
    uint64_t size = sy->done_size;
    bool fresh = sy->done_gen != sy->applied_gen; /* stale answers never apply twice */
    sy->applied_gen = sy->done_gen;
    if (fresh)
        sy->applied_us = sy->done_us + 1; /* 0 means taken */
    pthread_mutex_unlock(&sy->mu);
    if (err)
        return syncer_failed(st, err);
    if (fresh && fd == st->fd) {
        /* storage_append() drains before a truncation, so index still names
         * entries of the current log. */
        if (index > st->synced_index)
            st->synced_index = index;
        if (size > st->synced_size) {
            st->synced_size = size;
            return st_wal_note_synced(st);
        }
    }
    return 0;
}

int storage_sync_complete(struct storage *st)
{
    return st->syncer ? syncer_collect(st, false) : 0;
}

uint64_t storage_sync_take_us(struct storage *st)
{
    struct syncer *sy = st->syncer;
    if (!sy || !sy->applied_us)
        return 0;
    uint64_t us = sy->applied_us - 1;
    sy->applied_us = 0;
    return us ? us : 1; /* an answer was applied */
}

int storage_sync_run(struct storage *st)
{
    if (!st->syncer || !st->syncer->manual)
        return 0;
    return syncer_collect(st, true);
}

int storage_sync_wait(struct storage *st)
{
    return st_syncer_drain(st);
}

int st_syncer_drain(struct storage *st)
{
    return st->syncer ? syncer_collect(st, true) : 0;
}

void st_syncer_stop(struct storage *st)
{
    struct syncer *sy = st->syncer;
    if (!sy)
        return;
    if (!sy->manual) {
        pthread_mutex_lock(&sy->mu);
        sy->stop = true;
        pthread_cond_signal(&sy->cv);
        pthread_mutex_unlock(&sy->mu);
        pthread_join(sy->thread, NULL);
        close(sy->efd);
    }
    pthread_mutex_destroy(&sy->mu);
    pthread_cond_destroy(&sy->cv);
    free(sy);
    st->syncer = NULL;
}
