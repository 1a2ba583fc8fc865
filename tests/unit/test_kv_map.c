/* test_kv_map.c: the hash map: growth, replace, backward-shift delete, iteration,
 * keyed hashing (reference vectors, chosen collisions) and key-ordered listing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_map.h"
#include "kv/kv_snap.h"
#include "lib/test.h"

static size_t key_of(char *buf, size_t cap, int i)
{
    return (size_t)snprintf(buf, cap, "key-%d", i);
}

TEST(map_put_get_replace)
{
    struct kv_map m;
    kv_map_init(&m);
    CHECK(kv_map_get(&m, "a", 1) == NULL);
    CHECK(kv_map_del(&m, "a", 1) == 0);
    CHECK(kv_map_put(&m, "a", 1, "one", 3) == 0);
    CHECK(kv_map_put(&m, "a\0b", 3, "", 0) == 0); /* NUL inside key, empty value */
    const struct kv_rec *r = kv_map_get(&m, "a", 1);
    CHECK(r != NULL && r->value_len == 3 && memcmp(kv_rec_value(r), "one", 3) == 0);
    CHECK(kv_map_put(&m, "a", 1, "uno!", 4) == 0);
    r = kv_map_get(&m, "a", 1);
    CHECK(r != NULL && r->value_len == 4 && memcmp(kv_rec_value(r), "uno!", 4) == 0);
    r = kv_map_get(&m, "a\0b", 3);
    CHECK(r != NULL && r->value_len == 0);
    CHECK(kv_map_get(&m, "a\0c", 3) == NULL);
    CHECK_EQ_U64(m.count, 2);
    CHECK_EQ_U64(m.data_bytes, 1 + 4 + 3);
    kv_map_free(&m);
    CHECK_EQ_U64(m.count, 0);
}

TEST(map_grow_delete_iterate)
{
    struct kv_map m;
    kv_map_init(&m);
    char k[32], v[32];
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        size_t kl = key_of(k, sizeof k, i);
        int vl = snprintf(v, sizeof v, "v%d", i * 7);
        CHECK(kv_map_put(&m, k, kl, v, (size_t)vl) == 0);
    }
    CHECK_EQ_U64(m.count, n);
    CHECK(m.cap >= (size_t)n * 4 / 3);
    /* Delete every third key: exercises backward shift across wrapped clusters. */
    for (int i = 0; i < n; i += 3) {
        size_t kl = key_of(k, sizeof k, i);
        CHECK(kv_map_del(&m, k, kl) == 1);
        CHECK(kv_map_del(&m, k, kl) == 0);
    }
    for (int i = 0; i < n; i++) {
        size_t kl = key_of(k, sizeof k, i);
        const struct kv_rec *r = kv_map_get(&m, k, kl);
        if (i % 3 == 0) {
            CHECK(r == NULL);
            continue;
        }
        int vl = snprintf(v, sizeof v, "v%d", i * 7);
        CHECK(r != NULL && r->value_len == (uint32_t)vl &&
              memcmp(kv_rec_value(r), v, r->value_len) == 0);
    }
    size_t cursor = 0, seen = 0;
    unsigned char *mark = calloc((size_t)n, 1);
    CHECK(mark != NULL);
    const struct kv_rec *r;
    while ((r = kv_map_next(&m, &cursor)) != NULL) {
        char kb[32];
        memcpy(kb, kv_rec_key(r), r->key_len);
        kb[r->key_len] = '\0';
        int i = atoi(kb + 4);
        CHECK(i >= 0 && i < n && i % 3 != 0 && !mark[i]);
        mark[i] = 1;
        seen++;
    }
    free(mark);
    CHECK_EQ_U64(seen, m.count);
    kv_map_free(&m);
}

TEST(map_delete_all_then_reuse)
{
    struct kv_map m;
    kv_map_init(&m);
    char k[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 1000; i++) {
            size_t kl = key_of(k, sizeof k, i);
            CHECK(kv_map_put(&m, k, kl, "x", 1) == 0);
        }
        for (int i = 999; i >= 0; i--) {
            size_t kl = key_of(k, sizeof k, i);
            CHECK(kv_map_del(&m, k, kl) == 1);
        }
        CHECK_EQ_U64(m.count, 0);
        CHECK_EQ_U64(m.data_bytes, 0);
        size_t cursor = 0;
        CHECK(kv_map_next(&m, &cursor) == NULL);
    }
    kv_map_free(&m);
}

TEST(map_adopt_rejects_duplicate)
{
    struct kv_map m;
    kv_map_init(&m);
    struct kv_rec *r = kv_rec_alloc(1, 2);
    CHECK(r != NULL);
    memcpy(r->data, "kvv", 3);
    CHECK(kv_map_adopt(&m, r) == 0);
    r = kv_rec_alloc(1, 0);
    CHECK(r != NULL);
    r->data[0] = 'k';
    CHECK(kv_map_adopt(&m, r) == 1); /* freed by the map */
    const struct kv_rec *g = kv_map_get(&m, "k", 1);
    CHECK(g != NULL && g->value_len == 2);
    kv_map_free(&m);
}

