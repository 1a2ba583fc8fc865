/* kv_index.c: the two-level sorted index of records (see kv_index.h).
 *
 * Why two levels and not a balanced tree: a tree node per key costs two or three
 * pointers per record on top of the map's own slot, and chases a cache miss per
 * level; sorted leaves of 256 pointers cost about one pointer per record and a
 * range walk reads them sequentially. Leaves split in half when full, and a
 * leaf that falls under a quarter full is merged with its right neighbour when
 * both fit in half a leaf, so leaves stay at least a quarter full on average
 * except under adversarial delete patterns, where they are still never empty.
 */
#include "kv/kv_index.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_map.h"

int kv_key_cmp(const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return (a_len > b_len) - (a_len < b_len);
}

static int rec_cmp(const struct kv_rec *r, const void *key, size_t key_len)
{
    return kv_key_cmp(kv_rec_key(r), r->key_len, key, key_len);
}

void kv_index_init(struct kv_index *ix)
{
    memset(ix, 0, sizeof *ix);
}

void kv_index_free(struct kv_index *ix)
{
    for (size_t i = 0; i < ix->n_leaves; i++)
        free(ix->leaves[i]);
    free(ix->leaves);
    kv_index_init(ix);
}

/* The leaf that holds key or would: the last leaf whose first key <= key (0 when
 * key precedes every leaf). n_leaves > 0. */
