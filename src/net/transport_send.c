/* transport_send.c: the sending side of the peer transport. transport_send()
 * appends a message to its peer's pending batch (or to the answer of a request the
 * peer is waiting on, transport_reply.c); transport_flush() answers those and turns
 * each pending batch into one POST <peer URL>/raft through h2o_http1client and the
 * peer's h2o_socketpool, at most cfg.max_inflight per peer; the callbacks below
 * finish a request, count what it lost and back a failing peer off. See
 * transport.h for the contract and transport.c for the shape of a peer.
 *
 * h2o callback contract used below: when on_connect or on_head gets errstr != NULL,
 * or on_body gets any errstr, h2o closes the client right after the callback
 * returns, so that is where a request is finished and freed; returning NULL from
 * on_head closes the connection without keep-alive.
 */
#include <stdio.h>
#include <stdlib.h>

#include "net/transport.h"
#include "net/transport_int.h"

int transport_send(struct transport *t, const struct raft_msg *m)
{
    struct peer *p = transport__find_peer(t, m->to);
    if (p == NULL) {
        t->recv_st.msgs_dropped++;
        return -1;
    }
    struct codec_buf *b = transport__batch_for(p);
    size_t size = codec_msg_size(m);
    if (size == 0 || b->len + size + 4 > t->cfg.max_batch_bytes) {
        p->st.msgs_dropped++;
        return -1;
    }
    if (b->len == 0 && codec_batch_begin(b) != RAFT_OK) {
        p->st.msgs_dropped++;
        return -1;
    }
    if (codec_batch_add(b, m) != RAFT_OK) {
        p->st.msgs_dropped++;
        return -1;
    }
    p->st.msgs_queued++;
    return 0;
}

/* A request failed: its messages are lost (Raft resends) and the peer backs off. */
static void peer_failed(struct peer *p, uint32_t lost_msgs, const char *why)
{
    const struct transport_config *cfg = &p->t->cfg;
    p->last_error = why;
    p->st.send_errors++;
    p->st.msgs_dropped += lost_msgs;
    p->backoff_ms = p->backoff_ms == 0 ? cfg->backoff_min_ms : p->backoff_ms * 2;
    if (p->backoff_ms > cfg->backoff_max_ms)
        p->backoff_ms = cfg->backoff_max_ms;
    p->retry_at_ms = h2o_now(p->t->ctx->loop) + p->backoff_ms;
}

static void request_ok(struct request *r)
{
    struct peer *p = r->peer;
    p->st.batches_ok++;
    p->st.msgs_delivered += r->n_msgs;
    p->backoff_ms = 0;
    p->last_error = NULL;
}

static int on_body(h2o_http1client_t *client, const char *errstr)
{
    struct request *r = client->data;
    h2o_buffer_t **in = client->sock != NULL ? &client->sock->input : NULL;
    if (errstr == NULL) {
        /* An answer's batch stays in the buffer until it is whole; any other body
         * carries nothing we need and is dropped as it arrives. */
        if (in != NULL && r->reply_len == 0)
            h2o_buffer_consume(in, (*in)->size);
        return 0;
    }
    if (errstr == h2o_http1client_error_is_eos) {
        request_ok(r);
        if (in != NULL && r->reply_len != 0)
            transport__reply_body(r, (const uint8_t *)(*in)->bytes, (*in)->size);
        if (in != NULL)
            h2o_buffer_consume(in, (*in)->size);
    } else {
        peer_failed(r->peer, r->n_msgs, errstr);
    }
    transport__request_free(r);
    return 0;
}

static const char *status_reason(int status)
{
    switch (status) {
    case 401:
        return "status 401 (cluster secret refused)";
    case 403:
        return "status 403 (peer certificate or cluster id refused)";
    case 503:
        return "status 503";
    default:
        return status >= 400 && status < 500 ? "status 4xx" : "unexpected status";
    }
}

