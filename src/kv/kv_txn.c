/* kv_txn.c: the transaction body codec and the answer reader (see kv_txn.h).
 *
 * The body travels in the WAL and to every replica like any command, so the
 * decoder is strict in the same way as kv_cmd_decode: every count is bounded
 * before it is used, every kind, target and operator must be known, and no
 * byte may be left over. Checking a body needs no memory (out may be NULL), so
 * kv_cmd_decode checks transactions fully without allocating.
 */
#include "kv/kv_txn.h"

#include <string.h>

#include "kv/kv_lease.h"
#include "kv/kv_varint.h"

static bool cmp_valid(const struct kv_txn_cmp *c)
{
    if (c->target < KV_TXN_VALUE || c->target > KV_TXN_EXISTS || c->op < KV_TXN_EQ ||
        c->op > KV_TXN_GT || c->key_len == 0 || c->key_len > UINT32_MAX ||
        c->value_len > UINT32_MAX)
        return false;
    if (c->target == KV_TXN_EXISTS)
        return c->number <= 1 && (c->op == KV_TXN_EQ || c->op == KV_TXN_NE);
    return true;
}

#define WIRE_PUT_LEASE 4 /* a put with a lease, on the wire only (kv_txn.h) */

static bool op_valid(const struct kv_txn_op *o)
{
    if (o->lease != 0 && (o->kind != KV_TXN_PUT || o->lease > KV_LEASE_MAX_ID))
        return false;
    return o->kind >= KV_TXN_PUT && o->kind <= KV_TXN_GET && o->key_len > 0 &&
           o->key_len <= UINT32_MAX && o->value_len <= UINT32_MAX &&
           (o->kind == KV_TXN_PUT || o->value_len == 0);
}

static bool txn_valid(const struct kv_txn *t)
{
    if (t->n_cmp > KV_TXN_MAX || t->n_ops[0] > KV_TXN_MAX || t->n_ops[1] > KV_TXN_MAX)
        return false;
    for (size_t i = 0; i < t->n_cmp; i++)
        if (!cmp_valid(&t->cmp[i]))
            return false;
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < t->n_ops[b]; i++)
            if (!op_valid(&t->ops[b][i]))
                return false;
    return true;
}

size_t kv_txn_size(const struct kv_txn *t)
{
    size_t n = kv_varint_size(t->n_cmp);
    for (size_t i = 0; i < t->n_cmp && i < KV_TXN_MAX; i++) {
        const struct kv_txn_cmp *c = &t->cmp[i];
        n += 2 + kv_varint_size(c->key_len) + c->key_len;
        n += c->target == KV_TXN_VALUE ? kv_varint_size(c->value_len) + c->value_len
                                       : kv_varint_size(c->number);
    }
    for (int b = 0; b < 2; b++) {
        n += kv_varint_size(t->n_ops[b]);
        for (size_t i = 0; i < t->n_ops[b] && i < KV_TXN_MAX; i++) {
            const struct kv_txn_op *o = &t->ops[b][i];
            n += 1 + kv_varint_size(o->key_len) + o->key_len;
            if (o->kind == KV_TXN_PUT)
                n += kv_varint_size(o->value_len) + o->value_len;
            if (o->lease != 0)
                n += kv_varint_size(o->lease);
        }
    }
    return n;
}

size_t kv_txn_encode(const struct kv_txn *t, uint8_t *buf, size_t cap)
{
    if (!txn_valid(t) || kv_txn_size(t) > cap)
        return 0;
    uint8_t *p = kv_varint_put(buf, t->n_cmp);
    for (size_t i = 0; i < t->n_cmp; i++) {
        const struct kv_txn_cmp *c = &t->cmp[i];
        *p++ = c->target;
        *p++ = c->op;
        p = kv_bytes_put(p, c->key, c->key_len);
        p = c->target == KV_TXN_VALUE ? kv_bytes_put(p, c->value, c->value_len)
                                      : kv_varint_put(p, c->number);
    }
    for (int b = 0; b < 2; b++) {
        p = kv_varint_put(p, t->n_ops[b]);
        for (size_t i = 0; i < t->n_ops[b]; i++) {
            const struct kv_txn_op *o = &t->ops[b][i];
            *p++ = o->lease != 0 ? WIRE_PUT_LEASE : o->kind;
            p = kv_bytes_put(p, o->key, o->key_len);
            if (o->kind == KV_TXN_PUT)
                p = kv_bytes_put(p, o->value, o->value_len);
            if (o->lease != 0)
                p = kv_varint_put(p, o->lease);
        }
    }
    return (size_t)(p - buf);
}

