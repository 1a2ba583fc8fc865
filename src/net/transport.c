/* transport.c: the peer table (set-up, peers added, changed and removed, tear-down)
 * of the peer transport; sending is transport_send.c, POST /raft transport_recv.c,
 * answers carrying messages back transport_reply.c, the counters transport_stats.c.
 * See transport.h for the contract.
 *
 * Shape: one struct peer per remote node holds a pending batch (struct codec_buf)
 * that transport_send() appends to, and a list of requests in flight. A request
 * owns its encoded body until h2o reports the end of the exchange. h2o 2.2.5's
 * http1client sends one request per connection at a time (no HTTP pipelining), so
 * "max_inflight requests" means at most that many pooled connections busy for the
 * peer; idle ones stay in the socketpool for keep-alive. The socketpool's own
 * capacity is not enforced by h2o 2.2.5 ("FIXME respect capacity"), which is why
 * the in-flight limit lives here.
 *
 * Why batches are dropped during back-off instead of queued: a down peer would
 * otherwise pin max_batch_bytes of stale heartbeats and appends per peer and
 * receive them in one burst on return; the core resends what still matters.

 */
#include "net/transport.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "net/transport_int.h"

void transport_config_defaults(struct transport_config *cfg, raft_id self)
{
    *cfg = (struct transport_config){
        .self = self,
        .max_inflight = 2,
        .max_batch_bytes = 8u << 20,
        .io_timeout_ms = 2000,
        .idle_close_ms = 5000,
        .backoff_min_ms = 20,
        .backoff_max_ms = 1000,
    };
}

struct peer *transport__find_peer(const struct transport *t, raft_id id)
{
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].used && t->peers[i].id == id)
            return (struct peer *)&t->peers[i];
    return NULL;
}

/* ===== Set-up and tear-down ===== */

/* https:// peers need a client TLS context. */
static bool scheme_ok(const struct transport *t, const h2o_url_scheme_t *scheme)
{
    return scheme == &H2O_URL_SCHEME_HTTP ||
           (scheme == &H2O_URL_SCHEME_HTTPS && t->client_ctx.ssl_ctx != NULL);
}

static int peer_init(struct transport *t, struct peer *p, const struct transport_peer *src)
{
    p->id = src->id;
    p->t = t;
    codec_buf_init(&p->pending);
    codec_buf_init(&p->reply);
    if (src->id == t->cfg.self || transport__find_peer(t, src->id) != NULL || src->url == NULL ||
        strlen(src->url) >= RAFT_ADDR_MAX) /* a member address holds the URL */
        return RAFT_EINVAL;
    if ((p->url = strdup(src->url)) == NULL)
        return RAFT_ENOMEM;
    if (h2o_url_parse(p->url, SIZE_MAX, &p->parsed) != 0 || !scheme_ok(t, p->parsed.scheme)) {
        free(p->url);
        p->url = NULL;
        return RAFT_EINVAL;
    }
    h2o_socketpool_init_by_hostport(&p->pool, p->parsed.host, h2o_url_get_port(&p->parsed),
                                    p->parsed.scheme == &H2O_URL_SCHEME_HTTPS, t->cfg.max_inflight);
    p->used = true;
    return RAFT_OK;
}

int transport_new(struct transport **out, const struct transport_config *cfg,
                  const struct transport_peer *peers, size_t n_peers, transport_recv_cb recv_cb,
                  void *recv_arg)
{
    if (cfg->max_inflight == 0 || cfg->max_batch_bytes < 64 || n_peers > RAFT_MAX_MEMBERS ||
        recv_cb == NULL)
        return RAFT_EINVAL;
    struct transport *t = calloc(1, sizeof *t);
    if (t == NULL)
        return RAFT_ENOMEM;
    t->cfg = *cfg;
    t->cfg.secret = t->cfg.client_url = t->cfg.cluster_id = NULL;
    if ((cfg->secret && !(t->secret = strdup(cfg->secret))) ||
        (cfg->client_url && !(t->client_url = strdup(cfg->client_url))) ||
        (cfg->cluster_id && !(t->cluster_id = strdup(cfg->cluster_id)))) {
        transport_free(t);
        return RAFT_ENOMEM;
    }
    t->recv_cb = recv_cb;
    t->recv_arg = recv_arg;
    t->client_ctx.ssl_ctx = cfg->ssl_ctx;
    codec_scratch_init(&t->scratch);
    for (size_t i = 0; i < n_peers; i++) {
        int rc = peer_init(t, &t->peers[i], &peers[i]);
        if (rc != RAFT_OK) {
            transport_free(t);
            return rc;
        }
        t->n_peers++;
    }
    *out = t;
    return RAFT_OK;
}

