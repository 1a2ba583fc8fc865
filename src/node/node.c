/* node.c: vesperd's life cycle: start-up, the h2o loop, the fixed tick, and a
 * graceful stop.
 *
 * The loop is `h2o_evloop_run(); node_process_ready();`: each evloop call runs one
 * iteration (poll, callbacks, timeouts), so the statement after it is the
 * natural group-commit point (the "before sleep" hook of Redis's AOF). Time in
 * the core is a fixed tick re-linked on every expiry, because an h2o 2.2.5
 * timeout list has one fixed duration while election timeouts are randomized.
 *
 * SIGTERM/SIGINT (vesperd is PID 1 in its container): stop accepting, keep
 * running the core while requests wait on the log and relays wait on the leader
 * (they may still complete: their answers are the true ones), for at most a
 * grace period. Then answer whatever is left (writes "timeout": they may commit
 * elsewhere; reads "unavailable"), run the loop a moment longer so every answer
 * reaches its socket (HTTP/2 writes frames on a later loop turn), sync, exit 0.
 */
#include "node/node.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kv/kv.h"
#include "net/tls.h"
#include "net/transport.h"
#include "storage/storage.h"
#include "util/logging.h"

#define STOP_GRACE_MS 2000
#define STOP_FLUSH_MS 200 /* after the grace period, for the last answers to go out */

volatile sig_atomic_t node_stop_signal;

static void on_signal(int sig)
{
    (void)sig;
    node_stop_signal = 1;
}

uint64_t node_now_ms(struct node *n)
{
    return h2o_now(n->ctx.loop);
}

_Noreturn void node_fatal(const char *what, const char *detail)
{
    log_error("fatal: %s: %s", what, detail ? detail : "");
    _exit(1);
}

/* Fail stop after a storage error (disk full, I/O error): the node no longer knows
 * what its disk holds, so it must not vote or acknowledge again. Before exiting,
 * every waiting client gets a clear answer instead of a dropped connection, and
 * the loop runs a moment longer (without the core) to deliver those answers. */
_Noreturn void node_fail_stop(struct node *n, const char *what, const char *detail)
{
    log_error("fatal: %s: %s", what, detail ? detail : "");
    n->failed = true;
    char msg[300];
    snprintf(msg, sizeof msg, "storage failed (%s): this node stops", detail ? detail : what);
    node_fail_pending(n, msg);
    uint64_t end = node_now_ms(n) + 200;
    while (node_now_ms(n) < end && h2o_evloop_run(n->ctx.loop, 10) == 0) {
    }
    node_snapshot_abandon(n);
    _exit(1);
}

