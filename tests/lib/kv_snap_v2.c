/* kv_snap_v2.c: writers of the kv snapshot versions the node no longer writes.
 *
 * Version 3 is written here field by field (version 4 without revisions).
 * Versions 2 and 3 share everything but three things: the version field, the
 * member list (u32 length, blob) after applied_term, and the trailing CRC-32C
 * of every preceding byte. So the version 3 bytes are split after the 24-byte
 * header (magic, version, applied_index, applied_term), the blob goes in
 * between, and the checksum at the end.
 */
#include "lib/kv_snap_v2.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv_snap.h"
#include "util/crc32c.h"

#define V3_HEADER_BYTES 24

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

struct out {
    uint8_t *b;
    size_t len, cap;
    int failed;
};

static void out_raw(struct out *o, const void *p, size_t n)
{
    if (o->failed || n == 0)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *b = realloc(o->b, cap);
        if (b == NULL) {
            o->failed = 1;
            return;
        }
        o->b = b;
        o->cap = cap;
    }
    memcpy(o->b + o->len, p, n);
    o->len += n;
}

static void out32(struct out *o, uint32_t v)
{
    uint8_t b[4];
    put32(b, v);
    out_raw(o, b, 4);
}

static void out64(struct out *o, uint64_t v)
{
    out32(o, (uint32_t)v);
    out32(o, (uint32_t)(v >> 32));
}

int kv_snap_encode_v3(const struct kv *kv, uint8_t **out, size_t *out_len)
{
    struct out o = {0};
    out_raw(&o, "VSNP", 4);
    out32(&o, 3);
    out64(&o, kv->applied_index);
    out64(&o, kv->applied_term);
    out32(&o, (uint32_t)kv->sessions.max);
    out32(&o, (uint32_t)kv->sessions.live.count);
    for (const struct kv_session *s = kv->sessions.live.oldest; s != NULL; s = s->newer) {
        uint8_t flag = s->has_current;
        out64(&o, s->client_id);
        out64(&o, s->seq);
        out_raw(&o, &s->result, 1);
        out_raw(&o, &flag, 1);
        if (flag) {
            out32(&o, s->current_len);
            out_raw(&o, s->current, s->current_len);
        }
    }
    out32(&o, (uint32_t)kv->sessions.expired.count);
    for (const struct kv_session *s = kv->sessions.expired.oldest; s != NULL; s = s->newer) {
        out64(&o, s->client_id);
        out64(&o, s->seq);
    }
    out64(&o, kv->map.count);
    struct kv_index_pos pos = kv_index_seek(&kv->map.index, NULL, 0);
    const struct kv_rec *r;
    while ((r = kv_map_next_sorted(&kv->map, &pos)) != NULL) {
        out32(&o, r->key_len);
        out32(&o, r->value_len);
        out_raw(&o, r->data, (size_t)r->key_len + r->value_len);
    }
    if (o.failed) {
        free(o.b);
        return -1;
    }
    *out = o.b;
    *out_len = o.len;
    return 0;
}

int kv_snap_encode_v2(const struct kv *kv, const void *members, uint32_t members_len, uint8_t **out,
                      size_t *out_len)
{
    uint8_t *v3;
    size_t v3_len;
    if (kv_snap_encode_v3(kv, &v3, &v3_len) != 0)
        return -1;
    if (v3_len < V3_HEADER_BYTES) {
        free(v3);
        return -1;
    }
    size_t len = v3_len + 4 + members_len + 4;
    uint8_t *b = malloc(len);
    if (b == NULL) {
        free(v3);
        return -1;
    }
    memcpy(b, v3, V3_HEADER_BYTES);
    put32(b + 4, 2);
    put32(b + V3_HEADER_BYTES, members_len);
    if (members_len > 0)
        memcpy(b + V3_HEADER_BYTES + 4, members, members_len);
    memcpy(b + V3_HEADER_BYTES + 4 + members_len, v3 + V3_HEADER_BYTES, v3_len - V3_HEADER_BYTES);
    put32(b + len - 4, crc32c(0, b, len - 4));
    free(v3);
    *out = b;
    *out_len = len;
    return 0;
}
