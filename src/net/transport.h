/* transport.h: peer RPC over HTTP/1.1 inside the node's h2o evloop.
 *
 * Outgoing: transport_send() encodes a message at once into the destination
 * peer's pending batch (core memory is only valid until raft_advance); once per
 * loop iteration transport_flush() turns each non-empty pending batch into one
 * `POST <peer URL>/raft` (Content-Type: application/octet-stream, body in the
 * codec.h batch format) over a keep-alive connection from the peer's
 * h2o_socketpool. At most cfg.max_inflight requests per peer are in flight; while
 * they are, new messages keep batching up to cfg.max_batch_bytes and are then
 * refused. The default is two, so the next batch is on its way while the peer
 * still writes the last one. Two requests on two connections can overtake each
 * other: the follower then rejects the later appends as out of order, and the core
 * resends them once the earlier ones are acknowledged (src/raft/replication.c).
 * After a failed request the peer backs off (cfg.backoff_min_ms doubling to
 * cfg.backoff_max_ms) and batches due in that window are dropped, not held: Raft
 * retransmits, and a stale flood after a peer returns helps nobody. Every loss is
 * counted in struct transport_stats; nothing here is ever fatal.
 *
 * Incoming: transport_register() adds POST /raft to an h2o hostconf. The handler
 * decodes the batch and hands each message to the recv callback in order, then
 * answers 204 (400 for a malformed batch: messages before the bad one were
 * delivered, which is safe because each was whole and valid). Messages whose
 * `to` is not cfg.self are dropped and counted.
 *
 * Answers that carry messages: every POST says `X-Vesper-Reply: 1`. A receiver
 * that knows the sender as a peer then keeps a small request (up to 64 KiB) open
 * until its next transport_flush() (not transport_flush_requests()); whatever it
 * sends that peer meanwhile (typically the append acknowledgements its core
 * produced for this very batch, once they are durable) goes back as the answer's
 * body, `200` with a batch in the same format, instead of
 * in a POST of its own. Nothing to send: `204`, as before. One round trip per
 * replication step instead of two, and half the peer requests. A receiver that
 * predates this ignores the header and answers 204; a sender that predates it
 * sends no header and is answered at once. The answer also carries the
 * receiver's cluster id and client URL; messages in an answer naming another
 * cluster are dropped.
 *
 * Threading: everything runs on the loop thread. Peer host names are resolved by
 * h2o's hostinfo threads through ctx->receivers.hostinfo_getaddr; IP literals
 * connect directly.
 */
#ifndef VESPER_NET_TRANSPORT_H
#define VESPER_NET_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "raft/raft.h"

#define TRANSPORT_PATH           "/raft"
#define TRANSPORT_CLUSTER_HEADER "x-vesper-cluster-id"
#define TRANSPORT_URL_HEADER     "x-vesper-client-url"
#define TRANSPORT_REPLY_HEADER   "x-vesper-reply"

struct transport;

struct transport_peer {
    raft_id id;
    const char *url; /* "http://host:port"; copied by transport_new */
};

struct transport_config {
    raft_id self;
    uint32_t max_inflight;   /* requests in flight per peer (default 2) */
    size_t max_batch_bytes;  /* pending bytes per peer before refusing (default 8 MiB) */
    uint64_t io_timeout_ms;  /* connect, write and response timeout (default 2000) */
    uint64_t idle_close_ms;  /* pooled idle connections close after (default 5000) */
    uint64_t backoff_min_ms; /* first back-off after a failed request (default 20) */
    uint64_t backoff_max_ms; /* back-off cap (default 1000) */
    const char *secret;      /* cluster secret: sent as a bearer token and required
                                on POST /raft (401 otherwise); NULL = none. Copied */
    const char *client_url;  /* this node's advertised client URL, announced to peers
                                in every batch so redirects name a reachable leader;
                                NULL = none. Copied */
    SSL_CTX *ssl_ctx;        /* client context for https:// peers (net/tls.h); NULL:
                                https:// peer URLs are refused (RAFT_EINVAL). Borrowed */
    const char *cluster_id;  /* this cluster's identity: sent in every batch as
                                X-Vesper-Cluster-Id; a batch carrying another id is
                                refused (403) before any message in it is decoded.
                                A batch without the header (a build that predates
                                cluster ids) is accepted, so a rolling upgrade works.
                                NULL = neither sent nor checked. Copied */
};

void transport_config_defaults(struct transport_config *cfg, raft_id self);

/* Called on the loop thread when a peer announces its advertised client URL
 * (borrowed for the call): at most once per received batch, after its messages,
 * and only when every message in it came from that one sender. The callee still
 * decides whether the sender may speak (membership) and whether the URL is sane. */
typedef void (*transport_url_cb)(void *arg, raft_id from, const char *url, size_t len);

/* Called on the loop thread for each received message, in batch order. m and all
 * it points to are borrowed for the duration of the call only (they point into
 * the request body): copy what you keep; raft_step() does. */
typedef void (*transport_recv_cb)(void *arg, const struct raft_msg *m);

