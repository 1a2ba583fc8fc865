/* record.c: encoding and checking WAL records (layout in record.h).
 *
 * Decoding never trusts a field before the CRC has checked it, except the length,
 * which is bounded first so that a flipped length bit can only make a record look
 * short or bad, never make the reader run past its buffer.
 */
#include "storage/record.h"

#include <string.h>

#include "util/crc32c.h"

void st_rec_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void st_rec_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t st_rec_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t st_rec_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int st_rec_is_entry(uint8_t type)
{
    return type == REC_NOOP || type == REC_NORMAL || type == REC_CONF;
}

static int rec_type_known(uint8_t type)
{
    return st_rec_is_entry(type) || type == REC_HARDSTATE || type == REC_MARK ||
           type == REC_SEGHDR || type == REC_DURABLE;
}

size_t st_rec_encode(uint8_t *dst, const struct rec *r)
{
    st_rec_put32(dst + 4, r->len);
    dst[8] = r->type;
    dst[9] = r->flags;
    dst[10] = 0;
    dst[11] = 0;
    st_rec_put32(dst + 12, r->aux);
    st_rec_put64(dst + 16, r->term);
    st_rec_put64(dst + 24, r->index);
    if (r->len)
        memcpy(dst + REC_HDR_BYTES, r->data, r->len);
    st_rec_put32(dst, crc32c(0, dst + 4, REC_HDR_BYTES - 4 + (size_t)r->len));
    return REC_HDR_BYTES + (size_t)r->len;
}

enum rec_status st_rec_decode(const uint8_t *buf, size_t avail, struct rec *r, size_t *size)
{
    if (avail < REC_HDR_BYTES)
        return REC_SHORT;
    uint32_t len = st_rec_get32(buf + 4);
    if (len > REC_MAX_PAYLOAD || !rec_type_known(buf[8]) || buf[10] || buf[11])
        return REC_BAD;
    if (avail - REC_HDR_BYTES < len)
        return REC_SHORT;
    if (crc32c(0, buf + 4, REC_HDR_BYTES - 4 + (size_t)len) != st_rec_get32(buf))
        return REC_BAD;
    r->len = len;
    r->type = buf[8];
    r->flags = buf[9];
    r->aux = st_rec_get32(buf + 12);
    r->term = st_rec_get64(buf + 16);
    r->index = st_rec_get64(buf + 24);
    r->data = len ? buf + REC_HDR_BYTES : NULL;
    *size = REC_HDR_BYTES + (size_t)len;
    return REC_OK;
}
