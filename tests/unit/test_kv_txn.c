/* test_kv_txn.c: transactions of the state machine: compares on every target,
 * the branch that runs, one revision for all writes, gets that see the branch's
 * earlier writes, exactly-once retries, and the strict body decoder. */
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "kv/kv_txn.h"
#include "lib/test.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static void put(struct kv *kv, const char *k, const char *v)
{
    struct kv_cmd c = {.op = KV_OP_PUT};
    c.key = (const uint8_t *)k;
    c.key_len = strlen(k);
    c.value = (const uint8_t *)v;
    c.value_len = strlen(v);
    uint8_t buf[256];
    size_t n = kv_cmd_encode(&c, buf, sizeof buf);
    struct kv_result res;
    kv_apply(kv, kv->applied_index + 1, 1, buf, n, &res);
}

static void apply_txn(struct kv *kv, const struct kv_txn *t, uint64_t client, uint64_t seq,
                      struct kv_result *res)
{
    static uint8_t body[8192], cmd[8300];
    size_t bl = kv_txn_encode(t, body, sizeof body);
    if (bl == 0)
        abort();
    struct kv_cmd c = {.op = KV_OP_TXN, .txn = body, .txn_len = bl};
    c.has_session = client != 0;
    c.client_id = client;
    c.seq = seq;
    size_t n = kv_cmd_encode(&c, cmd, sizeof cmd);
    if (n == 0)
        abort();
    kv_apply(kv, kv->applied_index + 1, 1, cmd, n, res);
}

static struct kv_txn_cmp cmp(uint8_t target, uint8_t op, const char *key, const char *value,
                             uint64_t number)
{
    struct kv_txn_cmp c = {.target = target, .op = op, .number = number};
    c.key = (const uint8_t *)key;
    c.key_len = strlen(key);
    if (value != NULL) {
        c.value = (const uint8_t *)value;
        c.value_len = strlen(value);
    }
    return c;
}

static struct kv_txn_op op(uint8_t kind, const char *key, const char *value)
{
    struct kv_txn_op o = {.kind = kind};
    o.key = (const uint8_t *)key;
    o.key_len = strlen(key);
    if (value != NULL) {
        o.value = (const uint8_t *)value;
        o.value_len = strlen(value);
    }
    return o;
}

TEST(txn_compares_on_every_target)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    put(kv, "a", "m");
    put(kv, "a", "n"); /* a: create 1, mod 2, version 2 */
    struct {
        struct kv_txn_cmp c;
        bool want;
    } cases[] = {
        {cmp(KV_TXN_VALUE, KV_TXN_EQ, "a", "n", 0), true},
        {cmp(KV_TXN_VALUE, KV_TXN_LT, "a", "o", 0), true},
        {cmp(KV_TXN_VALUE, KV_TXN_GT, "a", "n", 0), false},
        {cmp(KV_TXN_VALUE, KV_TXN_NE, "zz", "n", 0), false}, /* absent: value compares fail */
        {cmp(KV_TXN_VERSION, KV_TXN_EQ, "a", NULL, 2), true},
        {cmp(KV_TXN_VERSION, KV_TXN_EQ, "zz", NULL, 0), true},
        {cmp(KV_TXN_CREATE, KV_TXN_EQ, "a", NULL, 1), true},
        {cmp(KV_TXN_MOD, KV_TXN_GT, "a", NULL, 1), true},
        {cmp(KV_TXN_MOD, KV_TXN_LT, "a", NULL, 2), false},
        {cmp(KV_TXN_EXISTS, KV_TXN_EQ, "a", NULL, 1), true},
        {cmp(KV_TXN_EXISTS, KV_TXN_NE, "zz", NULL, 1), true},
        {cmp(KV_TXN_EXISTS, KV_TXN_EQ, "zz", NULL, 1), false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(kv_txn_compare(kv, &cases[i].c) == cases[i].want);
    kv_free(kv);
}

TEST(txn_branch_one_revision_and_results)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    put(kv, "a", "1");
    put(kv, "b", "2");
    static struct kv_txn t;
    memset(&t, 0, sizeof t);
    t.n_cmp = 1;
    t.cmp[0] = cmp(KV_TXN_VALUE, KV_TXN_EQ, "a", "1", 0);
    t.n_ops[0] = 4;
    t.ops[0][0] = op(KV_TXN_PUT, "c", "3");
    t.ops[0][1] = op(KV_TXN_DELETE, "b", NULL);
    t.ops[0][2] = op(KV_TXN_GET, "c", NULL); /* sees the put before it */
    t.ops[0][3] = op(KV_TXN_GET, "b", NULL); /* and the delete */
    t.n_ops[1] = 1;
    t.ops[1][0] = op(KV_TXN_GET, "a", NULL);
    struct kv_result res;
    apply_txn(kv, &t, 0, 0, &res);
    CHECK(res.status == KV_OK && res.has_current && res.revision == 3);
    struct kv_txn_answer a;
    struct kv_txn_result r;
    CHECK(kv_txn_answer_open(&a, res.current, res.current_len) == 0);
    CHECK(a.succeeded && a.n_results == 4);
    CHECK(kv_txn_answer_next(&a, &r) == 0 && r.kind == KV_TXN_PUT);
    CHECK(kv_txn_answer_next(&a, &r) == 0 && r.kind == KV_TXN_DELETE && r.found);
    CHECK(kv_txn_answer_next(&a, &r) == 0 && r.kind == KV_TXN_GET && r.found);
    CHECK(r.value_len == 1 && r.value[0] == '3' && r.create_revision == 3 && r.mod_revision == 3);
    CHECK(kv_txn_answer_next(&a, &r) == 0 && r.kind == KV_TXN_GET && !r.found);
    CHECK(a.left == 0);
    CHECK(kv_get(kv, "c", 1)->mod_revision == 3 && kv_get(kv, "b", 1) == NULL);
    /* a is still "1": success again; c is put again, b was already gone. */
    apply_txn(kv, &t, 0, 0, &res);
    CHECK(res.revision == 4 && kv_get(kv, "c", 1)->version == 2);
    CHECK(kv_txn_answer_open(&a, res.current, res.current_len) == 0);
    CHECK(a.succeeded && a.n_results == 4);
    CHECK(kv_txn_answer_next(&a, &r) == 0 && kv_txn_answer_next(&a, &r) == 0 && !r.found);
    /* Now the compare fails: the failure branch (a read) runs, no new revision. */
    t.cmp[0] = cmp(KV_TXN_VALUE, KV_TXN_EQ, "a", "x", 0);
    apply_txn(kv, &t, 0, 0, &res);
    CHECK(kv_txn_answer_open(&a, res.current, res.current_len) == 0);
    CHECK(!a.succeeded && a.n_results == 1);
    CHECK(kv_txn_answer_next(&a, &r) == 0 && r.found && r.value[0] == '1');
    CHECK(res.revision == 4 && kv_revision(kv) == 4);
    kv_free(kv);
}