void transport_start(struct transport *t, h2o_context_t *ctx)
{
    assert(t->ctx == NULL);
    t->ctx = ctx;
    h2o_timeout_init(ctx->loop, &t->io_timeout, t->cfg.io_timeout_ms);
    t->client_ctx.loop = ctx->loop;
    t->client_ctx.getaddr_receiver = &ctx->receivers.hostinfo_getaddr;
    t->client_ctx.io_timeout = &t->io_timeout;
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].used)
            h2o_socketpool_set_timeout(&t->peers[i].pool, ctx->loop, t->cfg.idle_close_ms);
}

void transport__request_free(struct request *r)
{
    struct peer *p = r->peer;
    assert(p->n_inflight > 0);
    for (struct request **pp = &p->inflight; *pp != NULL; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    p->n_inflight--;
    codec_buf_free(&r->body);
    free(r);
}

/* Cancels the peer's requests (their messages count as dropped), closes its
 * connections and frees the slot. h2o_http1client_cancel closes synchronously
 * and never calls back, so nothing refers to the pool once this returns. */
static void peer_teardown(struct peer *p)
{
    while (p->inflight != NULL) {
        struct request *r = p->inflight;
        p->st.msgs_dropped += r->n_msgs;
        h2o_http1client_cancel(r->client);
        transport__request_free(r);
    }
    transport__answer_held(p); /* what was meant for its answers goes with them */
    codec_buf_free(&p->pending);
    codec_buf_free(&p->reply);
    h2o_socketpool_dispose(&p->pool);
    free(p->url);
    p->url = NULL;
    p->used = false;
}

void transport_free(struct transport *t)
{
    if (t == NULL)
        return;
    if (t->handler != NULL)
        t->handler->t = NULL;
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].used)
            peer_teardown(&t->peers[i]);
    if (t->ctx != NULL)
        h2o_timeout_dispose(t->ctx->loop, &t->io_timeout);
    codec_scratch_free(&t->scratch);
    free(t->secret);
    free(t->client_url);
    free(t->cluster_id);
    free(t);
}

int transport_add_peer(struct transport *t, raft_id id, const char *url)
{
    size_t slot = 0;
    while (slot < t->n_peers && t->peers[slot].used)
        slot++;
    if (slot == RAFT_MAX_MEMBERS)
        return RAFT_EBUSY;
    struct transport_peer src = {.id = id, .url = url};
    struct peer *p = &t->peers[slot];
    memset(p, 0, sizeof *p);
    int rc = peer_init(t, p, &src);
    if (rc != RAFT_OK) {
        codec_buf_free(&p->pending);
        codec_buf_free(&p->reply);
        return rc;
    }
    if (t->ctx != NULL)
        h2o_socketpool_set_timeout(&p->pool, t->ctx->loop, t->cfg.idle_close_ms);
    if (slot == t->n_peers)
        t->n_peers++;
    return RAFT_OK;
}

int transport_remove_peer(struct transport *t, raft_id id)
{
    struct peer *p = transport__find_peer(t, id);
    if (p == NULL)
        return RAFT_EINVAL;
    peer_teardown(p);
    return RAFT_OK;
}

int transport_set_peer(struct transport *t, raft_id id, const char *url)
{
    struct peer *p = transport__find_peer(t, id);
    if (p != NULL && strcmp(p->url, url) == 0)
        return RAFT_OK;
    h2o_url_t parsed;
    if (id == t->cfg.self || url == NULL || h2o_url_parse(url, SIZE_MAX, &parsed) != 0 ||
        !scheme_ok(t, parsed.scheme))
        return RAFT_EINVAL; /* checked first: a bad URL leaves the old peer alone */
    if (p != NULL)
        peer_teardown(p);
    return transport_add_peer(t, id, url);
}

size_t transport_peer_ids(const struct transport *t, raft_id *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].used && k < cap)
            out[k++] = t->peers[i].id;
    return k;
}

int transport_has_peer(const struct transport *t, raft_id id)
{
    return transport__find_peer(t, id) != NULL;
}

void transport_set_url_cb(struct transport *t, transport_url_cb cb)
{
    t->url_cb = cb;
}

void transport_set_ssl_ctx(struct transport *t, SSL_CTX *ctx)
{
    t->client_ctx.ssl_ctx = ctx;
}

void transport_set_peer_check(struct transport *t, transport_peer_check_cb cb)
{
    t->peer_check = cb;
}
