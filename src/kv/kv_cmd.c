/* kv_cmd.c: encoder and strict decoder for KV log-entry payloads (see kv_cmd.h).
 *
 * The payload is persisted in the WAL and replicated to every node, so it is
 * compact (varint lengths, session optional) and versioned. Lengths are capped
 * at UINT32_MAX because kv_map records carry u32 lengths. The decoder is the
 * trust boundary for bytes read back from disk or received from a peer.
 */
#include "kv/kv_cmd.h"

#include "kv/kv_lease.h"
#include "kv/kv_txn.h"
#include "kv/kv_varint.h"

#include <stdlib.h>
#include <string.h>

#define FLAG_SESSION 0x01u
#define FLAG_ABSENT  0x02u
#define FLAG_LEASE   0x04u

static bool is_lease_op(uint8_t op)
{
    return op >= KV_OP_LEASE_GRANT && op <= KV_OP_LEASE_EXPIRE;
}

static bool lease_cmd_valid(const struct kv_cmd *c)
{
    if (c->key_len != 0 || c->value_len != 0 || c->expected_len != 0 || c->expect_absent ||
        c->txn_len != 0 || c->lease > KV_LEASE_MAX_ID)
        return false;
    if (c->op == KV_OP_LEASE_GRANT)
        return c->ttl >= 1 && c->ttl <= KV_LEASE_MAX_TTL && c->renewed_index == 0;
    if (c->lease == 0 || c->ttl != 0)
        return false;
    return c->op == KV_OP_LEASE_EXPIRE || c->renewed_index == 0;
}

static bool cmd_valid(const struct kv_cmd *c)
{
    if (c->has_session && c->seq == 0)
        return false;
    if (is_lease_op(c->op))
        return lease_cmd_valid(c);
    if (c->ttl != 0 || c->renewed_index != 0 || c->lease > KV_LEASE_MAX_ID ||
        (c->lease != 0 && c->op != KV_OP_PUT && c->op != KV_OP_CAS))
        return false;
    if (c->op == KV_OP_TXN)
        return c->key_len == 0 && c->value_len == 0 && c->expected_len == 0 && !c->expect_absent &&
               kv_txn_decode(c->txn, c->txn_len, NULL) == 0;
    if (c->op != KV_OP_PUT && c->op != KV_OP_DELETE && c->op != KV_OP_CAS)
        return false;
    if (c->key_len == 0 || c->key_len > UINT32_MAX || c->value_len > UINT32_MAX ||
        c->expected_len > UINT32_MAX)
        return false;
    return c->op == KV_OP_CAS || !c->expect_absent;
}

size_t kv_cmd_size(const struct kv_cmd *c)
{
    size_t n = 3 + (c->has_session ? 8 + kv_varint_size(c->seq) : 0);
    if (c->op == KV_OP_TXN)
        return n + c->txn_len;
    if (is_lease_op(c->op))
        return n + kv_varint_size(c->lease) +
               (c->op == KV_OP_LEASE_GRANT    ? kv_varint_size(c->ttl)
                : c->op == KV_OP_LEASE_EXPIRE ? kv_varint_size(c->renewed_index)
                                              : 0);
    if (c->lease != 0)
        n += kv_varint_size(c->lease);
    n += kv_varint_size(c->key_len) + c->key_len;
    if (c->op == KV_OP_CAS && !c->expect_absent)
        n += kv_varint_size(c->expected_len) + c->expected_len;
    if (c->op == KV_OP_PUT || c->op == KV_OP_CAS)
        n += kv_varint_size(c->value_len) + c->value_len;
    return n;
}

