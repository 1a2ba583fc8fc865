/* apply.c: the client actions of the simulation: proposals (real kv commands),
 * ReadIndex reads and membership changes.
 *
 * Each one calls the core and then runs the node's Ready loop, so callers never
 * hold a ready open. Commands are PUTs of keys k0..k7 with a value naming the
 * command, encoded by src/kv, so the state machine really applies them; random
 * runs also propose transactions over the same keys (sim_propose_txn), whose
 * branches, revisions and answers every replica must reach alike, and lease
 * commands (sim_propose_lease), whose expiries the leader proposes by itself.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_cmd.h"
#include "kv/kv_txn.h"

int sim_propose_sized(struct sim_world *w, raft_id id, size_t value_len, raft_index *index)
{
    struct sim_node *n = &w->node[id];
    uint64_t c = ++w->cmd_counter;
    char key[16], value[32];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)(c % SIM_KEYS));
    int vlen = snprintf(value, sizeof value, "c%llu", (unsigned long long)c);
    uint8_t *big = NULL;
    struct kv_cmd cmd = {.op = KV_OP_PUT, .key = (const uint8_t *)key, .key_len = strlen(key)};
    cmd.value = (const uint8_t *)value;
    cmd.value_len = (size_t)vlen;
    if (value_len > (size_t)vlen) {
        big = malloc(value_len);
        if (!big)
            abort();
        memset(big, 'v', value_len);
        memcpy(big, value, (size_t)vlen);
        cmd.value = big;
        cmd.value_len = value_len;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (kv_cmd_encode_alloc(&cmd, &buf, &len) != 0)
        abort();
    free(big);
    raft_index idx = 0;
    raft_term term = 0;
    int rc = raft_propose(n->rep.raft, buf, (uint32_t)len, &idx, &term);
    free(buf);
    sim_trace(w, "sim: n%u propose c%llu -> %s (index %llu term %llu)", (unsigned)id,
              (unsigned long long)c, raft_strerror(rc), (unsigned long long)idx,
              (unsigned long long)term);
    if (index)
        *index = idx;
    sim_shell_process(w, n);
    return rc;
}

static struct kv_txn_op txn_op(uint8_t kind, const char *key, const char *value)
{
    struct kv_txn_op o = {.kind = kind, .key = (const uint8_t *)key, .key_len = strlen(key)};
    if (value != NULL) {
        o.value = (const uint8_t *)value;
        o.value_len = strlen(value);
    }
    return o;
}

int sim_propose_txn(struct sim_world *w, raft_id id)
{
    struct sim_node *n = &w->node[id];
    uint64_t c = ++w->cmd_counter;
    char k[4][8], value[32];
    for (int i = 0; i < 4; i++)
        snprintf(k[i], sizeof k[i], "k%llu",
                 (unsigned long long)((c + (uint64_t)i * 3) % SIM_KEYS));
    snprintf(value, sizeof value, "c%llu", (unsigned long long)c);
    static struct kv_txn t; /* one thread; ~10 KB */
    memset(&t, 0, sizeof t);
    t.n_cmp = 1; /* k0 was written before: put two keys, delete one, read one */
    t.cmp[0] = (struct kv_txn_cmp){.target = KV_TXN_VERSION,
                                   .op = KV_TXN_GT,
                                   .key = (const uint8_t *)k[0],
                                   .key_len = strlen(k[0])};
    t.n_ops[0] = 4;
    t.ops[0][0] = txn_op(KV_TXN_PUT, k[0], value);
    t.ops[0][1] = txn_op(KV_TXN_PUT, k[1], value);
    t.ops[0][2] = txn_op(KV_TXN_DELETE, k[2], NULL);
    t.ops[0][3] = txn_op(KV_TXN_GET, k[3], NULL);
    t.n_ops[1] = 1;
    t.ops[1][0] = txn_op(KV_TXN_PUT, k[0], value);
    uint8_t body[256], *buf = NULL;
    size_t len = 0;
    struct kv_cmd cmd = {
        .op = KV_OP_TXN, .txn = body, .txn_len = kv_txn_encode(&t, body, sizeof body)};
    if (cmd.txn_len == 0 || kv_cmd_encode_alloc(&cmd, &buf, &len) != 0)
        abort();
    raft_index idx = 0;
    raft_term term = 0;
    int rc = raft_propose(n->rep.raft, buf, (uint32_t)len, &idx, &term);
    free(buf);
    sim_trace(w, "sim: n%u propose txn c%llu -> %s (index %llu term %llu)", (unsigned)id,
              (unsigned long long)c, raft_strerror(rc), (unsigned long long)idx,
              (unsigned long long)term);
    sim_shell_process(w, n);
    return rc;
}

