/* test_kv_range.c: revisions of the state machine and the ordered index under
 * random puts and deletes, against a simple model: every possible key of a small
 * alphabet, listed in sorted order, with a present flag and its revisions. Every
 * range, page and count the index gives must be the model's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_range.h"
#include "kv/kv_snap.h"
#include "lib/test.h"

static void apply_cmd(struct kv *kv, uint8_t op, const void *k, size_t kl, const void *v, size_t vl,
                      struct kv_result *res)
{
    struct kv_cmd c = {.op = op, .key = k, .key_len = kl, .value = v, .value_len = vl};
    uint8_t buf[256];
    size_t n = kv_cmd_encode(&c, buf, sizeof buf);
    if (n == 0)
        abort();
    kv_apply(kv, kv->applied_index + 1, 1, buf, n, res);
}

TEST(revision_counts_writes_that_change_a_key)
{
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    struct kv_result res;
    apply_cmd(kv, KV_OP_PUT, "a", 1, "1", 1, &res);
    CHECK(res.status == KV_OK && res.revision == 1);
    apply_cmd(kv, KV_OP_PUT, "b", 1, "1", 1, &res);
    apply_cmd(kv, KV_OP_PUT, "a", 1, "22", 2, &res); /* reallocated record */
    apply_cmd(kv, KV_OP_PUT, "a", 1, "33", 2, &res); /* overwritten in place */
    CHECK_EQ_U64(res.revision, 4);
    const struct kv_rec *r = kv_get(kv, "a", 1);
    CHECK(r->create_revision == 1 && r->mod_revision == 4 && r->version == 3);
    apply_cmd(kv, KV_OP_DELETE, "zz", 2, NULL, 0, &res); /* absent: no new revision */
    CHECK(res.status == KV_NOT_FOUND && res.revision == 4 && kv_revision(kv) == 4);
    apply_cmd(kv, KV_OP_DELETE, "a", 1, NULL, 0, &res);
    CHECK(res.status == KV_OK && res.revision == 5);
    apply_cmd(kv, KV_OP_PUT, "a", 1, "x", 1, &res); /* created again: version 1 */
    r = kv_get(kv, "a", 1);
    CHECK(r->create_revision == 6 && r->mod_revision == 6 && r->version == 1);
    struct kv_cmd cas = {.op = KV_OP_CAS, .key = (const uint8_t *)"a", .key_len = 1};
    cas.expected = (const uint8_t *)"nope";
    cas.expected_len = 4;
    cas.value = (const uint8_t *)"y";
    cas.value_len = 1;
    uint8_t buf[64];
    size_t n = kv_cmd_encode(&cas, buf, sizeof buf);
    kv_apply(kv, kv->applied_index + 1, 1, buf, n, &res);
    CHECK(res.status == KV_CAS_MISMATCH && res.revision == 6);
    cas.expected = (const uint8_t *)"x";
    cas.expected_len = 1;
    n = kv_cmd_encode(&cas, buf, sizeof buf);
    kv_apply(kv, kv->applied_index + 1, 1, buf, n, &res);
    CHECK(res.status == KV_OK && res.revision == 7);
    CHECK(kv_get(kv, "a", 1)->version == 2);
    kv_free(kv);
}

#define ALPHA 5
#define MAXK  4
static const uint8_t alphabet[ALPHA] = {0x00, 'a', 'b', 'c', 0xff}; /* sorted */

struct model {
    uint8_t keys[800][MAXK];
    size_t lens[800];
    size_t n;
    bool present[800];
    uint64_t create[800], mod[800], version[800];
};

/* Every key of length 1..MAXK over the alphabet, in key order (depth first). */
static void enumerate(struct model *m, uint8_t *prefix, size_t len)
{
    for (int i = 0; i < ALPHA; i++) {
        prefix[len] = alphabet[i];
        memcpy(m->keys[m->n], prefix, len + 1);
        m->lens[m->n++] = len + 1;
        if (len + 1 < MAXK)
            enumerate(m, prefix, len + 1);
    }
}

/* The model's answer for [lo, hi) (indexes into the sorted key list) after
 * `after` (an index or -1) against a walk of the kv's range with those bounds. */
