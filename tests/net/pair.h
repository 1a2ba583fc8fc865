/* pair.h: a minimal vesperd-like server skeleton for transport tests: an h2o
 * context with a listener on 127.0.0.1 and a transport, several of which share one
 * evloop so one test process can run a small loopback cluster deterministically. */
#ifndef VESPER_TESTS_NET_PAIR_H
#define VESPER_TESTS_NET_PAIR_H

#include <stdbool.h>

#include "net/transport.h"

#define PAIR_LOG_MAX 4096

struct pair_node {
    h2o_loop_t *loop;
    h2o_globalconf_t config;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    int fd;                 /* bound listening socket, -1 when closed */
    h2o_socket_t *listener; /* NULL until pair_node_listen */
    int port;
    struct transport *t;
    uint32_t accepted; /* connections accepted */
    uint32_t n_recv;   /* messages received */
    raft_id recv_from[PAIR_LOG_MAX];
    uint64_t recv_seq[PAIR_LOG_MAX];
    uint32_t recv_bytes[PAIR_LOG_MAX]; /* entry payload bytes, checked against a pattern */
    bool recv_payload_ok;
    /* Optional: called for every message received, after it is logged (a test's
     * stand-in for a core that answers). */
    void (*on_msg)(struct pair_node *n, const struct raft_msg *m);
    /* Optional: called after each loop turn, before the flush (where vesperd runs
     * its Ready loop). */
    void (*before_flush)(struct pair_node *n);
};

/* Binds 127.0.0.1:0 and initialises the h2o configuration; does not listen yet. */
int pair_node_init(struct pair_node *n, h2o_loop_t *loop);
/* listen() and start accepting. */
int pair_node_listen(struct pair_node *n);
/* Creates n->t with the given peers, registers POST /raft, initialises the h2o
 * context on the loop and starts the transport. Call before pair_node_listen. */
int pair_node_transport(struct pair_node *n, const struct transport_config *cfg,
                        const struct transport_peer *peers, size_t n_peers);
/* Frees transports first (closing client sockets), lets the servers see the
 * closes, then disposes contexts. Takes every node sharing the loop. */
void pair_dispose(struct pair_node **nodes, size_t n, h2o_loop_t *loop);

/* Runs loop iterations (each followed by before_flush and transport_flush on every
 * node) until
 * done(arg) or timeout_ms. Returns done(arg). */
bool pair_run(struct pair_node **nodes, size_t n, h2o_loop_t *loop, bool (*done)(void *), void *arg,
              uint64_t timeout_ms);

/* A condition for pair_run: n has received at least count messages. */
struct pair_want {
    struct pair_node *n;
    uint32_t count;
};
bool pair_got(void *arg); /* arg: a struct pair_want */

/* The payload byte at position i of an entry with index idx (tests check it). */
static inline uint8_t pair_payload_byte(uint64_t idx, uint32_t i)
{
    return (uint8_t)(idx * 31 + i);
}

#endif