struct transport_stats {
    uint64_t msgs_queued;        /* accepted by transport_send */
    uint64_t msgs_dropped;       /* refused (full, unknown peer, unencodable) or dropped */
    uint64_t batches_sent;       /* requests started */
    uint64_t batches_ok;         /* requests answered 2xx */
    uint64_t msgs_delivered;     /* messages in batches answered 2xx */
    uint64_t send_errors;        /* connect/I/O/timeout errors and non-2xx answers */
    uint64_t batches_received;   /* incoming POST /raft with a valid batch */
    uint64_t msgs_received;      /* messages handed to the recv callback */
    uint64_t recv_corrupt;       /* incoming bodies that failed to decode */
    uint64_t recv_unauthorized;  /* incoming batches without the cluster secret */
    uint64_t recv_wrong_cluster; /* incoming batches from another cluster (refused) */
    uint64_t replies_sent;       /* answers to a peer's POST that carried messages */
    uint64_t msgs_replied;       /* messages carried in those answers */
    uint64_t replies_received;   /* answers to our POSTs that carried messages */
};

/* Set-up follows h2o's order (configuration, then context):
 *   transport_new();  transport_register(t, hostconf);  h2o_context_init(ctx, ...);
 *   transport_start(t, ctx);  ... loop ...;  transport_free(t);  h2o_context_dispose(ctx);
 *
 * transport_new copies cfg and the peer URLs (peers excludes self). Returns
 * RAFT_OK, RAFT_EINVAL (bad URL, duplicate or self id, bad cfg) or RAFT_ENOMEM. */
int transport_new(struct transport **out, const struct transport_config *cfg,
                  const struct transport_peer *peers, size_t n_peers, transport_recv_cb recv_cb,
                  void *recv_arg);
/* Adds a peer after start (membership change). RAFT_OK, RAFT_EINVAL (bad URL, self,
 * already known), RAFT_ENOMEM or RAFT_EBUSY (RAFT_MAX_MEMBERS peers already). */
int transport_add_peer(struct transport *t, raft_id id, const char *url);
/* Removes a peer (membership change): its requests in flight are cancelled (their
 * messages count as dropped) and its connections closed. RAFT_EINVAL if unknown. */
int transport_remove_peer(struct transport *t, raft_id id);
/* Adds id at url, or moves a known peer to a new url (as remove + add, so nothing
 * queued for the old address goes to the new one); RAFT_OK when already there.
 * Errors as transport_add_peer; a bad URL leaves a known peer as it was. */
int transport_set_peer(struct transport *t, raft_id id, const char *url);
/* Writes up to cap known peer ids to out; returns how many. */
size_t transport_peer_ids(const struct transport *t, raft_id *out, size_t cap);
/* True when id is a known peer. */
int transport_has_peer(const struct transport *t, raft_id id);
void transport_set_url_cb(struct transport *t, transport_url_cb cb);
/* Connections opened from now on use ctx (certificates re-read); open ones keep theirs. */
void transport_set_ssl_ctx(struct transport *t, SSL_CTX *ctx);
/* While the transport has no cluster id (cfg.cluster_id NULL), the first batch that
 * carries one gives it that id (sent and required from then on) and cb is told, once,
 * on the loop thread (id borrowed for the call), so the owner can persist it: how a
 * node started with --join learns the id of the cluster that adds it. cb returns
 * false for an id it cannot take: the batch is refused (403) and the next one tried. */
typedef bool (*transport_cluster_cb)(void *arg, const char *id);
void transport_set_cluster_adopt(struct transport *t, transport_cluster_cb cb);
/* Called for every POST /raft before the secret is checked: false answers 403 (counted as
 * unauthorized). The node refuses connections without a verified peer certificate. */
typedef bool (*transport_peer_check_cb)(void *arg, h2o_req_t *req);
void transport_set_peer_check(struct transport *t, transport_peer_check_cb cb);
/* The reason the peer's last request failed ("certificate has expired", "connection
 * refused", "status 403"), or NULL; a static string. NULL for an unknown id. */
const char *transport_peer_last_error(const struct transport *t, raft_id id);
/* Registers POST /raft on host (before h2o_context_init, as every h2o handler).
 * The handler stays registered after transport_free and then answers 503. */
int transport_register(struct transport *t, h2o_hostconf_t *host);
/* Binds the transport to ctx's loop; ctx must outlive the transport. Messages
 * sent before this are batched and go out at the first flush after it. */
void transport_start(struct transport *t, h2o_context_t *ctx);
/* Cancels requests in flight (their messages count as dropped), closes pooled
 * connections and frees t (NULL is fine). Call before h2o_context_dispose(). */
void transport_free(struct transport *t);

/* Queues m for m->to. m is only read (SNAPSHOT: the shell fills data/len first).
 * Returns 0, or -1 when the message was dropped (counted; Raft tolerates loss). */
int transport_send(struct transport *t, const struct raft_msg *m);
/* Answers the peers' requests held for messages (those queued for them since go
 * back in the answer), then starts one request per peer with pending messages and
 * a free in-flight slot. Call once per loop iteration, after processing the
 * iteration's ready. */
void transport_flush(struct transport *t);
/* Starts requests as transport_flush does, but keeps held requests waiting: for a
 * flush in the middle of a ready (before its fsync), whose acknowledgements
 * follow. */
void transport_flush_requests(struct transport *t);

void transport_stats(const struct transport *t, struct transport_stats *out);
/* Per-peer counters (the receive counters stay zero). -1 for an unknown id. */
int transport_peer_stats(const struct transport *t, raft_id id, struct transport_stats *out);

#endif