TEST(map_hash_spreads_similar_keys)
{
    /* Sequential keys must not collide in the low bits the table uses. */
    enum { N = 4096 };
    static unsigned char used[N];
    memset(used, 0, sizeof used);
    char k[32];
    int distinct = 0;
    for (int i = 0; i < N; i++) {
        size_t kl = key_of(k, sizeof k, i);
        uint32_t h = kv_hash(kv_hash_process_key(), k, kl) & (N - 1);
        distinct += !used[h];
        used[h] = 1;
    }
    CHECK(distinct > N / 2); /* random placement gives ~63% */
}

TEST(map_siphash_reference_vectors)
{
    /* SipHash-2-4 with key 00 01 .. 0f over messages 00 01 .. (len-1), from the
     * reference implementation's test vectors. */
    struct kv_hash_key key = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    unsigned char msg[64];
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    CHECK_EQ_U64(kv_siphash(&key, msg, 0, 2, 4), 0x726fdb47dd0e0e31ULL);
    CHECK_EQ_U64(kv_siphash(&key, msg, 1, 2, 4), 0x74f839c593dc67fdULL);
    CHECK_EQ_U64(kv_siphash(&key, msg, 8, 2, 4), 0x93f5f5799a932462ULL);
    CHECK_EQ_U64(kv_siphash(&key, msg, 15, 2, 4), 0xa129ca6149be45e5ULL);
    CHECK_EQ_U64(kv_siphash(&key, msg, 63, 2, 4), 0x958a324ceb064572ULL);
}

TEST(map_hash_depends_on_the_key)
{
    struct kv_hash_key k1 = {1, 2}, k2 = {3, 4};
    int differ = 0;
    char k[32];
    for (int i = 0; i < 100; i++) {
        size_t kl = key_of(k, sizeof k, i);
        differ += kv_hash(&k1, k, kl) != kv_hash(&k2, k, kl);
    }
    CHECK(differ >= 99);
    const struct kv_hash_key *p = kv_hash_process_key();
    CHECK(p == kv_hash_process_key() && (p->k0 | p->k1) != 0);
}

/* The hash the map used before it was keyed (MurmurHash64A's mixing, no seed):
 * anyone could search keys colliding under it offline. */
static uint32_t unkeyed_hash(const void *data, size_t len)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * m);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w *= m;
        w ^= w >> 47;
        w *= m;
        h ^= w;
        h *= m;
    }
    if (len > 0) {
        uint64_t w = 0;
        memcpy(&w, p, len);
        h ^= w;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return (uint32_t)(h ^ (h >> 32));
}

/* Longest distance of a record from its home slot. */
static size_t max_displacement(const struct kv_map *m)
{
    size_t worst = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i] != NULL) {
            size_t d = (i - (m->hashes[i] & (m->cap - 1))) & (m->cap - 1);
            worst = d > worst ? d : worst;
        }
    return worst;
}

/* Regression: keys sharing one home slot under a fixed hash formed one probe cluster,
 * so each insert walked all the others (quadratic apply on every replica). */
TEST(map_chosen_collisions_do_not_cluster)
{
    enum { N = 1200, MASK = 2047 }; /* 1200 keys fit a 2048-slot table */
    char(*keys)[24] = malloc(N * sizeof *keys);
    CHECK(keys != NULL);
    int found = 0;
    for (unsigned i = 0; found < N; i++) {
        int kl = snprintf(keys[found], sizeof keys[found], "flood-%u", i);
        if ((unkeyed_hash(keys[found], (size_t)kl) & MASK) == 0)
            found++;
    }
    struct kv_map m;
    kv_map_init(&m);
    for (int i = 0; i < N; i++)
        CHECK(kv_map_put(&m, keys[i], strlen(keys[i]), "v", 1) == 0);
    CHECK_EQ_U64(m.cap, MASK + 1);
    size_t worst = max_displacement(&m);
    kv_map_free(&m);
    free(keys);
    CHECK(worst < 100); /* random placement at load 0.59: a few dozen at most */
}

static void apply_put_del(struct kv *kv, uint64_t index, int i)
{
    char key[32], value[32];
    struct kv_cmd c = {.op = i % 5 == 4 ? KV_OP_DELETE : KV_OP_PUT,
                       .key = (const uint8_t *)key,
                       .key_len = (size_t)snprintf(key, sizeof key, "k%d", i % 5 == 4 ? i - 7 : i),
                       .value = (const uint8_t *)value,
                       .value_len = (size_t)snprintf(value, sizeof value, "v%d", i)};
    if (c.op == KV_OP_DELETE)
        c.value_len = 0;
    uint8_t buf[128];
    size_t n = kv_cmd_encode(&c, buf, sizeof buf);
    struct kv_result res;
    kv_apply(kv, index, 1, buf, n, &res);
}