static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr,
                                       int minor_version, int status, h2o_iovec_t msg,
                                       h2o_header_t *headers, size_t num_headers, int rlen)
{
    (void)minor_version, (void)msg, (void)rlen;
    struct request *r = client->data;
    struct peer *p = r->peer;
    /* An I/O error, or a 4xx/5xx (the peer refused the batch): count, back off. */
    if ((errstr != NULL && errstr != h2o_http1client_error_is_eos) || status < 200 ||
        status > 299) {
        peer_failed(p, r->n_msgs,
                    errstr != NULL && errstr != h2o_http1client_error_is_eos
                        ? errstr
                        : status_reason(status));
        transport__request_free(r);
        return NULL;
    }
    if (errstr == h2o_http1client_error_is_eos) { /* 204: no body follows */
        request_ok(r);
        transport__request_free(r);
        return NULL;
    }
    /* 200: the answer carries messages back (transport_reply.c). */
    if (status == 200 && !transport__reply_head(r, headers, num_headers)) {
        peer_failed(p, r->n_msgs, "answer too large");
        transport__request_free(r);
        return NULL;
    }
    return on_body;
}

static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr,
                                          h2o_iovec_t **reqbufs, size_t *reqbufcnt,
                                          int *method_is_head)
{
    struct request *r = client->data;
    if (errstr != NULL) {
        peer_failed(r->peer, r->n_msgs, errstr);
        transport__request_free(r);
        return NULL;
    }
    struct transport *t = r->peer->t;
    h2o_iovec_t auth = r->peer->parsed.authority;
    int n = snprintf(r->head, sizeof r->head,
                     "POST %s HTTP/1.1\r\nHost: %.*s\r\n"
                     "Content-Type: application/octet-stream\r\nContent-Length: %zu\r\n"
                     "X-Vesper-Reply: 1\r\n%s%s%s%s%s%s%s%s%s\r\n",
                     TRANSPORT_PATH, (int)auth.len, auth.base, r->body.len,
                     t->secret ? "Authorization: Bearer " : "", t->secret ? t->secret : "",
                     t->secret ? "\r\n" : "", t->client_url ? "X-Vesper-Client-URL: " : "",
                     t->client_url ? t->client_url : "", t->client_url ? "\r\n" : "",
                     t->cluster_id ? "X-Vesper-Cluster-Id: " : "",
                     t->cluster_id ? t->cluster_id : "", t->cluster_id ? "\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof r->head) {
        peer_failed(r->peer, r->n_msgs, "request head too long");
        transport__request_free(r);
        return NULL;
    }
    r->bufs[0] = h2o_iovec_init(r->head, (size_t)n);
    r->bufs[1] = h2o_iovec_init(r->body.p, r->body.len);
    *reqbufs = r->bufs;
    *reqbufcnt = 2;
    *method_is_head = 0;
    return on_head;
}

static void peer_flush(struct peer *p)
{
    struct transport *t = p->t;
    if (p->pending.len == 0 || p->n_inflight >= t->cfg.max_inflight)
        return; /* keep batching; transport_send refuses once the batch is full */
    uint32_t n = codec_batch_count(&p->pending);
    if (p->backoff_ms != 0 && h2o_now(t->ctx->loop) < p->retry_at_ms) {
        p->st.msgs_dropped += n;
        p->pending.len = 0;
        return;
    }
    struct request *r = calloc(1, sizeof *r);
    if (r == NULL) {
        p->st.msgs_dropped += n;
        p->pending.len = 0;
        return;
    }
    /* The request takes the pending buffer; the peer starts a fresh one. */
    r->peer = p;
    r->body = p->pending;
    r->n_msgs = n;
    codec_buf_init(&p->pending);
    r->next = p->inflight;
    p->inflight = r;
    p->n_inflight++;
    p->st.batches_sent++;
    h2o_http1client_connect_with_pool(&r->client, r, &t->client_ctx, &p->pool, on_connect);
}

static void flush(struct transport *t, bool answer)
{
    if (t->ctx == NULL)
        return; /* not started: keep batching */
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].used) {
            if (answer)
                transport__answer_held(&t->peers[i]);
            peer_flush(&t->peers[i]);
        }
}

void transport_flush(struct transport *t)
{
    flush(t, true);
}

void transport_flush_requests(struct transport *t)
{
    flush(t, false);
}
