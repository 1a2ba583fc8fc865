/* replica_lease.c: the lease clock: deadlines every node counts from the renewals
 * it applies, and the leader's expiry proposals (see replica_lease.h).
 *
 * The deadlines sit in an array sorted by id, mirroring the state machine's
 * lease table, which is also in id order: a restart of the clock is one walk
 * of both. Each tick walks the array once; the leases a store holds number in
 * the thousands, and a tick is every few milliseconds, so a heap would buy
 * little. The clock is the replica's now_us operation, so the simulation drives
 * the very same expiry decisions from its simulated time.
 */
#include "replica/replica_lease.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "replica/replica.h"

static uint64_t now_ms(struct replica *r)
{
    return r->ops->now_us ? r->ops->now_us(r->arg) / 1000 : 0;
}

void replica_lease_free(struct replica_leases *t)
{
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
    t->active = false;
}

static size_t seek(const struct replica_leases *t, uint64_t id)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->v[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sets id's deadline (inserting it). -1 on ENOMEM: the lease then simply has no
 * deadline here, which can only make it live longer, never shorter. */
static int set_deadline(struct replica_leases *t, uint64_t id, uint64_t deadline_ms)
{
    size_t i = seek(t, id);
    if (i < t->n && t->v[i].id == id) {
        t->v[i].deadline_ms = deadline_ms;
        t->v[i].proposed = false;
        return 0;
    }
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct replica_lease_clock *v = realloc(t->v, cap * sizeof *v);
        if (v == NULL)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    memmove(t->v + i + 1, t->v + i, (t->n - i) * sizeof *t->v);
    t->v[i] = (struct replica_lease_clock){id, deadline_ms, false};
    t->n++;
    return 0;
}

static void drop(struct replica_leases *t, uint64_t id)
{
    size_t i = seek(t, id);
    if (i >= t->n || t->v[i].id != id)
        return;
    memmove(t->v + i, t->v + i + 1, (t->n - i - 1) * sizeof *t->v);
    t->n--;
}

/* A new leader's clock. A lease this node saw granted or renewed keeps the
 * deadline it counted from that apply, pushed back by an election timeout (and
 * counted from now if it passed during the election): renewals sent while no
 * leader could commit them must not be in vain. A lease it never saw renewed
 * (restored from a snapshot, or from before a restart) gets its full TTL from now
 * plus the election timeout. The old table is rebuilt to mirror the state
 * machine's, both in id order. */
static void start(struct replica *r, raft_term term)
{
    struct replica_leases *t = &r->leases;
    uint64_t now = now_ms(r), grace = r->cfg.lease_grace_ms;
    size_t n = kv_lease_count(r->kv), known = 0, old_n = t->n;
    struct replica_lease_clock *old = t->v;
    t->v = NULL;
    t->n = t->cap = 0;
    t->active = true;
    t->term = term;
    for (size_t i = 0, j = 0; i < n; i++) {
        const struct kv_lease *l = kv_lease_at(r->kv, i);
        while (j < old_n && old[j].id < l->id)
            j++;
        uint64_t from = now + l->ttl_s * 1000;
        if (j < old_n && old[j].id == l->id) {
            from = old[j].deadline_ms > now ? old[j].deadline_ms : now;
            known++;
        }
        (void)set_deadline(t, l->id, from + grace);
    }
    free(old);
    if (t->n > 0)
        replica_log(r, REPLICA_LOG_INFO,
                    "leases: %zu deadlines in term %llu (%zu from renewals seen here)", t->n,
                    (unsigned long long)term, known);
}

/* True when the expiry entry is in the log. */
static bool propose_expiry(struct replica *r, const struct kv_lease *l)
{
    struct kv_cmd c = {.op = KV_OP_LEASE_EXPIRE, .lease = l->id, .renewed_index = l->renewed_index};
    uint8_t buf[32];
    size_t len = kv_cmd_encode(&c, buf, sizeof buf);
    raft_index index;
    raft_term term;
    if (len == 0 || raft_propose(r->raft, buf, (uint32_t)len, &index, &term) != RAFT_OK)
        return false; /* tried again at the next tick */
    r->leases.proposals++;
    replica_log(r, REPLICA_LOG_INFO, "lease %llu expired: revoke proposed at %llu",
                (unsigned long long)l->id, (unsigned long long)index);
    return true;
}

void replica_lease_tick(struct replica *r)
{
    struct replica_leases *t = &r->leases;
    if (r->failed || r->raft == NULL || r->kv == NULL || replica_restoring(r))
        return; /* restoring: the deadlines are the old state's until it is swapped */
    if (raft_role(r->raft) != RAFT_LEADER) {
        t->active = false; /* the deadlines seen applied stay for the next start */
        return;
    }
    raft_term term = raft_term_now(r->raft);
    if (!t->active || t->term != term)
        start(r, term);
    uint64_t now = now_ms(r);
    size_t i = 0;
    while (i < t->n) {
        struct replica_lease_clock *c = &t->v[i];
        const struct kv_lease *l = kv_lease_find(r->kv, c->id);
        if (l == NULL) { /* revoked by an entry this clock did not see */
            drop(t, c->id);
            continue;
        }
        if (c->deadline_ms <= now && !c->proposed)
            c->proposed = propose_expiry(r, l);
        i++;
    }
}

void replica_lease_applied(struct replica *r, const struct kv_result *res)
{
    struct replica_leases *t = &r->leases;
    switch (res->lease_event) {
    case KV_LEASE_EV_GRANTED:
    case KV_LEASE_EV_RENEWED: /* on every node: a later leader starts from it */
        (void)set_deadline(t, res->lease_id, now_ms(r) + res->lease_ttl * 1000);
        break;
    case KV_LEASE_EV_EXPIRED:
        t->expired++;
        drop(t, res->lease_id);
        break;
    case KV_LEASE_EV_REVOKED:
        drop(t, res->lease_id);
        break;
    default:
        break;
    }
}

void replica_lease_reset(struct replica *r)
{
    r->leases.active = false;
    r->leases.n = 0;
}

int64_t replica_lease_remaining_ms(struct replica *r, uint64_t id)
{
    const struct replica_leases *t = &r->leases;
    if (!t->active || r->raft == NULL || raft_role(r->raft) != RAFT_LEADER)
        return -1;
    size_t i = seek(t, id);
    if (i >= t->n || t->v[i].id != id)
        return -1;
    uint64_t now = now_ms(r);
    return t->v[i].deadline_ms > now ? (int64_t)(t->v[i].deadline_ms - now) : 0;
}
