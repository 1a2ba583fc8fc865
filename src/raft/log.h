/* log.h: the core's in-memory Raft log: a compacted prefix, entries, and what
 * storage has been handed (written) and confirmed durable.
 *
 * Entry i lives at ents[i - offset - 1]. The entry at `offset` is gone (compacted)
 * but its term is remembered in `offset_term`, which is what the AppendEntries
 * consistency check needs for the first entry held.
 *
 * Payloads are copied into slabs, large blocks filled in log order, not into one
 * allocation each: compacting a hundred thousand entries then frees a few slabs
 * instead of touching a hundred thousand scattered heap chunks (right after a
 * forked snapshot writer, every such touch is a page fault on the loop).
 */
#ifndef VESPER_RAFT_LOG_H
#define VESPER_RAFT_LOG_H

#include "raft.h"

/* One block of payloads: those of entries first..last with data live in it (after a
 * truncation, last may name an empty entry). */
struct raft__slab {
    uint8_t *mem;
    size_t used, cap;
    raft_index first, last;
};

struct raft__log {
    struct raft_entry *ents; /* owned; data points into slabs */
    size_t n, cap;
    struct raft__slab *slabs; /* oldest first */
    size_t n_slabs, cap_slabs;
    raft_index offset; /* index before ents[0] */
    raft_term offset_term;
    raft_index written; /* entries through here were handed to storage */
    raft_index durable; /* entries through here are durable (raft_durable) */
};

void raft__log_init(struct raft__log *l, raft_index offset, raft_term offset_term);
void raft__log_free(struct raft__log *l);
raft_index raft__log_last(const struct raft__log *l);
raft_term raft__log_last_term(const struct raft__log *l);
/* Term of entry i; false if i is compacted away or beyond the end. */
bool raft__log_term(const struct raft__log *l, raft_index i, raft_term *term);
/* Entry i, which must be held (offset < i <= last). */
const struct raft_entry *raft__log_get(const struct raft__log *l, raft_index i);
/* Copies one entry (data too) to the end; its index must be last + 1. */
int raft__log_append(struct raft__log *l, const struct raft_entry *e);
/* Drops entries from index i on (Figure 2, AppendEntries receiver step 3). */
void raft__log_truncate(struct raft__log *l, raft_index i);
/* Drops entries through index i (i <= last); remembers i's term. */
void raft__log_compact(struct raft__log *l, raft_index i);
/* Replaces the whole log by an empty one after (i, term): snapshot install. */
void raft__log_reset(struct raft__log *l, raft_index i, raft_term term);

#endif
