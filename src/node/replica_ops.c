/* replica_ops.c: vesperd's side of the Ready loop: the operations through which the
 * replica (src/replica: core, storage, state machine and the ordering between
 * them) reaches the h2o transport, the table of waiting client requests, the
 * clock, the metrics and the log.
 *
 * The loop itself lives in src/replica/replica_loop.c so the deterministic
 * simulation runs the very ordering vesperd ships. What stays here is what only
 * a server has: log lines and metrics on role changes, pending requests answered
 * when their entry applies or their read is released, fail stop that answers the
 * waiting clients before the process exits. And the watch on storage's sync
 * thread: when a leader's fdatasync that trails the loop completes, its eventfd
 * wakes the loop, the replica learns what is durable, and the loop's next
 * node_process_ready() commits what that allows.
 */
#include "node/node.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/transport.h"
#include "replica/replica.h"
#include "util/logging.h"

/* The replica swaps its core and storage on a reload; the shell's shortcuts follow. */
void node_bind_replica(struct node *n)
{
    n->raft = n->rep.raft;
    n->st = n->rep.st;
    n->kv = n->rep.kv;
}

static void on_sync_done(h2o_socket_t *sock, const char *err)
{
    struct node *n = sock->data;
    if (err)
        node_fatal("sync thread wake-up", err);
    h2o_buffer_consume(&sock->input, sock->input->size); /* the eventfd's counter */
    replica_sync_done(&n->rep); /* a failed fdatasync never returns: op_fail_stop exits */
}

void node_sync_watch(struct node *n)
{
    if (n->sync_watch) { /* closes the dup, not storage's eventfd */
        h2o_socket_close(n->sync_watch);
        n->sync_watch = NULL;
    }
    int efd = n->st ? storage_sync_fd(n->st) : -1;
    if (efd < 0 || !n->ctx.loop)
        return;
    /* h2o closes the descriptor it watches; storage closes its own. */
    int fd = dup(efd);
    if (fd < 0)
        node_fatal("sync thread wake-up", strerror(errno));
    n->sync_watch = h2o_evloop_socket_create(n->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    n->sync_watch->data = n;
    h2o_socket_read_start(n->sync_watch, on_sync_done);
}

static uint64_t op_now_us(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void op_send(void *arg, const struct raft_msg *m)
{
    struct node *n = arg;
    transport_send(n->tp, m);
}

/* The Ready loop flushes before its fsync too. A follower's requests from the
 * leader then wait for the acknowledgements that follow the fsync, to carry them
 * back (node_process_ready answers them); a leader's messages do not wait for its
 * own fsync (thesis 10.2.1), wherever they go. */
static void op_flush(void *arg)
{
    struct node *n = arg;
    if (raft_role(n->raft) == RAFT_LEADER)
        transport_flush(n->tp);
    else
        transport_flush_requests(n->tp);
}

static void op_write_done(void *arg, const struct raft_entry *e, const struct kv_result *res)
{
    node_complete_write(arg, e, res);
}

static void op_read_done(void *arg, const struct raft_read_result *rr)
{
    node_complete_read(arg, rr);
}

static void op_leadership_lost(void *arg)
{
    node_leadership_lost(arg);
}

static void op_reloading(void *arg)
{
    struct node *n = arg;
    if (n->sync_watch) {
        h2o_socket_close(n->sync_watch);
        n->sync_watch = NULL;
    }
    node_snapshot_abandon(arg); /* recovery removes the writer's temporary file */
    node_expire_pending(arg, true);
}

static void op_reloaded(void *arg)
{
    node_bind_replica(arg);
    node_sync_watch(arg);
}

static void op_synced(void *arg, uint64_t us)
{
    struct node *n = arg;
    metrics_observe(&n->m.fsync, (double)us / 1e6);
}

static void op_log(void *arg, enum replica_log_level level, const char *line)
{
    (void)arg;
    log_msg(level == REPLICA_LOG_ERROR  ? LOG_ERROR
            : level == REPLICA_LOG_WARN ? LOG_WARN
                                        : LOG_INFO,
            "%s", line);
}

static void op_fail_stop(void *arg, const char *what, const char *detail)
{
    node_fail_stop(arg, what, detail);
}

static void note_role(struct node *n)
{
    raft_id leader = raft_leader(n->raft);
    raft_term term = raft_term_now(n->raft);
    enum raft_role role = raft_role(n->raft);
    if (role == RAFT_CANDIDATE && (n->last_role != RAFT_CANDIDATE || term != n->last_term))
        n->m.elections_started++;
    if (leader != n->last_leader) {
        n->m.leader_changes++;
        if (leader == (raft_id)n->cfg->id)
            log_info("election won: leader of term %llu", (unsigned long long)term);
        else if (leader == RAFT_NONE)
            log_info("no leader in term %llu (%s)", (unsigned long long)term, raft_role_name(role));
        else
            log_info("leader is node %u in term %llu", leader, (unsigned long long)term);
    } else if (term != n->last_term) {
        log_info("term %llu (%s)", (unsigned long long)term, raft_role_name(role));
    }
    n->last_leader = leader;
    n->last_term = term;
    n->last_role = role;
}

static void op_after_ready(void *arg)
{
    struct node *n = arg;
    node_sync_peers(n);
    note_role(n);
}

const struct replica_ops node_replica_ops = {
    .send = op_send,
    .flush = op_flush,
    .write_done = op_write_done,
    .read_done = op_read_done,
    .leadership_lost = op_leadership_lost,
    .after_ready = op_after_ready,
    .reloading = op_reloading,
    .reloaded = op_reloaded,
    .now_us = op_now_us,
    .synced = op_synced,
    .log = op_log,
    .snapshot_background = node_snapshot_background,
    .restore_background = node_install_background,
    .restore_join = node_install_join,
    .release_state = node_release_state,
    .fail_stop = op_fail_stop,
};

void node_process_ready(struct node *n)
{
    replica_process(&n->rep); /* a failure never returns: op_fail_stop exits */
    transport_flush(n->tp);   /* answers peers' requests, with what goes back to them */
    node_backups_start(n);    /* snapshots are taken between replica_process calls */
    n->m.applied_entries = n->rep.stats.applied_entries;
    n->m.snapshots_taken = n->rep.stats.snapshots_taken;
    n->m.snapshots_installed = n->rep.stats.snapshots_installed;
    n->m.snapshot_us_total = n->rep.stats.snapshot_us_total;
}