int sim_propose_lease(struct sim_world *w, raft_id id)
{
    struct sim_node *n = &w->node[id];
    uint64_t c = ++w->cmd_counter;
    char key[16], value[32];
    snprintf(key, sizeof key, "k%llu", (unsigned long long)(c % SIM_KEYS));
    snprintf(value, sizeof value, "c%llu", (unsigned long long)c);
    struct kv_cmd cmd = {.lease = (c / 8) % 4 + 1};
    const char *what;
    switch ((c / 8) % 5) {
    case 0:
    case 1:
        cmd = (struct kv_cmd){.op = KV_OP_LEASE_GRANT, .ttl = 1 + (c / 8) % 2};
        what = "grant";
        break;
    case 2:
    case 3:
        cmd.op = KV_OP_PUT;
        cmd.key = (const uint8_t *)key;
        cmd.key_len = strlen(key);
        cmd.value = (const uint8_t *)value;
        cmd.value_len = strlen(value);
        what = "leased put";
        break;
    default:
        cmd.op = (c / 40) % 2 ? KV_OP_LEASE_REVOKE : KV_OP_LEASE_KEEPALIVE;
        what = (c / 40) % 2 ? "revoke" : "keepalive";
        break;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    if (kv_cmd_encode_alloc(&cmd, &buf, &len) != 0)
        abort();
    raft_index idx = 0;
    raft_term term = 0;
    int rc = raft_propose(n->rep.raft, buf, (uint32_t)len, &idx, &term);
    free(buf);
    sim_trace(w, "sim: n%u propose %s c%llu (lease %llu) -> %s (index %llu term %llu)",
              (unsigned)id, what, (unsigned long long)c, (unsigned long long)cmd.lease,
              raft_strerror(rc), (unsigned long long)idx, (unsigned long long)term);
    sim_shell_process(w, n);
    return rc;
}

int sim_propose(struct sim_world *w, raft_id id, raft_index *index)
{
    return sim_propose_sized(w, id, 0, index);
}

int sim_read(struct sim_world *w, raft_id id)
{
    struct sim_node *n = &w->node[id];
    uint64_t rid = ++w->read_counter;
    sim_check_read_start(w, rid);
    int rc = raft_read(n->rep.raft, rid);
    sim_trace(w, "sim: n%u read %llu requested -> %s", (unsigned)id, (unsigned long long)rid,
              raft_strerror(rc));
    sim_shell_process(w, n);
    return rc;
}

int sim_change(struct sim_world *w, raft_id leader, enum raft_change op, raft_id id)
{
    static const char *names[] = {"add-learner", "promote", "remove"};
    char addr[16];
    snprintf(addr, sizeof addr, "n%u", (unsigned)id);
    raft_index idx = 0;
    int rc = raft_change(w->node[leader].rep.raft, op, id, addr, &idx);
    sim_trace(w, "sim: n%u change %s n%u -> %s (index %llu)", (unsigned)leader, names[op],
              (unsigned)id, raft_strerror(rc), (unsigned long long)idx);
    sim_shell_process(w, &w->node[leader]);
    if (rc == RAFT_OK && op == RAFT_ADD_LEARNER && !w->node[id].started)
        sim_node_start(w, id);
    return rc;
}
