/* kv.h: Vesper's replicated state machine: the key-value map, the exactly-once
 * session table and the applied position. (Cluster membership is not kept
 * here: the replica tracks the applied configuration, and storage keeps it in
 * the snapshot file header.)
 *
 * The shell feeds every committed entry in log order: kv_apply for a KV
 * command (payload format in kv_cmd.h), kv_set_applied for any other entry
 * (no-op, configuration). kv_apply is a pure function of the state and the
 * command, so every replica reaches the same state and the same answers.
 * Reads (kv_get, kv_range.h) do not go through the log; the shell decides when
 * a read is safe (ReadIndex, lease, or stale). Snapshots: kv_snap.h.
 *
 * Revisions: the store keeps one counter, `revision`, that every applied command
 * which changes a key advances by exactly one (a PUT, a DELETE that removed a
 * key, a CAS that matched, a transaction whose branch changed a key: all of a
 * transaction's writes share one revision). Commands that change nothing (a
 * DELETE of an absent key, a failed CAS, a read-only transaction, a duplicate)
 * leave it. Each key records create_revision, mod_revision and version (struct
 * kv_rec); a DELETE forgets them, so a key created again starts at version 1.
 * Being part of the applied state, revisions are identical on every replica
 * and a watch can resume from any of them. Every change is also recorded in a
 * bounded window of recent events for watches (kv_hist.h).
 *
 * Ownership: struct kv owns everything inside it. Pointers returned by kv_get
 * and in struct kv_result are borrowed and valid until the next call that
 * mutates this kv (kv_apply, kv_free).
 * Out of memory inside kv_apply aborts the process: a replica that skipped a
 * committed command would silently diverge from the others (fail-stop).
 */
#ifndef VESPER_KV_H
#define VESPER_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kv_hist.h"
#include "kv/kv_index.h"
#include "kv/kv_lease.h"
#include "kv/kv_map.h"
#include "kv/kv_session.h"

/* Results; the numeric values are stored in snapshots (session results). */
#define KV_STATUS_TABLE(X)                                                        \
    X(KV_OK, 0, "ok")                                                             \
    X(KV_NOT_FOUND, 1, "not_found")             /* DELETE of an absent key */     \
    X(KV_CAS_MISMATCH, 2, "cas_failed")         /* current value != expected */   \
    X(KV_STALE_SEQ, 3, "stale_seq")             /* seq older than the last one */ \
    X(KV_BAD_COMMAND, 4, "bad_command")         /* payload failed to decode */    \
    X(KV_ALREADY_APPLIED, 5, "already_applied") /* index <= applied index */      \
    X(KV_SESSION_EXPIRED, 6, "session_expired") /* retry of an evicted session */ \
    X(KV_LEASE_NOT_FOUND, 7, "lease_not_found") /* no lease of that id */         \
    X(KV_LEASE_EXISTS, 8, "lease_exists")       /* grant of an id in use */

enum kv_status {
#define KV_STATUS_ENUM(name, value, str) name = value,
    KV_STATUS_TABLE(KV_STATUS_ENUM)
#undef KV_STATUS_ENUM
};

const char *kv_status_str(enum kv_status st);

/* The answer of a transaction (KV_OP_TXN) is status KV_OK with has_current and
 * current holding the encoded answer of kv_txn.h (which branch ran, results). */
struct kv_result {
    enum kv_status status;
    uint64_t revision; /* store revision after the command (for a duplicate:
                          the one its first application reported) */
    bool duplicate;    /* answered from the session table, not applied again */
    bool has_current;  /* KV_CAS_MISMATCH and the key exists: its value now */
    const uint8_t *current;
    size_t current_len;
    uint8_t lease_event; /* enum kv_lease_event: what the command did to a lease */
    uint64_t lease_id;   /* ... to this one */
    uint64_t lease_ttl;  /* granted TTL in seconds (granted, renewed) */
};

/* The fields belong to src/kv; other modules use the functions below. */
struct kv {
    struct kv_map map;
    struct kv_sessions sessions;
    uint64_t applied_index;
    uint64_t applied_term;
    uint64_t revision;       /* see "Revisions" above */
    struct kv_hist hist;     /* recent changes, for watches (kv_hist.h) */
    struct kv_leases leases; /* leases and their keys (kv_lease.h) */
    uint8_t *answer;         /* the last transaction's answer (kv_txn.h), reused */
    size_t answer_len, answer_cap;
};

/* max_sessions: size of the exactly-once table, a cluster-wide constant
 * (0 = KV_SESSIONS_DEFAULT_MAX). NULL on ENOMEM. */
struct kv *kv_new(size_t max_sessions);
void kv_free(struct kv *kv);

/* Applies the command in entry (index, term). The result goes to *res:
 * - PUT: KV_OK. DELETE: KV_OK or KV_NOT_FOUND.
 * - CAS: KV_OK when the current value equals expected (or the key is absent and
 *   expect_absent), else KV_CAS_MISMATCH with the current value if any.
 * - With a session: seq == last seq -> the stored answer (status and, for a
 *   failed CAS, the value seen then), duplicate = true, nothing applied;
 *   seq < last seq -> KV_STALE_SEQ, nothing applied; seq == the last seq of
 *   an evicted session -> KV_SESSION_EXPIRED (outcome unknown), nothing applied.
 * - TXN: KV_OK and the answer in current (see struct kv_result, kv_txn.h).
 * - PUT (or CAS) with a lease that does not exist: KV_LEASE_NOT_FOUND, nothing
 *   written. Lease commands: kv_lease.h.
 * - Malformed payload -> KV_BAD_COMMAND (the position still advances).
 * - index <= applied index -> KV_ALREADY_APPLIED, nothing changes. */
void kv_apply(struct kv *kv, uint64_t index, uint64_t term, const uint8_t *cmd, size_t len,
              struct kv_result *res);
/* Advances the applied position over an entry that is not a KV command. */
void kv_set_applied(struct kv *kv, uint64_t index, uint64_t term);
/* The applied position: index and term of the last entry applied (0, 0: none). */
uint64_t kv_applied_index(const struct kv *kv);
uint64_t kv_applied_term(const struct kv *kv);

/* The store revision: how many applied commands changed a key (see above). */
uint64_t kv_revision(const struct kv *kv);

/* Borrowed record for key, or NULL. Use kv_rec_value()/->value_len. */
const struct kv_rec *kv_get(const struct kv *kv, const void *key, size_t key_len);

#endif
