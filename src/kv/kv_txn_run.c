/* kv_txn_run.c: applying a transaction to the state machine (see kv_txn.h).
 *
 * The answer is written as the branch runs, into a buffer the kv keeps for it
 * (reused from one command to the next), because a get's value must be copied
 * before a later put of the same transaction may overwrite its record in place.
 * The revision is decided before the branch runs (store revision + 1) and only
 * taken at the end if some key changed, so a read-only transaction, or one
 * whose deletes found nothing, leaves the revision where it was.
 */
#include "kv/kv_txn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_varint.h"

static void die_nomem(void)
{
    fprintf(stderr, "kv: out of memory applying a transaction; stopping to avoid divergence\n");
    abort();
}

static void answer_reserve(struct kv *kv, size_t more)
{
    if (kv->answer_len + more <= kv->answer_cap)
        return;
    size_t cap = kv->answer_cap ? kv->answer_cap : 256;
    while (cap < kv->answer_len + more)
        cap *= 2;
    uint8_t *b = realloc(kv->answer, cap);
    if (b == NULL)
        die_nomem();
    kv->answer = b;
    kv->answer_cap = cap;
}

static void answer_u8(struct kv *kv, uint8_t v)
{
    answer_reserve(kv, 1);
    kv->answer[kv->answer_len++] = v;
}

static void answer_varint(struct kv *kv, uint64_t v)
{
    answer_reserve(kv, 10);
    kv->answer_len = (size_t)(kv_varint_put(kv->answer + kv->answer_len, v) - kv->answer);
}

static void answer_bytes(struct kv *kv, const uint8_t *b, size_t n)
{
    answer_reserve(kv, 10 + n);
    kv->answer_len = (size_t)(kv_bytes_put(kv->answer + kv->answer_len, b, n) - kv->answer);
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return (a > b) - (a < b);
}

bool kv_txn_compare(const struct kv *kv, const struct kv_txn_cmp *c)
{
    const struct kv_rec *r = kv_get(kv, c->key, c->key_len);
    int d;
    switch (c->target) {
    case KV_TXN_VALUE:
        if (r == NULL)
            return false;
        d = kv_key_cmp(kv_rec_value(r), r->value_len, c->value, c->value_len);
        break;
    case KV_TXN_VERSION:
        d = cmp_u64(r ? r->version : 0, c->number);
        break;
    case KV_TXN_CREATE:
        d = cmp_u64(r ? r->create_revision : 0, c->number);
        break;
    case KV_TXN_MOD:
        d = cmp_u64(r ? r->mod_revision : 0, c->number);
        break;
    case KV_TXN_EXISTS:
        d = cmp_u64(r != NULL, c->number);
        break;
    default:
        return false;
    }
    switch (c->op) {
    case KV_TXN_EQ:
        return d == 0;
    case KV_TXN_NE:
        return d != 0;
    case KV_TXN_LT:
        return d < 0;
    case KV_TXN_GT:
        return d > 0;
    default:
        return false;
    }
}

static void run_get(struct kv *kv, const struct kv_txn_op *o)
{
    const struct kv_rec *r = kv_get(kv, o->key, o->key_len);
    answer_u8(kv, r != NULL);
    if (r == NULL)
        return;
    answer_bytes(kv, kv_rec_value(r), r->value_len);
    answer_varint(kv, r->create_revision);
    answer_varint(kv, r->mod_revision);
    answer_varint(kv, r->version);
}

/* Runs one operation at revision rev; true when it changed a key. */
static bool run_op(struct kv *kv, const struct kv_txn_op *o, uint64_t rev)
{
    answer_u8(kv, o->kind);
    answer_bytes(kv, o->key, o->key_len);
    switch (o->kind) {
    case KV_TXN_PUT:
        kv_lease_put(kv, o->key, o->key_len, o->value, o->value_len, rev, o->lease);
        kv_hist_record(kv, KV_EVENT_PUT, o->key, o->key_len, rev);
        return true;
    case KV_TXN_DELETE: {
        bool removed = kv_lease_del(kv, o->key, o->key_len);
        answer_u8(kv, removed);
        if (removed)
            kv_hist_record(kv, KV_EVENT_DELETE, o->key, o->key_len, rev);
        return removed;
    }
    default:
        run_get(kv, o);
        return false;
    }
}

void kv_txn_run(struct kv *kv, const struct kv_txn *t, struct kv_result *res)
{
    bool ok = true;
    for (size_t i = 0; i < t->n_cmp && ok; i++)
        ok = kv_txn_compare(kv, &t->cmp[i]);
    int b = ok ? 0 : 1;
    for (size_t i = 0; i < t->n_ops[b]; i++) {
        const struct kv_txn_op *o = &t->ops[b][i];
        if (o->lease != 0 && kv_lease_find(kv, o->lease) == NULL) {
            res->status = KV_LEASE_NOT_FOUND; /* nothing runs */
            return;
        }
    }
    kv->answer_len = 0;
    answer_u8(kv, ok);
    answer_varint(kv, t->n_ops[b]);
    uint64_t rev = kv->revision + 1;
    bool changed = false;
    for (size_t i = 0; i < t->n_ops[b]; i++)
        changed |= run_op(kv, &t->ops[b][i], rev);
    if (changed)
        kv->revision = rev;
    res->status = KV_OK;
    res->has_current = true;
    res->current = kv->answer;
    res->current_len = kv->answer_len;
}
