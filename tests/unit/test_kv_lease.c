/* test_kv_lease.c: the lease table of the state machine: grant (given and picked
 * ids), attach and detach by puts, deletes, revoke deleting every key at one revision
 * with its watch events, keepalive, expiry and its cancellation by a keepalive that
 * committed first, the command codec, exactly-once answers, leased puts in a
 * transaction, and snapshots: version 5
 * carries leases and the history window, version 4 decodes with neither.
 */
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_lease.h"
#include "kv/kv_snap.h"
#include "kv/kv_txn.h"
#include "lib/test.h"

static struct kv_result apply(struct kv *kv, const struct kv_cmd *c)
{
    uint8_t buf[512];
    size_t n = kv_cmd_encode(c, buf, sizeof buf);
    if (n == 0)
        abort();
    struct kv_result res;
    kv_apply(kv, kv->applied_index + 1, 1, buf, n, &res);
    return res;
}

static uint64_t grant(struct kv *kv, uint64_t id, uint64_t ttl)
{
    struct kv_cmd c = {.op = KV_OP_LEASE_GRANT, .lease = id, .ttl = ttl};
    struct kv_result res = apply(kv, &c);
    uint64_t got, got_ttl;
    if (res.status != KV_OK || res.lease_event != KV_LEASE_EV_GRANTED ||
        kv_lease_answer_decode(res.current, res.current_len, &got, &got_ttl) != 0 || got_ttl != ttl)
        return 0;
    return got;
}

static enum kv_status lease_op(struct kv *kv, uint8_t op, uint64_t id, uint64_t renewed)
{
    struct kv_cmd c = {.op = op, .lease = id, .renewed_index = renewed};
    return apply(kv, &c).status;
}

static enum kv_status put(struct kv *kv, const char *k, const char *v, uint64_t lease)
{
    struct kv_cmd c = {.op = KV_OP_PUT, .key = (const uint8_t *)k, .key_len = strlen(k)};
    c.value = (const uint8_t *)v;
    c.value_len = strlen(v);
    c.lease = lease;
    return apply(kv, &c).status;
}

static void del(struct kv *kv, const char *k)
{
    struct kv_cmd c = {.op = KV_OP_DELETE, .key = (const uint8_t *)k, .key_len = strlen(k)};
    apply(kv, &c);
}

static uint64_t lease_of(const struct kv *kv, const char *k)
{
    const struct kv_rec *r = kv_get(kv, k, strlen(k));
    return r ? r->lease : (uint64_t)-1;
}

static size_t n_keys(const struct kv *kv, uint64_t id)
{
    const struct kv_lease *l = kv_lease_find(kv, id);
    return l ? l->n_keys : (size_t)-1;
}

TEST(lease_grant_attach_detach)
{
    struct kv *kv = kv_new(0);
    CHECK_EQ_U64(grant(kv, 0, 10), 1); /* the store picks 1, then 2 */
    CHECK_EQ_U64(grant(kv, 0, 20), 2);
    CHECK_EQ_U64(grant(kv, 7, 30), 7);
    struct kv_cmd dup = {.op = KV_OP_LEASE_GRANT, .lease = 7, .ttl = 5};
    CHECK_EQ_U64(apply(kv, &dup).status, KV_LEASE_EXISTS);
    CHECK_EQ_U64(kv_revision(kv), 0); /* lease commands alone write no key */
    CHECK_EQ_U64(put(kv, "a", "1", 1), KV_OK);
    CHECK_EQ_U64(put(kv, "b", "1", 1), KV_OK);
    CHECK_EQ_U64(put(kv, "c", "1", 99), KV_LEASE_NOT_FOUND);
    CHECK(kv_get(kv, "c", 1) == NULL);
    CHECK_EQ_U64(kv_revision(kv), 2);
    CHECK_EQ_U64(lease_of(kv, "a"), 1);
    CHECK_EQ_U64(n_keys(kv, 1), 2);
    CHECK_EQ_U64(put(kv, "a", "22", 2), KV_OK); /* moves to lease 2 (new record size) */
    CHECK_EQ_U64(n_keys(kv, 1), 1);
    CHECK_EQ_U64(n_keys(kv, 2), 1);
    CHECK_EQ_U64(put(kv, "a", "33", 0), KV_OK); /* a put without lease detaches */
    CHECK_EQ_U64(lease_of(kv, "a"), 0);
    CHECK_EQ_U64(n_keys(kv, 2), 0);
    del(kv, "b"); /* a delete detaches */
    CHECK_EQ_U64(n_keys(kv, 1), 0);
    CHECK_EQ_U64(kv_lease_count(kv), 3);
    kv_free(kv);
}

