/* replica_lease.h: the lease clock: when each lease of the state machine runs
 * out, and the expiry proposals that follow.
 *
 * Only the leader decides that a lease expired, and it decides by its own
 * monotonic clock (the replica's now_us operation: the real clock in vesperd,
 * simulated time in tests/sim). The state machine holds only granted TTLs
 * (kv_lease.h); deadlines are soft state here and never replicated. The leader
 * turns a passed deadline into a KV_OP_LEASE_EXPIRE entry through the log, so
 * every replica deletes the same keys at the same revision, and followers never
 * expire anything themselves.
 *
 * Deadlines:
 * - A grant or keepalive applied on any node sets that node's deadline to now +
 *   TTL (apply comes after the client sent it, so the deadline is never earlier
 *   than the client expects).
 * - When this node becomes leader, each lease's deadline is the one it counted
 *   (or now, if that passed) plus one election timeout: a renewal sent while no
 *   leader could commit it is not held against the client. A lease it holds no
 *   deadline for (from a snapshot, or from before a restart) starts afresh at its
 *   full TTL plus one election timeout. So after a failover a lease outlives its
 *   deadline by at most the election timeout plus the part of the election that
 *   ran past the deadline.
 * - A revoke or expiry removes the lease.
 * - An expiry carries the lease's renewed index as the leader saw it; a keepalive
 *   that commits before it cancels it in the state machine (kv_lease.h), and
 *   resets the deadline here. A leader proposes each expiry once per term: its
 *   own entry cannot leave its log while it leads, so a retry would only add
 *   uncommitted entries (a cluster changing leaders often, each leader proposing
 *   the same expiries again and again, grew logs that took longer to repair than
 *   its terms lasted); a proposal the core refused is tried at the next tick.
 *
 * Ownership: the table belongs to struct replica; nothing in it is borrowed.
 */
#ifndef VESPER_REPLICA_REPLICA_LEASE_H
#define VESPER_REPLICA_REPLICA_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

struct replica_lease_clock {
    uint64_t id;
    uint64_t deadline_ms;
    bool proposed; /* its expiry is in this leader's log */
};

struct replica_leases {
    struct replica_lease_clock *v; /* sorted by id */
    size_t n, cap;
    bool active;        /* leading in term: deadlines adjusted, expiries proposed */
    raft_term term;     /* the term they were started in */
    uint64_t expired;   /* expiries applied here (every replica counts) */
    uint64_t proposals; /* expiries this node proposed as leader */
};

struct replica;
struct kv_result;

/* The next tick: adjusts the deadlines when this node just became leader,
 * stands down when it no longer leads, and proposes the expiry of every lease
 * whose deadline passed. Call after raft_tick, before the Ready loop. */
void replica_lease_tick(struct replica *r);
/* An entry at index applied with res (the replica's apply, every node). */
void replica_lease_applied(struct replica *r, const struct kv_result *res);
/* The state machine was replaced (snapshot, reload): deadlines start afresh. */
void replica_lease_reset(struct replica *r);
void replica_lease_free(struct replica_leases *t);
/* Milliseconds left on lease id by this leader's clock; -1 when this node keeps
 * no deadline for it (not the leader, or unknown). */
int64_t replica_lease_remaining_ms(struct replica *r, uint64_t id);

#endif
