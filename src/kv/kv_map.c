/* kv_map.c: open-addressing hash map of single-allocation records.
 *
 * Why this shape: the store must hold 1,000,000 100-byte values within ~3x the
 * raw bytes. Per-key overhead is what blows that budget (a chained node plus a
 * separate key and value allocation costs ~100 B/key), so a pair is one malloc
 * (8 B header + key + value) and the table is two flat arrays: pointers and
 * 32-bit hashes. The stored hash makes probing compare keys only on a hash hit
 * and lets growth rehash without touching records (no cache misses on them).
 *
 * Linear probing with backward-shift deletion: no tombstones, so lookups stay
 * short after heavy delete churn and the load factor means what it says.
 * Growth doubles at 3/4 load. The table never shrinks (a store that once held N
 * keys is expected to again; the record memory is returned on delete anyway).
 */
#include "kv/kv_map.h"

#include <stdlib.h>
#include <string.h>

#define KV_MAP_MIN_CAP 16

/* A 64-bit multiply-xorshift hash over 8-byte words (MurmurHash64A's scheme),
 * folded to 32 bits. Unseeded on purpose: the state machine must be a pure
 * function of the log, and iteration order only affects snapshot byte order. */
uint32_t kv_hash(const void *data, size_t len)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * m);
    while (len >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        k *= m;
        k ^= k >> 47;
        k *= m;
        h ^= k;
        h *= m;
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t k = 0;
        memcpy(&k, p, len);
        h ^= k;
        h *= m;
    }
    h ^= h >> 47;
    h *= m;
    h ^= h >> 47;
    return (uint32_t)(h ^ (h >> 32));
}

void kv_map_init(struct kv_map *m)
{
    memset(m, 0, sizeof *m);
}

void kv_map_free(struct kv_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i]);
    free(m->slots);
    free(m->hashes);
    kv_map_init(m);
}

static int rec_matches(const struct kv_rec *r, const void *key, size_t key_len)
{
    return r->key_len == key_len && memcmp(r->data, key, key_len) == 0;
}

/* Slot index holding key, or the empty slot where it would go. cap > 0. */
static size_t find_slot(const struct kv_map *m, uint32_t h, const void *key, size_t key_len)
{
    size_t mask = m->cap - 1;
    size_t i = h & mask;
    while (m->slots[i] != NULL) {
        if (m->hashes[i] == h && rec_matches(m->slots[i], key, key_len))
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int resize(struct kv_map *m, size_t new_cap)
{
    struct kv_rec **slots = calloc(new_cap, sizeof *slots);
    uint32_t *hashes = malloc(new_cap * sizeof *hashes);
    if (slots == NULL || hashes == NULL) {
        free(slots);
        free(hashes);
        return -1;
    }
    size_t mask = new_cap - 1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i] == NULL)
            continue;
        size_t j = m->hashes[i] & mask;
        while (slots[j] != NULL)
            j = (j + 1) & mask;
        slots[j] = m->slots[i];
        hashes[j] = m->hashes[i];
    }
    free(m->slots);
    free(m->hashes);
    m->slots = slots;
    m->hashes = hashes;
    m->cap = new_cap;
    return 0;
}

/* Makes room for one more record, keeping load <= 3/4. */
static int reserve_one(struct kv_map *m)
{
    if (m->cap == 0)
        return resize(m, KV_MAP_MIN_CAP);
    if ((m->count + 1) * 4 > m->cap * 3)
        return resize(m, m->cap * 2);
    return 0;
}

const struct kv_rec *kv_map_get(const struct kv_map *m, const void *key, size_t key_len)
{
    if (m->count == 0)
        return NULL;
    size_t i = find_slot(m, kv_hash(key, key_len), key, key_len);
    return m->slots[i];
}

struct kv_rec *kv_rec_alloc(size_t key_len, size_t value_len)
{
    if (key_len > UINT32_MAX || value_len > UINT32_MAX)
        return NULL;
    struct kv_rec *r = malloc(sizeof *r + key_len + value_len);
    if (r == NULL)
        return NULL;
    r->key_len = (uint32_t)key_len;
    r->value_len = (uint32_t)value_len;
    return r;
}

int kv_map_put(struct kv_map *m, const void *key, size_t key_len, const void *value,
               size_t value_len)
{
    if (reserve_one(m) != 0)
        return -1;
    uint32_t h = kv_hash(key, key_len);
    size_t i = find_slot(m, h, key, key_len);
    struct kv_rec *old = m->slots[i];
    struct kv_rec *r = kv_rec_alloc(key_len, value_len);
    if (r == NULL)
        return -1;
    memcpy(r->data, key, key_len);
    if (value_len > 0)
        memcpy(r->data + key_len, value, value_len);
    if (old != NULL) {
        m->data_bytes -= old->key_len + (uint64_t)old->value_len;
        free(old);
    } else {
        m->count++;
    }
    m->slots[i] = r;
    m->hashes[i] = h;
    m->data_bytes += key_len + (uint64_t)value_len;
    return 0;
}

int kv_map_adopt(struct kv_map *m, struct kv_rec *rec)
{
    if (reserve_one(m) != 0) {
        free(rec);
        return -1;
    }
    uint32_t h = kv_hash(rec->data, rec->key_len);
    size_t i = find_slot(m, h, rec->data, rec->key_len);
    if (m->slots[i] != NULL) {
        free(rec);
        return 1;
    }
    m->slots[i] = rec;
    m->hashes[i] = h;
    m->count++;
    m->data_bytes += rec->key_len + (uint64_t)rec->value_len;
    return 0;
}

/* Backward-shift deletion: walk the cluster after the hole and move back every
 * record whose home slot is not cyclically inside (hole, j]; such a record
 * would otherwise become unreachable behind the new empty slot. */
int kv_map_del(struct kv_map *m, const void *key, size_t key_len)
{
    if (m->count == 0)
        return 0;
    size_t hole = find_slot(m, kv_hash(key, key_len), key, key_len);
    struct kv_rec *r = m->slots[hole];
    if (r == NULL)
        return 0;
    m->data_bytes -= r->key_len + (uint64_t)r->value_len;
    free(r);
    m->count--;
    size_t mask = m->cap - 1;
    size_t j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (m->slots[j] == NULL)
            break;
        size_t home = m->hashes[j] & mask;
        int stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays)
            continue;
        m->slots[hole] = m->slots[j];
        m->hashes[hole] = m->hashes[j];
        hole = j;
    }
    m->slots[hole] = NULL;
    return 1;
}

const struct kv_rec *kv_map_next(const struct kv_map *m, size_t *cursor)
{
    while (*cursor < m->cap) {
        const struct kv_rec *r = m->slots[(*cursor)++];
        if (r != NULL)
            return r;
    }
    return NULL;
}
