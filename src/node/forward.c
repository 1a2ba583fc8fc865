/* forward.c: a follower relays a client request to the leader and relays the
 * answer back, for clients that cannot reach the leader's address themselves
 * (a host client behind compose port mappings, a load balancer in front).
 *
 * Opt-in per request (`X-Vesper-Forward: 1`) or for every request (--forward);
 * without either, a follower keeps giving the v1 protocol's redirect reply. A forwarded
 * request carries `X-Vesper-Forwarded: 1` and is never forwarded again, so a
 * leader change mid-flight yields a redirect, not a loop. The client's
 * Authorization header travels with it: the leader checks the same token.
 *
 * Connections: each leader gets its own socket pool. When the leader changes, a
 * new pool is made and the old one is retired: relays still in flight keep it
 * alive (a reference each) and return their kept-alive sockets to it, so no
 * socket connected to an old leader ever serves a later relay; the retired pool
 * is disposed once its last relay is done. At most --forward-max-conns relays
 * are in flight at once (h2o 2.2.5's socket pool does not enforce its capacity);
 * up to --forward-queue more wait in arrival order, and beyond that the client
 * gets 503 "unavailable" with Retry-After.
 *
 * Lifetime: the relay state lives in the client request's pool. If the client
 * hangs up first, the pool's dispose hook cancels the outgoing request (or takes
 * the relay off the queue), so no callback ever touches a freed request. h2o
 * returns or closes a relay's socket right after our last callback returns, so
 * pools are disposed and queued relays started from a zero timeout, never from
 * inside a callback.
 */
#include "node/node.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "util/logging.h"

#define FORWARD_TIMEOUT_MS 3000
#define FORWARD_IDLE_MS    5000

struct relay_pool {
    h2o_socketpool_t sockets;
    char url[CONFIG_URL_MAX];
    h2o_url_t parsed;
    uint32_t refs; /* relays using it, plus one while it is the current pool */
    struct relay_pool *next_retired;
};

struct relay {
    h2o_linklist_t queued; /* in fwd.queue while waiting for a connection slot */
    h2o_req_t *req;        /* NULL once the client is gone */
    h2o_http1client_t *client;
    struct relay_pool *pool; /* set while the relay holds a connection slot */
    int status;
    h2o_buffer_t *body;
    h2o_iovec_t bufs[2];
};

static struct {
    bool ready;
    struct node *node;
    h2o_http1client_ctx_t ctx;
    h2o_timeout_t io_timeout;
    h2o_timeout_t soon; /* zero timeout: work that must wait for h2o to let go */
    h2o_timeout_entry_t pump_entry;
    struct relay_pool *current;
    struct relay_pool *retired;
    h2o_linklist_t queue; /* struct relay, oldest first */
    uint32_t active, queued;
} fwd;

static void relay_start(struct relay *r);

static void schedule_pump(void)
{
    if (!h2o_timeout_is_linked(&fwd.pump_entry))
        h2o_timeout_link(fwd.ctx.loop, &fwd.soon, &fwd.pump_entry);
}

static void pool_unref(struct relay_pool *p)
{
    p->refs--;
    schedule_pump();
}

/* Disposes retired pools nobody uses any more, then starts queued relays. */
static void pump(h2o_timeout_entry_t *entry)
{
    (void)entry;
    for (struct relay_pool **pp = &fwd.retired; *pp != NULL;) {
        struct relay_pool *p = *pp;
        if (p->refs != 0) {
            pp = &p->next_retired;
            continue;
        }
        *pp = p->next_retired;
        h2o_socketpool_dispose(&p->sockets);
        free(p);
    }
    while (fwd.current && fwd.active < fwd.node->cfg->forward_max_conns &&
           !h2o_linklist_is_empty(&fwd.queue)) {
        struct relay *r = H2O_STRUCT_FROM_MEMBER(struct relay, queued, fwd.queue.next);
        h2o_linklist_unlink(&r->queued);
        fwd.queued--;
        relay_start(r);
    }
}

