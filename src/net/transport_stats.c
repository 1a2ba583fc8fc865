/* transport_stats.c: the transport's counters and per-peer health (see transport.h):
 * the receive side's own counters plus every peer's, and why a peer's last request
 * failed. */
#include "net/transport_int.h"

static void stats_add(struct transport_stats *a, const struct transport_stats *b)
{
    a->msgs_queued += b->msgs_queued;
    a->msgs_dropped += b->msgs_dropped;
    a->batches_sent += b->batches_sent;
    a->batches_ok += b->batches_ok;
    a->msgs_delivered += b->msgs_delivered;
    a->send_errors += b->send_errors;
    a->batches_received += b->batches_received;
    a->msgs_received += b->msgs_received;
    a->recv_corrupt += b->recv_corrupt;
    a->recv_unauthorized += b->recv_unauthorized;
    a->recv_wrong_cluster += b->recv_wrong_cluster;
    a->replies_sent += b->replies_sent;
    a->msgs_replied += b->msgs_replied;
    a->replies_received += b->replies_received;
}

void transport_stats(const struct transport *t, struct transport_stats *out)
{
    *out = t->recv_st;
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i].used)
            stats_add(out, &t->peers[i].st);
}

int transport_peer_stats(const struct transport *t, raft_id id, struct transport_stats *out)
{
    const struct peer *p = transport__find_peer(t, id);
    if (p == NULL)
        return -1;
    *out = p->st;
    return 0;
}

const char *transport_peer_last_error(const struct transport *t, raft_id id)
{
    const struct peer *p = transport__find_peer(t, id);
    return p ? p->last_error : NULL;
}
