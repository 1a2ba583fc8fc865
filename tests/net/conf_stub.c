/* conf_stub.c: stand-ins for raft_conf_encode/raft_conf_decode.
 *
 * The codec calls the core's configuration encoding, which is being written in
 * parallel in src/raft/. Until a core file defines it, mk/30-net.mk links this
 * file instead (it greps for the definition). Format here:
 * u32 n | n * (u32 id | u8 voter | u8 addr_len | addr bytes), little-endian.
 */
#include <string.h>

#include "raft/raft.h"

size_t raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap)
{
    size_t need = 4;
    for (uint32_t i = 0; i < c->n; i++)
        need += 6 + strnlen(c->m[i].addr, RAFT_ADDR_MAX - 1);
    if (need > cap)
        return need;
    uint8_t *p = buf;
    memcpy(p, &c->n, 4);
    p += 4;
    for (uint32_t i = 0; i < c->n; i++) {
        uint8_t len = (uint8_t)strnlen(c->m[i].addr, RAFT_ADDR_MAX - 1);
        memcpy(p, &c->m[i].id, 4);
        p[4] = c->m[i].voter;
        p[5] = len;
        memcpy(p + 6, c->m[i].addr, len);
        p += 6 + len;
    }
    return need;
}

int raft_conf_decode(struct raft_conf *c, const uint8_t *buf, size_t len)
{
    memset(c, 0, sizeof *c);
    if (len < 4)
        return RAFT_ECORRUPT;
    memcpy(&c->n, buf, 4);
    size_t pos = 4;
    if (c->n > RAFT_MAX_MEMBERS)
        return RAFT_ECORRUPT;
    for (uint32_t i = 0; i < c->n; i++) {
        if (len - pos < 6 || buf[pos + 5] >= RAFT_ADDR_MAX || buf[pos + 4] > 1 ||
            len - pos - 6 < buf[pos + 5])
            return RAFT_ECORRUPT;
        memcpy(&c->m[i].id, buf + pos, 4);
        c->m[i].voter = buf[pos + 4];
        memcpy(c->m[i].addr, buf + pos + 6, buf[pos + 5]);
        pos += 6 + buf[pos + 5];
    }
    return pos == len ? RAFT_OK : RAFT_ECORRUPT;
}
