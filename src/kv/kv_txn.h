/* kv_txn.h: transactions of the state machine: compares, then one of two
 * branches of operations, applied at one revision.
 *
 * A transaction is a KV command (KV_OP_TXN, kv_cmd.h) whose body lists
 * compares and the operations of its success and failure branches. Applying
 * it evaluates every compare against the state; if all hold, the success
 * branch runs, else the failure branch. Operations run in order (a get sees
 * the branch's earlier puts and deletes); every key the branch writes gets the
 * same new store revision, which is taken only when the branch changed a key.
 * CAS is the special case of one compare (value = expected, or not exists) and
 * one put, and runs through the same compare and put code.
 *
 * Compares (etcd's semantics): target value compares bytes (memcmp order), and
 * fails for an absent key whatever the operator; version, create_revision and
 * mod_revision compare numbers and read 0 for an absent key; exists compares
 * presence with = or != (number 1: present, 0: absent).
 *
 * Body format (after the command header of kv_cmd.h), varints LEB128:
 *   varint n_compare (<= KV_TXN_MAX), n x (u8 target, u8 op, varint key_len,
 *       key, operand: target value -> varint len, bytes; else varint number)
 *   varint n_success, n x op;  varint n_failure, n x op  (each <= KV_TXN_MAX)
 *   op: u8 kind, varint key_len, key, [varint value_len, value: put only]
 *       kind 4 on the wire is a put that attaches a lease (kv_lease.h): its value
 *       is followed by varint lease (>= 1); decoded as KV_TXN_PUT with lease set
 * Keys are 1 to UINT32_MAX bytes; nothing may follow.
 *
 * The answer (struct kv_result's current bytes, also what the exactly-once
 * table stores for a retry): u8 succeeded, varint n_results, per operation of
 * the branch that ran: u8 kind, varint key_len, key, then for a delete u8
 * removed, for a get u8 found [varint value_len, value, varint create_revision,
 * varint mod_revision, varint version].
 *
 * A branch whose puts name a lease that does not exist runs nothing: the
 * answer is KV_LEASE_NOT_FOUND (no results). A put without a lease detaches its
 * key from any lease, as a single put does.
 *
 * Ownership: decoded structs point into the caller's buffer.
 */
#ifndef VESPER_KV_TXN_H
#define VESPER_KV_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_TXN_MAX 64 /* compares, and operations per branch */

enum kv_txn_target {
    KV_TXN_VALUE = 1,
    KV_TXN_VERSION = 2,
    KV_TXN_CREATE = 3,
    KV_TXN_MOD = 4,
    KV_TXN_EXISTS = 5
};
enum kv_txn_cmp_op { KV_TXN_EQ = 1, KV_TXN_NE = 2, KV_TXN_LT = 3, KV_TXN_GT = 4 };
enum kv_txn_kind { KV_TXN_PUT = 1, KV_TXN_DELETE = 2, KV_TXN_GET = 3 };

struct kv_txn_cmp {
    uint8_t target; /* enum kv_txn_target */
    uint8_t op;     /* enum kv_txn_cmp_op */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* target value */
    size_t value_len;
    uint64_t number; /* other targets */
};

struct kv_txn_op {
    uint8_t kind; /* enum kv_txn_kind */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* put */
    size_t value_len;
    uint64_t lease; /* put: attach the key to this lease (0: none) */
};

struct kv_txn {
    size_t n_cmp;
    struct kv_txn_cmp cmp[KV_TXN_MAX];
    size_t n_ops[2]; /* [0] success, [1] failure */
    struct kv_txn_op ops[2][KV_TXN_MAX];
};

/* Encoded body size, and encoding into buf (cap bytes): bytes written, 0 when
 * t is invalid or cap too small. */
size_t kv_txn_size(const struct kv_txn *t);
size_t kv_txn_encode(const struct kv_txn *t, uint8_t *buf, size_t cap);
/* Decodes a body into *out (NULL: only checks it). 0 ok, -1 malformed. */
int kv_txn_decode(const uint8_t *buf, size_t len, struct kv_txn *out);

/* One result of an answer. */
struct kv_txn_result {
    uint8_t kind;
    const uint8_t *key;
    size_t key_len;
    bool found; /* get: the key existed; delete: it was removed */
    const uint8_t *value;
    size_t value_len;
    uint64_t create_revision, mod_revision, version;
};

struct kv_txn_answer {
    const uint8_t *p;
    size_t left;
    bool succeeded;
    uint64_t n_results;
};

/* Opens an answer; 0 ok, -1 malformed. Then kv_txn_answer_next n_results times
 * (0 ok, -1 malformed). */
int kv_txn_answer_open(struct kv_txn_answer *a, const uint8_t *buf, size_t len);
int kv_txn_answer_next(struct kv_txn_answer *a, struct kv_txn_result *out);

struct kv;
struct kv_result;
/* Runs t on kv (see above); the answer goes to res->current (has_current),
 * valid until the next kv_apply. */
void kv_txn_run(struct kv *kv, const struct kv_txn *t, struct kv_result *res);
/* Evaluates one compare against the state. */
bool kv_txn_compare(const struct kv *kv, const struct kv_txn_cmp *c);

#endif