static int get_count(struct kv_reader *r, size_t *n)
{
    uint64_t v;
    if (kv_varint_get(r, &v) != 0 || v > KV_TXN_MAX)
        return -1;
    *n = (size_t)v;
    return 0;
}

static int get_cmp(struct kv_reader *r, struct kv_txn_cmp *c)
{
    memset(c, 0, sizeof *c);
    if (kv_u8_get(r, &c->target) != 0 || kv_u8_get(r, &c->op) != 0 ||
        kv_bytes_get(r, &c->key, &c->key_len) != 0)
        return -1;
    int rc = c->target == KV_TXN_VALUE ? kv_bytes_get(r, &c->value, &c->value_len)
                                       : kv_varint_get(r, &c->number);
    return rc == 0 && cmp_valid(c) ? 0 : -1;
}

static int get_op(struct kv_reader *r, struct kv_txn_op *o)
{
    memset(o, 0, sizeof *o);
    if (kv_u8_get(r, &o->kind) != 0 || kv_bytes_get(r, &o->key, &o->key_len) != 0)
        return -1;
    bool leased = o->kind == WIRE_PUT_LEASE;
    if (leased)
        o->kind = KV_TXN_PUT;
    if (o->kind == KV_TXN_PUT && kv_bytes_get(r, &o->value, &o->value_len) != 0)
        return -1;
    if (leased && (kv_varint_get(r, &o->lease) != 0 || o->lease == 0))
        return -1;
    return op_valid(o) ? 0 : -1;
}

int kv_txn_decode(const uint8_t *buf, size_t len, struct kv_txn *out)
{
    struct kv_reader r = {buf, len};
    struct kv_txn_cmp cmp;
    struct kv_txn_op op;
    size_t n;
    if (get_count(&r, &n) != 0)
        return -1;
    if (out != NULL)
        out->n_cmp = n;
    for (size_t i = 0; i < n; i++)
        if (get_cmp(&r, out ? &out->cmp[i] : &cmp) != 0)
            return -1;
    for (int b = 0; b < 2; b++) {
        if (get_count(&r, &n) != 0)
            return -1;
        if (out != NULL)
            out->n_ops[b] = n;
        for (size_t i = 0; i < n; i++)
            if (get_op(&r, out ? &out->ops[b][i] : &op) != 0)
                return -1;
    }
    return r.left == 0 ? 0 : -1;
}

int kv_txn_answer_open(struct kv_txn_answer *a, const uint8_t *buf, size_t len)
{
    struct kv_reader r = {buf, len};
    uint8_t ok;
    memset(a, 0, sizeof *a);
    if (kv_u8_get(&r, &ok) != 0 || ok > 1 || kv_varint_get(&r, &a->n_results) != 0 ||
        a->n_results > KV_TXN_MAX)
        return -1;
    a->succeeded = ok;
    a->p = r.p;
    a->left = r.left;
    return 0;
}

int kv_txn_answer_next(struct kv_txn_answer *a, struct kv_txn_result *out)
{
    struct kv_reader r = {a->p, a->left};
    uint8_t found = 0;
    memset(out, 0, sizeof *out);
    if (kv_u8_get(&r, &out->kind) != 0 || kv_bytes_get(&r, &out->key, &out->key_len) != 0)
        return -1;
    if (out->kind == KV_TXN_DELETE || out->kind == KV_TXN_GET) {
        if (kv_u8_get(&r, &found) != 0 || found > 1)
            return -1;
        out->found = found;
    } else if (out->kind != KV_TXN_PUT) {
        return -1;
    }
    if (out->kind == KV_TXN_GET && found &&
        (kv_bytes_get(&r, &out->value, &out->value_len) != 0 ||
         kv_varint_get(&r, &out->create_revision) != 0 ||
         kv_varint_get(&r, &out->mod_revision) != 0 || kv_varint_get(&r, &out->version) != 0))
        return -1;
    a->p = r.p;
    a->left = r.left;
    return 0;
}