static size_t leaf_for(const struct kv_index *ix, const void *key, size_t key_len)
{
    size_t lo = 0, hi = ix->n_leaves; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (rec_cmp(ix->leaves[mid]->recs[0], key, key_len) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* First slot of leaf whose key is >= key. */
static uint32_t slot_for(const struct kv_index_leaf *l, const void *key, size_t key_len)
{
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rec_cmp(l->recs[mid], key, key_len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int leaves_insert(struct kv_index *ix, size_t at, struct kv_index_leaf *l)
{
    if (ix->n_leaves == ix->cap_leaves) {
        size_t cap = ix->cap_leaves ? ix->cap_leaves * 2 : 8;
        struct kv_index_leaf **v = realloc(ix->leaves, cap * sizeof *v);
        if (v == NULL)
            return -1;
        ix->leaves = v;
        ix->cap_leaves = cap;
    }
    memmove(ix->leaves + at + 1, ix->leaves + at, (ix->n_leaves - at) * sizeof *ix->leaves);
    ix->leaves[at] = l;
    ix->n_leaves++;
    return 0;
}

static void leaves_remove(struct kv_index *ix, size_t at)
{
    free(ix->leaves[at]);
    memmove(ix->leaves + at, ix->leaves + at + 1, (ix->n_leaves - at - 1) * sizeof *ix->leaves);
    ix->n_leaves--;
}

/* Splits full leaf li in two halves; at_end (an insert past the last key of the
 * last leaf) leaves it full and starts an empty leaf, so keys loaded in order
 * fill their leaves instead of leaving every one half empty. */
static int split(struct kv_index *ix, size_t li, bool at_end)
{
    struct kv_index_leaf *l = ix->leaves[li];
    struct kv_index_leaf *r = malloc(sizeof *r);
    if (r == NULL)
        return -1;
    uint32_t half = at_end ? l->n : l->n / 2;
    r->n = l->n - half;
    memcpy(r->recs, l->recs + half, r->n * sizeof *r->recs);
    if (leaves_insert(ix, li + 1, r) != 0) {
        free(r);
        return -1;
    }
    l->n = half;
    return 0;
}

int kv_index_insert(struct kv_index *ix, const struct kv_rec *rec)
{
    const void *key = kv_rec_key(rec);
    if (ix->n_leaves == 0) {
        struct kv_index_leaf *l = malloc(sizeof *l);
        if (l == NULL || leaves_insert(ix, 0, l) != 0) {
            free(l);
            return -1;
        }
        l->n = 0;
    }
    size_t li = leaf_for(ix, key, rec->key_len);
    struct kv_index_leaf *full = ix->leaves[li];
    if (full->n == KV_INDEX_LEAF) {
        bool at_end =
            li + 1 == ix->n_leaves && rec_cmp(full->recs[full->n - 1], key, rec->key_len) < 0;
        if (split(ix, li, at_end) != 0)
            return -1;
        if (at_end || rec_cmp(ix->leaves[li + 1]->recs[0], key, rec->key_len) <= 0)
            li++;
    }
    struct kv_index_leaf *l = ix->leaves[li];
    uint32_t s = slot_for(l, key, rec->key_len);
    memmove(l->recs + s + 1, l->recs + s, (l->n - s) * sizeof *l->recs);
    l->recs[s] = rec;
    l->n++;
    ix->count++;
    return 0;
}

void kv_index_replace(struct kv_index *ix, const struct kv_rec *rec)
{
    if (ix->n_leaves == 0)
        return;
    struct kv_index_leaf *l = ix->leaves[leaf_for(ix, kv_rec_key(rec), rec->key_len)];
    uint32_t s = slot_for(l, kv_rec_key(rec), rec->key_len);
    if (s < l->n && rec_cmp(l->recs[s], kv_rec_key(rec), rec->key_len) == 0)
        l->recs[s] = rec;
}

/* Keeps leaves from thinning out: leaf li (under a quarter full) takes in its
 * right neighbour when both fit in half a leaf. */
static void maybe_merge(struct kv_index *ix, size_t li)
{
    struct kv_index_leaf *l = ix->leaves[li];
    if (l->n >= KV_INDEX_LEAF / 4 || li + 1 >= ix->n_leaves)
        return;
    struct kv_index_leaf *r = ix->leaves[li + 1];
    if (l->n + r->n > KV_INDEX_LEAF / 2)
        return;
    memcpy(l->recs + l->n, r->recs, r->n * sizeof *r->recs);
    l->n += r->n;
    leaves_remove(ix, li + 1);
}

void kv_index_remove(struct kv_index *ix, const void *key, size_t key_len)
{
    if (ix->n_leaves == 0)
        return;
    size_t li = leaf_for(ix, key, key_len);
    struct kv_index_leaf *l = ix->leaves[li];
    uint32_t s = slot_for(l, key, key_len);
    if (s >= l->n || rec_cmp(l->recs[s], key, key_len) != 0)
        return;
    memmove(l->recs + s, l->recs + s + 1, (l->n - s - 1) * sizeof *l->recs);
    l->n--;
    ix->count--;
    if (l->n == 0)
        leaves_remove(ix, li);
    else
        maybe_merge(ix, li);
}

struct kv_index_pos kv_index_seek(const struct kv_index *ix, const void *key, size_t key_len)
{
    struct kv_index_pos p = {0, 0};
    if (ix->n_leaves == 0 || key == NULL)
        return p;
    p.leaf = leaf_for(ix, key, key_len);
    p.slot = slot_for(ix->leaves[p.leaf], key, key_len);
    if (p.slot == ix->leaves[p.leaf]->n) {
        p.leaf++;
        p.slot = 0;
    }
    return p;
}

const struct kv_rec *kv_index_next(const struct kv_index *ix, struct kv_index_pos *pos)
{
    if (pos->leaf >= ix->n_leaves)
        return NULL;
    const struct kv_index_leaf *l = ix->leaves[pos->leaf];
    const struct kv_rec *r = l->recs[pos->slot++];
    if (pos->slot == l->n) { /* positions stay normal: never past a leaf's last slot */
        pos->leaf++;
        pos->slot = 0;
    }
    return r;
}

uint64_t kv_index_distance(const struct kv_index *ix, struct kv_index_pos a, struct kv_index_pos b)
{
    if (a.leaf == b.leaf)
        return b.slot > a.slot ? b.slot - a.slot : 0;
    if (a.leaf > b.leaf)
        return 0;
    uint64_t n = ix->leaves[a.leaf]->n - a.slot;
    for (size_t i = a.leaf + 1; i < b.leaf && i < ix->n_leaves; i++)
        n += ix->leaves[i]->n;
    return n + b.slot;
}
