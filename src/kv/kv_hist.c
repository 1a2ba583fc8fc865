/* kv_hist.c: the watch history window (see kv_hist.h).
 *
 * A ring of pointers to events, each event one allocation (header, key, value),
 * so recording costs one malloc and trimming one free per event. The ring grows by
 * doubling; it is never shrunk, so its size follows the largest window held. Trim
 * decisions depend only on the events and the limits, never on the clock or the
 * allocator, so two replicas with the same limits that applied the same entries
 * from the same starting point hold the same window.
 */
#include "kv/kv_hist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

static void die_nomem(void)
{
    fprintf(stderr, "kv: out of memory recording a watch event; stopping to avoid divergence\n");
    abort();
}

static size_t max_events(const struct kv_hist *h)
{
    return h->max_events ? h->max_events : KV_HIST_DEFAULT_EVENTS;
}

static uint64_t max_bytes(const struct kv_hist *h)
{
    return h->max_bytes ? h->max_bytes : KV_HIST_DEFAULT_BYTES;
}

static struct kv_event **slot(const struct kv_hist *h, size_t pos)
{
    return &h->ring[(h->head + pos) & (h->cap - 1)];
}

static void grow(struct kv_hist *h)
{
    size_t cap = h->cap ? h->cap * 2 : 64;
    struct kv_event **ring = malloc(cap * sizeof *ring);
    if (ring == NULL)
        die_nomem();
    for (size_t i = 0; i < h->count; i++)
        ring[i] = *slot(h, i);
    free(h->ring);
    h->ring = ring;
    h->cap = cap;
    h->head = 0;
}

void kv_hist_limit(struct kv *kv, size_t max_ev, uint64_t max_b)
{
    kv->hist.max_events = max_ev;
    kv->hist.max_bytes = max_b;
}

void kv_hist_record(struct kv *kv, uint8_t type, const void *key, size_t key_len, uint64_t rev)
{
    struct kv_hist *h = &kv->hist;
    const struct kv_rec *r = type == KV_EVENT_PUT ? kv_get(kv, key, key_len) : NULL;
    size_t value_len = r ? r->value_len : 0;
    struct kv_event *e = malloc(sizeof *e + key_len + value_len);
    if (e == NULL)
        die_nomem();
    e->revision = rev;
    e->create_revision = r ? r->create_revision : 0;
    e->version = r ? r->version : 0;
    e->type = type;
    e->key_len = (uint32_t)key_len;
    e->value_len = (uint32_t)value_len;
    memcpy(e->data, key, key_len);
    if (value_len)
        memcpy(e->data + key_len, kv_rec_value(r), value_len);
    if (h->count == h->cap)
        grow(h);
    *slot(h, h->count++) = e;
    h->bytes += sizeof *e + key_len + value_len;
}

int kv_hist_restore(struct kv *kv, const struct kv_event *proto, const void *key, const void *value)
{
    struct kv_hist *h = &kv->hist;
    size_t n = (size_t)proto->key_len + proto->value_len;
    struct kv_event *e = malloc(sizeof *e + n);
    if (e == NULL)
        return -1;
    *e = *proto;
    memcpy(e->data, key, proto->key_len);
    if (proto->value_len)
        memcpy(e->data + proto->key_len, value, proto->value_len);
    if (h->count == h->cap)
        grow(h);
    *slot(h, h->count++) = e;
    h->bytes += sizeof *e + n;
    return 0;
}

static void drop_oldest(struct kv_hist *h)
{
    struct kv_event *e = *slot(h, 0);
    h->bytes -= sizeof *e + e->key_len + e->value_len;
    h->compacted = e->revision;
    free(e);
    h->head = (h->head + 1) & (h->cap - 1);
    h->count--;
}

void kv_hist_trim(struct kv *kv)
{
    struct kv_hist *h = &kv->hist;
    while (h->count > 0 && (h->count > max_events(h) || h->bytes > max_bytes(h))) {
        uint64_t oldest = (*slot(h, 0))->revision;
        if (oldest == (*slot(h, h->count - 1))->revision)
            return; /* the newest revision stays whole, whatever its size */
        while (h->count > 0 && (*slot(h, 0))->revision == oldest)
            drop_oldest(h);
    }
}

void kv_hist_reset(struct kv *kv, uint64_t rev)
{
    struct kv_hist *h = &kv->hist;
    while (h->count > 0)
        drop_oldest(h);
    h->compacted = rev;
}

void kv_hist_free(struct kv_hist *h)
{
    for (size_t i = 0; i < h->count; i++)
        free(*slot(h, i));
    free(h->ring);
    memset(h, 0, sizeof *h);
}

uint64_t kv_hist_oldest(const struct kv *kv)
{
    return kv->hist.compacted + 1;
}

size_t kv_hist_seek(const struct kv *kv, uint64_t rev)
{
    const struct kv_hist *h = &kv->hist;
    size_t lo = 0, hi = h->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((*slot(h, mid))->revision < rev)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t kv_hist_count(const struct kv *kv)
{
    return kv->hist.count;
}

const struct kv_event *kv_hist_at(const struct kv *kv, size_t pos)
{
    return *slot(&kv->hist, pos);
}
