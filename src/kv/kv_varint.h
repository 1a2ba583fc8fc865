/* kv_varint.h: unsigned LEB128 varints and length-prefixed byte strings, the
 * building blocks of the KV command and transaction codecs (kv_cmd.c,
 * kv_txn.c). Readers never read past their bound. */
#ifndef VESPER_KV_VARINT_H
#define VESPER_KV_VARINT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct kv_reader {
    const uint8_t *p;
    size_t left;
};

static inline size_t kv_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *kv_varint_put(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *kv_bytes_put(uint8_t *p, const uint8_t *b, size_t n)
{
    p = kv_varint_put(p, n);
    if (n > 0)
        memcpy(p, b, n);
    return p + n;
}

/* At most 10 bytes; a value past 64 bits is an error. */
static inline int kv_varint_get(struct kv_reader *r, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->left == 0)
            return -1;
        uint8_t b = *r->p++;
        r->left--;
        if (shift == 63 && b > 1)
            return -1;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* A length (<= UINT32_MAX) and that many bytes, pointed at in place. */
static inline int kv_bytes_get(struct kv_reader *r, const uint8_t **b, size_t *n)
{
    uint64_t len;
    if (kv_varint_get(r, &len) != 0 || len > UINT32_MAX || len > r->left)
        return -1;
    *b = r->p;
    *n = (size_t)len;
    r->p += len;
    r->left -= len;
    return 0;
}

static inline int kv_u8_get(struct kv_reader *r, uint8_t *v)
{
    if (r->left == 0)
        return -1;
    *v = *r->p++;
    r->left--;
    return 0;
}

#endif