/* Replicas hash with different keys; their snapshots of equal states must still be equal
 * byte for byte, also after one of them restored from a snapshot. */
TEST(map_snapshot_independent_of_hash_key)
{
    struct kv *a = kv_new(0), *b = kv_new(0);
    CHECK(a != NULL && b != NULL);
    struct kv_hash_key ka = {11, 12}, kb = {0xdeadbeef, 42};
    kv_map_init_keyed(&a->map, &ka);
    kv_map_init_keyed(&b->map, &kb);
    for (int i = 0; i < 3000; i++) {
        apply_put_del(a, (uint64_t)i + 1, i);
        apply_put_del(b, (uint64_t)i + 1, i);
    }
    CHECK(a->map.count == b->map.count && a->map.count == 1801);
    uint8_t *sa, *sb;
    size_t la, lb;
    CHECK(kv_snap_encode(a, &sa, &la) == 0);
    CHECK(kv_snap_encode(b, &sb, &lb) == 0);
    CHECK(la == lb && memcmp(sa, sb, la) == 0);
    struct kv *c = NULL;
    CHECK(kv_snap_decode(sb, lb, &c, NULL, 0) == 0);
    uint8_t *sc;
    size_t lc;
    CHECK(kv_snap_encode(c, &sc, &lc) == 0);
    CHECK(lc == la && memcmp(sa, sc, la) == 0);
    struct kv_index_pos pos = kv_index_seek(&a->map.index, NULL, 0);
    const struct kv_rec *x = kv_map_next_sorted(&a->map, &pos), *y;
    int ordered = 1;
    size_t walked = x != NULL;
    for (; (y = kv_map_next_sorted(&a->map, &pos)) != NULL; x = y, walked++) {
        size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
        int cmp = memcmp(x->data, y->data, n);
        ordered &= cmp < 0 || (cmp == 0 && x->key_len < y->key_len);
    }
    CHECK(ordered);
    CHECK(walked == a->map.count);
    free(sa);
    free(sb);
    free(sc);
    kv_free(a);
    kv_free(b);
    kv_free(c);
}

/* The session table's former bucket mix (fmix64's first half), inverted: a client could
 * pick as many ids for one bucket as it liked. */
static uint64_t unmix_session_id(uint64_t y)
{
    uint64_t c = 0xff51afd7ed558ccdULL, inv = c; /* Newton: inv = c^-1 mod 2^64 */
    for (int i = 0; i < 6; i++)
        inv *= 2 - c * inv;
    y ^= y >> 33;
    y *= inv;
    return y ^ (y >> 33);
}

/* Regression: chosen client ids shared one bucket chain, so each write of a session
 * walked every other session. */
TEST(sessions_chosen_client_ids_do_not_chain)
{
    struct kv_sessions s;
    CHECK(kv_sessions_init(&s, 1024) == 0);
    for (uint64_t j = 1; j <= 1000; j++)
        CHECK(kv_sessions_record(&s, unmix_session_id(j * s.live.max_buckets), 1, 0, false, NULL,
                                 0) == 0);
    size_t worst = 0;
    for (size_t b = 0; b < s.live.n_buckets; b++) {
        size_t len = 0;
        for (const struct kv_session *e = s.live.buckets[b]; e != NULL; e = e->hnext)
            len++;
        worst = len > worst ? len : worst;
    }
    CHECK(kv_sessions_find(&s, unmix_session_id(500 * s.live.max_buckets)) != NULL);
    kv_sessions_free(&s);
    CHECK(worst < 20);
}

/* An empty table is small; it doubles with its entries up to the bound and finds every
 * entry after each doubling. */
TEST(sessions_table_grows_with_entries)
{
    struct kv_sessions s;
    CHECK(kv_sessions_init(&s, 0) == 0);
    CHECK(s.live.n_buckets == 16 && s.live.max_buckets == KV_SESSIONS_DEFAULT_MAX);
    for (uint64_t id = 1; id <= 3000; id++)
        CHECK(kv_sessions_record(&s, id, 7, 0, false, NULL, 0) == 0);
    CHECK(s.live.n_buckets == 4096 && s.live.count == 3000);
    for (uint64_t id = 1; id <= 3000; id++)
        CHECK(kv_sessions_find(&s, id) != NULL && kv_sessions_find(&s, id)->seq == 7);
    CHECK(kv_sessions_find(&s, 3001) == NULL);
    kv_sessions_free(&s);
}