TEST(txn_retry_answers_first_outcome)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    static struct kv_txn t;
    memset(&t, 0, sizeof t);
    t.n_cmp = 1;
    t.cmp[0] = cmp(KV_TXN_EXISTS, KV_TXN_EQ, "lock", NULL, 0);
    t.n_ops[0] = 1;
    t.ops[0][0] = op(KV_TXN_PUT, "lock", "me");
    t.n_ops[1] = 1;
    t.ops[1][0] = op(KV_TXN_GET, "lock", NULL);
    struct kv_result res;
    apply_txn(kv, &t, 7, 1, &res);
    CHECK(res.revision == 1);
    uint8_t first[64];
    size_t first_len = res.current_len;
    memcpy(first, res.current, first_len);
    apply_txn(kv, &t, 7, 1, &res); /* the retry: not applied again */
    CHECK(res.duplicate && res.revision == 1 && res.current_len == first_len);
    CHECK(memcmp(res.current, first, first_len) == 0);
    CHECK_EQ_U64(kv_get(kv, "lock", 4)->version, 1);
    /* The stored answer survives a snapshot: a retry after a restore gets it too. */
    uint8_t *snap;
    size_t snap_len;
    CHECK(kv_snap_encode(kv, &snap, &snap_len) == 0);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(snap, snap_len, &b, err, sizeof err) == 0);
    free(snap);
    apply_txn(b, &t, 7, 1, &res);
    CHECK(res.duplicate && res.revision == 1 && res.current_len == first_len);
    CHECK(memcmp(res.current, first, first_len) == 0);
    kv_free(b);
    apply_txn(kv, &t, 7, 2, &res); /* a new seq runs: the lock is taken now */
    struct kv_txn_answer a;
    CHECK(kv_txn_answer_open(&a, res.current, res.current_len) == 0 && !a.succeeded);
    kv_free(kv);
}

TEST(txn_decoder_rejects_truncation_and_bad_fields)
{
    static struct kv_txn t;
    memset(&t, 0, sizeof t);
    t.n_cmp = 1;
    t.cmp[0] = cmp(KV_TXN_MOD, KV_TXN_LT, "k", NULL, 300);
    t.n_ops[0] = 2;
    t.ops[0][0] = op(KV_TXN_PUT, "k", "v");
    t.ops[0][1] = op(KV_TXN_DELETE, "j", NULL);
    uint8_t buf[128];
    size_t n = kv_txn_encode(&t, buf, sizeof buf);
    CHECK(n > 0 && n == kv_txn_size(&t));
    CHECK(kv_txn_decode(buf, n, NULL) == 0);
    for (size_t cut = 0; cut < n; cut++)
        CHECK(kv_txn_decode(buf, cut, NULL) == -1);
    buf[n] = 0;
    CHECK(kv_txn_decode(buf, n + 1, NULL) == -1); /* trailing byte */
    buf[1] = 9;                                   /* unknown target */
    CHECK(kv_txn_decode(buf, n, NULL) == -1);
    buf[0] = KV_TXN_MAX + 1; /* too many compares */
    CHECK(kv_txn_decode(buf, n, NULL) == -1);
    t.cmp[0] = cmp(KV_TXN_EXISTS, KV_TXN_LT, "k", NULL, 1); /* exists takes = or != */
    CHECK(kv_txn_encode(&t, buf, sizeof buf) == 0);
    t.cmp[0] = cmp(KV_TXN_EXISTS, KV_TXN_EQ, "k", NULL, 2);
    CHECK(kv_txn_encode(&t, buf, sizeof buf) == 0);
    /* A TXN command carries no key, and its body must decode. */
    struct kv_cmd c = {.op = KV_OP_TXN, .txn = (const uint8_t *)"\x01", .txn_len = 1};
    CHECK(kv_cmd_encode(&c, buf, sizeof buf) == 0);
}
