/* kv_map.h: the key -> value hash map under the replicated state machine.
 *
 * Each pair lives in ONE heap allocation (struct kv_rec: the key's revisions,
 * two u32 lengths, then the key bytes, then the value bytes) and the table is an
 * array of pointers plus a parallel array of 32-bit hashes, probed linearly. The
 * map also keeps the ordered index (kv_index.h) of the same records for ranges.
 * For 1,000,000 keys with 100-byte values that is ~160 B per record (malloc
 * rounding included) plus ~12 B of table per slot at load <= 0.75 and 8 to 16 B
 * of index: build/kv-mem measures 1.8x the raw bytes in resident memory.
 *
 * Hashing is keyed (SipHash-1-3) with a per-process random key, so keys chosen
 * to collide cannot turn every replica's apply quadratic: a client cannot know
 * where its keys land. Nothing replicated depends on the key: table order is
 * only ever seen through kv_map_next; ranges and snapshots walk the index.
 *
 * Ownership: the map owns every record. Pointers returned by kv_map_get and
 * kv_map_next are borrowed and stay valid until the next kv_map_put/del/adopt or
 * kv_map_free. Keys and values are arbitrary bytes (NUL allowed).
 * Not thread-safe; the shell applies entries from one thread.
 */
#ifndef VESPER_KV_MAP_H
#define VESPER_KV_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv_index.h"

/* Revisions (kv.h): create_revision and mod_revision are the store revisions of
 * the write that created the key and of the last write to it; version counts
 * the puts since the key was created (1 after the first). */
struct kv_rec {
    uint64_t create_revision;
    uint64_t mod_revision;
    uint64_t version;
    uint64_t lease; /* the lease the key is attached to (kv_lease.h); 0: none */
    uint32_t key_len;
    uint32_t value_len;
    unsigned char data[]; /* key_len key bytes, then value_len value bytes */
};

/* A 128-bit SipHash key. */
struct kv_hash_key {
    uint64_t k0, k1;
};

struct kv_map {
    struct kv_hash_key key; /* the process key unless set by kv_map_init_keyed */
    struct kv_rec **slots;  /* NULL marks an empty slot */
    uint32_t *hashes;       /* hash of slots[i]'s key, valid when slots[i] != NULL */
    size_t cap;             /* power of two, 0 before the first insert */
    size_t count;
    uint64_t data_bytes;   /* sum of key_len + value_len over all records */
    struct kv_index index; /* the same records in key order */
};

static inline const unsigned char *kv_rec_key(const struct kv_rec *r)
{
    return r->data;
}

static inline const unsigned char *kv_rec_value(const struct kv_rec *r)
{
    return r->data + r->key_len;
}

/* Prepares an empty map hashed with the process key; allocates nothing until the
 * first insert. */
void kv_map_init(struct kv_map *m);
/* The same with a given hash key (tests). */
void kv_map_init_keyed(struct kv_map *m, const struct kv_hash_key *key);
/* Frees every record and the table; the map is empty and reusable afterwards (with
 * the same hash key). */
void kv_map_free(struct kv_map *m);

/* Borrowed record for key, or NULL. */
const struct kv_rec *kv_map_get(const struct kv_map *m, const void *key, size_t key_len);
/* Inserts or replaces at store revision rev: a new key gets create_revision =
 * mod_revision = rev and version 1, a replaced one keeps its create_revision,
 * gets mod_revision = rev and its version + 1. A replaced record of the same
 * value length is overwritten in place (pointers to it stay valid and see the
 * new value). 0 on success, -1 on allocation failure (map unchanged). */
int kv_map_put_rev(struct kv_map *m, const void *key, size_t key_len, const void *value,
                   size_t value_len, uint64_t rev);
/* kv_map_put_rev at revision 0 (tests of the map alone). */
int kv_map_put(struct kv_map *m, const void *key, size_t key_len, const void *value,
               size_t value_len);
/* 1 if the key was removed, 0 if it was absent. */
int kv_map_del(struct kv_map *m, const void *key, size_t key_len);

/* Allocates a record with zero revisions and uninitialised bytes for the caller
 * to fill (snapshot decoding reads straight into it). NULL on allocation failure or lengths over
 * UINT32_MAX. */
struct kv_rec *kv_rec_alloc(size_t key_len, size_t value_len);
/* Takes ownership of rec and inserts it. 0 inserted; 1 the key already exists
 * (rec is freed, map unchanged); -1 allocation failure (rec is freed). */
int kv_map_adopt(struct kv_map *m, struct kv_rec *rec);

/* Iteration in table order, which depends on the hash key: start with *cursor = 0;
 * returns NULL at the end. The map must not be modified during an iteration. Use it
 * only where order is invisible; anything replicated or compared walks in key order
 * (kv_map_next_sorted). */
const struct kv_rec *kv_map_next(const struct kv_map *m, size_t *cursor);

/* Walks in key order (memcmp order, a prefix before its extensions), the same on
 * every replica whatever its hash key: *pos = kv_index_seek(&m->index, start, n)
 * (start NULL: from the first key), then kv_map_next_sorted until NULL. */
const struct kv_rec *kv_map_next_sorted(const struct kv_map *m, struct kv_index_pos *pos);

/* The per-process hash key, drawn from getrandom() on first use. */
const struct kv_hash_key *kv_hash_process_key(void);
/* SipHash with c compression and d finalization rounds over data (exposed for
 * tests: 2-4 has published reference vectors). */
uint64_t kv_siphash(const struct kv_hash_key *key, const void *data, size_t len, int c, int d);
/* The hash the map uses: SipHash-1-3 folded to 32 bits. */
uint32_t kv_hash(const struct kv_hash_key *key, const void *data, size_t len);

#endif
