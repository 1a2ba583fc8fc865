/* test_kv_hist.c: the watch history window: one event per changed key in revision
 * order, a transaction's writes at one revision, nothing for commands that change
 * nothing, trimming by whole revisions within the event and byte limits, and a
 * snapshot that carries the window (a snapshot of version 4 or older starts an
 * empty one at its revision: test_kv_lease_snap.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_hist.h"
#include "kv/kv_snap.h"
#include "kv/kv_txn.h"
#include "lib/test.h"

static void apply(struct kv *kv, const struct kv_cmd *c)
{
    uint8_t buf[8300];
    size_t n = kv_cmd_encode(c, buf, sizeof buf);
    if (n == 0)
        abort();
    struct kv_result res;
    kv_apply(kv, kv->applied_index + 1, 1, buf, n, &res);
}

static void put(struct kv *kv, const char *k, const char *v)
{
    struct kv_cmd c = {.op = KV_OP_PUT, .key = (const uint8_t *)k, .key_len = strlen(k)};
    c.value = (const uint8_t *)v;
    c.value_len = strlen(v);
    apply(kv, &c);
}

static void del(struct kv *kv, const char *k)
{
    struct kv_cmd c = {.op = KV_OP_DELETE, .key = (const uint8_t *)k, .key_len = strlen(k)};
    apply(kv, &c);
}

static struct kv_txn_op op(uint8_t kind, const char *key, const char *value)
{
    struct kv_txn_op o = {.kind = kind, .key = (const uint8_t *)key, .key_len = strlen(key)};
    if (value != NULL) {
        o.value = (const uint8_t *)value;
        o.value_len = strlen(value);
    }
    return o;
}

static void txn(struct kv *kv, struct kv_txn *t)
{
    static uint8_t body[8192];
    size_t bl = kv_txn_encode(t, body, sizeof body);
    if (bl == 0)
        abort();
    struct kv_cmd c = {.op = KV_OP_TXN, .txn = body, .txn_len = bl};
    apply(kv, &c);
}

static bool event_is(const struct kv_event *e, uint8_t type, const char *k, const char *v,
                     uint64_t rev, uint64_t create, uint64_t version)
{
    size_t vl = v ? strlen(v) : 0;
    return e->type == type && e->key_len == strlen(k) &&
           memcmp(kv_event_key(e), k, e->key_len) == 0 && e->value_len == vl &&
           (vl == 0 || memcmp(kv_event_value(e), v, vl) == 0) && e->revision == rev &&
           e->create_revision == create && e->version == version;
}

TEST(hist_records_each_change_in_order)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    put(kv, "a", "1");
    put(kv, "a", "2");
    del(kv, "a");
    del(kv, "a"); /* absent: no revision, no event */
    put(kv, "b", "3");
    CHECK_EQ_U64(kv_hist_count(kv), 4);
    CHECK_EQ_U64(kv_hist_oldest(kv), 1);
    CHECK(event_is(kv_hist_at(kv, 0), KV_EVENT_PUT, "a", "1", 1, 1, 1));
    CHECK(event_is(kv_hist_at(kv, 1), KV_EVENT_PUT, "a", "2", 2, 1, 2));
    CHECK(event_is(kv_hist_at(kv, 2), KV_EVENT_DELETE, "a", NULL, 3, 0, 0));
    CHECK(event_is(kv_hist_at(kv, 3), KV_EVENT_PUT, "b", "3", 4, 4, 1));
    CHECK_EQ_U64(kv_hist_seek(kv, 3), 2);
    CHECK_EQ_U64(kv_hist_seek(kv, 5), 4);
    kv_free(kv);
}

