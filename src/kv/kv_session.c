/* kv_session.c: chained hashes + intrusive recency lists for the exactly-once
 * table (see kv_session.h).
 *
 * Both sets are bounded, so each bucket array is sized once for max and never
 * grows; chains stay short. The live list is what makes the eviction choice a
 * deterministic function of the applied commands (oldest = least recently
 * touched by any command of that client); the expired list is in eviction
 * order. The snapshot walks both oldest first.
 */
#include "kv/kv_session.h"

#include "kv/kv_map.h"

#include <stdlib.h>
#include <string.h>

/* Clients choose their ids: an unkeyed (invertible) mix let them fill one chain.
 * Bucket order is never visible (the snapshot walks the LRU list). */
static size_t bucket_of(const struct kv_session_set *set, uint64_t id)
{
    return (size_t)kv_hash(kv_hash_process_key(), &id, sizeof id) & (set->n_buckets - 1);
}

/* Buckets start small and double with the entries (an empty store does not pay for
 * a table sized for max), up to the first power of two >= max. */
static int set_init(struct kv_session_set *set, size_t max)
{
    set->n_buckets = 16;
    set->max_buckets = 16;
    while (set->max_buckets < max)
        set->max_buckets *= 2;
    set->buckets = calloc(set->n_buckets, sizeof *set->buckets);
    return set->buckets ? 0 : -1;
}

/* Doubles the bucket array when the set holds as many entries as buckets. Without
 * memory the chains just grow longer: lookups stay correct. */
static void set_maybe_grow(struct kv_session_set *set)
{
    if (set->count < set->n_buckets || set->n_buckets >= set->max_buckets)
        return;
    size_t n = set->n_buckets * 2;
    struct kv_session **b = calloc(n, sizeof *b);
    if (b == NULL)
        return;
    free(set->buckets);
    set->buckets = b;
    set->n_buckets = n;
    for (struct kv_session *e = set->oldest; e != NULL; e = e->newer) {
        size_t i = bucket_of(set, e->client_id);
        e->hnext = b[i];
        b[i] = e;
    }
}

static void entry_free(struct kv_session *e)
{
    free(e->current);
    free(e);
}

static void set_free(struct kv_session_set *set)
{
    struct kv_session *e = set->oldest;
    while (e != NULL) {
        struct kv_session *next = e->newer;
        entry_free(e);
        e = next;
    }
    free(set->buckets);
}

int kv_sessions_init(struct kv_sessions *s, size_t max)
{
    memset(s, 0, sizeof *s);
    s->max = max ? max : KV_SESSIONS_DEFAULT_MAX;
    if (s->max > KV_SESSIONS_LIMIT || set_init(&s->live, s->max) != 0)
        return -1;
    if (set_init(&s->expired, s->max) != 0) {
        free(s->live.buckets);
        return -1;
    }
    return 0;
}

void kv_sessions_free(struct kv_sessions *s)
{
    set_free(&s->live);
    set_free(&s->expired);
    memset(s, 0, sizeof *s);
}

static struct kv_session *set_find(const struct kv_session_set *set, uint64_t client_id)
{
    struct kv_session *e = set->buckets[bucket_of(set, client_id)];
    while (e != NULL && e->client_id != client_id)
        e = e->hnext;
    return e;
}

struct kv_session *kv_sessions_find(const struct kv_sessions *s, uint64_t client_id)
{
    return set_find(&s->live, client_id);
}

struct kv_session *kv_sessions_find_expired(const struct kv_sessions *s, uint64_t client_id)
{
    return set_find(&s->expired, client_id);
}

static void list_unlink(struct kv_session_set *set, struct kv_session *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        set->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        set->newest = e->older;
    e->older = e->newer = NULL;
}

static void list_push_newest(struct kv_session_set *set, struct kv_session *e)
{
    e->older = set->newest;
    e->newer = NULL;
    if (set->newest)
        set->newest->newer = e;
    else
        set->oldest = e;
    set->newest = e;
}

/* Links e (not in any set) as set's newest entry. */
static void set_insert(struct kv_session_set *set, struct kv_session *e)
{
    set_maybe_grow(set);
    size_t b = bucket_of(set, e->client_id);
    e->hnext = set->buckets[b];
    set->buckets[b] = e;
    list_push_newest(set, e);
    set->count++;
}

/* Unlinks e from set; the caller owns it afterwards. */
static void set_remove(struct kv_session_set *set, struct kv_session *e)
{
    struct kv_session **pp = &set->buckets[bucket_of(set, e->client_id)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    list_unlink(set, e);
    set->count--;
}

void kv_sessions_touch(struct kv_sessions *s, struct kv_session *e)
{
    if (s->live.newest == e)
        return;
    list_unlink(&s->live, e);
    list_push_newest(&s->live, e);
}

/* Moves e into the expired set, which drops its own oldest record when full.
 * The answer bytes go: an expired client can no longer be answered. */
static void expire(struct kv_sessions *s, struct kv_session *e)
{
    free(e->current);
    e->current = NULL;
    e->current_len = 0;
    e->has_current = false;
    e->result = 0;
    e->revision = 0;
    if (s->expired.count == s->max) {
        struct kv_session *old = s->expired.oldest;
        set_remove(&s->expired, old);
        entry_free(old);
    }
    set_insert(&s->expired, e);
}

int kv_sessions_record(struct kv_sessions *s, uint64_t client_id, uint64_t seq, uint8_t result,
                       bool has_current, const uint8_t *current, size_t current_len)
{
    uint8_t *copy = NULL;
    if (has_current && current_len > 0) {
        if (current_len > UINT32_MAX || (copy = malloc(current_len)) == NULL)
            return -1;
        memcpy(copy, current, current_len);
    }
    struct kv_session *e = kv_sessions_find(s, client_id);
    if (e == NULL) {
        e = kv_sessions_find_expired(s, client_id);
        if (e != NULL) {
            set_remove(&s->expired, e); /* the client is back with a new seq */
        } else if ((e = calloc(1, sizeof *e)) == NULL) {
            free(copy);
            return -1;
        }
        e->client_id = client_id;
        if (s->live.count == s->max) {
            struct kv_session *victim = s->live.oldest;
            set_remove(&s->live, victim);
            expire(s, victim);
        }
        set_insert(&s->live, e);
    } else {
        kv_sessions_touch(s, e);
    }
    free(e->current);
    e->seq = seq;
    e->result = result;
    e->has_current = has_current;
    e->current = copy;
    e->current_len = (uint32_t)(has_current ? current_len : 0);
    return 0;
}

int kv_sessions_add_expired(struct kv_sessions *s, uint64_t client_id, uint64_t seq)
{
    if (kv_sessions_find(s, client_id) != NULL || kv_sessions_find_expired(s, client_id) != NULL)
        return -1;
    struct kv_session *e = calloc(1, sizeof *e);
    if (e == NULL)
        return -1;
    e->client_id = client_id;
    e->seq = seq;
    expire(s, e);
    return 0;
}
