/* log.c: the in-memory Raft log (see log.h).
 *
 * A plain array of entries: appends amortise by doubling, truncation frees the
 * dropped payloads, and compaction shifts the survivors down. Compaction happens
 * once per snapshot, so an O(n) memmove there is cheaper than the bookkeeping a
 * ring buffer would add to every lookup.
 */
#include "log.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void raft__log_init(struct raft__log *l, raft_index offset, raft_term offset_term)
{
    memset(l, 0, sizeof *l);
    l->offset = offset;
    l->offset_term = offset_term;
    l->written = offset;
    l->durable = offset;
}

static void free_range(struct raft__log *l, size_t from)
{
    for (size_t k = from; k < l->n; k++)
        free(l->ents[k].data);
    l->n = from;
}

void raft__log_free(struct raft__log *l)
{
    free_range(l, 0);
    free(l->ents);
    l->ents = NULL;
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
        dst->data = malloc(e->len);
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
    free_range(l, (size_t)(i - l->offset - 1));
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
    for (size_t k = 0; k < drop; k++)
        free(l->ents[k].data);
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
    free_range(l, 0);
    l->offset = i;
    l->offset_term = term;
    l->written = i;
    l->durable = i;
}
