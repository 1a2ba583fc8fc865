/* kv_session.h: the bounded exactly-once table (Raft dissertation §6.3 sessions).
 *
 * Per client id it keeps the last applied sequence number and that command's
 * result, so a retried command (same client, same seq) is answered from here
 * instead of being applied twice. At most max entries; inserting a new client
 * into a full table evicts the least recently used one. Every replica applies
 * the same commands in the same order, so eviction is deterministic as long as
 * max is the same on every node (it is carried in the snapshot for that reason).
 * A client evicted while it still retries loses exactly-once for that retry.
 *
 * Ownership: the table owns its entries; a returned entry pointer is valid
 * until the next kv_sessions_record or kv_sessions_free.
 */
#ifndef VESPER_KV_SESSION_H
#define VESPER_KV_SESSION_H

#include <stddef.h>
#include <stdint.h>

#define KV_SESSIONS_DEFAULT_MAX 65536
#define KV_SESSIONS_LIMIT       (1u << 20) /* largest max a snapshot may carry */

struct kv_session {
    uint64_t client_id;
    uint64_t seq;                     /* last applied seq of this client */
    uint8_t result;                   /* enum kv_status of that command */
    struct kv_session *hnext;         /* bucket chain */
    struct kv_session *older, *newer; /* LRU list, oldest at the head */
};

struct kv_sessions {
    struct kv_session **buckets;
    size_t n_buckets; /* power of two >= max */
    size_t count;
    size_t max;
    struct kv_session *oldest, *newest;
};

/* 0 ok, -1 ENOMEM or max > KV_SESSIONS_LIMIT. max == 0 selects the default. */
int kv_sessions_init(struct kv_sessions *s, size_t max);
void kv_sessions_free(struct kv_sessions *s);
/* Entry for client_id or NULL; does not change recency. */
struct kv_session *kv_sessions_find(const struct kv_sessions *s, uint64_t client_id);
/* Sets client_id's (seq, result) and makes it the most recent, evicting the
 * oldest entry when a new client arrives at a full table. 0 ok, -1 ENOMEM. */
int kv_sessions_record(struct kv_sessions *s, uint64_t client_id, uint64_t seq, uint8_t result);
/* Makes an existing entry the most recent. */
void kv_sessions_touch(struct kv_sessions *s, struct kv_session *e);

#endif