/* The relay no longer uses its connection slot (h2o closes or pools the socket
 * after the current callback returns). */
static void relay_release(struct relay *r)
{
    r->client = NULL;
    if (r->pool) {
        pool_unref(r->pool);
        r->pool = NULL;
        fwd.active--;
    }
}

static void relay_dispose(void *p)
{
    struct relay *r = p;
    if (h2o_linklist_is_linked(&r->queued)) {
        h2o_linklist_unlink(&r->queued);
        fwd.queued--;
    }
    if (r->client)
        h2o_http1client_cancel(r->client);
    relay_release(r);
    if (r->body)
        h2o_buffer_dispose(&r->body);
    r->req = NULL;
}

static void finish(struct relay *r, const char *err)
{
    h2o_req_t *req = r->req;
    relay_release(r);
    if (!req)
        return;
    if (err) {
        node_send_error(req, 0, API_ERR_TIMEOUT, NULL); /* outcome unknown, like a timeout */
        return;
    }
    node_send_json(req, r->status, r->body ? r->body->bytes : "", r->body ? r->body->size : 0);
}

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    struct relay *r = client->data;
    h2o_buffer_t *in = client->sock ? client->sock->input : NULL;
    if (in && in->size) {
        h2o_iovec_t dst = h2o_buffer_reserve(&r->body, in->size);
        if (dst.base) {
            memcpy(dst.base, in->bytes, in->size);
            r->body->size += in->size;
        }
        h2o_buffer_consume(&client->sock->input, in->size);
    }
    if (errstr)
        finish(r, errstr == h2o_http1client_error_is_eos ? NULL : errstr);
    return 0;
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor,
                                       int status, h2o_iovec_t msg, h2o_header_t *headers,
                                       size_t n_headers, int rlen)
{
    (void)minor, (void)msg, (void)headers, (void)n_headers, (void)rlen;
    struct relay *r = client->data;
    r->status = status;
    if (errstr && errstr != h2o_http1client_error_is_eos) {
        finish(r, errstr);
        return NULL;
    }
    if (errstr == h2o_http1client_error_is_eos) {
        finish(r, NULL);
        return NULL;
    }
    h2o_buffer_init(&r->body, &h2o_socket_buffer_prototype);
    return on_body;
}

/* The client's Authorization header, if it has one that fits on a header line. */
static h2o_iovec_t client_authorization(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return h2o_iovec_init(NULL, 0);
    h2o_iovec_t v = req->headers.entries[i].value;
    if (memchr(v.base, '\r', v.len) || memchr(v.base, '\n', v.len))
        return h2o_iovec_init(NULL, 0);
    return v;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr,
                                          h2o_iovec_t **reqbufs, size_t *n_bufs,
                                          int *method_is_head)
{
    struct relay *r = client->data;
    if (errstr || !r->req) {
        finish(r, errstr ? errstr : "gone");
        return NULL;
    }
    h2o_req_t *req = r->req;
    size_t len = req->entity.base ? req->entity.len : 0;
    h2o_iovec_t auth = client_authorization(req);
    h2o_iovec_t host = r->pool->parsed.authority;
    size_t cap = 256 + req->method.len + host.len + auth.len;
    char *head = h2o_mem_alloc_pool(&req->pool, cap);
    int n = snprintf(head, cap,
                     "%.*s /request HTTP/1.1\r\nHost: %.*s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nX-Vesper-Forwarded: 1\r\n%s%.*s%s\r\n",
                     (int)req->method.len, req->method.base, (int)host.len, host.base, len,
                     auth.len ? "Authorization: " : "", (int)auth.len, auth.base,
                     auth.len ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap) {
        finish(r, "request head too long");
        return NULL;
    }
    r->bufs[0] = h2o_iovec_init(head, (size_t)n);
    r->bufs[1] = h2o_iovec_init(req->entity.base, len);
    *reqbufs = r->bufs;
    *n_bufs = 2;
    *method_is_head = 0;
    return on_head;
}

