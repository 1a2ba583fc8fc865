/* kv_session.h: the bounded exactly-once table (Raft dissertation §6.3 sessions).
 *
 * Per client id it keeps the last applied sequence number and that command's
 * whole answer (its status and, for a CAS that failed, the value it saw), so a
 * retried command (same client, same seq) is answered exactly as the first time
 * instead of being applied twice. At most max live entries; inserting a new
 * client into a full table evicts the least recently used one.
 *
 * An evicted client is not forgotten at once: its id and last seq move to a
 * second bounded list of expired sessions (first in, first out, also at most
 * max). A retry of that seq can no longer be answered (its answer is gone), so
 * it gets KV_SESSION_EXPIRED: outcome unknown, nothing applied now. A higher seq
 * from an expired client was never applied and starts a fresh session; a lower
 * one is stale. Only a client silent for long enough that its expired record
 * was dropped too (2 x max other clients later) is taken for a new one.
 *
 * Every replica applies the same commands in the same order, so both lists
 * evolve identically as long as max is the same on every node (it is carried in
 * the snapshot for that reason, with both lists in order).
 *
 * Memory: a live entry of a CAS that failed holds a copy of the value it saw
 * (at most --max-value-bytes); every other entry is a fixed ~80 bytes.
 *
 * Ownership: the table owns its entries and their answer bytes; a returned
 * entry pointer is valid until the next kv_sessions_record or kv_sessions_free.
 */
#ifndef VESPER_KV_SESSION_H
#define VESPER_KV_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_SESSIONS_DEFAULT_MAX 65536
#define KV_SESSIONS_LIMIT       (1u << 20) /* largest max a snapshot may carry */

struct kv_session {
    uint64_t client_id;
    uint64_t seq;                     /* last applied seq of this client */
    uint8_t result;                   /* enum kv_status of that command (live only) */
    uint64_t revision;                /* store revision it reported (live only) */
    bool has_current;                 /* CAS mismatch: the key existed */
    uint32_t current_len;             /* CAS mismatch: the value it saw */
    uint8_t *current;                 /* malloc'd, NULL when none */
    struct kv_session *hnext;         /* bucket chain */
    struct kv_session *older, *newer; /* recency list, oldest at the head */
};

/* A hash of entries by client id plus a list from oldest to newest. */
struct kv_session_set {
    struct kv_session **buckets;
    size_t n_buckets;   /* power of two, grows with count */
    size_t max_buckets; /* first power of two >= max */
    size_t count;
    struct kv_session *oldest, *newest;
};

struct kv_sessions {
    struct kv_session_set live;    /* answerable: least recently used first */
    struct kv_session_set expired; /* evicted: id and seq only, oldest eviction first */
    size_t max;                    /* bound of each set */
};

/* 0 ok, -1 ENOMEM or max > KV_SESSIONS_LIMIT. max == 0 selects the default. */
int kv_sessions_init(struct kv_sessions *s, size_t max);
void kv_sessions_free(struct kv_sessions *s);
/* Live entry for client_id or NULL; does not change recency. */
struct kv_session *kv_sessions_find(const struct kv_sessions *s, uint64_t client_id);
/* Expired entry for client_id or NULL. */
struct kv_session *kv_sessions_find_expired(const struct kv_sessions *s, uint64_t client_id);
/* Sets client_id's (seq, result, answer) and makes it the most recent live
 * entry, evicting the oldest live entry into the expired set when a new client
 * arrives at a full table (and dropping an expired record of client_id). The
 * current bytes are copied; the entry's revision is the caller's to set. 0 ok,
 * -1 ENOMEM (the table is unchanged). */
int kv_sessions_record(struct kv_sessions *s, uint64_t client_id, uint64_t seq, uint8_t result,
                       bool has_current, const uint8_t *current, size_t current_len);
/* Appends an expired record (snapshot restore); the oldest one is dropped when
 * the set is full. 0 ok, -1 ENOMEM or client_id already known. */
int kv_sessions_add_expired(struct kv_sessions *s, uint64_t client_id, uint64_t seq);
/* Makes an existing live entry the most recent. */
void kv_sessions_touch(struct kv_sessions *s, struct kv_session *e);

#endif
