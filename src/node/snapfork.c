/* snapfork.c: vesperd's background snapshots. When the log passes its threshold
 * the replica asks node_snapshot_background to take the snapshot; it names the
 * snapshot on the loop (replica_snapshot_prepare), forks, and the child encodes
 * the state machine and writes the file (replica_snapshot_write) from its
 * copy-on-write image of the process, so the loop goes on serving while that
 * runs. Each tick, node_snapshot_poll reaps the child and adopts the file on the
 * loop (replica_snapshot_finish): storage compacts the log behind it and the core
 * learns of it. One writer at a time; the threshold asks again after it.
 *
 * Failure rules: a child that fails (an fsync or write error, out of memory, a
 * crash) is a storage failure of this node, fail stop, as a snapshot written on
 * the loop would be; unless a newer snapshot (an install from the leader, a
 * backup's) took its place meanwhile, in which case its work is simply dropped.
 * When fork itself fails the snapshot is taken on the loop instead.
 *
 * The child closes every descriptor but its report pipe first: it must not keep
 * the parent's client and peer sockets open (a connection the parent closes would
 * otherwise stay open until the child exits), and it touches nothing but the data
 * directory, by path, and its own memory. vesperd runs one thread, so the child
 * inherits no lock held by another.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/node.h"
#include "util/logging.h"

/* In the child: 0 with the file written, 1 otherwise. Never returns to the loop. */
static void run_child(struct node *n, int report)
{
    if (report != 3 && dup2(report, 3) != 3)
        _exit(1);
    if (close_range(4, ~0U, 0) != 0)
        _exit(1);
    struct replica_snap_job *job = &n->snap_child.job;
    if (replica_snapshot_write(&n->rep, job) != 0)
        _exit(1);
    uint64_t size = job->size;
    _exit(write(3, &size, sizeof size) == (ssize_t)sizeof size ? 0 : 1);
}

bool node_snapshot_background(void *arg)
{
    struct node *n = arg;
    if (n->snap_child.pid > 0)
        return true; /* one writer at a time */
    struct replica_snap_job job;
    if (replica_snapshot_prepare(&n->rep, &job) <= 0)
        return true; /* nothing new to write, or failed (the replica says so) */
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        log_warn("snapshot: pipe: %s; writing it on the loop", strerror(errno));
        return false;
    }
    job.forked = true;
    n->snap_child.job = job;
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("snapshot: fork: %s; writing it on the loop", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0)
        run_child(n, fds[1]);
    close(fds[1]);
    n->snap_child.pid = pid;
    n->snap_child.pipe = fds[0];
    log_debug("snapshot at %llu: writer pid %d started", (unsigned long long)job.index, (int)pid);
    return true;
}

void node_snapshot_poll(struct node *n)
{
    if (n->snap_child.pid <= 0)
        return;
    int status = 0;
    pid_t got = waitpid(n->snap_child.pid, &status, WNOHANG);
    if (got == 0)
        return;
    if (got < 0 && errno == EINTR)
        return;
    uint64_t size = 0;
    ssize_t r = read(n->snap_child.pipe, &size, sizeof size);
    close(n->snap_child.pipe);
    n->snap_child.pid = 0;
    bool ok = got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && r == (ssize_t)sizeof size;
    if (!ok)
        log_error("snapshot at %llu: the writer failed (%s)",
                  (unsigned long long)n->snap_child.job.index,
                  got < 0               ? strerror(errno)
                  : WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
                                        : "an error it logged");
    n->snap_child.job.size = size;
    replica_snapshot_finish(&n->rep, &n->snap_child.job, ok); /* fails stop when it must */
}

void node_snapshot_abandon(struct node *n)
{
    if (n->snap_child.pid <= 0)
        return;
    kill(n->snap_child.pid, SIGKILL);
    while (waitpid(n->snap_child.pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(n->snap_child.pipe);
    n->snap_child.pid = 0;
}