size_t kv_cmd_encode(const struct kv_cmd *c, uint8_t *buf, size_t cap)
{
    if (!cmd_valid(c) || kv_cmd_size(c) > cap)
        return 0;
    uint8_t *p = buf;
    *p++ = KV_CMD_VERSION;
    *p++ = c->op;
    *p++ = (uint8_t)((c->has_session ? FLAG_SESSION : 0) | (c->expect_absent ? FLAG_ABSENT : 0) |
                     (c->lease != 0 && !is_lease_op(c->op) ? FLAG_LEASE : 0));
    if (c->has_session) {
        for (int i = 0; i < 8; i++)
            *p++ = (uint8_t)(c->client_id >> (8 * i));
        p = kv_varint_put(p, c->seq);
    }
    if (c->op == KV_OP_TXN) {
        if (c->txn_len > 0)
            memcpy(p, c->txn, c->txn_len);
        return (size_t)(p - buf) + c->txn_len;
    }
    if (is_lease_op(c->op)) {
        p = kv_varint_put(p, c->lease);
        if (c->op == KV_OP_LEASE_GRANT)
            p = kv_varint_put(p, c->ttl);
        if (c->op == KV_OP_LEASE_EXPIRE)
            p = kv_varint_put(p, c->renewed_index);
        return (size_t)(p - buf);
    }
    p = kv_bytes_put(p, c->key, c->key_len);
    if (c->op == KV_OP_CAS && !c->expect_absent)
        p = kv_bytes_put(p, c->expected, c->expected_len);
    if (c->op == KV_OP_PUT || c->op == KV_OP_CAS)
        p = kv_bytes_put(p, c->value, c->value_len);
    if (c->lease != 0)
        p = kv_varint_put(p, c->lease);
    return (size_t)(p - buf);
}

int kv_cmd_encode_alloc(const struct kv_cmd *c, uint8_t **out, size_t *out_len)
{
    if (!cmd_valid(c))
        return -1;
    size_t n = kv_cmd_size(c);
    uint8_t *buf = malloc(n);
    if (buf == NULL)
        return -1;
    if (kv_cmd_encode(c, buf, n) != n) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *out)
{
    memset(out, 0, sizeof *out);
    if (len < 3 || buf[0] != KV_CMD_VERSION)
        return -1;
    struct kv_reader r = {buf + 3, len - 3};
    out->op = buf[1];
    uint8_t flags = buf[2];
    if (flags & ~(FLAG_SESSION | FLAG_ABSENT | FLAG_LEASE))
        return -1;
    if ((flags & FLAG_LEASE) && out->op != KV_OP_PUT && out->op != KV_OP_CAS)
        return -1;
    out->has_session = flags & FLAG_SESSION;
    out->expect_absent = flags & FLAG_ABSENT;
    if (out->has_session) {
        if (r.left < 8)
            return -1;
        for (int i = 0; i < 8; i++)
            out->client_id |= (uint64_t)r.p[i] << (8 * i);
        r.p += 8;
        r.left -= 8;
        if (kv_varint_get(&r, &out->seq) != 0 || out->seq == 0)
            return -1;
    }
    if (out->op == KV_OP_TXN) {
        out->txn = r.p;
        out->txn_len = r.left;
        return cmd_valid(out) ? 0 : -1;
    }
    if (is_lease_op(out->op)) {
        if (kv_varint_get(&r, &out->lease) != 0 ||
            (out->op == KV_OP_LEASE_GRANT && kv_varint_get(&r, &out->ttl) != 0) ||
            (out->op == KV_OP_LEASE_EXPIRE && kv_varint_get(&r, &out->renewed_index) != 0))
            return -1;
        return r.left == 0 && cmd_valid(out) ? 0 : -1;
    }
    if (kv_bytes_get(&r, &out->key, &out->key_len) != 0)
        return -1;
    if (out->op == KV_OP_CAS && !out->expect_absent &&
        kv_bytes_get(&r, &out->expected, &out->expected_len) != 0)
        return -1;
    if ((out->op == KV_OP_PUT || out->op == KV_OP_CAS) &&
        kv_bytes_get(&r, &out->value, &out->value_len) != 0)
        return -1;
    if ((flags & FLAG_LEASE) && (kv_varint_get(&r, &out->lease) != 0 || out->lease == 0))
        return -1;
    if (r.left != 0 || !cmd_valid(out))
        return -1;
    return 0;
}
