/* disk.c: the shadow logs the invariant checker compares, and the state digest.
 *
 * A node's real storage holds its log; the checker keeps a shadow of it (struct
 * sim_log) with, per entry, a hash of its data and a chain hash of it and every
 * entry before it, so log matching compares whole prefixes in O(1). The shadow of
 * a running node follows what its Ready loop hands storage; after a crash it is
 * rebuilt from what storage recovers. The state machine is the real src/kv plus
 * the configuration as of the applied index (sm_conf: the last CONF entry
 * applied, or the snapshot header's configuration after a restore); its digest
 * is an order-independent hash of the map mixed with the encoded configuration,
 * so two replicas built differently (applied entry by entry, or restored from a
 * snapshot) compare equal exactly when their contents are equal.
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

void sim_log_free(struct sim_log *l)
{
    free(l->e);
    memset(l, 0, sizeof *l);
}

raft_index sim_log_last(const struct sim_log *l)
{
    return l->base_index + l->n;
}

const struct sim_entry *sim_log_at(const struct sim_log *l, raft_index i)
{
    if (i <= l->base_index || i > sim_log_last(l))
        return NULL;
    return &l->e[i - l->base_index - 1];
}

bool sim_log_write(struct sim_log *l, const struct sim_entry *e, size_t n)
{
    if (n == 0)
        return true;
    raft_index first = e[0].index;
    if (first <= l->base_index || first > sim_log_last(l) + 1)
        return false;
    l->n = (size_t)(first - l->base_index - 1);
    if (l->n + n > l->cap) {
        l->cap = (l->n + n) * 2;
        l->e = realloc(l->e, l->cap * sizeof *l->e);
        if (!l->e)
            abort();
    }
    memcpy(l->e + l->n, e, n * sizeof *e);
    l->n += n;
    return true;
}

void sim_log_reset(struct sim_log *l, raft_index i, raft_term t, uint64_t chain)
{
    l->n = 0;
    l->base_index = i;
    l->base_term = t;
    l->base_chain = chain;
}

void sim_disk_free(struct sim_disk *d)
{
    sim_log_free(&d->log);
    memset(d, 0, sizeof *d);
}

/* The leases (ids, TTLs, renewed indexes, key counts, the next id) and the watch
 * history window (every event in order, and where it starts): state that snapshots
 * carry, so replicas must agree on it at every applied index. */
static uint64_t sim_kv_extra_digest(const struct kv *kv)
{
    uint64_t h = sim_mix(kv->leases.next_id, kv_lease_count(kv));
    for (size_t i = 0; i < kv_lease_count(kv); i++) {
        const struct kv_lease *l = kv_lease_at(kv, i);
        uint64_t f[4] = {l->id, l->ttl_s, l->renewed_index, l->n_keys};
        h = sim_mix(h, sim_hash_bytes(f, sizeof f, 5));
    }
    h = sim_mix(h, kv_hist_oldest(kv));
    for (size_t i = 0; i < kv_hist_count(kv); i++) {
        const struct kv_event *e = kv_hist_at(kv, i);
        uint64_t f[4] = {e->revision, e->create_revision, e->version, e->type};
        h = sim_mix(h, sim_hash_bytes(f, sizeof f, 6));
        h = sim_mix(h, sim_hash_bytes(e->data, (size_t)e->key_len + e->value_len, 7));
    }
    return h;
}

uint64_t sim_sm_digest(const struct kv *kv, const struct raft_conf *conf)
{
    uint64_t sum = 0;
    size_t cursor = 0;
    const struct kv_rec *rec;
    while ((rec = kv_map_next(&kv->map, &cursor))) {
        uint64_t hk = sim_hash_bytes(kv_rec_key(rec), rec->key_len, 1);
        uint64_t hv = sim_hash_bytes(kv_rec_value(rec), rec->value_len, 2);
        uint64_t revs[4] = {rec->create_revision, rec->mod_revision, rec->version, rec->lease};
        sum += sim_mix(sim_mix(hk, hv), sim_hash_bytes(revs, sizeof revs, 4));
    }
    sum = sim_mix(sum, kv_revision(kv));
    sum = sim_mix(sum, sim_kv_extra_digest(kv));
    uint8_t buf[RAFT_MAX_MEMBERS * (8 + RAFT_ADDR_MAX) + 16];
    size_t len = raft_conf_encode(conf, buf, sizeof buf);
    if (len > sizeof buf)
        abort();
    return sim_mix(sum, sim_hash_bytes(buf, len, 3));
}
