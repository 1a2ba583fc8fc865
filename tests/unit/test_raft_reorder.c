/* test_raft_reorder.c: a leader's pipeline to a follower whose appends arrive out of
 * order, driven on three raft cores with a hand-held network (no simulation world).
 *
 * vesperd sends a peer up to two batches at once on separate connections, so a later
 * batch can arrive first. The follower rejects an append whose previous entry it has
 * not received yet, naming its last entry as the hint. That reject says nothing about
 * divergence: the appends after the hint are already on their way. If the leader
 * answered each such reject by probing, and the next acknowledgement by sending the
 * whole pipeline again, every resend that also arrived out of order would draw more
 * rejects, and the traffic grew without bound (a random simulation seed showed a
 * hundred thousand messages in flight). The leader instead notes the lowest rejected
 * point and resends from there once, when the follower's match reaches it; appends
 * lost outright are recovered by the heartbeat round's probe.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "raft/raft.h"

#define NODES    3
#define HELD_MAX 64

/* An APPEND to node 1 kept back, with its own copy of the entries. */
struct held {
    struct raft_msg m;
    struct raft_entry *e;
};

struct net {
    struct raft *r[NODES];
    bool hold_to_1;        /* keep APPENDs to node 1 instead of delivering them */
    bool hold_resp_from_1; /* keep node 1's APPEND_RESPs instead of delivering them */
    struct held held[HELD_MAX];
    int n_held;
    int appends_to_1; /* APPENDs the leader sent node 1 since the counter was reset */
};

static void hold(struct net *n, const struct raft_msg *m)
{
    if (n->n_held == HELD_MAX)
        abort();
    struct held *h = &n->held[n->n_held++];
    h->m = *m;
    h->e = calloc(m->n_entries ? m->n_entries : 1, sizeof *h->e);
    if (!h->e)
        abort();
    for (uint32_t i = 0; i < m->n_entries; i++) {
        h->e[i] = m->entries[i];
        if (m->entries[i].len) {
            h->e[i].data = malloc(m->entries[i].len);
            if (!h->e[i].data)
                abort();
            memcpy(h->e[i].data, m->entries[i].data, m->entries[i].len);
        }
    }
    h->m.entries = h->e;
}

static void held_free(struct held *h)
{
    for (uint32_t i = 0; i < h->m.n_entries; i++)
        free(h->e[i].data);
    free(h->e);
}

static void pump(struct net *n);

static void deliver(struct net *n, const struct raft_msg *m)
{
    if (m->type == RAFT_MSG_APPEND && m->to == 1) {
        n->appends_to_1++;
        if (n->hold_to_1) {
            hold(n, m);
            return;
        }
    }
    if (m->type == RAFT_MSG_APPEND_RESP && m->from == 1 && n->hold_resp_from_1) {
        hold(n, m);
        return;
    }
    raft_step(n->r[m->to], m);
}

/* Runs every node's readies until none is left; persistence is instant. */
static void pump(struct net *n)
{
    for (bool busy = true; busy;) {
        busy = false;
        for (int i = 0; i < NODES; i++) {
            while (raft_has_ready(n->r[i])) {
                busy = true;
                struct raft_ready rd;
                raft_ready(n->r[i], &rd);
                for (size_t k = 0; k < rd.n_msgs; k++)
                    deliver(n, &rd.msgs[k]);
                for (size_t k = 0; k < rd.n_msgs_sync; k++)
                    deliver(n, &rd.msgs_sync[k]);
                raft_index last = rd.last_index;
                raft_term last_term = rd.last_term;
                raft_advance(n->r[i], &rd);
                raft_durable(n->r[i], last, last_term);
            }
        }
    }
}

static int net_init(struct net *n)
{
    memset(n, 0, sizeof *n);
    struct raft_boot boot = {.hs = {.vote = RAFT_NONE}};
    for (int i = 0; i < NODES; i++) {
        struct raft_member *mb = &boot.initial.m[boot.initial.n++];
        mb->id = (raft_id)i;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "node%d", i);
    }
    for (int i = 0; i < NODES; i++) {
        struct raft_config cfg;
        raft_config_defaults(&cfg, (raft_id)i, 5);
        cfg.max_append_bytes = 1; /* one entry per APPEND */
        if (raft_new(&n->r[i], &cfg, &boot) != RAFT_OK)
            return -1;
    }
    raft_campaign(n->r[0]);
    pump(n);
    return raft_role(n->r[0]) == RAFT_LEADER ? 0 : -1;
}

static raft_index last_of(struct net *n, int i)
{
    struct raft_status st;
    raft_status(n->r[i], &st);
    return st.last_index;
}

static void net_free(struct net *n)
{
    for (int k = 0; k < n->n_held; k++)
        held_free(&n->held[k]);
    for (int i = 0; i < NODES; i++)
        raft_free(n->r[i]);
    free(n);
}

/* Node 1 acknowledges one entry (the leader pipelines to it), then `count` more
 * appends to it are held back; returns node 1's last index before them. */
