/* lincheck_cache.c: Lowe's memo cache for the linearizability search (lincheck_search.c):
 * the configurations (set of linearized ops, model state) already explored.
 *
 * Open addressing over entry numbers. Each entry's set of linearized ops is stored exactly
 * but compactly (see lc_key_build) in a shared arena of uint32 words; a bitset per entry
 * would cost n/8 bytes and exhaust memory on long single-key histories.
 */
#include "lib/lincheck_search.h"

#include <stdlib.h>

static size_t lc_cache_bytes(size_t cap, size_t n_slots, size_t arena_cap)
{
    return cap * (8 + 4 + sizeof(size_t)) + n_slots * 4 + arena_cap * 4;
}

static int lc_cache_grow(struct lc_cache *c)
{
    size_t cap = c->cap ? c->cap * 2 : 1024, n_slots = cap * 2;
    if (lc_cache_bytes(cap, n_slots, c->arena_cap) > c->max_bytes)
        return -1;
    uint64_t *hashes = realloc(c->hashes, cap * sizeof *hashes);
    if (hashes)
        c->hashes = hashes;
    int32_t *states = realloc(c->states, cap * sizeof *states);
    if (states)
        c->states = states;
    size_t *offs = realloc(c->offs, cap * sizeof *offs);
    if (offs)
        c->offs = offs;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!hashes || !states || !offs || !slots) {
        free(slots);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        size_t s = c->hashes[i] & (n_slots - 1);
        while (slots[s])
            s = (s + 1) & (n_slots - 1);
        slots[s] = (uint32_t)i + 1;
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n_slots;
    c->cap = cap;
    return 0;
}

static int lc_cache_reserve(struct lc_cache *c, size_t words)
{
    if (c->arena_len + words <= c->arena_cap)
        return 0;
    size_t cap = c->arena_cap ? c->arena_cap : 4096;
    while (cap < c->arena_len + words)
        cap *= 2;
    if (lc_cache_bytes(c->cap, c->n_slots, cap) > c->max_bytes)
        return -1;
    uint32_t *arena = realloc(c->arena, cap * sizeof *arena);
    if (!arena)
        return -1;
    c->arena = arena;
    c->arena_cap = cap;
    return 0;
}

/* Returns 1 if (key, state) was new and is now recorded, 0 if seen, -1 over budget. */
int lc_cache_insert(struct lc_cache *c, uint64_t set_hash, int32_t state, const uint32_t *key)
{
    if ((c->n == c->cap && lc_cache_grow(c)) || lc_cache_reserve(c, key[0]))
        return -1;
    uint64_t h = set_hash ^ ((uint64_t)(uint32_t)(state + 1) * 0x9e3779b97f4a7c15ull);
    size_t s = h & (c->n_slots - 1);
    for (; c->slots[s]; s = (s + 1) & (c->n_slots - 1)) {
        size_t i = c->slots[s] - 1;
        const uint32_t *k = &c->arena[c->offs[i]];
        if (c->hashes[i] == h && c->states[i] == state && k[0] == key[0] &&
            memcmp(k, key, key[0] * sizeof *key) == 0)
            return 0;
    }
    c->slots[s] = (uint32_t)c->n + 1;
    c->hashes[c->n] = h;
    c->states[c->n] = state;
    c->offs[c->n] = c->arena_len;
    memcpy(&c->arena[c->arena_len], key, key[0] * sizeof *key);
    c->arena_len += key[0];
    c->n++;
    return 1;
}

void lc_cache_free(struct lc_cache *c)
{
    free(c->slots);
    free(c->hashes);
    free(c->states);
    free(c->offs);
    free(c->arena);
}