const char *node_client_url(struct node *n, raft_id id)
{
    if (id == (raft_id)n->cfg->id)
        return n->cfg->advertise_url.text;
    for (uint32_t k = 0; k < n->n_client_urls; k++)
        if (n->client_urls[k].id == id)
            return n->client_urls[k].url;
    const struct raft_member *mb = raft_conf_find(raft_current_conf(n->raft), id);
    if (mb && mb->addr[0])
        return mb->addr;
    if ((int)id < n->cfg->n_nodes)
        return n->cfg->nodes[id].text;
    return NULL;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ===== Tick and stop ===== */

static void begin_stop(struct node *n)
{
    n->stopping = true;
    n->stop_deadline_ms = node_now_ms(n) + STOP_GRACE_MS;
    if (n->listener) {
        h2o_socket_read_stop(n->listener);
        h2o_socket_close(n->listener);
        n->listener = NULL;
    }
    log_info("stopping: no new connections, finishing in-flight requests");
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    struct node *n = H2O_STRUCT_FROM_MEMBER(struct node, tick_entry, entry);
    if (n->failed)
        return;
    raft_tick(n->raft);
    replica_lease_tick(&n->rep); /* the leader's lease expiries, proposed like any write */
    if (++n->ticks % 50 == 0)
        node_watch_peers(n);
    node_expire_pending(n, false);
    node_tls_poll(n);
    node_snapshot_poll(n); /* adopts a snapshot a forked writer finished */
    if (node_stop_signal && !n->stopping)
        begin_stop(n);
    h2o_timeout_link(n->ctx.loop, &n->tick_timeout, &n->tick_entry);
}

static bool drained(struct node *n)
{
    return h2o_linklist_is_empty(&n->writes) && h2o_linklist_is_empty(&n->reads) &&
           node_forward_in_flight() == 0;
}

/* The core no longer runs (no ready is processed, so nothing is promised to a
 * peer); the loop only writes the answers already given and any still queued. */
static void flush_answers(struct node *n)
{
    node_expire_pending(n, true);
    uint64_t end = node_now_ms(n) + STOP_FLUSH_MS;
    while (node_now_ms(n) < end && n->n_conns > 0 && h2o_evloop_run(n->ctx.loop, 10) == 0) {
    }
}

static int setup_http(struct node *n)
{
    h2o_config_init(&n->h2o_cfg);
    /* Peer batches may be larger than client bodies; node_handler_add holds the client
     * endpoints to --max-body-bytes. */
    n->h2o_cfg.max_request_entity_size = n->cfg->http_body_bytes;
    n->h2o_cfg.http1.req_timeout = n->cfg->idle_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&n->h2o_cfg, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (node_start_transport(n) != 0 || node_routes_register(n, host) != 0)
        return -1;
    h2o_context_init(&n->ctx, h2o_evloop_create(), &n->h2o_cfg);
    h2o_linklist_init_anchor(&n->reserved_conns);
    n->accept_ctx.ctx = &n->ctx;
    n->accept_ctx.hosts = n->h2o_cfg.hosts;
    transport_start(n->tp, &n->ctx);
    node_tls_start(n);
    h2o_timeout_init(n->ctx.loop, &n->tick_timeout, n->cfg->tick_ms);
    n->tick_entry.cb = on_tick;
    h2o_timeout_link(n->ctx.loop, &n->tick_timeout, &n->tick_entry);
    node_sync_watch(n);
    return node_open_listener(n);
}

static void shutdown_node(struct node *n)
{
    node_snapshot_abandon(n);
    replica_restore_drop(&n->rep); /* a decode beside the loop ends first */
    flush_answers(n);
    if (storage_sync(n->st) != STORAGE_OK)
        node_fatal("final sync", storage_errmsg(n->st));
    transport_free(n->tp);
    tls_free(n->tls);
    storage_close(n->st);
    raft_free(n->raft);
    kv_free(n->kv);
    free(n->rep.snap_buf);
    log_info("stopped");
}

int node_run(const struct vesper_config *cfg)
{
    static struct node node; /* large; lives for the whole process */
    struct node *n = &node;
    n->cfg = cfg;
    n->last_leader = RAFT_NONE;
    log_setup(cfg->id, (enum log_level)cfg->log_level, cfg->log_json);
    log_info("vesperd starting: node %d of %d, data %s", cfg->id, cfg->n_nodes, cfg->data_dir);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    char err[512];
    if (node_tls_setup(n, err, sizeof err) != 0) {
        log_error("%s", err);
        return 2; /* a bad configuration, like config_parse's */
    }
    h2o_linklist_init_anchor(&n->writes);
    h2o_linklist_init_anchor(&n->reads);
    h2o_linklist_init_anchor(&n->backups);
    h2o_linklist_init_anchor(&n->watchers);
    if (node_open_state(n) != 0 || setup_http(n) != 0)
        return 1;
    n->started_ms = node_now_ms(n);
    while (!(n->stopping && (drained(n) || node_now_ms(n) >= n->stop_deadline_ms))) {
        if (h2o_evloop_run(n->ctx.loop, INT32_MAX) != 0 && errno != EINTR) {
            log_error("event loop: %s", strerror(errno));
            return 1;
        }
        node_process_ready(n);
        node_watch_pump(n);
    }
    shutdown_node(n);
    return 0;
}
