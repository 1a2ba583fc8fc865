/* install_thread.c: vesperd decodes a snapshot installed from the leader on a
 * thread of its own, so a follower's loop keeps answering heartbeats and
 * appending entries while a large state is rebuilt (replica_restore.c has the
 * three steps and what the core holds back meanwhile).
 *
 * node_install_background is the replica's restore_background operation: it
 * starts one thread (signals blocked, util/thread.h), which runs replica_restore_decode, marks the
 * job done and writes an eventfd. The loop watches that eventfd: once the job is done it joins the
 * thread (already over) and calls replica_restore_finish, which swaps the new state in; the Ready
 * loop that follows hands out what was held. A wake-up that finds no finished job (one from a job
 * dropped since) is ignored.
 *
 * node_install_join is the restore_join operation: the replica drops a job
 * (a newer install, a reload, shutdown) after telling the decoder to stop at
 * its next read, so the join waits at most for one piece of the file.
 *
 * node_release_state is the release_state operation: the replaced state machine
 * is freed on a detached thread (a 1M-key state takes about a tenth of a second
 * to free), or on the loop if no thread can be started.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kv/kv.h"
#include "node/node.h"
#include "util/logging.h"
#include "util/thread.h"

static void *decode_main(void *arg)
{
    struct node *n = arg;
    replica_restore_decode(&n->rep);
    atomic_store(&n->install.done, true);
    uint64_t one = 1;
    while (write(n->install.efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void join(struct node *n)
{
    pthread_join(n->install.thread, NULL);
    n->install.running = false;
}

static void on_decoded(h2o_socket_t *sock, const char *err)
{
    struct node *n = sock->data;
    if (err)
        node_fatal("install thread wake-up", err);
    h2o_buffer_consume(&sock->input, sock->input->size); /* the eventfd's counter */
    if (!n->install.running || !atomic_load(&n->install.done))
        return; /* from a job dropped since */
    join(n);
    replica_restore_finish(&n->rep); /* a state that does not decode is fail stop */
}

static bool watch_start(struct node *n)
{
    if (n->install.watch)
        return true;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        log_warn("snapshot install: eventfd: %s; decoding on the loop", strerror(errno));
        return false;
    }
    n->install.efd = fd; /* h2o owns it from here and closes it with the socket */
    n->install.watch = h2o_evloop_socket_create(n->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    n->install.watch->data = n;
    h2o_socket_read_start(n->install.watch, on_decoded);
    return true;
}

bool node_install_background(void *arg)
{
    struct node *n = arg;
    if (!n->ctx.loop || n->install.running || !watch_start(n))
        return false;
    atomic_store(&n->install.done, false);
    int rc = thread_start(&n->install.thread, false, decode_main, n);
    if (rc != 0) {
        log_warn("snapshot install: thread: %s; decoding on the loop", strerror(rc));
        return false;
    }
    n->install.running = true;
    return true;
}

void node_install_join(void *arg)
{
    struct node *n = arg;
    if (n->install.running)
        join(n);
}

static void *release_main(void *arg)
{
    kv_free(arg);
    return NULL;
}

void node_release_state(void *arg, struct kv *old)
{
    (void)arg;
    pthread_t t;
    if (thread_start(&t, true, release_main, old) != 0)
        kv_free(old);
}