static void relay_start(struct relay *r)
{
    r->pool = fwd.current;
    r->pool->refs++;
    fwd.active++;
    h2o_http1client_connect_with_pool(&r->client, r, &fwd.ctx, &r->pool->sockets, on_connect);
}

static void init_once(struct node *n)
{
    if (fwd.ready)
        return;
    fwd.node = n;
    h2o_timeout_init(n->ctx.loop, &fwd.io_timeout, FORWARD_TIMEOUT_MS);
    h2o_timeout_init(n->ctx.loop, &fwd.soon, 0);
    fwd.pump_entry.cb = pump;
    fwd.ctx.loop = n->ctx.loop;
    fwd.ctx.getaddr_receiver = &n->ctx.receivers.hostinfo_getaddr;
    fwd.ctx.io_timeout = &fwd.io_timeout;
    h2o_linklist_init_anchor(&fwd.queue);
    fwd.ready = true;
}

/* Makes the pool for url current; the previous one retires. */
static int point_pool_at(struct node *n, const char *url)
{
    init_once(n);
    if (fwd.current && strcmp(fwd.current->url, url) == 0)
        return 0;
    struct relay_pool *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    snprintf(p->url, sizeof p->url, "%s", url);
    bool https = false;
    if (h2o_url_parse(p->url, SIZE_MAX, &p->parsed) != 0 ||
        !(p->parsed.scheme == &H2O_URL_SCHEME_HTTP ||
          (https = p->parsed.scheme == &H2O_URL_SCHEME_HTTPS && fwd.ctx.ssl_ctx))) {
        free(p);
        return -1;
    }
    h2o_socketpool_init_by_hostport(&p->sockets, p->parsed.host, h2o_url_get_port(&p->parsed),
                                    https, n->cfg->forward_max_conns);
    h2o_socketpool_set_timeout(&p->sockets, n->ctx.loop, FORWARD_IDLE_MS);
    p->refs = 1;
    if (fwd.current) {
        fwd.current->next_retired = fwd.retired;
        fwd.retired = fwd.current;
        pool_unref(fwd.current);
    }
    fwd.current = p;
    return 0;
}

void node_forward_set_ssl_ctx(struct node *n, SSL_CTX *ctx)
{
    init_once(n);
    fwd.ctx.ssl_ctx = ctx;
}

uint32_t node_forward_in_flight(void)
{
    return fwd.active + fwd.queued;
}

bool node_forward_wanted(struct node *n, h2o_req_t *req)
{
    if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-vesper-forwarded"), -1) >= 0)
        return false;
    if (n->cfg->forward)
        return true;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-vesper-forward"), -1);
    return i >= 0 && req->headers.entries[i].value.len == 1 &&
           req->headers.entries[i].value.base[0] == '1';
}

/* The peer URL of the leader is where it listens; forward there. */
int node_forward(struct node *n, h2o_req_t *req, raft_id leader)
{
    const struct raft_member *mb = raft_conf_find(raft_current_conf(n->raft), leader);
    if (!mb || !mb->addr[0] || point_pool_at(n, mb->addr) != 0)
        return -1;
    if (fwd.active >= n->cfg->forward_max_conns && fwd.queued >= n->cfg->forward_queue) {
        n->m.requests_shed++;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
        node_send_error(req, 503, API_ERR_UNAVAILABLE, "too many forwarded requests");
        return 0;
    }
    struct relay *r = h2o_mem_alloc_shared(&req->pool, sizeof *r, relay_dispose);
    memset(r, 0, sizeof *r);
    r->req = req;
    if (fwd.active < n->cfg->forward_max_conns && fwd.queued == 0) {
        relay_start(r);
    } else {
        h2o_linklist_insert(&fwd.queue, &r->queued);
        fwd.queued++;
        schedule_pump();
    }
    return 0;
}
