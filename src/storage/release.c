/* release.c: removing a large file without paying for its space on the caller's
 * thread; the default syscall table's unlink (sys.c).
 *
 * Linux frees an unlinked file's blocks, and drops its cached pages, when the
 * last reference to it goes, inside the unlink() or close() that drops it. For an
 * 860 MB snapshot on ext4 that took 200-260 ms here, idle or not, and it grows
 * with the file. Storage removes old snapshots and covered WAL segments on
 * vesperd's event loop, where a stall that long adds to every request's latency
 * and, with the other work of a snapshot, outlasts a follower's election timeout.
 *
 * So for a file of at least RELEASE_MIN_BYTES, storage_release_unlink opens it
 * first, removes the name (cheap while a descriptor holds the file) and hands
 * the descriptor to one background thread, which closes it and so does the
 * freeing there. For the caller nothing changes: the name is gone when the call
 * returns, and a directory fsync after it makes that durable as before; only the
 * space comes back later. A crash before the close leaves an orphan the file
 * system reclaims at mount.
 *
 * The thread gives the space back in steps of RELEASE_STEP_BYTES from the end of
 * the file, each truncation fsync'ed on its own, rather than all at once. Freed
 * blocks are recorded, and on a file system mounted with online discard also
 * trimmed, by the next journal commit, which may well be the one a WAL
 * fdatasync is waiting for: 150 MB freed at once made the fdatasyncs beside it
 * wait up to 100-150 ms (ext4 with discard), against at most 8 ms in 4 MiB
 * steps (bench/RESULTS.md).
 *
 * A file someone still reads through a descriptor of their own (a backup or a
 * restore reading a snapshot that a newer one replaced) must stay whole: such a
 * reader takes a shared flock as it opens the file (storage_release_hold), and
 * the thread truncates only a file it can lock exclusively and that no other name
 * holds; any other it only closes. Storage opens such readers and removes names
 * on one thread, the loop, so every reader holds its lock before the thread gets
 * the file. The reader's own close, the last one, then goes to the thread as well
 * (storage_release_close, the default table's close), rather than freeing the
 * whole file wherever the reader finishes.
 *
 * The queue is bounded (RELEASE_QUEUE); when it is full, or the thread cannot be
 * started, or the caller is a forked child of the process that started it (a
 * snapshot writer: threads do not survive fork), the descriptor is closed at once,
 * as a plain unlink would.
 */
#include "storage/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/thread.h"

#define RELEASE_MIN_BYTES  (4u << 20)
#define RELEASE_QUEUE      64
#define RELEASE_STEP_BYTES (4 << 20)

static pthread_mutex_t rel_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rel_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t rel_idle = PTHREAD_COND_INITIALIZER;
static int rel_fds[RELEASE_QUEUE];
static unsigned rel_head, rel_len, rel_busy;
static struct storage_release_stats rel_stats;
/* The process whose thread serves the queue; 0 before it starts, -1 if it could
 * not be started. Read before taking the mutex, which a forked child must not
 * touch (another thread may have held it at the fork). */
static _Atomic pid_t rel_owner;

/* Frees fd's blocks in steps from the end, then closes it. Any failure only ends
 * the steps: the close frees the rest, and the name is already gone. A file with
 * a name left (a hard link someone made, say for a backup) or a reader holding it
 * is only closed: its data are still someone's. */
static void release_file(int fd)
{
    struct stat sb;
    if (fstat(fd, &sb) == 0 && sb.st_nlink == 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
        for (off_t size = sb.st_size; size > 0;) {
            size = size > RELEASE_STEP_BYTES ? size - RELEASE_STEP_BYTES : 0;
            if (ftruncate(fd, size) != 0 || fsync(fd) != 0)
                break;
        }
    (void)close(fd);
}

static void *release_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&rel_mu);
    for (;;) {
        while (rel_len == 0)
            pthread_cond_wait(&rel_work, &rel_mu);
        int fd = rel_fds[rel_head];
        rel_head = (rel_head + 1) % RELEASE_QUEUE;
        rel_len--;
        rel_busy = 1;
        pthread_mutex_unlock(&rel_mu);
        release_file(fd); /* nothing to report: the name is already gone */
        pthread_mutex_lock(&rel_mu);
        rel_busy = 0;
        rel_stats.released++;
        if (rel_len == 0)
            pthread_cond_broadcast(&rel_idle);
    }
    return NULL;
}

/* Starts the thread (with every signal blocked: util/thread.h). Called with rel_mu
 * held. */
static bool release_start(void)
{
    pthread_t t;
    return thread_start(&t, true, release_main, NULL) == 0;
}

/* Queues fd for the thread; false when the caller must close it itself. */
static bool release_queue(int fd)
{
    pid_t self = getpid();
    pid_t owner = atomic_load(&rel_owner);
    if (owner != 0 && owner != self)
        return false; /* a forked child, or no thread */
    pthread_mutex_lock(&rel_mu);
    bool queued = false;
    if (atomic_load(&rel_owner) == 0)
        atomic_store(&rel_owner, release_start() ? self : -1);
    if (atomic_load(&rel_owner) == self && rel_len < RELEASE_QUEUE) {
        rel_fds[(rel_head + rel_len) % RELEASE_QUEUE] = fd;
        rel_len++;
        rel_stats.queued++;
        pthread_cond_signal(&rel_work);
        queued = true;
    }
    if (!queued)
        rel_stats.closed_inline++;
    pthread_mutex_unlock(&rel_mu);
    return queued;
}

int storage_release_hold(int fd)
{
    int rc;
    while ((rc = flock(fd, LOCK_SH | LOCK_NB)) < 0 && errno == EINTR)
        ;
    return rc;
}

/* Hands fd to the thread when it is a large regular file (and, with unnamed, one
 * no name holds any more); false when the caller must close it itself. */
static bool queue_large(int fd, bool unnamed)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (!unnamed || sb.st_nlink == 0) &&
           sb.st_size >= (off_t)RELEASE_MIN_BYTES && release_queue(fd);
}

int storage_release_close(int fd)
{
    return queue_large(fd, true) ? 0 : close(fd);
}

int storage_release_unlink(const char *path)
{
    int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    int fd = open(path, O_RDWR | flags); /* writable: the thread truncates it */
    if (fd < 0 && errno == EACCES)
        fd = open(path, O_RDONLY | flags); /* then closed in one go */
    if (fd < 0)
        return unlink(path); /* not a readable regular file: unlink reports why */
    if (unlink(path) < 0) {
        int e = errno;
        (void)close(fd);
        errno = e;
        return -1;
    }
    if (!queue_large(fd, false))
        (void)close(fd);
    return 0;
}

void storage_release_wait(struct storage_release_stats *out)
{
    if (atomic_load(&rel_owner) != getpid()) {
        *out = (struct storage_release_stats){0};
        return;
    }
    pthread_mutex_lock(&rel_mu);
    while (rel_len > 0 || rel_busy)
        pthread_cond_wait(&rel_idle, &rel_mu);
    *out = rel_stats;
    pthread_mutex_unlock(&rel_mu);
}
