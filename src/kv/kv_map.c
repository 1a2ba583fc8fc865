/* kv_map.c: open-addressing hash map of single-allocation records.
 *
 * Why this shape: the store must hold 1,000,000 100-byte values within ~3x the
 * raw bytes. Per-key overhead is what blows that budget (a chained node plus a
 * separate key and value allocation costs ~100 B/key), so a pair is one malloc
 * (32 B header + key + value) and the table is two flat arrays: pointers and
 * 32-bit hashes. The stored hash makes probing compare keys only on a hash hit
 * and lets growth rehash without touching records (no cache misses on them).
 *
 * Linear probing with backward-shift deletion: no tombstones, so lookups stay
 * short after heavy delete churn and the load factor means what it says.
 * Growth doubles at 3/4 load. The table never shrinks (a store that once held N
 * keys is expected to again; the record memory is returned on delete anyway).
 *
 * Linear probing is only fast while keys land independently, and clients choose
 * the keys. With a fixed public hash, keys sharing a home slot are cheap to find
 * offline and each insert of one walks the whole cluster of the others: every
 * replica applies the log in quadratic time. The hash is therefore SipHash-1-3
 * (the keyed PRF Python and Rust use for this reason) with a random per-process
 * key; replicas differ in table order, so order never reaches a snapshot.
 */
#include "kv/kv_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define KV_MAP_MIN_CAP 16

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

static void sip_rounds(struct sip *s, int n)
{
    for (int i = 0; i < n; i++) {
        s->v0 += s->v1;
        s->v1 = rotl(s->v1, 13) ^ s->v0;
        s->v0 = rotl(s->v0, 32);
        s->v2 += s->v3;
        s->v3 = rotl(s->v3, 16) ^ s->v2;
        s->v0 += s->v3;
        s->v3 = rotl(s->v3, 21) ^ s->v0;
        s->v2 += s->v1;
        s->v1 = rotl(s->v1, 17) ^ s->v2;
        s->v2 = rotl(s->v2, 32);
    }
}

static void sip_absorb(struct sip *s, uint64_t m, int c)
{
    s->v3 ^= m;
    sip_rounds(s, c);
    s->v0 ^= m;
}

uint64_t kv_siphash(const struct kv_hash_key *key, const void *data, size_t len, int c, int d)
{
    /* The initial state is the key xored with "somepseudorandomlygeneratedbytes". */
    struct sip s = {key->k0 ^ 0x736f6d6570736575ULL, key->k1 ^ 0x646f72616e646f6dULL,
                    key->k0 ^ 0x6c7967656e657261ULL, key->k1 ^ 0x7465646279746573ULL};
    const unsigned char *p = data;
    size_t left = len;
    for (; left >= 8; p += 8, left -= 8)
        sip_absorb(&s, load_le64(p), c);
    uint64_t last = (uint64_t)(len & 0xff) << 56; /* the length's low byte, then the tail */
    for (size_t i = 0; i < left; i++)
        last |= (uint64_t)p[i] << (8 * i);
    sip_absorb(&s, last, c);
    s.v2 ^= 0xff;
    sip_rounds(&s, d);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint32_t kv_hash(const struct kv_hash_key *key, const void *data, size_t len)
{
    uint64_t h = kv_siphash(key, data, len, 1, 3);
    return (uint32_t)(h ^ (h >> 32));
}

/* getrandom() once per process. Without it (an old kernel, a seccomp filter) the
 * key still differs per process and per start, which is what flooding needs to
 * be guessed; the log says nothing because this layer has no logger. */
const struct kv_hash_key *kv_hash_process_key(void)
{
    static struct kv_hash_key key;
    static int ready;
    if (ready)
        return &key;
    unsigned char buf[16];
    size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = getrandom(buf + got, sizeof buf - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got == sizeof buf) {
        key.k0 = load_le64(buf);
        key.k1 = load_le64(buf + 8);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct kv_hash_key mix = {(uint64_t)ts.tv_nsec, (uint64_t)getpid()};
        uint64_t seed[2] = {(uint64_t)ts.tv_sec, (uint64_t)(uintptr_t)&key};
        key.k0 = kv_siphash(&mix, seed, sizeof seed, 2, 4);
        key.k1 = kv_siphash(&mix, &key.k0, sizeof key.k0, 2, 4);
    }
    ready = 1;
    return &key;
}

void kv_map_init(struct kv_map *m)
{
    kv_map_init_keyed(m, kv_hash_process_key());
}

void kv_map_init_keyed(struct kv_map *m, const struct kv_hash_key *key)
{
    memset(m, 0, sizeof *m);
    m->key = *key;
    kv_index_init(&m->index);
}

void kv_map_free(struct kv_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i]);
    free(m->slots);
    free(m->hashes);
    kv_index_free(&m->index);
    struct kv_hash_key key = m->key;
    kv_map_init_keyed(m, &key);
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
    size_t i = find_slot(m, kv_hash(&m->key, key, key_len), key, key_len);
    return m->slots[i];
}

