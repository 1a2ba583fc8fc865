/* kv_lease.h: the lease table of the state machine: leases (id -> granted TTL)
 * and the keys attached to each, as etcd users know them.
 *
 * A lease is granted with a TTL in seconds; keys put with it are attached to
 * it; revoking it deletes every attached key at one revision (a watch sees the
 * deletes as one batch). A put without a lease detaches the key from its old
 * lease, a delete detaches it too. Grant, revoke, keepalive and attach are
 * commands of the log (kv_cmd.h), so every replica holds the same table.
 *
 * Time is not in here. The table keeps the granted TTL, never a deadline: only
 * the leader decides that a lease expired (by its own clock, src/replica), and
 * it does so by proposing KV_OP_LEASE_EXPIRE with the lease's renewed index
 * (the log index of the grant or keepalive it last applied for it). The expiry
 * applies only when that index is still the lease's: a keepalive that
 * committed between the leader's decision and the expiry entry cancels the
 * expiry, so a lease kept alive is never expired by a leader that saw the
 * keepalive.
 *
 * Each lease keeps copies of its keys' bytes (unordered; kv_lease_keys sorts),
 * and each record carries its lease id (kv_rec.lease, 0 = none).
 *
 * Ownership: the table owns its leases and their key copies. A pointer returned
 * by kv_lease_find is valid until the next kv_apply or kv_free.
 */
#ifndef VESPER_KV_LEASE_H
#define VESPER_KV_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_LEASE_MAX_TTL  1000000000u /* seconds (about 31 years) */
#define KV_LEASE_MAX_ID   ((uint64_t)INT64_MAX)
#define KV_LEASE_MAX_KEYS (1u << 24) /* keys per lease a snapshot may carry */

struct kv_lease_key {
    uint8_t *p;
    uint32_t len;
};

struct kv_lease {
    uint64_t id;
    uint64_t ttl_s;         /* granted TTL in seconds */
    uint64_t renewed_index; /* log index of the last grant or keepalive */
    struct kv_lease_key *keys;
    size_t n_keys, cap_keys;
};

struct kv_leases {
    struct kv_lease **v; /* sorted by id */
    size_t n, cap;
    uint64_t next_id; /* the next id to try for a grant without one (0 reads as 1) */
};

/* What a command did to the lease table, for the leader's expiry tracker. */
enum kv_lease_event {
    KV_LEASE_EV_NONE = 0,
    KV_LEASE_EV_GRANTED = 1,
    KV_LEASE_EV_RENEWED = 2,
    KV_LEASE_EV_REVOKED = 3,
    KV_LEASE_EV_EXPIRED = 4
};

struct kv;
struct kv_cmd;
struct kv_result;

void kv_leases_free(struct kv_leases *t);
/* The lease with this id, or NULL. */
const struct kv_lease *kv_lease_find(const struct kv *kv, uint64_t id);
size_t kv_lease_count(const struct kv *kv);
/* The i-th lease in id order (i < kv_lease_count). */
const struct kv_lease *kv_lease_at(const struct kv *kv, size_t i);
/* The keys of l sorted (memcmp order, shorter first on a tie) into a malloc'd
 * array of borrowed pointers the caller frees; NULL when it has none or on ENOMEM
 * (*n then 0 or the count). */
const struct kv_lease_key **kv_lease_keys(const struct kv_lease *l, size_t *n);

/* Apply-time helpers for kv.c and kv_txn_run.c: a put at revision rev that
 * attaches the key to lease (0: none, which detaches it), and a delete that
 * detaches it. The put dies on ENOMEM (fail-stop); the delete returns whether
 * the key existed. The caller checked that the lease exists. */
void kv_lease_put(struct kv *kv, const uint8_t *key, size_t key_len, const uint8_t *value,
                  size_t value_len, uint64_t rev, uint64_t lease);
bool kv_lease_del(struct kv *kv, const uint8_t *key, size_t key_len);

/* Runs a lease command (KV_OP_LEASE_*) at log index; fills res (status, the
 * answer in res->current, the event) and returns the status. */
int kv_lease_run(struct kv *kv, const struct kv_cmd *c, uint64_t index, struct kv_result *res);

/* Snapshot restore: a lease with no keys yet (0, or -1 on ENOMEM or a duplicate
 * id), and a key attached to an existing lease (0, -1 unknown lease or ENOMEM). */
int kv_lease_restore(struct kv *kv, uint64_t id, uint64_t ttl_s, uint64_t renewed_index);
int kv_lease_restore_key(struct kv *kv, uint64_t id, const uint8_t *key, size_t key_len);

/* The answer of a grant or keepalive (res->current): id and TTL. 0 ok, -1 malformed. */
int kv_lease_answer_decode(const uint8_t *p, size_t len, uint64_t *id, uint64_t *ttl_s);

#endif
