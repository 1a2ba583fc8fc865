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

/* ===== Peers ===== */

/* Without a cluster secret, peer traffic is accepted only from nodes this node
 * knows: members of the current configuration, of the ip_list, or peers it has
 * added. A node still joining (no voters yet) must accept its future leader. With
 * a secret, the transport has already authenticated the batch. */
static bool known_sender(struct node *n, raft_id from)
{
    const struct raft_conf *c = raft_current_conf(n->raft);
    return n->secret[0] || raft_conf_voters(c) == 0 || raft_conf_find(c, from) ||
           (int)from < n->cfg->n_nodes || transport_has_peer(n->tp, from);
}

static void on_peer_msg(void *arg, const struct raft_msg *m)
{
    struct node *n = arg;
    if (n->failed)
        return;
    if (!known_sender(n, m->from)) {
        n->m.peer_msgs_rejected++;
        return;
    }
    raft_step(n->raft, m); /* a malformed message is dropped inside the core */
}

/* A peer told us the URL its clients should use (it may differ from the peer URL
 * behind NAT or port mappings); redirects to that peer name it. The URL is taken
 * only from a member (current configuration or ip_list) speaking for itself (the
 * transport checks the whole batch came from that sender; with a cluster secret,
 * the secret authenticated it) and only if it is a plain http(s)://host:port URL,
 * since it ends up in replies to clients. */
static void on_peer_url(void *arg, raft_id from, const char *url, size_t len)
{
    struct node *n = arg;
    char text[CONFIG_URL_MAX], why[128];
    struct config_url parsed;
    if (len == 0 || len >= sizeof text)
        return;
    memcpy(text, url, len);
    text[len] = '\0';
    bool member = raft_conf_find(raft_current_conf(n->raft), from) || (int)from < n->cfg->n_nodes;
    if (!member || from == (raft_id)n->cfg->id || strlen(text) != len ||
        config_url_parse(text, &parsed, why, sizeof why) != 0) {
        n->m.peer_msgs_rejected++;
        return;
    }
    uint32_t k = 0;
    while (k < n->n_client_urls && n->client_urls[k].id != from)
        k++;
    if (k == RAFT_MAX_MEMBERS)
        return;
    if (k == n->n_client_urls) {
        n->n_client_urls++;
        n->client_urls[k].id = from;
    } else if (strlen(n->client_urls[k].url) == len &&
               memcmp(n->client_urls[k].url, url, len) == 0) {
        return;
    }
    memcpy(n->client_urls[k].url, url, len);
    n->client_urls[k].url[len] = '\0';
    log_info("peer %u advertises client URL %s", from, n->client_urls[k].url);
}

/* The transport follows the configuration: every member of the current one gets a
 * peer at its configured address (a learner added at run time is reachable the
 * moment its configuration entry is appended; a member re-added under its id with
 * a new URL is reached there), and a peer in neither the current nor the applied
 * configuration, and not the leader, is dropped. A node that knows no voters yet
 * (joining) keeps its ip_list peers. */
void node_sync_peers(struct node *n)
{
    const struct raft_conf *c = raft_current_conf(n->raft);
    for (uint32_t k = 0; k < c->n; k++) {
        const struct raft_member *mb = &c->m[k];
        if (mb->id == (raft_id)n->cfg->id || !mb->addr[0])
            continue;
        bool known = transport_has_peer(n->tp, mb->id);
        int rv = transport_set_peer(n->tp, mb->id, mb->addr);
        if (rv != RAFT_OK)
            log_warn("peer %u at %s: %s", mb->id, mb->addr, raft_strerror(rv));
        else if (!known)
            log_info("peer %u added at %s", mb->id, mb->addr);
    }
    if (raft_conf_voters(c) == 0)
        return;
    raft_id ids[RAFT_MAX_MEMBERS];
    size_t count = transport_peer_ids(n->tp, ids, RAFT_MAX_MEMBERS);
    for (size_t k = 0; k < count; k++) {
        raft_id id = ids[k];
        /* A leader removing itself still needs our acknowledgements until its
         * removal commits and it has handed over: keep a peer while it leads or
         * while the applied configuration still has it. */
        if (raft_conf_find(c, id) || raft_conf_find(&n->rep.applied_conf, id) ||
            id == raft_leader(n->raft))
            continue;
        if (transport_remove_peer(n->tp, id) == RAFT_OK)
            log_info("peer %u removed", id);
    }
}

