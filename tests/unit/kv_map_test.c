/* kv_map_test.c: the hash map: growth, replace, backward-shift delete, iteration. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_map.h"
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
        uint32_t h = kv_hash(k, kl) & (N - 1);
        distinct += !used[h];
        used[h] = 1;
    }
    CHECK(distinct > N / 2); /* random placement gives ~63% */
}
