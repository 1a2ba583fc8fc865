/* test_raft_catchup.c: snapshot catch-up of a lagging follower, driven on three raft
 * cores with a hand-held network (no simulation world): every message is delivered at
 * once unless the test holds or drops it, persistence is instant, and the leader's
 * snapshot bytes are filled in by the harness as the shell would from disk.
 *
 * The property: a follower gets a snapshot only while the entries it needs are
 * compacted away. Once it holds a snapshot whose successors the leader still has, it is
 * served from the log, even if the leader took a newer snapshot meanwhile.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "raft/raft.h"

#define NODES      3
#define SNAP_BYTES 300 /* three chunks of 100 */
#define HELD_MAX   16

struct net {
    struct raft *r[NODES];
    bool cut[NODES];      /* node isolated: everything to or from it is lost */
    bool hold_final_to_0; /* hold node 2's acknowledgement of a finished snapshot */
    struct raft_msg held[HELD_MAX];
    int n_held;
    int installs[NODES];
    raft_index applied[NODES];
    uint8_t snap_bytes[SNAP_BYTES];
};

static bool is_install_ack(const struct raft_msg *m)
{
    return m->from == 2 && m->to == 0 &&
           ((m->type == RAFT_MSG_SNAPSHOT_RESP && m->offset == SNAP_BYTES && !m->reject) ||
            (m->type == RAFT_MSG_APPEND_RESP && !m->reject));
}

static void deliver(struct net *n, const struct raft_msg *m)
{
    if (n->cut[m->from] || n->cut[m->to])
        return;
    if (n->hold_final_to_0 && is_install_ack(m) && n->n_held < HELD_MAX) {
        n->held[n->n_held++] = *m; /* no pointers in these two types */
        return;
    }
    struct raft_msg copy = *m;
    if (m->type == RAFT_MSG_SNAPSHOT && m->data == NULL && m->len) {
        copy.data = n->snap_bytes + m->offset; /* what the shell reads from disk */
    }
    raft_step(n->r[m->to], &copy);
}

/* Runs every node's readies until none is left. */
static void pump(struct net *n)
{
    for (bool busy = true; busy;) {
        busy = false;
        for (int i = 0; i < NODES; i++) {
            while (raft_has_ready(n->r[i])) {
                busy = true;
                struct raft_ready rd;
                raft_ready(n->r[i], &rd);
                if (rd.install)
                    n->installs[i]++;
                for (size_t k = 0; k < rd.n_msgs; k++)
                    deliver(n, &rd.msgs[k]);
                for (size_t k = 0; k < rd.n_msgs_sync; k++)
                    deliver(n, &rd.msgs_sync[k]);
                if (rd.n_committed)
                    n->applied[i] = rd.committed[rd.n_committed - 1].index;
                raft_index last = rd.last_index;
                raft_term last_term = rd.last_term;
                raft_advance(n->r[i], &rd);
                raft_durable(n->r[i], last, last_term);
            }
        }
    }
}

static void tick_all(struct net *n, int ticks)
{
    for (int t = 0; t < ticks; t++) {
        for (int i = 0; i < NODES; i++)
            raft_tick(n->r[i]);
        pump(n);
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
        raft_config_defaults(&cfg, (raft_id)i, 7);
        cfg.snapshot_chunk_bytes = SNAP_BYTES / 3;
        if (raft_new(&n->r[i], &cfg, &boot) != RAFT_OK)
            return -1;
    }
    raft_campaign(n->r[0]);
    pump(n);
    return raft_role(n->r[0]) == RAFT_LEADER ? 0 : -1;
}

static void net_free(struct net *n)
{
    for (int i = 0; i < NODES; i++)
        raft_free(n->r[i]);
}

static void propose(struct net *n, int count)
{
    for (int k = 0; k < count; k++) {
        raft_index idx;
        raft_term term;
        if (raft_propose(n->r[0], "x", 1, &idx, &term) != RAFT_OK)
            return;
        pump(n);
    }
}

static raft_index commit_of(struct net *n, int i)
{
    struct raft_status st;
    raft_status(n->r[i], &st);
    return st.commit;
}

/* Regression: the leader took a newer snapshot while the follower's install of the
 * previous one was being acknowledged; the acknowledgement was ignored and the follower
 * was sent the newer snapshot too, although the leader still held every entry after the
 * one installed. Repeated, a catching-up follower installed snapshot after snapshot. */
