/* kv_session.c: chained hash + intrusive LRU list for the exactly-once table.
 *
 * The table is bounded, so the bucket array is sized once for max and never
 * grows; chains stay short. The LRU list is what makes the eviction choice a
 * deterministic function of the applied commands (oldest = least recently
 * touched by any command of that client). The snapshot walks it oldest first.
 */
#include "kv/kv_session.h"

#include "kv/kv_map.h"

#include <stdlib.h>
#include <string.h>

/* Clients choose their ids: an unkeyed (invertible) mix let them fill one chain.
 * Bucket order is never visible (the snapshot walks the LRU list). */
static size_t bucket_of(const struct kv_sessions *s, uint64_t id)
{
    return (size_t)kv_hash(kv_hash_process_key(), &id, sizeof id) & (s->n_buckets - 1);
}

int kv_sessions_init(struct kv_sessions *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = max ? max : KV_SESSIONS_DEFAULT_MAX;
    if (s->max > KV_SESSIONS_LIMIT)
        return -1;
    s->n_buckets = 16;
    while (s->n_buckets < s->max)
        s->n_buckets *= 2;
    s->buckets = calloc(s->n_buckets, sizeof *s->buckets);
    return s->buckets ? 0 : -1;
}

void kv_sessions_free(struct kv_sessions *s)
{
    struct kv_session *e = s->oldest;
    while (e != NULL) {
        struct kv_session *next = e->newer;
        free(e);
        e = next;
    }
    free(s->buckets);
    memset(s, 0, sizeof *s);
}

struct kv_session *kv_sessions_find(const struct kv_sessions *s, uint64_t client_id)
{
    struct kv_session *e = s->buckets[bucket_of(s, client_id)];
    while (e != NULL && e->client_id != client_id)
        e = e->hnext;
    return e;
}

static void lru_unlink(struct kv_sessions *s, struct kv_session *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    e->older = e->newer = NULL;
}

static void lru_push_newest(struct kv_sessions *s, struct kv_session *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    else
        s->oldest = e;
    s->newest = e;
}

void kv_sessions_touch(struct kv_sessions *s, struct kv_session *e)
{
    if (s->newest == e)
        return;
    lru_unlink(s, e);
    lru_push_newest(s, e);
}

static void evict_oldest(struct kv_sessions *s)
{
    struct kv_session *e = s->oldest;
    struct kv_session **pp = &s->buckets[bucket_of(s, e->client_id)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(s, e);
    free(e);
    s->count--;
}

int kv_sessions_record(struct kv_sessions *s, uint64_t client_id, uint64_t seq, uint8_t result)
{
    struct kv_session *e = kv_sessions_find(s, client_id);
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL)
            return -1;
        if (s->count == s->max)
            evict_oldest(s);
        size_t b = bucket_of(s, client_id);
        e->client_id = client_id;
        e->hnext = s->buckets[b];
        s->buckets[b] = e;
        lru_push_newest(s, e);
        s->count++;
    } else {
        kv_sessions_touch(s, e);
    }
    e->seq = seq;
    e->result = result;
    return 0;
}