struct kv_rec *kv_rec_alloc(size_t key_len, size_t value_len)
{
    if (key_len > UINT32_MAX || value_len > UINT32_MAX)
        return NULL;
    struct kv_rec *r = malloc(sizeof *r + key_len + value_len);
    if (r == NULL)
        return NULL;
    r->create_revision = r->mod_revision = r->version = 0;
    r->lease = 0;
    r->key_len = (uint32_t)key_len;
    r->value_len = (uint32_t)value_len;
    return r;
}

int kv_map_put_rev(struct kv_map *m, const void *key, size_t key_len, const void *value,
                   size_t value_len, uint64_t rev)
{
    if (reserve_one(m) != 0)
        return -1;
    uint32_t h = kv_hash(&m->key, key, key_len);
    size_t i = find_slot(m, h, key, key_len);
    struct kv_rec *old = m->slots[i];
    if (old != NULL && old->value_len == value_len) {
        /* The common overwrite: no allocation, and the index keeps its pointer. */
        if (value_len > 0)
            memcpy(old->data + key_len, value, value_len);
        old->mod_revision = rev;
        old->version++;
        return 0;
    }
    struct kv_rec *r = kv_rec_alloc(key_len, value_len);
    if (r == NULL)
        return -1;
    memcpy(r->data, key, key_len);
    if (value_len > 0)
        memcpy(r->data + key_len, value, value_len);
    r->mod_revision = rev;
    if (old != NULL) {
        r->create_revision = old->create_revision;
        r->version = old->version + 1;
        r->lease = old->lease;
        kv_index_replace(&m->index, r);
        m->data_bytes -= old->key_len + (uint64_t)old->value_len;
        free(old);
    } else {
        r->create_revision = rev;
        r->version = 1;
        if (kv_index_insert(&m->index, r) != 0) {
            free(r);
            return -1;
        }
        m->count++;
    }
    m->slots[i] = r;
    m->hashes[i] = h;
    m->data_bytes += key_len + (uint64_t)value_len;
    return 0;
}

int kv_map_put(struct kv_map *m, const void *key, size_t key_len, const void *value,
               size_t value_len)
{
    return kv_map_put_rev(m, key, key_len, value, value_len, 0);
}

int kv_map_adopt(struct kv_map *m, struct kv_rec *rec)
{
    if (reserve_one(m) != 0) {
        free(rec);
        return -1;
    }
    uint32_t h = kv_hash(&m->key, rec->data, rec->key_len);
    size_t i = find_slot(m, h, rec->data, rec->key_len);
    if (m->slots[i] != NULL) {
        free(rec);
        return 1;
    }
    if (kv_index_insert(&m->index, rec) != 0) {
        free(rec);
        return -1;
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
    size_t hole = find_slot(m, kv_hash(&m->key, key, key_len), key, key_len);
    struct kv_rec *r = m->slots[hole];
    if (r == NULL)
        return 0;
    m->data_bytes -= r->key_len + (uint64_t)r->value_len;
    kv_index_remove(&m->index, key, key_len);
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

const struct kv_rec *kv_map_next_sorted(const struct kv_map *m, struct kv_index_pos *pos)
{
    return kv_index_next(&m->index, pos);
}
