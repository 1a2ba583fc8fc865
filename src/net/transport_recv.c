/* transport_recv.c: the receiving side of the peer transport, POST /raft (see
 * transport.h): authenticate the batch, decode it, hand each message addressed to
 * this node to the recv callback in order, pass on the sender's advertised client
 * URL when the whole batch came from one sender, and answer at once or keep the
 * request for an answer that carries messages back (transport_reply.c). */
#include <stdlib.h>
#include <string.h>

#include "net/bearer.h"
#include "net/transport_int.h"
#include "util/logging.h"

int transport__reply(h2o_req_t *req, int status, const char *reason)
{
    req->res.status = status;
    req->res.reason = reason;
    /* Without a length h2o would answer HTTP/1.1 with chunked encoding. */
    req->res.content_length = 0;
    h2o_send_inline(req, NULL, 0);
    return 0;
}

static bool secret_ok(const struct transport *t, h2o_req_t *req)
{
    if (t->secret == NULL)
        return true;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    return i >= 0 && bearer_matches(req->headers.entries[i].value.base,
                                    req->headers.entries[i].value.len, t->secret);
}

/* A batch naming another cluster id comes from a node of another cluster (say, one
 * restored from a backup of this one, at an address this node still lists): none
 * of its messages may reach the core, or its terms would disturb this cluster. */
static bool same_cluster(struct transport *t, h2o_req_t *req)
{
    if (t->cluster_id == NULL && t->cluster_adopt == NULL)
        return true;
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT(TRANSPORT_CLUSTER_HEADER), -1);
    if (i < 0)
        return true; /* a build without cluster ids: see transport.h */
    h2o_iovec_t v = req->headers.entries[i].value;
    if (t->cluster_id == NULL) { /* the first id heard is adopted (transport.h) */
        if (v.len == 0 || v.len > 64 || memchr(v.base, '\0', v.len) != NULL ||
            (t->cluster_id = strndup(v.base, v.len)) == NULL)
            return false;
        if (t->cluster_adopt(t->recv_arg, t->cluster_id)) {
            t->cluster_adopt = NULL;
            return true;
        }
        free(t->cluster_id);
        t->cluster_id = NULL;
        t->recv_st.recv_wrong_cluster++;
        return false;
    }
    if (h2o_memis(v.base, v.len, t->cluster_id, strlen(t->cluster_id)))
        return true;
    uint64_t k = ++t->recv_st.recv_wrong_cluster;
    if ((k & (k - 1)) == 0) /* the 1st, 2nd, 4th, ... refusal: visible, never a flood */
        log_warn(
            "POST /raft refused (403): cluster id %.*s is not this cluster's %s "
            "(%llu batches refused)",
            (int)(v.len < 64 ? v.len : 64), v.base, t->cluster_id, (unsigned long long)k);
    return false;
}

static void announce(struct transport *t, h2o_req_t *req, raft_id from)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT(TRANSPORT_URL_HEADER), -1);
    if (i >= 0 && t->url_cb != NULL)
        t->url_cb(t->recv_arg, from, req->headers.entries[i].value.base,
                  req->headers.entries[i].value.len);
}

int transport__deliver(struct transport *t, const uint8_t *body, size_t len, raft_id only_from,
                       raft_id *sender, bool *one_sender)
{
    *sender = RAFT_NONE;
    *one_sender = true;
    struct codec_batch_iter it;
    if (body == NULL || codec_batch_iter_init(&it, body, len) != RAFT_OK)
        return -1;
    struct raft_msg m;
    int rc;
    /* The body outlives the walk, so messages can borrow from it. */
    while ((rc = codec_batch_next(&it, &m, &t->scratch)) == 1) {
        /* A peer with a stale address book (not ours), or an answer from a peer
         * speaking for another node. */
        if (m.to != t->cfg.self || (only_from != RAFT_NONE && m.from != only_from)) {
            t->recv_st.msgs_dropped++;
            continue;
        }
        t->recv_st.msgs_received++;
        if (*sender == RAFT_NONE)
            *sender = m.from;
        else if (*sender != m.from)
            *one_sender = false;
        t->recv_cb(t->recv_arg, &m);
    }
    return rc == 0 ? 0 : -1;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct transport *t = ((struct transport_handler *)self)->t;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return transport__reply(req, 405, "Method Not Allowed");
    if (t == NULL)
        return transport__reply(req, 503, "Service Unavailable");
    if (t->peer_check != NULL && !t->peer_check(t->recv_arg, req)) {
        t->recv_st.recv_unauthorized++;
        return transport__reply(req, 403, "Forbidden");
    }
    if (!secret_ok(t, req)) {
        t->recv_st.recv_unauthorized++;
        return transport__reply(req, 401, "Unauthorized");
    }
    if (!same_cluster(t, req))
        return transport__reply(req, 403, "Forbidden");
    raft_id sender;
    bool one_sender;
    if (transport__deliver(t, (const uint8_t *)req->entity.base, req->entity.len, RAFT_NONE,
                           &sender, &one_sender) != 0) {
        t->recv_st.recv_corrupt++;
        return transport__reply(req, 400, "Bad Request");
    }
    /* A URL speaks for the batch's sender only: a batch mixing senders names nobody. */
    if (sender != RAFT_NONE && one_sender)
        announce(t, req, sender);
    t->recv_st.batches_received++;
    if (sender != RAFT_NONE && one_sender && transport__hold(t, req, sender))
        return 0; /* answered at the next flush, with whatever goes back to sender */
    return transport__reply(req, 204, "No Content");
}

void transport_set_cluster_adopt(struct transport *t, transport_cluster_cb cb)
{
    t->cluster_adopt = t->cluster_id == NULL ? cb : NULL;
}

int transport_register(struct transport *t, h2o_hostconf_t *host)
{
    h2o_pathconf_t *path = h2o_config_register_path(host, TRANSPORT_PATH, 0);
    struct transport_handler *h = (void *)h2o_create_handler(path, sizeof *h);
    if (h == NULL)
        return RAFT_ENOMEM;
    h->super.on_req = on_req;
    h->t = t;
    t->handler = h;
    return RAFT_OK;
}
