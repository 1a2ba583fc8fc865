/* codec_int.h: what the encoder (codec.c) and the decoder (codec_decode.c) of the
 * peer wire format share: the flag bits, the fixed sizes, the table of u64 fields in
 * `present` bit order, and the bounds-checked read cursor. Not for other modules. */
#ifndef VESPER_NET_CODEC_INT_H
#define VESPER_NET_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "net/codec.h"

enum {
    F_PREVOTE = 1 << 0,
    F_TRANSFER = 1 << 1,
    F_GRANTED = 1 << 2,
    F_REJECT = 1 << 3,
    F_DONE = 1 << 4,
    F_CONF = 1 << 5,
    F_ALL = (1 << 6) - 1,
};

#define HEADER_BYTES     12 /* type, flags, from, to, present */
#define ENTRY_HEAD_BYTES 21 /* term, index, type, len */

/* The u64 fields of struct raft_msg in `present` bit order (codec.c). */
#define N_U64 10
extern const size_t codec__u64_fields[N_U64];

static inline uint64_t *field(struct raft_msg *m, size_t i)
{
    return (uint64_t *)(void *)((char *)m + codec__u64_fields[i]);
}

static inline uint64_t field_get(const struct raft_msg *m, size_t i)
{
    uint64_t v;
    memcpy(&v, (const char *)m + codec__u64_fields[i], sizeof v);
    return v;
}

/* A bounds-checked read cursor. ok turns false at the first short read and stays
 * false; reads after that return zeros and never touch memory. */
struct rd {
    const uint8_t *p;
    size_t left;
    bool ok;
};

static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
    if (!r->ok || n > r->left) {
        r->ok = false;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

static inline uint64_t rd_uint(struct rd *r, size_t n)
{
    const uint8_t *p = rd_take(r, n);
    uint64_t v = 0;
    for (size_t i = 0; p != NULL && i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static inline uint8_t rd_u8(struct rd *r)
{
    return (uint8_t)rd_uint(r, 1);
}

static inline uint32_t rd_u32(struct rd *r)
{
    return (uint32_t)rd_uint(r, 4);
}

#endif
