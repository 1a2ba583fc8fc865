/* backup_file.c: encoding and checking of the backup file (layout in
 * backup_file.h). The header is small and fixed in shape; the state after it is
 * opaque here (vesperd's restore checks it again as a snapshot file), so the
 * checks are the ones that can be made without knowing the state machine: magic,
 * version, that the sizes add up to the file's length, and the trailing CRC. */
#include "util/backup_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/crc32c.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t backup_header_encode(const struct backup_header *h, uint8_t *buf)
{
    uint32_t n = h->n_members < BACKUP_MAX_MEMBERS ? h->n_members : BACKUP_MAX_MEMBERS;
    size_t off = BACKUP_FIXED_BYTES;
    put32(buf + off, n);
    off += 4;
    for (uint32_t i = 0; i < n; i++) {
        size_t alen = strnlen(h->m[i].addr, BACKUP_ADDR_MAX - 1);
        put32(buf + off, h->m[i].id);
        buf[off + 4] = h->m[i].voter ? 1 : 0;
        buf[off + 5] = (uint8_t)alen;
        buf[off + 6] = (uint8_t)(alen >> 8);
        memcpy(buf + off + 7, h->m[i].addr, alen);
        off += 7 + alen;
    }
    memcpy(buf, BACKUP_MAGIC, 8);
    put32(buf + 8, BACKUP_VERSION);
    put32(buf + 12, (uint32_t)off);
    put64(buf + 16, h->index);
    put64(buf + 24, h->term);
    put64(buf + 32, h->keys);
    put64(buf + 40, h->state_bytes);
    return off;
}

static const char *members_decode(const uint8_t *p, size_t len, struct backup_header *h)
{
    if (len < 4)
        return "membership cut short";
    uint32_t n = get32(p);
    if (n > BACKUP_MAX_MEMBERS)
        return "too many members";
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < 7)
            return "membership cut short";
        size_t alen = p[off + 5] | (size_t)p[off + 6] << 8;
        if (alen > BACKUP_ADDR_MAX - 1 || len - off - 7 < alen ||
            memchr(p + off + 7, '\0', alen) != NULL) /* a C string, as it re-encodes */
            return "bad member address";
        if (p[off + 4] > 1) /* voter 1, learner 0: anything else would not re-encode */
            return "bad member role";
        h->m[i].id = get32(p + off);
        h->m[i].voter = p[off + 4] != 0;
        memcpy(h->m[i].addr, p + off + 7, alen);
        h->m[i].addr[alen] = '\0';
        off += 7 + alen;
    }
    h->n_members = n;
    return off == len ? NULL : "membership does not fill the header";
}

size_t backup_header_decode(const uint8_t *buf, size_t len, struct backup_header *h,
                            const char **why)
{
    memset(h, 0, sizeof *h);
    *why = NULL;
    if (len < BACKUP_FIXED_BYTES)
        *why = "shorter than a header";
    else if (memcmp(buf, BACKUP_MAGIC, 8) != 0)
        *why = "not a Vesper backup (bad magic)";
    else if (get32(buf + 8) != BACKUP_VERSION)
        *why = "unsupported backup format version";
    if (*why)
        return 0;
    size_t hlen = get32(buf + 12);
    if (hlen < BACKUP_FIXED_BYTES + 4 || hlen > BACKUP_HEADER_MAX)
        *why = "bad header length";
    else if (hlen > len)
        *why = "shorter than its header";
    else
        *why = members_decode(buf + BACKUP_FIXED_BYTES, hlen - BACKUP_FIXED_BYTES, h);
    if (*why)
        return 0;
    h->index = get64(buf + 16);
    h->term = get64(buf + 24);
    h->keys = get64(buf + 32);
    h->state_bytes = get64(buf + 40);
    if (h->index == 0) {
        *why = "index 0";
        return 0;
    }
    return hlen;
}

int backup_image_check(const uint8_t *img, size_t len, struct backup_header *h, uint64_t *state_off,
                       uint32_t *crc, const char **why)
{
    size_t hlen = backup_header_decode(img, len, h, why);
    if (hlen == 0)
        return -1;
    if (h->state_bytes > len || hlen + h->state_bytes + 4 != len) {
        *why = len < hlen + h->state_bytes + 4 ? "truncated (shorter than its header says)"
                                               : "longer than its header says";
        return -1;
    }
    *crc = get32(img + len - 4);
    if (crc32c(0, img, len - 4) != *crc) {
        *why = "checksum mismatch (the file is damaged)";
        return -1;
    }
    *state_off = hlen;
    return 0;
}

static int verr(char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "%s: %s", path, why);
    return -1;
}

int backup_file_verify(const char *path, struct backup_header *h, uint32_t *crc, char *err,
                       size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return verr(err, errlen, path, strerror(errno));
    struct stat sb;
    uint8_t head[BACKUP_HEADER_MAX];
    size_t got = fread(head, 1, sizeof head, f);
    const char *why = NULL;
    size_t hlen = backup_header_decode(head, got, h, &why);
    if (hlen != 0 && fstat(fileno(f), &sb) != 0)
        why = strerror(errno);
    else if (hlen != 0 && (h->state_bytes > (uint64_t)sb.st_size ||
                           (uint64_t)sb.st_size != hlen + h->state_bytes + 4))
        why = (uint64_t)sb.st_size < hlen + h->state_bytes + 4
                  ? "truncated (shorter than its header says)"
                  : "longer than its header says";
    if (why) {
        fclose(f);
        return verr(err, errlen, path, why);
    }
    /* The CRC covers every byte but the last 4; read in chunks from the start. */
    uint64_t body = (uint64_t)sb.st_size - 4, done = 0;
    uint32_t c = 0;
    static uint8_t buf[1 << 16];
    rewind(f);
    while (done < body) {
        size_t want = body - done < sizeof buf ? (size_t)(body - done) : sizeof buf;
        if (fread(buf, 1, want, f) != want)
            break;
        c = crc32c(c, buf, want);
        done += want;
    }
    uint8_t tail[4];
    bool ok = done == body && fread(tail, 1, 4, f) == 4;
    fclose(f);
    if (!ok)
        return verr(err, errlen, path, "read error or file changed while reading");
    *crc = get32(tail);
    if (c != *crc)
        return verr(err, errlen, path, "checksum mismatch (the file is damaged)");
    return 0;
}
