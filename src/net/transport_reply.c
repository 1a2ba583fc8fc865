/* transport_reply.c: answers to POST /raft that carry messages back (transport.h).
 *
 * Receiving a POST that asks for it, the transport keeps the request (a struct
 * held, in the request's memory pool) on the sending peer instead of answering
 * 204. Until the next transport_flush(), transport_send() puts messages for that
 * peer into p->reply instead of the next POST; the flush answers the newest held
 * request with them (200, a batch) and any older ones with 204. In vesperd the
 * flush follows the Ready loop of the same event-loop iteration, so a follower's
 * acknowledgement of a batch, sent once its fdatasync returned, travels back in
 * the answer to that batch.
 *
 * Sending a POST, a 200 answer's head is checked here (size, cluster id, client
 * URL) and its body, once whole, is delivered like a received batch, restricted
 * to messages from that peer.
 *
 * A held request is never left behind: the flush answers it, a peer's tear-down
 * answers it, and if h2o disposes of it first (the connection died) the pool's
 * dispose callback unlinks it.
 *
 * Only small batches are held (TRANSPORT_HOLD_MAX_BYTES). The sender waits for the
 * answer no longer than its I/O timeout, and a held request is answered only after
 * the receiver's Ready loop wrote and synced what the batch carried: a large batch
 * (a snapshot chunk, a catch-up append of a megabyte) on a slow disk could outlast
 * that timeout, and then the batch would count as failed and its acknowledgement be
 * lost, every time it was resent. Those are answered at once, as before, and their
 * acknowledgements go in a request of their own.
 */
#include <string.h>

#include "net/transport_int.h"

struct held {
    struct transport_handler *h; /* outlives the transport; h->t is NULL once freed */
    h2o_req_t *req;
    raft_id from;
    bool answered;
};

/* The pool of a request we still hold is being cleared: forget the request. */
static void held_disposed(void *arg)
{
    struct held *hd = arg;
    if (hd->answered || hd->h->t == NULL)
        return;
    struct peer *p = transport__find_peer(hd->h->t, hd->from);
    if (p == NULL)
        return;
    for (uint32_t i = 0; i < p->n_held; i++)
        if (p->held[i] == hd) {
            memmove(&p->held[i], &p->held[i + 1], (p->n_held - i - 1) * sizeof p->held[0]);
            p->n_held--;
            return;
        }
}

bool transport__hold(struct transport *t, h2o_req_t *req, raft_id from)
{
    if (req->entity.len > TRANSPORT_HOLD_MAX_BYTES)
        return false;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT(TRANSPORT_REPLY_HEADER), -1);
    if (i < 0 || !h2o_memis(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                            H2O_STRLIT("1")))
        return false;
    struct peer *p = transport__find_peer(t, from);
    if (t->ctx == NULL || p == NULL || p->n_held == TRANSPORT_MAX_HELD)
        return false;
    struct held *hd = h2o_mem_alloc_shared(&req->pool, sizeof *hd, held_disposed);
    *hd = (struct held){.h = t->handler, .req = req, .from = from};
    p->held[p->n_held++] = hd;
    return true;
}

struct codec_buf *transport__batch_for(struct peer *p)
{
    return p->n_held != 0 ? &p->reply : &p->pending;
}

static void add_header(h2o_req_t *req, const char *name, size_t name_len, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, name_len, 0, NULL, value,
                          strlen(value));
}

static void answer(struct peer *p, struct held *hd, const struct codec_buf *body)
{
    struct transport *t = p->t;
    h2o_req_t *req = hd->req;
    hd->answered = true;
    if (body == NULL) {
        transport__reply(req, 204, "No Content");
        return;
    }
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body->len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/octet-stream"));
    if (t->cluster_id != NULL)
        add_header(req, H2O_STRLIT(TRANSPORT_CLUSTER_HEADER), t->cluster_id);
    if (t->client_url != NULL)
        add_header(req, H2O_STRLIT(TRANSPORT_URL_HEADER), t->client_url);
    p->st.replies_sent++;
    p->st.msgs_replied += codec_batch_count(body);
    h2o_send_inline(req, (const char *)body->p, body->len); /* copies the body */
}

void transport__answer_held(struct peer *p)
{
    if (p->n_held == 0) {
        /* Messages for a request h2o disposed of before the flush: they go in the
         * next POST when that is empty, else they are lost (Raft resends). */
        if (p->reply.len != 0 && p->pending.len == 0) {
            struct codec_buf b = p->pending;
            p->pending = p->reply;
            p->reply = b;
        } else if (p->reply.len != 0) {
            p->st.msgs_dropped += codec_batch_count(&p->reply);
        }
        p->reply.len = 0;
        return;
    }
    uint32_t n = p->n_held;
    p->n_held = 0; /* answering may dispose of a request: nothing to unlink then */
    for (uint32_t i = 0; i + 1 < n; i++)
        answer(p, p->held[i], NULL);
    answer(p, p->held[n - 1], p->reply.len != 0 ? &p->reply : NULL);
    p->reply.len = 0;
}

static const h2o_header_t *find(const h2o_header_t *headers, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (h2o_memis(headers[i].name->base, headers[i].name->len, name, len))
            return &headers[i];
    return NULL;
}

bool transport__reply_head(struct request *r, const h2o_header_t *headers, size_t n)
{
    struct transport *t = r->peer->t;
    const h2o_header_t *len = find(headers, n, H2O_STRLIT("content-length"));
    r->reply_len = len ? h2o_strtosize(len->value.base, len->value.len) : SIZE_MAX;
    if (r->reply_len == SIZE_MAX || r->reply_len > t->cfg.max_batch_bytes + 4096)
        return false;
    const h2o_header_t *id = find(headers, n, H2O_STRLIT(TRANSPORT_CLUSTER_HEADER));
    r->reply_refused =
        id != NULL && t->cluster_id != NULL &&
        !h2o_memis(id->value.base, id->value.len, t->cluster_id, strlen(t->cluster_id));
    const h2o_header_t *url = find(headers, n, H2O_STRLIT(TRANSPORT_URL_HEADER));
    r->reply_url[0] = '\0';
    if (url != NULL && url->value.len < sizeof r->reply_url) {
        memcpy(r->reply_url, url->value.base, url->value.len);
        r->reply_url[url->value.len] = '\0';
    }
    return true;
}

void transport__reply_body(struct request *r, const uint8_t *body, size_t len)
{
    struct peer *p = r->peer;
    struct transport *t = p->t;
    if (len != r->reply_len) { /* h2o ends a Content-Length body only when whole */
        t->recv_st.recv_corrupt++;
        return;
    }
    if (r->reply_refused) {
        t->recv_st.recv_wrong_cluster++;
        return;
    }
    raft_id sender;
    bool one_sender;
    p->st.replies_received++;
    if (transport__deliver(t, body, len, p->id, &sender, &one_sender) != 0) {
        t->recv_st.recv_corrupt++;
        return;
    }
    if (sender != RAFT_NONE && r->reply_url[0] != '\0' && t->url_cb != NULL)
        t->url_cb(t->recv_arg, sender, r->reply_url, strlen(r->reply_url));
}
