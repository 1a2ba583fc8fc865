/* peers.c: a node's side of its peers: the transport it starts (cluster secret,
 * client token), which senders it accepts, the client URLs peers advertise, the
 * peer list kept in step with the configuration, and the log lines when a peer
 * goes down or comes back.
 */
#include "node/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"
#include "net/transport.h"
#include "util/logging.h"

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

int node_start_transport(struct node *n)
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

/* One log line when a peer stops answering and one when it answers again, from
 * the transport's counters: failures with no success since the last look mean
 * down, any success means up. */
void node_watch_peers(struct node *n)
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
