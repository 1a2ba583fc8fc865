/* kv_range.c: ranges over the ordered index (see kv_range.h).
 *
 * A range is a pair of index positions: the first key in it and the first key
 * past it. Both come from seeks, so a page costs O(log n + k) and a client
 * paging with `after` never makes the server walk the keys it already has.
 */
#include "kv/kv_range.h"

#include <string.h>

size_t kv_prefix_end(const void *prefix, size_t prefix_len, uint8_t *buf)
{
    const uint8_t *p = prefix;
    size_t n = prefix_len;
    while (n > 0 && p[n - 1] == 0xff)
        n--;
    if (n == 0)
        return 0;
    memcpy(buf, p, n);
    buf[n - 1]++;
    return n;
}

static bool pos_before(struct kv_index_pos a, struct kv_index_pos b)
{
    return a.leaf < b.leaf || (a.leaf == b.leaf && a.slot < b.slot);
}

void kv_range_open(const struct kv *kv, const struct kv_range_bounds *b, struct kv_range *it)
{
    const struct kv_index *ix = &kv->map.index;
    it->pos = kv_index_seek(ix, b->start, b->start_len);
    if (b->after != NULL &&
        (b->start == NULL || kv_key_cmp(b->after, b->after_len, b->start, b->start_len) >= 0)) {
        it->pos = kv_index_seek(ix, b->after, b->after_len);
        struct kv_index_pos p = it->pos;
        const struct kv_rec *r = kv_index_next(ix, &p);
        if (r != NULL && kv_key_cmp(kv_rec_key(r), r->key_len, b->after, b->after_len) == 0)
            it->pos = p;
    }
    it->stop.leaf = ix->n_leaves;
    it->stop.slot = 0;
    if (b->end != NULL)
        it->stop = kv_index_seek(ix, b->end, b->end_len);
    if (pos_before(it->stop, it->pos))
        it->stop = it->pos; /* an empty range (end <= start or after past end) */
}

const struct kv_rec *kv_range_next(const struct kv *kv, struct kv_range *it)
{
    if (!pos_before(it->pos, it->stop))
        return NULL;
    return kv_index_next(&kv->map.index, &it->pos);
}

uint64_t kv_range_left(const struct kv *kv, const struct kv_range *it)
{
    if (!pos_before(it->pos, it->stop))
        return 0;
    return kv_index_distance(&kv->map.index, it->pos, it->stop);
}
