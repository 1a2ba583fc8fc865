/* test_kv_once.c: exactly-once answers through the state machine's public API:
 * a duplicate gets the first answer byte for byte (a failed CAS reports the value
 * it saw then), a retry whose session was evicted is refused as
 * session_expired instead of being applied a second time, and both survive a
 * snapshot round trip. */
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "lib/test.h"

static struct kv_cmd once_cmd(uint8_t op, const char *key, const char *value, uint64_t client,
                              uint64_t seq)
{
    struct kv_cmd c = {.op = op, .key = (const uint8_t *)key, .key_len = strlen(key)};
    if (value != NULL) {
        c.value = (const uint8_t *)value;
        c.value_len = strlen(value);
    }
    c.has_session = client != 0;
    c.client_id = client;
    c.seq = seq;
    return c;
}

static void once_apply(struct kv *kv, const struct kv_cmd *c, struct kv_result *res)
{
    uint8_t *buf;
    size_t len;
    if (kv_cmd_encode_alloc(c, &buf, &len) != 0)
        abort();
    kv_apply(kv, kv->applied_index + 1, 1, buf, len, res);
    free(buf);
}

static bool value_is(const struct kv *kv, const char *key, const char *want)
{
    const struct kv_rec *r = kv_get(kv, key, strlen(key));
    if (want == NULL)
        return r == NULL;
    return r != NULL && r->value_len == strlen(want) &&
           memcmp(kv_rec_value(r), want, r->value_len) == 0;
}

static struct kv *round_trip(struct kv *kv)
{
    uint8_t *buf;
    size_t len;
    struct kv *out = NULL;
    if (kv_snap_encode(kv, &buf, &len) != 0 || kv_snap_decode(buf, len, &out, NULL, 0) != 0)
        abort();
    free(buf);
    kv_free(kv);
    return out;
}

/* A failed CAS whose retry arrives after the key changed reports the value the
 * first application saw, not the current one. */
TEST(once_cas_duplicate_reports_value_seen_then)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd p = once_cmd(KV_OP_PUT, "k", "a", 0, 0);
    once_apply(kv, &p, &res);
    struct kv_cmd c = once_cmd(KV_OP_CAS, "k", "b", 5, 1);
    c.expected = (const uint8_t *)"z";
    c.expected_len = 1;
    once_apply(kv, &c, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.has_current && res.current_len == 1);
    p = once_cmd(KV_OP_PUT, "k", "changed", 0, 0);
    once_apply(kv, &p, &res);
    once_apply(kv, &c, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.duplicate && res.has_current);
    CHECK(res.current_len == 1 && res.current[0] == 'a');
    /* A CAS that failed on an absent key says so again after the key appeared. */
    struct kv_cmd d = once_cmd(KV_OP_CAS, "n", "b", 6, 1);
    d.expected = (const uint8_t *)"z";
    d.expected_len = 1;
    once_apply(kv, &d, &res);
    CHECK(res.status == KV_CAS_MISMATCH && !res.has_current);
    p = once_cmd(KV_OP_PUT, "n", "now", 0, 0);
    once_apply(kv, &p, &res);
    kv = round_trip(kv); /* the stored answers are replicated state */
    once_apply(kv, &d, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.duplicate && !res.has_current);
    once_apply(kv, &c, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.duplicate && res.has_current);
    CHECK(res.current_len == 1 && res.current[0] == 'a');
    kv_free(kv);
}

/* Client 1 deletes x; x is written again; clients 2 and 3 push client 1 out of a
 * two-entry table. The retry of client 1's delete must not delete x again. */
TEST(once_evicted_retry_is_refused_not_applied)
{
    struct kv *kv = kv_new(2);
    CHECK(kv != NULL);
    struct kv_result res;
    struct kv_cmd p = once_cmd(KV_OP_PUT, "x", "v", 0, 0);
    once_apply(kv, &p, &res);
    struct kv_cmd del = once_cmd(KV_OP_DELETE, "x", NULL, 1, 1);
    once_apply(kv, &del, &res);
    CHECK(res.status == KV_OK);
    p = once_cmd(KV_OP_PUT, "x", "again", 0, 0);
    once_apply(kv, &p, &res);
    for (uint64_t id = 2; id <= 3; id++) {
        struct kv_cmd o = once_cmd(KV_OP_PUT, "other", "o", id, 1);
        once_apply(kv, &o, &res);
    }
    once_apply(kv, &del, &res);
    CHECK(res.status == KV_SESSION_EXPIRED);
    CHECK(value_is(kv, "x", "again"));
    kv = round_trip(kv); /* every replica, and one restored from a snapshot, agrees */
    once_apply(kv, &del, &res);
    CHECK(res.status == KV_SESSION_EXPIRED);
    CHECK(value_is(kv, "x", "again"));
    /* The next seq was never applied: it runs, and the session is live again. */
    struct kv_cmd next = once_cmd(KV_OP_PUT, "x", "three", 1, 2);
    once_apply(kv, &next, &res);
    CHECK(res.status == KV_OK && !res.duplicate);
    once_apply(kv, &next, &res);
    CHECK(res.status == KV_OK && res.duplicate);
    once_apply(kv, &del, &res);
    CHECK(res.status == KV_STALE_SEQ);
    CHECK(value_is(kv, "x", "three"));
    kv_free(kv);
}
