/* kv_hist.h: the watch history: a bounded window of the most recent changes the
 * state machine applied, one event per key a write changed, in revision order.
 *
 * kv_apply records an event for every key a command writes (a put: the key's
 * record after the write; a delete: the key and the revision) and then trims the
 * window to its limits. A transaction's several writes share one revision and are
 * trimmed together: the window always holds every event of each revision it holds,
 * so a watch that starts at a revision the window covers sees complete batches.
 *
 * What survives a restart: the window is in the snapshot (format version 5), so a
 * replica restored from one holds the window its writer held and rebuilds the rest
 * as it replays the log after it; replicas with the same limits hold the same
 * window at the same applied index. A snapshot of an older version carries none:
 * the window then starts empty at the snapshot's revision. A watch from a revision
 * older than the window is answered "compacted" with the oldest revision the node
 * can serve. The window is a cache of the log, never an input to apply, so
 * replicas with different limits may differ in it without diverging.
 *
 * Ownership: the window owns its events. A pointer returned by kv_hist_at is
 * borrowed and valid until the next kv_apply or kv_free of the store.
 */
#ifndef VESPER_KV_HIST_H
#define VESPER_KV_HIST_H

#include <stddef.h>
#include <stdint.h>

#define KV_HIST_DEFAULT_EVENTS 10000
#define KV_HIST_DEFAULT_BYTES  (16u * 1024 * 1024)

enum kv_event_type { KV_EVENT_PUT = 1, KV_EVENT_DELETE = 2 };

/* One change. A put carries the key's revisions after the write (mod_revision is
 * the event's revision); a delete carries revision only (create_revision and
 * version 0, no value). */
struct kv_event {
    uint64_t revision;
    uint64_t create_revision;
    uint64_t version;
    uint8_t type; /* enum kv_event_type */
    uint32_t key_len;
    uint32_t value_len;
    unsigned char data[]; /* key bytes, then value bytes */
};

struct kv_hist {
    struct kv_event **ring; /* cap slots, count events from head */
    size_t cap, head, count;
    uint64_t bytes;     /* accounted size of the events held */
    size_t max_events;  /* trim past this many events ... */
    uint64_t max_bytes; /* ... or this many bytes (0: the defaults) */
    uint64_t compacted; /* every event at a revision <= compacted is gone */
};

struct kv;

/* Sets the limits (0: the default); they apply from the next command. */
void kv_hist_limit(struct kv *kv, size_t max_events, uint64_t max_bytes);
/* Records a change of key at revision rev (kv.c and kv_txn_run.c, at apply). */
void kv_hist_record(struct kv *kv, uint8_t type, const void *key, size_t key_len, uint64_t rev);
/* Appends an event as given (snapshot restore; the caller checked the order).
 * 0, or -1 on ENOMEM. */
int kv_hist_restore(struct kv *kv, const struct kv_event *proto, const void *key,
                    const void *value);
/* Drops the oldest revisions while the window is past its limits, never the newest
 * revision. */
void kv_hist_trim(struct kv *kv);
/* Empties the window; events at revisions <= rev are then unavailable. */
void kv_hist_reset(struct kv *kv, uint64_t rev);
void kv_hist_free(struct kv_hist *h);

/* The oldest revision a watch can start from: every event at it and after it
 * (up to the store revision) is in the window. */
uint64_t kv_hist_oldest(const struct kv *kv);
/* Position of the first event at a revision >= rev (== kv_hist_count when none). */
size_t kv_hist_seek(const struct kv *kv, uint64_t rev);
size_t kv_hist_count(const struct kv *kv);
/* The event at position pos (< kv_hist_count), oldest first. */
const struct kv_event *kv_hist_at(const struct kv *kv, size_t pos);

static inline const unsigned char *kv_event_key(const struct kv_event *e)
{
    return e->data;
}

static inline const unsigned char *kv_event_value(const struct kv_event *e)
{
    return e->data + e->key_len;
}

#endif
