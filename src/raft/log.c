/* log.c: the in-memory Raft log (see log.h).
 *
 * A plain array of entries: appends amortise by doubling, truncation drops the
 * tail, and compaction shifts the survivors down. Compaction happens once per
 * snapshot, so an O(n) memmove there is cheaper than the bookkeeping a ring
 * buffer would add to every lookup.
 *
 * Payloads go into slabs filled in log order, each slab twice the size of the one
 * before it up to SLAB_MAX (a bigger payload gets a slab of its own size).
 * Truncation frees the slabs that hold only dropped entries and rewinds the one
 * it cuts; compaction frees the slabs whose entries are all compacted. A slab's
 * unused bytes are poisoned for AddressSanitizer: a read of a truncated payload is
 * caught until an append reuses its bytes, a read past the last payload always.
 */
#include "log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLAB_MIN ((size_t)4 << 10)
#define SLAB_MAX ((size_t)1 << 20)

void raft__log_init(struct raft__log *l, raft_index offset, raft_term offset_term)
{
    memset(l, 0, sizeof *l);
    l->offset = offset;
    l->offset_term = offset_term;
    l->written = offset;
    l->durable = offset;
}

static void slab_release(struct raft__slab *s)
{
    UNPOISON(s->mem, s->cap);
    free(s->mem);
}

static void slabs_free_from(struct raft__log *l, size_t from)
{
    for (size_t k = from; k < l->n_slabs; k++)
        slab_release(&l->slabs[k]);
    l->n_slabs = from;
}

/* Room for len bytes of entry `index`'s payload, after every payload before it. */
static uint8_t *slab_alloc(struct raft__log *l, raft_index index, size_t len)
{
    struct raft__slab *s = l->n_slabs ? &l->slabs[l->n_slabs - 1] : NULL;
    if (s == NULL || s->cap - s->used < len) {
        size_t cap = s == NULL || s->cap < SLAB_MIN ? SLAB_MIN : s->cap * 2;
        if (cap > SLAB_MAX)
            cap = SLAB_MAX;
        if (cap < len)
            cap = len;
        if (l->n_slabs == l->cap_slabs) {
            size_t n = l->cap_slabs ? l->cap_slabs * 2 : 8;
            struct raft__slab *v = realloc(l->slabs, n * sizeof *v);
            if (!v)
                return NULL;
            l->slabs = v;
            l->cap_slabs = n;
        }
        uint8_t *mem = malloc(cap);
        if (!mem)
            return NULL;
        POISON(mem, cap);
        s = &l->slabs[l->n_slabs++];
        *s = (struct raft__slab){.mem = mem, .cap = cap, .first = index};
    }
    uint8_t *p = s->mem + s->used;
    UNPOISON(p, len);
    s->used += len;
    s->last = index;
    return p;
}

/* Entries from index i on are being dropped: so are their payloads. */
static void slabs_truncate(struct raft__log *l, raft_index i)
{
    size_t k = l->n_slabs;
    while (k > 0 && l->slabs[k - 1].first >= i)
        k--;
    slabs_free_from(l, k);
    if (k == 0 || l->slabs[k - 1].last < i)
        return;
    struct raft__slab *s = &l->slabs[k - 1];
    for (raft_index j = i; j <= s->last; j++) {
        const struct raft_entry *e = &l->ents[j - l->offset - 1];
        if (e->len) {
            size_t keep = (size_t)(e->data - s->mem);
            POISON(s->mem + keep, s->used - keep);
            s->used = keep;
            break;
        }
    }
    s->last = i - 1;
}

void raft__log_free(struct raft__log *l)
{
    slabs_free_from(l, 0);
    free(l->slabs);
    free(l->ents);
    l->slabs = NULL;
    l->cap_slabs = 0;
    l->ents = NULL;
    l->n = 0;
    l->cap = 0;
}

raft_index raft__log_last(const struct raft__log *l)
{
    return l->offset + l->n;
}

raft_term raft__log_last_term(const struct raft__log *l)
{
    return l->n ? l->ents[l->n - 1].term : l->offset_term;
}

bool raft__log_term(const struct raft__log *l, raft_index i, raft_term *term)
{
    if (i == l->offset) {
        *term = l->offset_term;
        return true;
    }
    if (i < l->offset || i > raft__log_last(l))
        return false;
    *term = l->ents[i - l->offset - 1].term;
    return true;
}

const struct raft_entry *raft__log_get(const struct raft__log *l, raft_index i)
{
    assert(i > l->offset && i <= raft__log_last(l));
    return &l->ents[i - l->offset - 1];
}

int raft__log_append(struct raft__log *l, const struct raft_entry *e)
{
    assert(e->index == raft__log_last(l) + 1);
    assert(e->term >= raft__log_last_term(l));
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct raft_entry *v = realloc(l->ents, cap * sizeof *v);
        if (!v)
            return RAFT_ENOMEM;
        l->ents = v;
        l->cap = cap;
    }
    struct raft_entry *dst = &l->ents[l->n];
    *dst = *e;
    dst->data = NULL;
    if (e->len) {
        dst->data = slab_alloc(l, e->index, e->len);
        if (!dst->data)
            return RAFT_ENOMEM;
        memcpy(dst->data, e->data, e->len);
    }
    l->n++;
    return RAFT_OK;
}

void raft__log_truncate(struct raft__log *l, raft_index i)
{
    assert(i > l->offset);
    if (i > raft__log_last(l))
        return;
    slabs_truncate(l, i);
    l->n = (size_t)(i - l->offset - 1);
    if (l->written >= i)
        l->written = i - 1;
    if (l->durable >= i)
        l->durable = i - 1;
}

void raft__log_compact(struct raft__log *l, raft_index i)
{
    if (i <= l->offset)
        return;
    assert(i <= raft__log_last(l));
    size_t drop = (size_t)(i - l->offset);
    l->offset_term = l->ents[drop - 1].term;
    size_t k = 0;
    while (k < l->n_slabs && l->slabs[k].last <= i)
        k++;
    if (k) {
        for (size_t j = 0; j < k; j++)
            slab_release(&l->slabs[j]);
        memmove(l->slabs, l->slabs + k, (l->n_slabs - k) * sizeof *l->slabs);
        l->n_slabs -= k;
    }
    memmove(l->ents, l->ents + drop, (l->n - drop) * sizeof *l->ents);
    l->n -= drop;
    l->offset = i;
    if (l->written < i)
        l->written = i;
    if (l->durable < i)
        l->durable = i;
}

void raft__log_reset(struct raft__log *l, raft_index i, raft_term term)
{
    slabs_free_from(l, 0);
    l->n = 0;
    l->offset = i;
    l->offset_term = term;
    l->written = i;
    l->durable = i;
}
