/* test_kv_snap.c: snapshot round trip, streaming, and rejection of corrupt input
 * (the current version; reading versions 1 and 2: test_kv_snap_compat.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "lib/kv_put.h"
#include "lib/test.h"
#include "util/crc32c.h"

static struct kv *sample(void)
{
    struct kv *kv = kv_new(100);
    if (kv == NULL)
        abort();
    char k[32], v[64];
    for (int i = 0; i < 500; i++) {
        int kl = snprintf(k, sizeof k, "key%d", i);
        int vl = snprintf(v, sizeof v, "value-%d-%d", i, i * i);
        kv_test_put(kv, k, (size_t)kl, v, (size_t)vl, (uint64_t)(i % 7) + 1, (uint64_t)i + 1);
    }
    kv_test_put(kv, "nul\0key", 7, "", 0, 0, 0);
    return kv;
}

static int same_state(const struct kv *a, const struct kv *b)
{
    if (a->applied_index != b->applied_index || a->applied_term != b->applied_term ||
        a->map.count != b->map.count || a->sessions.live.count != b->sessions.live.count ||
        a->sessions.max != b->sessions.max)
        return 0;
    size_t cur = 0;
    const struct kv_rec *r;
    while ((r = kv_map_next(&a->map, &cur)) != NULL) {
        const struct kv_rec *o = kv_get(b, kv_rec_key(r), r->key_len);
        if (o == NULL || o->value_len != r->value_len ||
            memcmp(kv_rec_value(o), kv_rec_value(r), r->value_len) != 0 ||
            o->create_revision != r->create_revision || o->mod_revision != r->mod_revision ||
            o->version != r->version)
            return 0;
    }
    const struct kv_session *x = a->sessions.live.oldest, *y = b->sessions.live.oldest;
    for (; x && y; x = x->newer, y = y->newer)
        if (x->client_id != y->client_id || x->seq != y->seq || x->result != y->result ||
            x->has_current != y->has_current || x->current_len != y->current_len ||
            (x->current_len && memcmp(x->current, y->current, x->current_len) != 0))
            return 0;
    if (x != NULL || y != NULL || a->sessions.expired.count != b->sessions.expired.count)
        return 0;
    x = a->sessions.expired.oldest;
    y = b->sessions.expired.oldest;
    for (; x && y; x = x->newer, y = y->newer)
        if (x->client_id != y->client_id || x->seq != y->seq)
            return 0;
    return x == NULL && y == NULL;
}

TEST(crc32c_known_vector)
{
    CHECK_EQ_U64(crc32c(0, "123456789", 9), 0xe3069283u);
    uint32_t part = crc32c(crc32c(0, "1234", 4), "56789", 5);
    CHECK_EQ_U64(part, 0xe3069283u);
}

TEST(snap_round_trip)
{
    struct kv *a = sample();
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode(a, &buf, &len) == 0);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == 0);
    CHECK(same_state(a, b));
    /* The restored sessions keep answering retries and stale seqs. */
    struct kv_cmd c = {.op = KV_OP_PUT,
                       .key = (const uint8_t *)"key1",
                       .key_len = 4,
                       .value = (const uint8_t *)"zz",
                       .value_len = 2,
                       .has_session = true,
                       .client_id = 1,
                       .seq = 498};
    uint8_t cb[64];
    size_t n = kv_cmd_encode(&c, cb, sizeof cb);
    struct kv_result res;
    kv_apply(b, b->applied_index + 1, 6, cb, n, &res);
    CHECK(res.status == KV_OK && res.duplicate);
    /* Encoding the restored state yields the same bytes modulo pair order. */
    uint8_t *buf2;
    size_t len2;
    CHECK(kv_snap_encode(b, &buf2, &len2) == 0);
    CHECK_EQ_U64(len2, len);
    free(buf2);
    free(buf);
    kv_free(a);
    kv_free(b);
}

TEST(snap_empty_state)
{
    struct kv *a = kv_new(0);
    CHECK(a != NULL);
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode(a, &buf, &len) == 0);
    /* header, sessions, leases (next id, count), pairs, history (compacted, count) */
    CHECK_EQ_U64(len, 4 + 4 + 8 + 8 + 8 + 4 + 4 + 4 + 8 + 8 + 8 + 8 + 8);
    struct kv *b = NULL;
    CHECK(kv_snap_decode(buf, len, &b, NULL, 0) == 0);
    CHECK(same_state(a, b));
    free(buf);
    kv_free(a);
    kv_free(b);
}

struct chunks {
    uint8_t *data;
    size_t len, pos;
    int calls, fail_at;
};

static int chunk_write(void *ctx, const void *p, size_t n)
{
    struct chunks *c = ctx;
    if (++c->calls == c->fail_at)
        return -1;
    uint8_t *d = realloc(c->data, c->len + n);
    if (d == NULL)
        return -1;
    memcpy(d + c->len, p, n);
    c->data = d;
    c->len += n;
    return 0;
}

