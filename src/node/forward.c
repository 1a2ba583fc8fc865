/* forward.c: a follower relays a client request to the leader and relays the
 * answer back, for clients that cannot reach the leader's address themselves
 * (a host client behind compose port mappings, a load balancer in front).
 *
 * Opt-in per request (`X-Vesper-Forward: 1`) or for every request (--forward);
 * without either, a follower keeps giving the seed's redirect reply. A forwarded
 * request carries `X-Vesper-Forwarded: 1` and is never forwarded again, so a
 * leader change mid-flight yields a redirect, not a loop. Connections to the
 * leader are pooled and reused; the pool follows the leader when it changes.
 *
 * Lifetime: the relay state lives in the client request's pool. If the client
 * hangs up first, the pool's dispose hook cancels the outgoing request, so no
 * callback ever touches a freed request.
 */
#include "node/node.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define FORWARD_TIMEOUT_MS 3000
#define FORWARD_POOL_SIZE  64

struct relay {
    h2o_req_t *req; /* NULL once the client is gone */
    bool in_flight; /* counted in fwd.in_flight until answered or gone */
    h2o_http1client_t *client;
    int status;
    h2o_buffer_t *body;
    char head[1024];
    h2o_iovec_t bufs[2];
};

static struct {
    bool ready;
    h2o_http1client_ctx_t ctx;
    h2o_timeout_t io_timeout;
    h2o_socketpool_t pool;
    bool has_pool;
    char url[CONFIG_URL_MAX];
    h2o_url_t parsed;
    uint32_t in_flight; /* relays whose client has no answer yet */
} fwd;

static void relay_done(struct relay *r)
{
    if (r->in_flight) {
        r->in_flight = false;
        fwd.in_flight--;
    }
}

uint32_t node_forward_in_flight(void)
{
    return fwd.in_flight;
}

static void relay_dispose(void *p)
{
    struct relay *r = p;
    relay_done(r);
    if (r->client) {
        h2o_http1client_cancel(r->client);
        r->client = NULL;
    }
    if (r->body)
        h2o_buffer_dispose(&r->body);
    r->req = NULL;
}

static void finish(struct relay *r, const char *err)
{
    h2o_req_t *req = r->req;
    r->client = NULL;
    relay_done(r);
    if (!req)
        return;
    if (err) {
        static const char body[] = "{\"code\":\"fail\",\"error\":\"timeout\"}";
        node_send_json(req, 200, body, sizeof body - 1); /* outcome unknown, like a timeout */
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
    int n = snprintf(r->head, sizeof r->head,
                     "%.*s /request HTTP/1.1\r\nHost: %.*s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nX-Vesper-Forwarded: 1\r\n\r\n",
                     (int)req->method.len, req->method.base, (int)fwd.parsed.authority.len,
                     fwd.parsed.authority.base, len);
    if (n < 0 || (size_t)n >= sizeof r->head) {
        finish(r, "request head too long");
        return NULL;
    }
    r->bufs[0] = h2o_iovec_init(r->head, (size_t)n);
    r->bufs[1] = h2o_iovec_init(req->entity.base, len);
    *reqbufs = r->bufs;
    *n_bufs = 2;
    *method_is_head = 0;
    return on_head;
}

static int point_pool_at(struct node *n, const char *url)
{
    if (!fwd.ready) {
        h2o_timeout_init(n->ctx.loop, &fwd.io_timeout, FORWARD_TIMEOUT_MS);
        fwd.ctx.loop = n->ctx.loop;
        fwd.ctx.getaddr_receiver = &n->ctx.receivers.hostinfo_getaddr;
        fwd.ctx.io_timeout = &fwd.io_timeout;
        fwd.ready = true;
    }
    if (fwd.has_pool && strcmp(fwd.url, url) == 0)
        return 0;
    if (fwd.has_pool)
        h2o_socketpool_dispose(&fwd.pool);
    fwd.has_pool = false;
    snprintf(fwd.url, sizeof fwd.url, "%s", url);
    if (h2o_url_parse(fwd.url, SIZE_MAX, &fwd.parsed) != 0 ||
        fwd.parsed.scheme != &H2O_URL_SCHEME_HTTP)
        return -1;
    h2o_socketpool_init_by_hostport(&fwd.pool, fwd.parsed.host, h2o_url_get_port(&fwd.parsed), 0,
                                    FORWARD_POOL_SIZE);
    h2o_socketpool_set_timeout(&fwd.pool, n->ctx.loop, 5000);
    fwd.has_pool = true;
    return 0;
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
    struct relay *r = h2o_mem_alloc_shared(&req->pool, sizeof *r, relay_dispose);
    memset(r, 0, sizeof *r);
    r->req = req;
    r->in_flight = true;
    fwd.in_flight++;
    h2o_http1client_connect_with_pool(&r->client, r, &fwd.ctx, &fwd.pool, on_connect);
    return 0;
}