static raft_index hold_appends(struct net *n, int count)
{
    raft_index idx;
    raft_term term;
    if (raft_propose(n->r[0], "a", 1, &idx, &term) != RAFT_OK)
        abort();
    pump(n);
    raft_index base = last_of(n, 1);
    n->hold_to_1 = true;
    for (int k = 0; k < count; k++) {
        if (raft_propose(n->r[0], "b", 1, &idx, &term) != RAFT_OK)
            abort();
        pump(n);
    }
    return base;
}

static void deliver_held(struct net *n, int k)
{
    raft_step(n->r[n->held[k].m.to], &n->held[k].m);
    pump(n);
}

TEST(raft_reordered_pipeline_is_resent_once_when_the_gap_fills)
{
    struct net *n = calloc(1, sizeof *n);
    CHECK(n && net_init(n) == 0);
    raft_index base = hold_appends(n, 6);
    CHECK_EQ_U64(base, last_of(n, 0) - 6);
    CHECK_EQ_U64(n->n_held, 6);

    /* The six arrive newest first: five rejects naming base draw nothing. */
    n->appends_to_1 = 0;
    for (int k = 5; k >= 1; k--)
        deliver_held(n, k);
    CHECK_EQ_U64(last_of(n, 1), base);
    CHECK_EQ_U64(n->appends_to_1, 0);

    /* The oldest is accepted: match reaches the gap, and the five rejected entries
     * go out again, each once. */
    deliver_held(n, 0);
    CHECK_EQ_U64(last_of(n, 1), base + 1);
    CHECK_EQ_U64(n->appends_to_1, 5);
    CHECK_EQ_U64(n->n_held, 11);

    /* Delivered in order, they bring node 1 level without a tick and without any
     * further resend. */
    for (int k = 6; k < 11; k++)
        deliver_held(n, k);
    CHECK_EQ_U64(last_of(n, 1), last_of(n, 0));
    CHECK_EQ_U64(n->appends_to_1, 5);
    net_free(n);
}

TEST(raft_reordered_resends_shrink_round_by_round)
{
    struct net *n = calloc(1, sizeof *n);
    CHECK(n && net_init(n) == 0);
    raft_index base = hold_appends(n, 4);
    n->appends_to_1 = 0;
    /* Every round delivers what is held newest first, so each resend but the
     * oldest is rejected again: each round still resends at most what it lost. */
    int from = 0;
    for (int round = 0; round < 8 && last_of(n, 1) < last_of(n, 0); round++) {
        int to = n->n_held;
        int before = n->appends_to_1;
        for (int k = to - 1; k >= from; k--)
            deliver_held(n, k);
        CHECK(n->appends_to_1 - before < to - from);
        from = to;
    }
    CHECK_EQ_U64(last_of(n, 1), last_of(n, 0));
    CHECK_EQ_U64(last_of(n, 1), base + 4);
    CHECK(n->appends_to_1 <= 3 + 2 + 1);
    net_free(n);
}

TEST(raft_reject_overtaken_by_the_ack_before_it_is_resent_at_once)
{
    struct net *n = calloc(1, sizeof *n);
    CHECK(n && net_init(n) == 0);
    raft_index base = hold_appends(n, 2);
    CHECK_EQ_U64(n->n_held, 2);
    n->appends_to_1 = 0;
    /* The second append arrives first and is refused, then the first is accepted;
     * both answers are held, and the acknowledgement reaches the leader first. */
    n->hold_resp_from_1 = true;
    deliver_held(n, 1);
    deliver_held(n, 0);
    CHECK_EQ_U64(n->n_held, 4);
    CHECK(n->held[2].m.reject && !n->held[3].m.reject);
    CHECK_EQ_U64(last_of(n, 1), base + 1);
    deliver_held(n, 3);
    CHECK_EQ_U64(n->appends_to_1, 0);
    /* The reject names the point the leader now knows as matched: the entry after
     * it is lost, and goes out again at once; a duplicate of the reject sends
     * nothing more. */
    deliver_held(n, 2);
    CHECK_EQ_U64(n->appends_to_1, 1);
    deliver_held(n, 2);
    CHECK_EQ_U64(n->appends_to_1, 1);
    n->hold_resp_from_1 = false;
    deliver_held(n, 4);
    CHECK_EQ_U64(last_of(n, 1), last_of(n, 0));
    CHECK_EQ_U64(last_of(n, 1), base + 2);
    net_free(n);
}

TEST(raft_lost_pipelined_appends_are_recovered_by_the_heartbeat_probe)
{
    struct net *n = calloc(1, sizeof *n);
    CHECK(n && net_init(n) == 0);
    raft_index base = hold_appends(n, 6);
    /* All six are lost: no reject, no acknowledgement tells the leader. */
    for (int k = 0; k < n->n_held; k++)
        held_free(&n->held[k]);
    n->n_held = 0;
    n->hold_to_1 = false;
    CHECK_EQ_U64(last_of(n, 1), base);
    /* A heartbeat round without progress turns node 1 into a probe. */
    for (int t = 0; t < 40 && last_of(n, 1) < last_of(n, 0); t++) {
        for (int i = 0; i < NODES; i++)
            raft_tick(n->r[i]);
        pump(n);
    }
    CHECK_EQ_U64(last_of(n, 1), last_of(n, 0));
    CHECK_EQ_U64(raft_role(n->r[0]), RAFT_LEADER);
    net_free(n);
}