static int chunk_read(void *ctx, void *p, size_t n)
{
    struct chunks *c = ctx;
    if (n > c->len - c->pos)
        return -1;
    memcpy(p, c->data + c->pos, n);
    c->pos += n;
    return 0;
}

TEST(snap_streaming_and_write_failure)
{
    struct kv *a = kv_new(0);
    CHECK(a != NULL);
    static char big[40000];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 10; i++) {
        char k[8];
        int kl = snprintf(k, sizeof k, "b%d", i);
        kv_test_put(a, k, (size_t)kl, big, sizeof big, 0, 0);
    }
    struct chunks c = {0};
    uint64_t size = 0;
    CHECK(kv_snap_write(a, chunk_write, &c, &size) == 0);
    CHECK(c.calls > 1);
    CHECK_EQ_U64(size, c.len);
    CHECK(c.len > 10 * sizeof big);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_read(chunk_read, &c, &b, err, sizeof err) == 0);
    CHECK(same_state(a, b));
    kv_free(b);
    free(c.data);
    struct chunks f = {.fail_at = 2};
    CHECK(kv_snap_write(a, chunk_write, &f, NULL) == -1);
    free(f.data);
    kv_free(a);
}

/* Version 3 has no CRC (the storage snapshot file's covers it): every cut, every
 * extra byte and every flip in magic or version is refused; any other flip either
 * decodes or is refused cleanly, never touching *out on failure. */
TEST(snap_v3_rejects_truncation_and_survives_flips)
{
    struct kv *a = kv_new(4);
    CHECK(a != NULL);
    kv_test_put(a, "k1", 2, "v1", 2, 9, 1);
    kv_test_put(a, "k2", 2, "v22", 3, 0, 0);
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode(a, &buf, &len) == 0);
    struct kv *b = (struct kv *)&b;
    struct kv *sentinel = b;
    char err[128];
    for (size_t cut = 0; cut < len; cut++) {
        CHECK(kv_snap_decode(buf, cut, &b, err, sizeof err) == -1);
        CHECK(b == sentinel && strncmp(err, "snapshot: ", 10) == 0);
    }
    uint8_t *longer = malloc(len + 1);
    CHECK(longer != NULL);
    memcpy(longer, buf, len);
    longer[len] = 0;
    CHECK(kv_snap_decode(longer, len + 1, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "trailing") != NULL);
    free(longer);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            int rc = kv_snap_decode(buf, len, &b, err, sizeof err);
            if (i < 8)
                CHECK(rc == -1);
            if (rc == 0) {
                kv_free(b);
                b = sentinel;
            } else {
                CHECK(b == sentinel && strncmp(err, "snapshot: ", 10) == 0);
            }
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == 0);
    kv_free(b);
    free(buf);
    kv_free(a);
}

TEST(snap_rejects_crafted_bodies)
{
    struct kv *a = kv_new(4);
    CHECK(a != NULL);
    kv_test_put(a, "aa", 2, "v1", 2, 0, 0);
    kv_test_put(a, "ab", 2, "v2", 2, 0, 0);
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode(a, &buf, &len) == 0);
    /* magic, version, index, term, revision (32) + max_sessions 4 + n_sessions 4 +
     * n_expired 4 + next lease id 8 + n_leases 8 + n_pairs 8 = 68; each pair here is
     * 4 + 4 + 4 x 8 (revisions, lease) + 2 + 2 bytes. */
    size_t p0 = 68, p1 = p0 + 44;
    struct kv *b = NULL;
    char err[128];
    uint8_t save = buf[p1 + 40 + 1];
    buf[p1 + 40 + 1] = buf[p0 + 40 + 1]; /* second key := first key */
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "duplicate key") != NULL);
    buf[p1 + 40 + 1] = save;
    buf[p1 + 32] = 3; /* second key attached to lease 3, which does not exist */
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "unknown lease 3") != NULL);
    buf[p1 + 32] = 0;
    buf[p1 + 8 + 8] = 9; /* second key's mod_revision past the store revision (2) */
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "revisions") != NULL);
    buf[p1 + 8 + 8] = 2;
    buf[p0 + 4 + 3] = 0x7f; /* a value of ~2 GB claimed */
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    buf[p0 + 4 + 3] = 0;
    memset(buf + 32, 0, 4); /* max_sessions 0 */
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "session table size 0") != NULL);
    free(buf);
    kv_free(a);
}

TEST(snap_random_garbage_never_crashes)
{
    uint64_t x = 0x1234567;
    uint8_t buf[512];
    memcpy(buf, "VSNP\1\0\0\0", 8);
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(round % 200) + 1;
        for (size_t i = (round & 1) ? 8 : 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = (uint8_t)x;
        }
        struct kv *b = NULL;
        if (kv_snap_decode(buf, len, &b, NULL, 0) == 0)
            kv_free(b); /* astronomically unlikely, but legal */
    }
    CHECK(1);
}
