/* test_kv_apply.c: command codec and state-machine semantics (CAS, dedup). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "lib/test.h"

static struct kv_cmd mk(uint8_t op, const char *key, const char *value)
{
    struct kv_cmd c = {0};
    c.op = op;
    c.key = (const uint8_t *)key;
    c.key_len = strlen(key);
    if (value != NULL) {
        c.value = (const uint8_t *)value;
        c.value_len = strlen(value);
    }
    return c;
}

/* Encodes c and applies it at the next index. */
static void apply(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    uint8_t *buf;
    size_t len;
    if (kv_cmd_encode_alloc(c, &buf, &len) != 0)
        abort();
    kv_apply(kv, kv->applied_index + 1, 1, buf, len, res);
    free(buf);
}

TEST(cmd_round_trip_all_shapes)
{
    struct kv_cmd in[4] = {mk(KV_OP_PUT, "k", "value"), mk(KV_OP_DELETE, "key2", NULL),
                           mk(KV_OP_CAS, "c", "new"), mk(KV_OP_CAS, "d", "v")};
    in[0].has_session = true;
    in[0].client_id = 0xfedcba9876543210ULL;
    in[0].seq = 300;
    in[2].expected = (const uint8_t *)"old";
    in[2].expected_len = 3;
    in[3].expect_absent = true;
    for (int i = 0; i < 4; i++) {
        uint8_t buf[64];
        size_t n = kv_cmd_encode(&in[i], buf, sizeof buf);
        CHECK(n == kv_cmd_size(&in[i]) && n > 0);
        CHECK(kv_cmd_encode(&in[i], buf, n - 1) == 0);
        struct kv_cmd out;
        CHECK(kv_cmd_decode(buf, n, &out) == 0);
        CHECK(out.op == in[i].op && out.has_session == in[i].has_session);
        CHECK(out.client_id == in[i].client_id && out.seq == in[i].seq);
        CHECK(out.key_len == in[i].key_len && memcmp(out.key, in[i].key, out.key_len) == 0);
        CHECK(out.value_len == in[i].value_len);
        CHECK(out.expect_absent == in[i].expect_absent && out.expected_len == in[i].expected_len);
        /* Every strict prefix is malformed, as is any extra byte. */
        for (size_t cut = 0; cut < n; cut++)
            CHECK(kv_cmd_decode(buf, cut, &out) != 0);
        buf[n] = 0;
        CHECK(kv_cmd_decode(buf, n + 1, &out) != 0);
    }
    /* A PUT without session and a 1-byte key and value costs 7 bytes. */
    struct kv_cmd small = mk(KV_OP_PUT, "k", "v");
    CHECK_EQ_U64(kv_cmd_size(&small), 7);
}

TEST(cmd_rejects_invalid)
{
    struct kv_cmd c = mk(KV_OP_PUT, "", "v");
    uint8_t buf[64];
    CHECK(kv_cmd_encode(&c, buf, sizeof buf) == 0); /* empty key */
    c = mk(9, "k", "v");
    CHECK(kv_cmd_encode(&c, buf, sizeof buf) == 0); /* unknown op */
    c = mk(KV_OP_PUT, "k", "v");
    c.expect_absent = true;
    CHECK(kv_cmd_encode(&c, buf, sizeof buf) == 0); /* absent flag off CAS */
    c.expect_absent = false;
    c.has_session = true;
    CHECK(kv_cmd_encode(&c, buf, sizeof buf) == 0); /* seq 0 */
    struct kv_cmd out;
    const uint8_t bad_version[] = {2, 1, 0, 1, 'k', 1, 'v'};
    const uint8_t bad_op[] = {1, 7, 0, 1, 'k', 1, 'v'};
    const uint8_t bad_flags[] = {1, 1, 4, 1, 'k', 1, 'v'};
    const uint8_t long_len[] = {1, 1, 0, 1, 'k', 5, 'v'};
    const uint8_t huge_varint[] = {1,    2,    0,    0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    const uint8_t ok[] = {1, 1, 0, 1, 'k', 1, 'v'};
    CHECK(kv_cmd_decode(bad_version, sizeof bad_version, &out) != 0);
    CHECK(kv_cmd_decode(bad_op, sizeof bad_op, &out) != 0);
    CHECK(kv_cmd_decode(bad_flags, sizeof bad_flags, &out) != 0);
    CHECK(kv_cmd_decode(long_len, sizeof long_len, &out) != 0);
    CHECK(kv_cmd_decode(huge_varint, sizeof huge_varint, &out) != 0);
    CHECK(kv_cmd_decode(ok, sizeof ok, &out) == 0);
}

TEST(apply_put_get_delete)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd c = mk(KV_OP_PUT, "name", "Leslie Lamport");
    apply(kv, &c, &res);
    CHECK(res.status == KV_OK && !res.duplicate);
    const struct kv_rec *r = kv_get(kv, "name", 4);
    CHECK(r != NULL && r->value_len == 14 && memcmp(kv_rec_value(r), "Leslie Lamport", 14) == 0);
    c = mk(KV_OP_DELETE, "name", NULL);
    apply(kv, &c, &res);
    CHECK(res.status == KV_OK);
    apply(kv, &c, &res);
    CHECK(res.status == KV_NOT_FOUND);
    CHECK(kv_get(kv, "name", 4) == NULL);
    CHECK_EQ_U64(kv->applied_index, 3);
    kv_free(kv);
}

