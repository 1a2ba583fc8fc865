/* snapfork.c: vesperd's background snapshots. When the log passes its threshold
 * the replica asks node_snapshot_background to take the snapshot; it names the
 * snapshot on the loop (replica_snapshot_prepare), forks, and the child encodes
 * the state machine and writes the file (replica_snapshot_write) from its
 * copy-on-write image of the process, so the loop goes on serving while that
 * runs. Each tick, node_snapshot_poll reaps the child and adopts the file on the
 * loop (replica_snapshot_finish): storage compacts the log behind it and the core
 * learns of it. One writer at a time; the threshold asks again after it.
 *
 * A small state (under --snapshot-fork-bytes of keys and values, 16 MiB by default)
 * is written on the loop instead: encoding it takes milliseconds, while a fork has
 * costs of its own that do not shrink with the state: copying the page tables,
 * a page fault for the first write to every page the loop touches while the
 * child lives, and a second process competing for the cores. With three nodes on
 * two shared cores, a 10,000-key state (2.8 MB) snapshotted on the loop gave a
 * PUT p99 of 23-33 ms at 256 connections, by a forked child 50-108 ms.
 *
 * Failure rules: a child whose storage failed (a write or fsync error: exit
 * status CHILD_STORAGE_FAILED, its message logged by the child) is a storage
 * failure of this node, fail stop, as a snapshot written on the loop would be,
 * unless a newer snapshot (an install from the leader, a backup's) took its place
 * meanwhile, in which case its work is simply dropped. A child that failed for any
 * other reason (out of memory, killed by the OOM killer) leaves the disk as it was:
 * the snapshot is then taken on the loop, as it is when fork itself fails.
 *
 * A state reload (a rejected snapshot transfer) and a backup's on-the-spot snapshot
 * first kill a running writer: a reload's recovery removes temporary files, and the
 * backup would write the same temporary file. The child dies with the parent
 * (PR_SET_PDEATHSIG), so it never renames a file into a directory a restarted node
 * owns.
 *
 * The child closes every descriptor but its report pipe first: it must not keep
 * the parent's client and peer sockets open (a connection the parent closes would
 * otherwise stay open until the child exits), and it touches nothing but the data
 * directory, by path, and its own memory. It calls only malloc (which glibc makes
 * safe after fork in a process with threads, such as h2o's name-lookup threads)
 * and system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kv/kv.h"
#include "node/node.h"
#include "util/logging.h"

enum { CHILD_OK = 0, CHILD_OTHER_FAILURE = 1, CHILD_STORAGE_FAILED = 2 };

/* The writer runs at this nice value: when the cores are saturated, the servers'
 * loops (and clients on the same machine) go first, and the writer takes what is
 * left. Not lower: at nice 5 the scheduler still gives it about a quarter of a
 * contended core's time (weight 335 against 1024), so a snapshot under steady full
 * load takes longer but always ends, and the log it lets the node compact does not
 * grow without bound meanwhile. */
#define CHILD_NICE 5

/* And in the idle I/O class: a block scheduler that honours classes (mq-deadline,
 * bfq) dispatches the servers' WAL writes ahead of the writer's, and still serves
 * the writer's within its aging limit (mq-deadline: 10 s), so it always ends. */
#define IOPRIO_CLASS_IDLE_VALUE  (3 << 13) /* class 3 in the top bits, level 0 */
#define IOPRIO_WHO_PROCESS_VALUE 1

/* Every descriptor from 4 up (close_range needs Linux 5.9 and may be refused by a
 * container's seccomp profile; the loop is the fallback). */
static void close_from_4(void)
{
    if (close_range(4, ~0U, 0) == 0)
        return;
    struct rlimit rl;
    int max =
        getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (int)rl.rlim_cur : 1 << 20;
    for (int fd = 4; fd < max; fd++)
        close(fd);
}

/* In the child. Never returns to the loop. */
static _Noreturn void run_child(struct node *n, int report, pid_t parent)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(CHILD_OTHER_FAILURE);
    if (report != 3 && dup2(report, 3) != 3)
        _exit(CHILD_OTHER_FAILURE);
    close_from_4();
    if (setpriority(PRIO_PROCESS, 0, CHILD_NICE) != 0)
        log_debug("snapshot writer: setpriority: %s", strerror(errno)); /* runs anyway */
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS_VALUE, 0, IOPRIO_CLASS_IDLE_VALUE) != 0)
        log_debug("snapshot writer: ioprio_set: %s", strerror(errno));
    struct replica_snap_job *job = &n->snap_child.job;
    int rv = replica_snapshot_write(&n->rep, job);
    if (rv == -2) {
        log_error("snapshot at %llu: %s", (unsigned long long)job->index, storage_errmsg(n->st));
        _exit(CHILD_STORAGE_FAILED);
    }
    uint64_t size = job->size;
    if (rv != 0 || write(3, &size, sizeof size) != (ssize_t)sizeof size)
        _exit(CHILD_OTHER_FAILURE);
    _exit(CHILD_OK);
}

bool node_snapshot_background(void *arg)
{
    struct node *n = arg;
    if (n->snap_child.pid > 0)
        return true; /* one writer at a time */
    if (n->kv->map.data_bytes < n->cfg->snapshot_fork_bytes)
        return false; /* small: quicker on the loop than fork and copy-on-write */
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
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("snapshot: fork: %s; writing it on the loop", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0)
        run_child(n, fds[1], parent);
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
    int wait_errno = errno;
    if (got < 0 && wait_errno == EINTR)
        return;
    uint64_t size = 0;
    ssize_t r = read(n->snap_child.pipe, &size, sizeof size);
    close(n->snap_child.pipe);
    n->snap_child.pid = 0;
    struct replica_snap_job *job = &n->snap_child.job;
    bool exited = got > 0 && WIFEXITED(status);
    if (exited && WEXITSTATUS(status) == CHILD_OK && r == (ssize_t)sizeof size) {
        job->size = size;
        replica_snapshot_finish(&n->rep, job, true);
        return;
    }
    if (exited && WEXITSTATUS(status) == CHILD_STORAGE_FAILED) {
        replica_snapshot_finish(&n->rep, job, false); /* fail stop, unless overtaken */
        return;
    }
    log_warn("snapshot at %llu: the writer failed (%s); writing it on the loop",
             (unsigned long long)job->index,
             got < 0               ? strerror(wait_errno)
             : WIFSIGNALED(status) ? strsignal(WTERMSIG(status))
                                   : "out of memory or no descriptors");
    replica_snapshot(&n->rep); /* fails stop when it must */
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
