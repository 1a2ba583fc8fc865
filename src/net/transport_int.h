/* transport_int.h: the transport's internal state, shared by its peer table
 * (transport.c), its sending side (transport_send.c), its receiving side
 * (transport_recv.c) and its counters (transport_stats.c). Not for other modules. */
#ifndef VESPER_NET_TRANSPORT_INT_H
#define VESPER_NET_TRANSPORT_INT_H

#include <stdbool.h>

#include "net/codec.h"
#include "net/transport.h"

struct request;

struct peer {
    bool used; /* false: a free slot (never set up, or removed) */
    raft_id id;
    struct transport *t;
    char *url; /* owned copy; host/authority point into it */
    h2o_url_t parsed;
    h2o_socketpool_t pool;
    struct codec_buf pending; /* batch being filled this iteration; len 0 = none */
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

#endif