TEST(lease_revoke_deletes_every_key_at_one_revision)
{
    struct kv *kv = kv_new(0);
    uint64_t id = grant(kv, 0, 10);
    put(kv, "x", "1", id);
    put(kv, "y", "1", 0);
    put(kv, "z", "1", id);
    put(kv, "w", "1", id);
    size_t before = kv_hist_count(kv);
    CHECK_EQ_U64(lease_op(kv, KV_OP_LEASE_REVOKE, id, 0), KV_OK);
    CHECK_EQ_U64(kv_revision(kv), 5);
    CHECK(kv_get(kv, "x", 1) == NULL && kv_get(kv, "z", 1) == NULL && kv_get(kv, "w", 1) == NULL);
    CHECK(kv_get(kv, "y", 1) != NULL);
    CHECK(kv_lease_find(kv, id) == NULL);
    CHECK_EQ_U64(kv_hist_count(kv), before + 3);
    const char *order[] = {"w", "x", "z"}; /* key order, the same on every replica */
    for (size_t i = 0; i < 3; i++) {
        const struct kv_event *e = kv_hist_at(kv, before + i);
        CHECK_EQ_U64(e->type, KV_EVENT_DELETE);
        CHECK_EQ_U64(e->revision, 5);
        CHECK(e->key_len == 1 && e->data[0] == order[i][0]);
    }
    CHECK_EQ_U64(lease_op(kv, KV_OP_LEASE_REVOKE, id, 0), KV_LEASE_NOT_FOUND);
    uint64_t empty = grant(kv, 0, 10); /* no keys: no new revision */
    CHECK_EQ_U64(lease_op(kv, KV_OP_LEASE_REVOKE, empty, 0), KV_OK);
    CHECK_EQ_U64(kv_revision(kv), 5);
    kv_free(kv);
}

TEST(lease_keepalive_cancels_an_expiry_decided_before_it)
{
    struct kv *kv = kv_new(0);
    uint64_t id = grant(kv, 0, 10);
    put(kv, "k", "v", id);
    uint64_t seen = kv_lease_find(kv, id)->renewed_index; /* what the leader saw */
    struct kv_cmd ka = {.op = KV_OP_LEASE_KEEPALIVE, .lease = id};
    struct kv_result res = apply(kv, &ka);
    CHECK_EQ_U64(res.status, KV_OK);
    CHECK_EQ_U64(res.lease_event, KV_LEASE_EV_RENEWED);
    CHECK_EQ_U64(res.lease_ttl, 10);
    CHECK_EQ_U64(kv_lease_find(kv, id)->renewed_index, kv->applied_index);
    struct kv_cmd ex = {.op = KV_OP_LEASE_EXPIRE, .lease = id, .renewed_index = seen};
    res = apply(kv, &ex);
    CHECK_EQ_U64(res.status, KV_OK);
    CHECK_EQ_U64(res.lease_event, KV_LEASE_EV_NONE); /* renewed since: not expired */
    CHECK(kv_get(kv, "k", 1) != NULL);
    ex.renewed_index = kv_lease_find(kv, id)->renewed_index;
    res = apply(kv, &ex);
    CHECK_EQ_U64(res.lease_event, KV_LEASE_EV_EXPIRED);
    CHECK(kv_get(kv, "k", 1) == NULL);
    CHECK_EQ_U64(apply(kv, &ex).status, KV_OK); /* again: nothing left to expire */
    CHECK_EQ_U64(lease_op(kv, KV_OP_LEASE_KEEPALIVE, id, 0), KV_LEASE_NOT_FOUND);
    kv_free(kv);
}

TEST(lease_grant_retry_gets_the_first_answer)
{
    struct kv *kv = kv_new(0);
    struct kv_cmd c = {
        .op = KV_OP_LEASE_GRANT, .ttl = 5, .has_session = true, .client_id = 3, .seq = 1};
    uint64_t a, b, ttl;
    struct kv_result r1 = apply(kv, &c);
    CHECK(kv_lease_answer_decode(r1.current, r1.current_len, &a, &ttl) == 0);
    struct kv_result r2 = apply(kv, &c);
    CHECK(r2.duplicate);
    CHECK(kv_lease_answer_decode(r2.current, r2.current_len, &b, &ttl) == 0);
    CHECK_EQ_U64(a, b);
    CHECK_EQ_U64(kv_lease_count(kv), 1);
    kv_free(kv);
}

