/* kv_range.h: ordered reads over the state machine (ranges and prefixes).
 *
 * A range is the keys k with start <= k < end in key byte order (no end: to the
 * last key), optionally only those after a continuation key (the last key of
 * the previous page). Opening one costs two index seeks; each key after that is
 * one step, and counting the keys left costs one step per index leaf (a few
 * hundred keys). Like kv_get, this reads the applied state: the shell decides
 * when that is safe (ReadIndex or stale).
 *
 * Ownership: bounds point at the caller's bytes for the duration of the call;
 * records returned are borrowed until the next change to the kv.
 */
#ifndef VESPER_KV_RANGE_H
#define VESPER_KV_RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

struct kv_range_bounds {
    const void *start; /* NULL: from the first key */
    size_t start_len;
    const void *end; /* exclusive; NULL: to the last key */
    size_t end_len;
    const void *after; /* continuation: only keys > after; NULL: none */
    size_t after_len;
};

struct kv_range {
    struct kv_index_pos pos, stop;
};

/* The end of the range of keys starting with prefix: the smallest key greater
 * than all of them, written to buf (prefix_len bytes suffice). Returns its length,
 * or 0 when there is none (an empty prefix or only 0xff bytes: no end). */
size_t kv_prefix_end(const void *prefix, size_t prefix_len, uint8_t *buf);

void kv_range_open(const struct kv *kv, const struct kv_range_bounds *b, struct kv_range *it);
/* The next record of the range, or NULL past its end. */
const struct kv_rec *kv_range_next(const struct kv *kv, struct kv_range *it);
/* How many records are left in the range (not advancing it). */
uint64_t kv_range_left(const struct kv *kv, const struct kv_range *it);

#endif