TEST(raft_installed_snapshot_then_log_not_another_snapshot)
{
    struct net *n = malloc(sizeof *n);
    CHECK(n != NULL && net_init(n) == 0);
    n->cut[2] = true;
    propose(n, 60);
    tick_all(n, 2);
    CHECK_EQ_U64(commit_of(n, 0), 61); /* the leader's no-op and 60 entries */
    raft_snapshot_taken(n->r[0], 61, SNAP_BYTES, 20);
    /* Node 2 returns: it needs entries from 2 on, compacted: snapshot 61 is due. */
    n->cut[2] = false;
    n->hold_final_to_0 = true;
    tick_all(n, 3);
    CHECK_EQ_U64(n->installs[2], 1);
    CHECK(n->n_held > 0); /* the leader has not heard of the install yet */
    /* Meanwhile the leader commits more and snapshots again, keeping 20 entries. */
    propose(n, 10);
    tick_all(n, 1);
    CHECK_EQ_U64(n->applied[0], 71);
    raft_snapshot_taken(n->r[0], 71, SNAP_BYTES, 20); /* log now starts after 51 */
    n->hold_final_to_0 = false;
    for (int k = 0; k < n->n_held; k++)
        raft_step(n->r[0], &n->held[k]);
    n->n_held = 0;
    pump(n);
    tick_all(n, 20);
    CHECK_EQ_U64(commit_of(n, 2), 71);
    CHECK_EQ_U64(n->installs[2], 1); /* entries 62.. came from the log */
    net_free(n);
    free(n);
}

/* The rule's other half: a follower whose needed entries are gone still gets the newest
 * snapshot, also when the leader replaced the one being sent. */
TEST(raft_snapshot_replaced_mid_transfer_is_resent)
{
    struct net *n = malloc(sizeof *n);
    CHECK(n != NULL && net_init(n) == 0);
    n->cut[2] = true;
    propose(n, 60);
    tick_all(n, 2);
    raft_snapshot_taken(n->r[0], 61, SNAP_BYTES, 5);
    propose(n, 30);
    tick_all(n, 2);
    raft_snapshot_taken(n->r[0], 91, SNAP_BYTES, 5);
    n->cut[2] = false;
    tick_all(n, 20);
    CHECK_EQ_U64(commit_of(n, 2), 91);
    CHECK_EQ_U64(n->installs[2], 1);
    net_free(n);
    free(n);
}

/* Regression: a leader that had just queued an append (here the answer to a
 * follower's rejection) stepped, before its next Ready, a snapshot of a newer leader
 * whose index its own log still held. The install compacted the log under the queued
 * append, and raft_ready() resolved that append's entries from compacted memory. */
TEST(raft_install_over_own_log_drops_appends_queued_as_leader)
{
    struct net *n = malloc(sizeof *n);
    CHECK(n != NULL && net_init(n) == 0);
    propose(n, 5);
    tick_all(n, 2);
    CHECK_EQ_U64(commit_of(n, 1), 6);
    struct raft *l = n->r[0];
    raft_term t = raft_term_now(l);
    /* Entry 7 leaves in a Ready that nobody receives. */
    raft_index idx;
    raft_term term;
    CHECK(raft_propose(l, "y", 1, &idx, &term) == RAFT_OK && idx == 7);
    struct raft_ready rd;
    raft_ready(l, &rd);
    raft_advance(l, &rd);
    raft_durable(l, 7, t);
    /* Node 1 rejects 7: the leader queues a new append of 7 for it. */
    struct raft_msg rej = {.type = RAFT_MSG_APPEND_RESP,
                           .from = 1,
                           .to = 0,
                           .term = t,
                           .index = 7,
                           .reject = true,
                           .hint_index = 6,
                           .log_term = t};
    CHECK(raft_step(l, &rej) == RAFT_OK);
    /* In the same iteration: node 1, leader of t+1, sends its snapshot at 7. */
    struct raft_conf conf = *raft_current_conf(l);
    struct raft_msg snap = {.type = RAFT_MSG_SNAPSHOT,
                            .from = 1,
                            .to = 0,
                            .term = t + 1,
                            .snap_index = 7,
                            .snap_term = t,
                            .snap_size = 10,
                            .offset = 0,
                            .len = 10,
                            .done = true,
                            .conf = &conf,
                            .data = n->snap_bytes};
    CHECK(raft_step(l, &snap) == RAFT_OK);
    CHECK(raft_role(l) == RAFT_FOLLOWER);
    raft_ready(l, &rd);
    for (size_t k = 0; k < rd.n_msgs; k++)
        CHECK(rd.msgs[k].type != RAFT_MSG_APPEND);
    raft_advance(l, &rd);
    net_free(n);
    free(n);
}

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
