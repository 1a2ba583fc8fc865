/* scenarios_lease.c: the lease clock (src/replica/replica_lease.c) on simulated
 * time.
 *
 * A lease of 1 s is granted and a key attached; the leader dies 600 ms later and
 * another node is elected while that lease still runs. The new leader counted the
 * lease from its own apply of the grant: it must expire the lease no earlier than
 * that deadline plus one election timeout and soon after (not a full TTL after
 * its election); every replica then lacks the key. A second lease, renewed every
 * 300 ms through whichever node leads, outlives both the failover and three TTLs,
 * and expires about one TTL after its last renewal. Last, a lease granted before
 * every node restarts is counted afresh from the restart (from the new leader's
 * election, or from its apply of the grant if the grant's commit was not yet
 * durable anywhere): it goes no earlier than its full TTL after the restart.
 */
#include "sim/scen.h"

#include <stdlib.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"

static int propose(struct sim_world *w, raft_id id, const struct kv_cmd *c)
{
    uint8_t buf[64];
    size_t len = kv_cmd_encode(c, buf, sizeof buf);
    if (len == 0)
        abort();
    raft_index idx;
    raft_term term;
    int rc = raft_propose(w->node[id].rep.raft, buf, (uint32_t)len, &idx, &term);
    sim_shell_process(w, &w->node[id]);
    return rc;
}

static bool has_lease(struct sim_world *w, raft_id id, uint64_t lease)
{
    return kv_lease_find(w->node[id].rep.kv, lease) != NULL;
}

/* Runs until lease id is gone from node `at`; the time it went, 0 if it outlived max_ms. */
static uint64_t run_until_expired(struct sim_world *w, raft_id at, uint64_t lease, uint64_t max_ms)
{
    uint64_t end = w->now_ms + max_ms;
    while (w->now_ms < end && !w->failed && has_lease(w, at, lease))
        sim_step_ms(w);
    return has_lease(w, at, lease) ? 0 : w->now_ms;
}

SIM_SCENARIO(lease_new_leader_extends_deadline_by_election_timeout)
{
    struct scen_opts o = {.n_nodes = 3, .election_ticks = 100}; /* 500 ms */
    struct sim_world *w = scen_new(&o, verbose);
    const uint64_t grace_ms = 100 * SIM_TICK_MS;
    SCEN_EXPECT(w, scen_elect(w, 0, 300) && scen_settle(w, 0, 300));
    struct kv_cmd g1 = {.op = KV_OP_LEASE_GRANT, .lease = 1, .ttl = 1};
    struct kv_cmd g2 = {.op = KV_OP_LEASE_GRANT, .lease = 2, .ttl = 1};
    struct kv_cmd put = {.op = KV_OP_PUT, .key = (const uint8_t *)"k", .key_len = 1, .lease = 1};
    uint64_t proposed = w->now_ms; /* node 1 applies the grant in [proposed, applied] */
    SCEN_EXPECT(w, propose(w, 0, &g1) == RAFT_OK && propose(w, 0, &g2) == RAFT_OK &&
                       propose(w, 0, &put) == RAFT_OK);
    SCEN_EXPECT(w, scen_settle(w, 0, 300) && has_lease(w, 1, 1));
    uint64_t applied = w->now_ms;
    struct kv_cmd ka = {.op = KV_OP_LEASE_KEEPALIVE, .lease = 2};
    sim_run_ms(w, 300);
    SCEN_EXPECT(w, propose(w, 0, &ka) == RAFT_OK);
    sim_run_ms(w, 300);
    sim_node_crash(w, 0);
    SCEN_EXPECT(w, scen_elect(w, 1, 2000));
    uint64_t elected = w->now_ms;
    SCEN_EXPECT(w, elected < proposed + 1000); /* the lease still ran at the election */
    uint64_t gone = 0, last_renewal = elected;
    while (w->now_ms < elected + 5000 && !w->failed) {
        if (w->now_ms % 300 == 0 && w->now_ms < elected + 3000) {
            raft_id lead = sim_leader(w);
            if (lead != RAFT_NONE && propose(w, lead, &ka) == RAFT_OK)
                last_renewal = w->now_ms;
        }
        sim_step_ms(w);
        if (gone == 0 && !has_lease(w, 1, 1))
            gone = w->now_ms;
        if (w->now_ms < elected + 3000)
            SCEN_EXPECT(w, has_lease(w, 1, 2)); /* renewed: never expired */
    }
    SCEN_EXPECT(w, gone != 0);
    SCEN_EXPECT(w, gone >= proposed + 1000 + grace_ms);
    SCEN_EXPECT(w, gone <= applied + 1000 + grace_ms + 200);
    SCEN_EXPECT(w, !has_lease(w, 1, 2)); /* expired once the renewals stopped */
    SCEN_EXPECT(w, last_renewal >= elected + 2700);
    sim_node_start(w, 0);
    SCEN_EXPECT(w, scen_settle(w, 0, 2000));
    for (raft_id i = 0; i < 3; i++)
        SCEN_EXPECT(w, kv_get(w->node[i].rep.kv, "k", 1) == NULL && !has_lease(w, i, 1));

    /* Every node restarts: no deadline counted before it survives. */
    struct kv_cmd g3 = {.op = KV_OP_LEASE_GRANT, .lease = 3, .ttl = 1};
    SCEN_EXPECT(w, propose(w, 1, &g3) == RAFT_OK && scen_settle(w, 0, 300));
    for (raft_id i = 0; i < 3; i++)
        sim_node_crash(w, i);
    for (raft_id i = 0; i < 3; i++)
        sim_node_start(w, i);
    uint64_t restarted = w->now_ms;
    SCEN_EXPECT(w, scen_elect(w, 2, 2000));
    uint64_t elected3 = w->now_ms;
    uint64_t gone3 = run_until_expired(w, 2, 3, 5000);
    SCEN_EXPECT(w, gone3 != 0 && gone3 >= restarted + 1000);
    SCEN_EXPECT(w, gone3 <= elected3 + 1000 + grace_ms + 200);
    return scen_finish(w);
}
