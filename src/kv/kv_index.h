/* kv_index.h: the ordered index of the key-value map (key byte order).
 *
 * The hash map (kv_map.h) answers point reads and writes; this index answers
 * "the keys from A on, in order" for ranges and lets a snapshot walk the keys
 * sorted without sorting them. It holds borrowed pointers to the map's records
 * and no bytes of its own; kv_map keeps it in step on every insert, replace and
 * delete.
 *
 * Shape: a sorted array of leaves, each a sorted array of at most
 * KV_INDEX_LEAF record pointers (a B+tree of height two). A lookup is two binary
 * searches, an insert or delete moves at most one leaf's pointers, and a split
 * or a merge moves the leaf array (n / KV_INDEX_LEAF pointers, rare). A walk
 * from a position visits records in order at a pointer per step. About 10 bytes
 * per key. Nothing in it depends on the process's hash key or on allocation
 * addresses: equal key sets give equal leaf layouts given the same history.
 *
 * Ownership: the index owns its leaves, not the records. Positions are
 * invalidated by any change to the index.
 */
#ifndef VESPER_KV_INDEX_H
#define VESPER_KV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define KV_INDEX_LEAF 256

struct kv_rec;

struct kv_index_leaf {
    uint32_t n;
    const struct kv_rec *recs[KV_INDEX_LEAF];
};

struct kv_index {
    struct kv_index_leaf **leaves;
    size_t n_leaves, cap_leaves;
    size_t count;
};

/* A place in key order: leaf and slot (leaf == n_leaves: the end). Positions
 * given out are normal (slot < the leaf's size), so two of them compare as
 * (leaf, slot) pairs. */
struct kv_index_pos {
    size_t leaf;
    uint32_t slot;
};

void kv_index_init(struct kv_index *ix);
void kv_index_free(struct kv_index *ix);

/* Inserts rec, whose key must not be present. 0, or -1 on allocation failure
 * (index unchanged). */
int kv_index_insert(struct kv_index *ix, const struct kv_rec *rec);
/* Points the entry with rec's key at rec (a record replaced by a new allocation). */
void kv_index_replace(struct kv_index *ix, const struct kv_rec *rec);
/* Removes the entry with this key, if any. */
void kv_index_remove(struct kv_index *ix, const void *key, size_t key_len);

/* The position of the first key >= key (key NULL: the first key). */
struct kv_index_pos kv_index_seek(const struct kv_index *ix, const void *key, size_t key_len);
/* The record at *pos and advances it; NULL at the end. */
const struct kv_rec *kv_index_next(const struct kv_index *ix, struct kv_index_pos *pos);
/* Number of records from a up to (not including) b; a <= b. O(leaves between). */
uint64_t kv_index_distance(const struct kv_index *ix, struct kv_index_pos a, struct kv_index_pos b);

/* memcmp order of keys, a prefix before its extensions. */
int kv_key_cmp(const void *a, size_t a_len, const void *b, size_t b_len);

#endif