TEST(hist_txn_writes_share_one_revision)
{
    struct kv *kv = kv_new(0);
    put(kv, "x", "0");
    struct kv_txn *t = calloc(1, sizeof *t);
    t->n_ops[0] = 4;
    t->ops[0][0] = op(KV_TXN_PUT, "x", "1");
    t->ops[0][1] = op(KV_TXN_GET, "x", NULL);
    t->ops[0][2] = op(KV_TXN_PUT, "y", "2");
    t->ops[0][3] = op(KV_TXN_DELETE, "x", NULL);
    txn(kv, t);
    memset(t, 0, sizeof *t);
    t->n_ops[0] = 1;
    t->ops[0][0] = op(KV_TXN_GET, "y", NULL); /* read-only: no revision, no event */
    txn(kv, t);
    free(t);
    CHECK_EQ_U64(kv_revision(kv), 2);
    CHECK_EQ_U64(kv_hist_count(kv), 4);
    CHECK(event_is(kv_hist_at(kv, 1), KV_EVENT_PUT, "x", "1", 2, 1, 2));
    CHECK(event_is(kv_hist_at(kv, 2), KV_EVENT_PUT, "y", "2", 2, 2, 1));
    CHECK(event_is(kv_hist_at(kv, 3), KV_EVENT_DELETE, "x", NULL, 2, 0, 0));
    CHECK_EQ_U64(kv_hist_seek(kv, 2), 1);
    kv_free(kv);
}

TEST(hist_trims_whole_revisions_within_limits)
{
    struct kv *kv = kv_new(0);
    kv_hist_limit(kv, 3, 0);
    struct kv_txn *t = calloc(1, sizeof *t);
    t->n_ops[0] = 2;
    t->ops[0][0] = op(KV_TXN_PUT, "p", "1");
    t->ops[0][1] = op(KV_TXN_PUT, "q", "1");
    txn(kv, t); /* revision 1: two events */
    put(kv, "a", "1");
    CHECK_EQ_U64(kv_hist_count(kv), 3);
    put(kv, "a", "2"); /* 4 events: revision 1 goes whole */
    CHECK_EQ_U64(kv_hist_count(kv), 2);
    CHECK_EQ_U64(kv_hist_oldest(kv), 2);
    CHECK_EQ_U64(kv_hist_at(kv, 0)->revision, 2);
    /* The newest revision stays even when it alone passes the limit. */
    t->n_ops[0] = 5;
    for (int i = 0; i < 5; i++)
        t->ops[0][i] = op(KV_TXN_PUT, (const char *[]){"k1", "k2", "k3", "k4", "k5"}[i], "v");
    txn(kv, t);
    free(t);
    CHECK_EQ_U64(kv_hist_count(kv), 5);
    CHECK_EQ_U64(kv_hist_oldest(kv), 4);
    /* A byte limit trims as well. */
    kv_hist_limit(kv, 1000, 1);
    put(kv, "a", "3");
    CHECK_EQ_U64(kv_hist_count(kv), 1);
    CHECK_EQ_U64(kv_hist_oldest(kv), 5);
    kv_free(kv);
}

TEST(hist_ring_wraps_and_keeps_order)
{
    struct kv *kv = kv_new(0);
    kv_hist_limit(kv, 100, 0);
    char k[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "k%d", i % 37);
        put(kv, k, "v");
    }
    CHECK_EQ_U64(kv_hist_count(kv), 100);
    CHECK_EQ_U64(kv_hist_oldest(kv), 901);
    for (size_t i = 0; i < 100; i++)
        CHECK_EQ_U64(kv_hist_at(kv, i)->revision, 901 + i);
    CHECK_EQ_U64(kv_hist_seek(kv, 950), 49);
    kv_free(kv);
}

TEST(hist_snapshot_carries_the_window)
{
    struct kv *kv = kv_new(0);
    put(kv, "a", "1");
    put(kv, "b", "2");
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK(kv_snap_encode(kv, &buf, &len) == 0);
    struct kv *back = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, len, &back, err, sizeof err) == 0);
    free(buf);
    CHECK_EQ_U64(kv_hist_count(back), 2);
    CHECK_EQ_U64(kv_hist_oldest(back), 1);
    CHECK(event_is(kv_hist_at(back, 0), KV_EVENT_PUT, "a", "1", 1, 1, 1));
    CHECK(event_is(kv_hist_at(back, 1), KV_EVENT_PUT, "b", "2", 2, 2, 1));
    put(back, "c", "3");
    CHECK_EQ_U64(kv_hist_count(back), 3);
    CHECK(event_is(kv_hist_at(back, 2), KV_EVENT_PUT, "c", "3", 3, 3, 1));
    kv_free(back);
    kv_free(kv);
}