/* A secret comes from its file if one is named, else from the environment. */
static int load_secret(const char *file, const char *env_name, char *out, size_t cap)
{
    const char *env = getenv(env_name);
    if (file[0]) {
        FILE *f = fopen(file, "r");
        if (!f || !fgets(out, (int)cap, f)) {
            log_error("secret %s: %s", file, f ? "empty" : strerror(errno));
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        out[strcspn(out, "\r\n")] = '\0';
    } else if (env) {
        snprintf(out, cap, "%s", env);
    }
    return 0;
}

static int start_transport(struct node *n)
{
    struct transport_peer peers[CONFIG_MAX_NODES];
    size_t count = 0;
    for (int k = 0; k < n->cfg->n_nodes; k++)
        if (k != n->cfg->id)
            peers[count++] =
                (struct transport_peer){.id = (raft_id)k, .url = n->cfg->nodes[k].text};
    struct transport_config tc;
    transport_config_defaults(&tc, (raft_id)n->cfg->id);
    /* A partitioned peer pins its in-flight slots until the I/O timeout: keep it
     * near the election timeout so a healed peer catches up promptly (longer only
     * when the limits allow batches past 8 MiB; config.h). */
    tc.io_timeout_ms = n->cfg->peer_io_timeout_ms;
    tc.backoff_max_ms = 500;
    tc.max_batch_bytes = n->cfg->peer_batch_bytes; /* fits the largest entry (config.h) */
    if (load_secret(n->cfg->cluster_secret_file, "VESPER_CLUSTER_SECRET", n->secret,
                    sizeof n->secret) != 0 ||
        load_secret(n->cfg->client_token_file, "VESPER_CLIENT_TOKEN", n->client_token,
                    sizeof n->client_token) != 0)
        return -1;
    tc.secret = n->secret[0] ? n->secret : NULL;
    tc.client_url = n->cfg->advertise_url.text;
    tc.ssl_ctx = tls_client_ctx(n->tls);
    tc.cluster_id = n->cluster_id[0] ? n->cluster_id : NULL; /* "": --join, adopt one */
    int rv = transport_new(&n->tp, &tc, peers, count, on_peer_msg, n);
    if (rv == RAFT_OK) {
        transport_set_url_cb(n->tp, on_peer_url);
        node_cluster_id_attach(n);
    } else {
        log_error("transport: %s", raft_strerror(rv));
    }
    return rv == RAFT_OK ? 0 : -1;
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

/* One log line when a peer stops answering and one when it answers again, from
 * the transport's counters: failures with no success since the last look mean
 * down, any success means up. */
static void watch_peers(struct node *n)
{
    const struct raft_conf *c = raft_current_conf(n->raft);
    for (uint32_t k = 0; k < c->n; k++) {
        raft_id id = c->m[k].id;
        struct transport_stats ts;
        if (id == (raft_id)n->cfg->id || transport_peer_stats(n->tp, id, &ts) != 0)
            continue;
        uint32_t j = 0;
        while (j < n->n_peer_health && n->peer_health[j].id != id)
            j++;
        if (j == n->n_peer_health) {
            if (j == RAFT_MAX_MEMBERS)
                continue;
            n->n_peer_health++;
            n->peer_health[j].id = id;
        }
        bool ok = ts.batches_ok > n->peer_health[j].ok;
        bool failed = ts.send_errors > n->peer_health[j].errors;
        if (ok && n->peer_health[j].down)
            log_info("peer %u up", id);
        else if (failed && !ok && !n->peer_health[j].down)
            log_warn(
                "peer %u down (%llu failed requests so far; last: %s)", id,
                (unsigned long long)ts.send_errors,
                transport_peer_last_error(n->tp, id) ? transport_peer_last_error(n->tp, id) : "?");
        if (ok || failed)
            n->peer_health[j].down = failed && !ok;
        n->peer_health[j].ok = ts.batches_ok;
        n->peer_health[j].errors = ts.send_errors;
    }
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    struct node *n = H2O_STRUCT_FROM_MEMBER(struct node, tick_entry, entry);
    if (n->failed)
        return;
    raft_tick(n->raft);
    replica_lease_tick(&n->rep); /* the leader's lease expiries, proposed like any write */
    if (++n->ticks % 50 == 0)
        watch_peers(n);
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
    if (start_transport(n) != 0 || node_routes_register(n, host) != 0)
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
    return node_open_listener(n);
}

static void shutdown_node(struct node *n)
{
    node_snapshot_abandon(n);
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