static int range_agrees(struct kv *kv, const struct model *m, int lo, int hi, int after, int limit)
{
    struct kv_range_bounds b = {0};
    if (lo >= 0) {
        b.start = m->keys[lo];
        b.start_len = m->lens[lo];
    }
    if (hi >= 0) {
        b.end = m->keys[hi];
        b.end_len = m->lens[hi];
    }
    if (after >= 0) {
        b.after = m->keys[after];
        b.after_len = m->lens[after];
    }
    struct kv_range it;
    kv_range_open(kv, &b, &it);
    int from = lo < 0 ? 0 : lo;
    if (after >= from)
        from = after + 1;
    int to = hi < 0 ? (int)m->n : hi;
    uint64_t want_left = 0;
    for (int i = from; i < to; i++)
        want_left += m->present[i];
    if (kv_range_left(kv, &it) != want_left)
        return 0;
    int seen = 0;
    for (int i = from; i < to && seen < limit; i++) {
        if (!m->present[i])
            continue;
        const struct kv_rec *r = kv_range_next(kv, &it);
        if (r == NULL || r->key_len != m->lens[i] ||
            memcmp(kv_rec_key(r), m->keys[i], m->lens[i]) || r->create_revision != m->create[i] ||
            r->mod_revision != m->mod[i] || r->version != m->version[i])
            return 0;
        seen++;
    }
    return seen == limit || kv_range_next(kv, &it) == NULL;
}

TEST(index_random_ops_match_sorted_model)
{
    static struct model m;
    memset(&m, 0, sizeof m);
    uint8_t prefix[MAXK];
    enumerate(&m, prefix, 0);
    CHECK_EQ_U64(m.n, 780);
    struct kv *kv = kv_new(0);
    CHECK(kv != NULL);
    uint64_t seed = 12345;
    for (int step = 0; step < 30000; step++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t x = (uint32_t)(seed >> 33);
        int k = (int)(x % m.n);
        /* Phases of mostly puts and mostly deletes grow and shrink the index. */
        bool put = (x >> 12) % 10 < ((step / 3000) % 2 ? 2 : 8);
        char value[8];
        int vl = snprintf(value, sizeof value, "%d", step % 1000);
        struct kv_result res;
        apply_cmd(kv, put ? KV_OP_PUT : KV_OP_DELETE, m.keys[k], m.lens[k], value, (size_t)vl,
                  &res);
        if (put) {
            if (!m.present[k]) {
                m.create[k] = res.revision;
                m.version[k] = 0;
            }
            m.present[k] = true;
            m.mod[k] = res.revision;
            m.version[k]++;
        } else if (m.present[k]) {
            m.present[k] = false;
        }
        if (step % 97 != 0)
            continue;
        int lo = (int)((x >> 3) % (m.n + 1)) - 1, hi = (int)((x >> 13) % (m.n + 1)) - 1;
        int after = (int)((x >> 23) % (m.n + 1)) - 1;
        CHECK(range_agrees(kv, &m, lo, hi, after, (int)(x % 50) + 1));
        CHECK(range_agrees(kv, &m, -1, -1, -1, 1000));
    }
    size_t count = 0;
    for (size_t i = 0; i < m.n; i++)
        count += m.present[i];
    CHECK_EQ_U64(kv->map.index.count, count);
    CHECK_EQ_U64(kv->map.count, count);
    /* A snapshot round trip rebuilds the same ranges and revisions. */
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode(kv, &buf, &len) == 0);
    struct kv *b = NULL;
    CHECK(kv_snap_decode(buf, len, &b, NULL, 0) == 0);
    CHECK(range_agrees(b, &m, -1, -1, -1, 1000));
    CHECK_EQ_U64(kv_revision(b), kv_revision(kv));
    free(buf);
    kv_free(b);
    kv_free(kv);
}

TEST(prefix_end)
{
    uint8_t buf[8];
    CHECK(kv_prefix_end("ab", 2, buf) == 2 && memcmp(buf, "ac", 2) == 0);
    CHECK(kv_prefix_end("a\xff\xff", 3, buf) == 1 && buf[0] == 'b');
    CHECK(kv_prefix_end("\xff", 1, buf) == 0);
    CHECK(kv_prefix_end("", 0, buf) == 0);
}
