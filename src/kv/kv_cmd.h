/* kv_cmd.h: the binary payload of a NORMAL Raft log entry carrying a KV command.
 *
 * Wire format (version 1), all integers little-endian, "varint" is unsigned LEB128
 * (at most 10 bytes, canonical form not required):
 *
 *   u8  version (1)
 *   u8  op: 1 PUT, 2 DELETE, 3 CAS, 4 TXN, 5 LEASE_GRANT, 6 LEASE_REVOKE,
 *           7 LEASE_KEEPALIVE, 8 LEASE_EXPIRE
 *   u8  flags: bit0 session present, bit1 CAS expects the key absent, bit2 the
 *           PUT or CAS attaches a lease; others 0
 *   [u64 client_id, varint seq]                 if bit0
 *   TXN:    the transaction body (kv_txn.h) up to the end; nothing else
 *   LEASE_GRANT:     varint id (0: the store picks), varint ttl (1..KV_LEASE_MAX_TTL)
 *   LEASE_REVOKE, LEASE_KEEPALIVE: varint id (>= 1)
 *   LEASE_EXPIRE:    varint id (>= 1), varint renewed index (kv_lease.h)
 *   (lease commands: nothing else)
 *   varint key_len, key bytes                   key_len >= 1
 *   PUT:    varint value_len, value bytes
 *   CAS:    [varint expected_len, expected]     unless bit1
 *           varint value_len, value bytes       the new value
 *   [varint lease]                              if bit2 (>= 1)
 *
 * Nothing may follow. The decoder never reads past len and rejects every
 * deviation, so a corrupt entry yields KV_BAD_COMMAND, never a crash.
 * Ownership: a decoded struct kv_cmd points into the caller's buffer.
 */
#ifndef VESPER_KV_CMD_H
#define VESPER_KV_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_CMD_VERSION 1

enum kv_op {
    KV_OP_PUT = 1,
    KV_OP_DELETE = 2,
    KV_OP_CAS = 3,
    KV_OP_TXN = 4,
    KV_OP_LEASE_GRANT = 5,
    KV_OP_LEASE_REVOKE = 6,
    KV_OP_LEASE_KEEPALIVE = 7,
    KV_OP_LEASE_EXPIRE = 8
};

struct kv_cmd {
    uint8_t op; /* enum kv_op */
    bool has_session;
    uint64_t client_id; /* exactly-once session, when has_session */
    uint64_t seq;       /* >= 1, increasing per client */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* PUT value, CAS new value */
    size_t value_len;
    bool expect_absent; /* CAS: succeed only if the key does not exist */
    const uint8_t *expected;
    size_t expected_len;
    const uint8_t *txn; /* TXN: the encoded body (kv_txn_encode); key unused */
    size_t txn_len;
    uint64_t lease;         /* PUT/CAS: attach to this lease (0: none); lease ops: the id */
    uint64_t ttl;           /* LEASE_GRANT: seconds */
    uint64_t renewed_index; /* LEASE_EXPIRE: the renewed index the leader saw */
};

/* Exact encoded size of c. */
size_t kv_cmd_size(const struct kv_cmd *c);
/* Encodes into buf (cap bytes). Returns the bytes written, 0 if cap is too small
 * or c is invalid (unknown op, empty key, lengths over UINT32_MAX). */
size_t kv_cmd_encode(const struct kv_cmd *c, uint8_t *buf, size_t cap);
/* Encodes into a malloc'd buffer the caller frees. 0 ok, -1 invalid or ENOMEM. */
int kv_cmd_encode_alloc(const struct kv_cmd *c, uint8_t **out, size_t *out_len);
/* Decodes buf. 0 ok (out points into buf), -1 malformed. */
int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *out);

#endif
