/* kv_snap_v2.c: builds a version 2 kv snapshot from the version 3 encoding.
 *
 * The two versions share everything but three things: the version field, the
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

int kv_snap_encode_v2(const struct kv *kv, const void *members, uint32_t members_len, uint8_t **out,
                      size_t *out_len)
{
    uint8_t *v3;
    size_t v3_len;
    if (kv_snap_encode(kv, &v3, &v3_len) != 0)
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