TEST(apply_cas)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd c = mk(KV_OP_CAS, "k", "v1");
    c.expect_absent = true;
    apply(kv, &c, &res);
    CHECK(res.status == KV_OK);
    apply(kv, &c, &res); /* now present */
    CHECK(res.status == KV_CAS_MISMATCH && res.has_current && res.current_len == 2);
    CHECK(memcmp(res.current, "v1", 2) == 0);
    c = mk(KV_OP_CAS, "k", "v2");
    c.expected = (const uint8_t *)"v0";
    c.expected_len = 2;
    apply(kv, &c, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.has_current);
    c.expected = (const uint8_t *)"v1";
    apply(kv, &c, &res);
    CHECK(res.status == KV_OK);
    const struct kv_rec *r = kv_get(kv, "k", 1);
    CHECK(r != NULL && memcmp(kv_rec_value(r), "v2", 2) == 0);
    c = mk(KV_OP_CAS, "missing", "x");
    c.expected = (const uint8_t *)"";
    apply(kv, &c, &res); /* expected "" does not match an absent key */
    CHECK(res.status == KV_CAS_MISMATCH && !res.has_current);
    kv_free(kv);
}

TEST(apply_dedup_retry_and_stale)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd c = mk(KV_OP_DELETE, "x", NULL);
    c.has_session = true;
    c.client_id = 42;
    c.seq = 1;
    apply(kv, &c, &res);
    CHECK(res.status == KV_NOT_FOUND && !res.duplicate);
    struct kv_cmd p = mk(KV_OP_PUT, "x", "1");
    apply(kv, &p, &res); /* someone else creates x */
    apply(kv, &c, &res); /* retry of (42,1): the original answer, x untouched */
    CHECK(res.status == KV_NOT_FOUND && res.duplicate);
    CHECK(kv_get(kv, "x", 1) != NULL);
    c.seq = 2;
    apply(kv, &c, &res);
    CHECK(res.status == KV_OK && !res.duplicate);
    c.seq = 1;
    apply(kv, &c, &res);
    CHECK(res.status == KV_STALE_SEQ);
    /* A retried PUT is not applied twice even if the value changed meanwhile. */
    struct kv_cmd w = mk(KV_OP_PUT, "y", "first");
    w.has_session = true;
    w.client_id = 7;
    w.seq = 5;
    apply(kv, &w, &res);
    p = mk(KV_OP_PUT, "y", "other");
    apply(kv, &p, &res);
    apply(kv, &w, &res);
    CHECK(res.status == KV_OK && res.duplicate);
    const struct kv_rec *r = kv_get(kv, "y", 1);
    CHECK(r != NULL && r->value_len == 5 && memcmp(kv_rec_value(r), "other", 5) == 0);
    kv_free(kv);
}

TEST(apply_dedup_cas_retry_reports_mismatch)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd p = mk(KV_OP_PUT, "k", "a");
    apply(kv, &p, &res);
    struct kv_cmd c = mk(KV_OP_CAS, "k", "b");
    c.expected = (const uint8_t *)"z";
    c.expected_len = 1;
    c.has_session = true;
    c.client_id = 1;
    c.seq = 1;
    apply(kv, &c, &res);
    CHECK(res.status == KV_CAS_MISMATCH && !res.duplicate);
    apply(kv, &c, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.duplicate && res.has_current);
    CHECK(res.current_len == 1 && res.current[0] == 'a');
    kv_free(kv);
}

TEST(apply_session_lru_eviction)
{
    struct kv *kv = kv_new(3);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd c = mk(KV_OP_PUT, "k", "v");
    c.has_session = true;
    c.seq = 1;
    for (uint64_t id = 1; id <= 3; id++) {
        c.client_id = id;
        apply(kv, &c, &res);
    }
    c.client_id = 1; /* touch client 1: client 2 becomes the oldest */
    apply(kv, &c, &res);
    CHECK(res.duplicate);
    c.client_id = 4;
    apply(kv, &c, &res);
    CHECK_EQ_U64(kv->sessions.live.count, 3);
    CHECK(kv_sessions_find(&kv->sessions, 2) == NULL);
    CHECK(kv_sessions_find(&kv->sessions, 1) != NULL);
    CHECK(kv_sessions_find(&kv->sessions, 3) != NULL);
    CHECK_EQ_U64(kv->sessions.live.oldest->client_id, 3);
    CHECK_EQ_U64(kv->sessions.live.newest->client_id, 4);
    c.client_id = 2; /* evicted: its retry can no longer be answered, nor applied again */
    apply(kv, &c, &res);
    CHECK(res.status == KV_SESSION_EXPIRED && !res.duplicate);
    CHECK(kv_sessions_find_expired(&kv->sessions, 2) != NULL);
    kv_free(kv);
}

