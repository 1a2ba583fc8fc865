/* transport_int.h: the transport's internal state, shared by its peer table
 * (transport.c), its sending side (transport_send.c), its receiving side
 * (transport_recv.c), the answers that carry messages back (transport_reply.c)
 * and its counters (transport_stats.c). Not for other modules. */
#ifndef VESPER_NET_TRANSPORT_INT_H
#define VESPER_NET_TRANSPORT_INT_H

#include <stdbool.h>

#include "net/codec.h"
#include "net/transport.h"

struct request;
struct held;

/* Incoming requests of one peer waiting for their answer, and the largest body
 * that is held (transport_reply.c). */
#define TRANSPORT_MAX_HELD       4
#define TRANSPORT_HOLD_MAX_BYTES (64u << 10)

struct peer {
    bool used; /* false: a free slot (never set up, or removed) */
    raft_id id;
    struct transport *t;
    char *url; /* owned copy; host/authority point into it */
    h2o_url_t parsed;
    h2o_socketpool_t pool;
    struct codec_buf pending; /* batch being filled this iteration; len 0 = none */
    struct codec_buf reply;   /* batch for the answer to a held request; len 0 = none */
    struct held *held[TRANSPORT_MAX_HELD]; /* its requests we have not answered yet */
    uint32_t n_held;
    struct request *inflight; /* singly linked */
    uint32_t n_inflight;
    uint64_t backoff_ms;    /* 0 when healthy */
    uint64_t retry_at_ms;   /* loop time before which batches are dropped */
    const char *last_error; /* static string, or NULL */
    struct transport_stats st;
};

struct request {
    struct request *next;
    struct peer *peer;
    h2o_http1client_t *client;
    struct codec_buf body;
    uint32_t n_msgs;
    char head[1024];
    h2o_iovec_t bufs[2];
    /* A 200 answer carries messages back (transport_reply.c). */
    size_t reply_len;              /* its Content-Length */
    bool reply_refused;            /* it names another cluster: its messages are dropped */
    char reply_url[RAFT_ADDR_MAX]; /* the peer's advertised client URL; "" = none */
};

struct transport_handler {
    h2o_handler_t super;
    struct transport *t; /* NULL once the transport is freed */
};

struct transport {
    h2o_context_t *ctx; /* NULL until transport_start */
    struct transport_config cfg;
    h2o_timeout_t io_timeout;
    h2o_http1client_ctx_t client_ctx;
    transport_recv_cb recv_cb;
    transport_url_cb url_cb;
    transport_peer_check_cb peer_check;
    transport_cluster_cb cluster_adopt; /* see transport_set_cluster_adopt */
    void *recv_arg;
    char *secret;     /* owned copy, or NULL */
    char *client_url; /* owned copy, or NULL */
    char *cluster_id; /* owned copy, or NULL */
    struct codec_scratch scratch;
    struct transport_handler *handler;
    struct transport_stats recv_st; /* receive side counters */
    size_t n_peers;
    struct peer peers[RAFT_MAX_MEMBERS]; /* room for membership changes */
};

/* The peer with this id, or NULL (transport.c). */
struct peer *transport__find_peer(const struct transport *t, raft_id id);
/* Unlinks a finished or cancelled request from its peer and frees it (transport.c). */
void transport__request_free(struct request *r);

/* Decodes a batch and hands each message addressed to this node (and, unless
 * only_from is RAFT_NONE, sent by only_from) to the recv callback, in order
 * (transport_recv.c); the others are dropped and counted. *sender is the first
 * sender (RAFT_NONE when none), *one_sender false when the batch mixes senders.
 * 0, or -1 when the batch is malformed (the messages before the bad one were
 * delivered). */
int transport__deliver(struct transport *t, const uint8_t *body, size_t len, raft_id only_from,
                       raft_id *sender, bool *one_sender);

/* Answers req with an empty body (transport_recv.c); returns 0. */
int transport__reply(h2o_req_t *req, int status, const char *reason);

/* transport_reply.c */
/* True when req asked for messages in the answer (TRANSPORT_REPLY_HEADER) and was
 * kept for that: it is answered at the next flush. */
bool transport__hold(struct transport *t, h2o_req_t *req, raft_id from);
/* The batch a message for p goes into: the answer to p's held request when there
 * is one, else p's next POST. */
struct codec_buf *transport__batch_for(struct peer *p);
/* Answers p's held requests (at flush): the newest carries p->reply, the rest 204. */
void transport__answer_held(struct peer *p);
/* A 200 answer to our POST: checks its head (in on_head; headers borrowed). False
 * when the answer cannot be taken (too large). */
bool transport__reply_head(struct request *r, const h2o_header_t *headers, size_t n);
/* The whole body of a 200 answer arrived: deliver its messages. */
void transport__reply_body(struct request *r, const uint8_t *body, size_t len);

#endif
