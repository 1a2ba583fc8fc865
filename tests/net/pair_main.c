/* pair_main.c: `net-pair`, the transport skeleton as a program: two nodes in one
 * process on 127.0.0.1 (ephemeral ports, one evloop) exchange N APPENDs each way,
 * then print the counters. Built fully static like vesperd, so it also proves the
 * transport links statically. Usage: net-pair [N] (default 1000, at most 4096);
 * exits 0 when every message arrived, bounded by a 10 s deadline. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "pair.h"

static struct pair_node a, b;

static bool both_done(void *arg)
{
    uint32_t n = *(uint32_t *)arg;
    return a.n_recv >= n && b.n_recv >= n;
}

static void send_n(struct transport *t, raft_id from, raft_id to, uint32_t n)
{
    static uint8_t payload[64];
    for (uint32_t i = 0; i < n; i++) {
        struct raft_entry e = {.term = 1,
                               .index = i + 1,
                               .type = RAFT_ENTRY_NORMAL,
                               .len = sizeof payload,
                               .data = payload};
        for (uint32_t k = 0; k < e.len; k++)
            payload[k] = pair_payload_byte(e.index, k);
        struct raft_msg m = {.type = RAFT_MSG_APPEND,
                             .from = from,
                             .to = to,
                             .term = 1,
                             .index = i,
                             .seq = i + 1,
                             .n_entries = 1,
                             .entries = &e};
        if (transport_send(t, &m) != 0)
            fprintf(stderr, "net-pair: message %u dropped\n", i);
        if (i % 64 == 63)
            transport_flush(t); /* several batches in flight, like a busy leader */
    }
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 1000;
    if (n == 0 || n > PAIR_LOG_MAX)
        n = 1000;
    signal(SIGPIPE, SIG_IGN);
    h2o_loop_t *loop = h2o_evloop_create();
    struct pair_node *nodes[] = {&a, &b};
    if (pair_node_init(&a, loop) != 0 || pair_node_init(&b, loop) != 0)
        return 1;
    char ua[64], ub[64];
    snprintf(ua, sizeof ua, "http://127.0.0.1:%d", a.port);
    snprintf(ub, sizeof ub, "http://127.0.0.1:%d", b.port);
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    struct transport_peer pa = {2, ub}, pb = {1, ua};
    if (pair_node_transport(&a, &ca, &pa, 1) != 0 || pair_node_transport(&b, &cb, &pb, 1) != 0 ||
        pair_node_listen(&a) != 0 || pair_node_listen(&b) != 0)
        return 1;
    send_n(a.t, 1, 2, n);
    send_n(b.t, 2, 1, n);
    bool ok = pair_run(nodes, 2, loop, both_done, &n, 10000);
    struct transport_stats sa, sb;
    transport_stats(a.t, &sa);
    transport_stats(b.t, &sb);
    printf(
        "a->b: %u received, %llu batches, %llu errors; b->a: %u received, %llu batches, "
        "%llu errors; payload %s\n",
        b.n_recv, (unsigned long long)sa.batches_sent, (unsigned long long)sa.send_errors, a.n_recv,
        (unsigned long long)sb.batches_sent, (unsigned long long)sb.send_errors,
        a.recv_payload_ok && b.recv_payload_ok ? "ok" : "CORRUPT");
    pair_dispose(nodes, 2, loop);
    h2o_evloop_destroy(loop);
    return ok && a.recv_payload_ok && b.recv_payload_ok ? 0 : 1;
}