TEST(apply_bad_command_and_index_order)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    const uint8_t junk[] = {0xde, 0xad};
    kv_apply(kv, 1, 1, junk, sizeof junk, &res);
    CHECK(res.status == KV_BAD_COMMAND);
    kv_apply(kv, 2, 1, NULL, 0, &res);
    CHECK(res.status == KV_BAD_COMMAND);
    CHECK_EQ_U64(kv->applied_index, 2);
    kv_apply(kv, 2, 1, junk, sizeof junk, &res);
    CHECK(res.status == KV_ALREADY_APPLIED);
    kv_set_applied(kv, 10, 3);
    CHECK_EQ_U64(kv->applied_index, 10);
    CHECK_EQ_U64(kv->applied_term, 3);
    kv_set_applied(kv, 9, 4);
    CHECK_EQ_U64(kv->applied_index, 10);
    CHECK(strcmp(kv_status_str(KV_CAS_MISMATCH), "cas_failed") == 0);
    kv_free(kv);
}

/* Random PUT/DELETE/CAS over a small key space against a plain-array model;
 * snapshot and restore midway. Deterministic (fixed xorshift seed). */
TEST(apply_random_against_model)
{
    enum { KEYS = 64, STEPS = 20000 };
    static char model[KEYS][16];
    static int present[KEYS];
    memset(present, 0, sizeof present);
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    uint64_t x = 88172645463325252ULL;
    for (int step = 0; step < STEPS; step++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int k = (int)(x % KEYS), op = (int)((x >> 8) % 3);
        char key[8], val[16];
        snprintf(key, sizeof key, "k%d", k);
        snprintf(val, sizeof val, "v%llu", (unsigned long long)(x >> 40) % 1000);
        struct kv_cmd c = mk(op == 0   ? KV_OP_PUT
                             : op == 1 ? KV_OP_DELETE
                                       : KV_OP_CAS,
                             key, op == 1 ? NULL : val);
        if (op == 2) {
            c.expect_absent = (x >> 20) & 1;
            c.expected = (const uint8_t *)model[k];
            c.expected_len = strlen(model[k]);
        }
        struct kv_result res;
        apply(kv, &c, &res);
        enum kv_status want = KV_OK;
        if (op == 0 || (op == 2 && (c.expect_absent ? !present[k] : present[k]))) {
            snprintf(model[k], sizeof model[k], "%s", val);
            present[k] = 1;
        } else if (op == 1) {
            want = present[k] ? KV_OK : KV_NOT_FOUND;
            present[k] = 0;
        } else {
            want = KV_CAS_MISMATCH;
        }
        CHECK(res.status == want);
        if (step == STEPS / 2) { /* continue on a restored copy */
            uint8_t *snap;
            size_t len;
            CHECK(kv_snap_encode(kv, &snap, &len) == 0);
            struct kv *copy = NULL;
            CHECK(kv_snap_decode(snap, len, &copy, NULL, 0) == 0);
            free(snap);
            kv_free(kv);
            kv = copy;
        }
    }
    size_t live = 0;
    for (int k = 0; k < KEYS; k++) {
        char key[8];
        int kl = snprintf(key, sizeof key, "k%d", k);
        const struct kv_rec *r = kv_get(kv, key, (size_t)kl);
        CHECK((r != NULL) == present[k]);
        if (r != NULL) {
            CHECK(r->value_len == strlen(model[k]) &&
                  memcmp(kv_rec_value(r), model[k], r->value_len) == 0);
            live++;
        }
    }
    CHECK_EQ_U64(kv->map.count, live);
    kv_free(kv);
}

/* The expired list is bounded like the live table and drops its oldest record. */
TEST(apply_expired_sessions_bounded)
{
    struct kv *kv = kv_new(2);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd c = mk(KV_OP_PUT, "k", "v");
    c.has_session = true;
    c.seq = 1;
    for (uint64_t id = 1; id <= 6; id++) {
        c.client_id = id;
        apply(kv, &c, &res);
        CHECK(res.status == KV_OK && !res.duplicate);
    }
    CHECK_EQ_U64(kv->sessions.live.count, 2);
    CHECK_EQ_U64(kv->sessions.expired.count, 2);
    CHECK_EQ_U64(kv->sessions.expired.oldest->client_id, 3);
    CHECK_EQ_U64(kv->sessions.expired.newest->client_id, 4);
    c.client_id = 4;
    apply(kv, &c, &res);
    CHECK(res.status == KV_SESSION_EXPIRED);
    c.client_id = 1; /* beyond the horizon: taken for a new client (documented) */
    apply(kv, &c, &res);
    CHECK(res.status == KV_OK && !res.duplicate);
    kv_free(kv);
}