TEST(lease_cmd_codec_is_strict)
{
    uint8_t buf[64];
    struct kv_cmd c = {.op = KV_OP_LEASE_GRANT, .ttl = 0};
    CHECK_EQ_U64(kv_cmd_encode(&c, buf, sizeof buf), 0); /* ttl 0 */
    c.ttl = KV_LEASE_MAX_TTL + 1;
    CHECK_EQ_U64(kv_cmd_encode(&c, buf, sizeof buf), 0);
    struct kv_cmd r = {.op = KV_OP_LEASE_REVOKE};
    CHECK_EQ_U64(kv_cmd_encode(&r, buf, sizeof buf), 0); /* id 0 */
    struct kv_cmd d = {.op = KV_OP_DELETE, .key = (const uint8_t *)"k", .key_len = 1, .lease = 3};
    CHECK_EQ_U64(kv_cmd_encode(&d, buf, sizeof buf), 0); /* only put and cas take a lease */
    struct kv_cmd p = {.op = KV_OP_PUT, .key = (const uint8_t *)"k", .key_len = 1, .lease = 300};
    size_t n = kv_cmd_encode(&p, buf, sizeof buf);
    CHECK(n > 0);
    struct kv_cmd out;
    CHECK(kv_cmd_decode(buf, n, &out) == 0);
    CHECK_EQ_U64(out.lease, 300);
    for (size_t cut = 0; cut < n; cut++)
        CHECK(kv_cmd_decode(buf, cut, &out) == -1);
    buf[1] = KV_OP_DELETE; /* the lease flag on a delete */
    CHECK(kv_cmd_decode(buf, n, &out) == -1);
    struct kv_cmd plain = {.op = KV_OP_PUT, .key = (const uint8_t *)"k", .key_len = 1};
    CHECK_EQ_U64(kv_cmd_encode(&plain, buf, sizeof buf), 6); /* unchanged without a lease */
}

TEST(lease_snapshot_v5_carries_leases_and_history)
{
    struct kv *a = kv_new(0);
    uint64_t l1 = grant(a, 0, 10), l2 = grant(a, 0, 20);
    struct kv_cmd sess = {
        .op = KV_OP_LEASE_GRANT, .ttl = 9, .has_session = true, .client_id = 8, .seq = 1};
    struct kv_result first = apply(a, &sess); /* lease 3, its answer in the session table */
    CHECK_EQ_U64(first.lease_id, 3);
    put(a, "a", "1", l1);
    put(a, "b", "2", l2);
    put(a, "c", "3", 0);
    put(a, "d", "4", l1);
    del(a, "c");
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode(a, &buf, &len) == 0);
    CHECK_EQ_U64(buf[4], 5);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == 0);
    CHECK_EQ_U64(kv_lease_count(b), 3);
    CHECK_EQ_U64(kv_lease_find(b, l2)->ttl_s, 20);
    CHECK_EQ_U64(kv_lease_find(b, l1)->renewed_index, kv_lease_find(a, l1)->renewed_index);
    CHECK_EQ_U64(n_keys(b, l1), 2);
    CHECK_EQ_U64(lease_of(b, "d"), l1);
    CHECK_EQ_U64(kv_hist_count(b), kv_hist_count(a));
    CHECK_EQ_U64(kv_hist_oldest(b), kv_hist_oldest(a));
    for (size_t i = 0; i < kv_hist_count(a); i++) {
        const struct kv_event *x = kv_hist_at(a, i), *y = kv_hist_at(b, i);
        CHECK(x->revision == y->revision && x->type == y->type && x->key_len == y->key_len &&
              x->value_len == y->value_len && x->version == y->version &&
              memcmp(x->data, y->data, x->key_len + x->value_len) == 0);
    }
    uint8_t *again;
    size_t again_len;
    CHECK(kv_snap_encode(b, &again, &again_len) == 0); /* the same bytes back */
    CHECK(again_len == len && memcmp(again, buf, len) == 0);
    struct kv_result retry = apply(b, &sess); /* answered from the restored session */
    uint64_t rid, rttl;
    CHECK(retry.duplicate &&
          kv_lease_answer_decode(retry.current, retry.current_len, &rid, &rttl) == 0);
    CHECK(rid == 3 && rttl == 9);
    /* The next id continues after a restore. */
    CHECK_EQ_U64(grant(b, 0, 5), 4);
    /* Revoking after a restore deletes the keys the pairs attached. */
    CHECK_EQ_U64(lease_op(b, KV_OP_LEASE_REVOKE, l1, 0), KV_OK);
    CHECK(kv_get(b, "a", 1) == NULL && kv_get(b, "d", 1) == NULL);
    free(again);
    free(buf);
    kv_free(a);
    kv_free(b);
}

