/* kv_cmd.c: encoder and strict decoder for KV log-entry payloads (see kv_cmd.h).
 *
 * The payload is persisted in the WAL and replicated to every node, so it is
 * compact (varint lengths, session optional) and versioned. Lengths are capped
 * at UINT32_MAX because kv_map records carry u32 lengths. The decoder is the
 * trust boundary for bytes read back from disk or received from a peer.
 */
#include "kv/kv_cmd.h"

#include "kv/kv_txn.h"

#include <stdlib.h>
#include <string.h>

#define FLAG_SESSION 0x01u
#define FLAG_ABSENT  0x02u

static size_t varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static uint8_t *put_bytes(uint8_t *p, const uint8_t *b, size_t n)
{
    p = put_varint(p, n);
    if (n > 0)
        memcpy(p, b, n);
    return p + n;
}

static bool cmd_valid(const struct kv_cmd *c)
{
    if (c->has_session && c->seq == 0)
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
    size_t n = 3 + (c->has_session ? 8 + varint_size(c->seq) : 0);
    if (c->op == KV_OP_TXN)
        return n + c->txn_len;
    n += varint_size(c->key_len) + c->key_len;
    if (c->op == KV_OP_CAS && !c->expect_absent)
        n += varint_size(c->expected_len) + c->expected_len;
    if (c->op == KV_OP_PUT || c->op == KV_OP_CAS)
        n += varint_size(c->value_len) + c->value_len;
    return n;
}

size_t kv_cmd_encode(const struct kv_cmd *c, uint8_t *buf, size_t cap)
{
    if (!cmd_valid(c) || kv_cmd_size(c) > cap)
        return 0;
    uint8_t *p = buf;
    *p++ = KV_CMD_VERSION;
    *p++ = c->op;
    *p++ = (uint8_t)((c->has_session ? FLAG_SESSION : 0) | (c->expect_absent ? FLAG_ABSENT : 0));
    if (c->has_session) {
        for (int i = 0; i < 8; i++)
            *p++ = (uint8_t)(c->client_id >> (8 * i));
        p = put_varint(p, c->seq);
    }
    if (c->op == KV_OP_TXN) {
        if (c->txn_len > 0)
            memcpy(p, c->txn, c->txn_len);
        return (size_t)(p - buf) + c->txn_len;
    }
    p = put_bytes(p, c->key, c->key_len);
    if (c->op == KV_OP_CAS && !c->expect_absent)
        p = put_bytes(p, c->expected, c->expected_len);
    if (c->op == KV_OP_PUT || c->op == KV_OP_CAS)
        p = put_bytes(p, c->value, c->value_len);
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

struct reader {
    const uint8_t *p;
    size_t left;
};

static int get_varint(struct reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->left == 0)
            return -1;
        uint8_t b = *r->p++;
        r->left--;
        if (shift == 63 && b > 1)
            return -1; /* would overflow 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static int get_bytes(struct reader *r, const uint8_t **b, size_t *n)
{
    uint64_t len;
    if (get_varint(r, &len) != 0 || len > UINT32_MAX || len > r->left)
        return -1;
    *b = r->p;
    *n = (size_t)len;
    r->p += len;
    r->left -= len;
    return 0;
}

int kv_cmd_decode(const uint8_t *buf, size_t len, struct kv_cmd *out)
{
    memset(out, 0, sizeof *out);
    if (len < 3 || buf[0] != KV_CMD_VERSION)
        return -1;
    struct reader r = {buf + 3, len - 3};
    out->op = buf[1];
    uint8_t flags = buf[2];
    if (flags & ~(FLAG_SESSION | FLAG_ABSENT))
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
        if (get_varint(&r, &out->seq) != 0 || out->seq == 0)
            return -1;
    }
    if (out->op == KV_OP_TXN) {
        out->txn = r.p;
        out->txn_len = r.left;
        return cmd_valid(out) ? 0 : -1;
    }
    if (get_bytes(&r, &out->key, &out->key_len) != 0)
        return -1;
    if (out->op == KV_OP_CAS && !out->expect_absent &&
        get_bytes(&r, &out->expected, &out->expected_len) != 0)
        return -1;
    if ((out->op == KV_OP_PUT || out->op == KV_OP_CAS) &&
        get_bytes(&r, &out->value, &out->value_len) != 0)
        return -1;
    if (r.left != 0 || !cmd_valid(out))
        return -1;
    return 0;
}