static uint8_t *le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* A version 4 snapshot (before leases and the window): one pair, no sessions. */
TEST(lease_snapshot_v4_decodes_without_leases_or_window)
{
    uint8_t buf[128], *p = buf;
    memcpy(p, "VSNP", 4);
    p = le(p + 4, 4, 4);
    p = le(p, 12, 8); /* applied index */
    p = le(p, 2, 8);  /* term */
    p = le(p, 9, 8);  /* revision */
    p = le(p, 16, 4); /* max sessions */
    p = le(p, 0, 4);  /* live sessions */
    p = le(p, 0, 4);  /* expired sessions */
    p = le(p, 1, 8);  /* pairs */
    p = le(p, 1, 4);
    p = le(p, 2, 4);
    p = le(p, 3, 8); /* create, mod, version */
    p = le(p, 9, 8);
    p = le(p, 4, 8);
    memcpy(p, "kvv", 3);
    p += 3;
    struct kv *kv = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, (size_t)(p - buf), &kv, err, sizeof err) == 0);
    CHECK_EQ_U64(kv_revision(kv), 9);
    CHECK_EQ_U64(kv_lease_count(kv), 0);
    CHECK_EQ_U64(lease_of(kv, "k"), 0);
    CHECK_EQ_U64(kv_hist_count(kv), 0);
    CHECK_EQ_U64(kv_hist_oldest(kv), 10);
    CHECK_EQ_U64(grant(kv, 0, 5), 1);
    kv_free(kv);
    buf[4] = 6; /* a version from the future */
    CHECK(kv_snap_decode(buf, (size_t)(p - buf), &kv, err, sizeof err) == -1);
}

TEST(lease_txn_put_attaches_or_refuses_the_branch)
{
    struct kv *kv = kv_new(0);
    uint64_t id = grant(kv, 0, 10);
    static struct kv_txn t;
    memset(&t, 0, sizeof t);
    t.n_ops[0] = 2;
    t.ops[0][0] = (struct kv_txn_op){.kind = KV_TXN_PUT,
                                     .key = (const uint8_t *)"p",
                                     .key_len = 1,
                                     .value = (const uint8_t *)"1",
                                     .value_len = 1,
                                     .lease = id};
    t.ops[0][1] = (struct kv_txn_op){.kind = KV_TXN_PUT,
                                     .key = (const uint8_t *)"q",
                                     .key_len = 1,
                                     .value = (const uint8_t *)"2",
                                     .value_len = 1};
    uint8_t body[128];
    struct kv_cmd c = {.op = KV_OP_TXN, .txn = body};
    c.txn_len = kv_txn_encode(&t, body, sizeof body);
    CHECK(c.txn_len > 0);
    struct kv_txn back;
    CHECK(kv_txn_decode(body, c.txn_len, &back) == 0);
    CHECK(back.ops[0][0].kind == KV_TXN_PUT && back.ops[0][0].lease == id);
    CHECK_EQ_U64(back.ops[0][1].lease, 0);
    CHECK_EQ_U64(apply(kv, &c).status, KV_OK);
    CHECK_EQ_U64(lease_of(kv, "p"), id);
    CHECK_EQ_U64(lease_of(kv, "q"), 0);
    t.ops[0][0].lease = 77; /* unknown: the branch runs nothing */
    t.ops[0][1].value = (const uint8_t *)"3";
    c.txn_len = kv_txn_encode(&t, body, sizeof body);
    uint64_t rev = kv_revision(kv);
    CHECK_EQ_U64(apply(kv, &c).status, KV_LEASE_NOT_FOUND);
    CHECK_EQ_U64(kv_revision(kv), rev);
    CHECK(memcmp(kv_rec_value(kv_get(kv, "q", 1)), "2", 1) == 0);
    t.ops[0][1].lease = 5; /* only puts take a lease */
    t.ops[0][1].kind = KV_TXN_DELETE;
    t.ops[0][1].value_len = 0;
    CHECK_EQ_U64(kv_txn_encode(&t, body, sizeof body), 0);
    kv_free(kv);
}
