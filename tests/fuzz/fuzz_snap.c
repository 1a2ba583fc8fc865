/* fuzz_snap.c: libFuzzer target for both snapshot decoders.
 *
 * Byte 0 picks the decoder and whether the harness fixes the trailing CRC-32C first
 * (without the fix nearly every mutation dies at the checksum, which is correct but
 * leaves the length and duplicate checks behind it unfuzzed):
 *   0 / 1  kv_snap_decode (src/kv/kv_snap.c), raw / CRC fixed when the input says
 *          version 1 or 2 (version 3 has no CRC of its own: storage's covers it);
 *   2 / 3  st_snap_parse, the storage snapshot file header (src/storage/snapshot.c),
 *          raw / CRC fixed;
 *   4 / 5  backup_image_check (src/util/backup_file.c), raw / CRC fixed, then what
 *          `vesperd --restore` does with an accepted file: the embedded snapshot file
 *          and its kv payload.
 * Properties: a decoded state machine encodes (as the current version) and decodes
 * again to the same pairs, sessions and applied position; a parsed snapshot file's
 * sizes add up to the input and its payload lies inside it; an accepted backup's
 * header re-encodes to the same bytes and its state lies inside it.
 */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_snap.h"
#include "storage/internal.h"
#include "util/backup_file.h"
#include "util/crc32c.h"

static void check_same_kv(const struct kv *a, const struct kv *b)
{
    FUZZ_CHECK(a->applied_index == b->applied_index && a->applied_term == b->applied_term);
    FUZZ_CHECK(a->map.count == b->map.count && a->map.data_bytes == b->map.data_bytes);
    FUZZ_CHECK(a->sessions.live.count == b->sessions.live.count);
    FUZZ_CHECK(a->sessions.expired.count == b->sessions.expired.count);
    FUZZ_CHECK(kv_lease_count(a) == kv_lease_count(b) && kv_hist_count(a) == kv_hist_count(b));
    FUZZ_CHECK(kv_hist_oldest(a) == kv_hist_oldest(b));
    size_t cursor = 0;
    const struct kv_rec *r;
    while ((r = kv_map_next(&a->map, &cursor)) != NULL) {
        const struct kv_rec *o = kv_get(b, kv_rec_key(r), r->key_len);
        FUZZ_CHECK(o != NULL && o->value_len == r->value_len);
        FUZZ_CHECK(memcmp(kv_rec_value(o), kv_rec_value(r), r->value_len) == 0);
    }
}

static void fuzz_kv(const uint8_t *data, size_t size)
{
    struct kv *kv = NULL;
    char err[256];
    if (kv_snap_decode(data, size, &kv, err, sizeof err) != 0) {
        FUZZ_CHECK(kv == NULL);
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        return;
    }
    uint8_t *enc;
    size_t enc_len;
    FUZZ_CHECK(kv_snap_encode(kv, &enc, &enc_len) == 0);
    struct kv *back = NULL;
    int rc = kv_snap_decode(enc, enc_len, &back, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "re-decode: %s\n", err);
    FUZZ_CHECK(rc == 0);
    check_same_kv(kv, back);
    check_same_kv(back, kv);
    free(enc);
    kv_free(back);
    kv_free(kv);
}

static void fuzz_file(const uint8_t *data, size_t size)
{
    struct storage_snapshot meta;
    uint64_t off = 0;
    const char *why = st_snap_parse(data, size, &meta, &off);
    if (why != NULL)
        return;
    FUZZ_CHECK(meta.size == size && meta.index != 0);
    FUZZ_CHECK(off >= SNAP_HDR_BYTES && off + meta.len + 4 == size);
    FUZZ_CHECK(meta.conf.n <= RAFT_MAX_MEMBERS);
    for (uint32_t i = 0; i < meta.conf.n; i++)
        FUZZ_CHECK(memchr(meta.conf.m[i].addr, '\0', RAFT_ADDR_MAX) != NULL);
    /* The configuration codec round-trips what it accepted. */
    uint8_t buf[RAFT_MAX_MEMBERS * (7 + RAFT_ADDR_MAX) + 4];
    size_t n = st_snap_conf_encode(&meta.conf, buf, sizeof buf);
    FUZZ_CHECK(n <= sizeof buf);
    struct raft_conf back;
    FUZZ_CHECK(st_snap_conf_decode(&back, buf, n) == 0);
    FUZZ_CHECK(back.n == meta.conf.n);
}

static void fuzz_backup(const uint8_t *data, size_t size)
{
    struct backup_header h;
    uint64_t off;
    uint32_t crc;
    const char *why = NULL;
    if (backup_image_check(data, size, &h, &off, &crc, &why) != 0) {
        FUZZ_CHECK(why != NULL);
        return;
    }
    FUZZ_CHECK(off >= BACKUP_FIXED_BYTES + 4 && off <= BACKUP_HEADER_MAX);
    FUZZ_CHECK(off + h.state_bytes + 4 == size && h.n_members <= BACKUP_MAX_MEMBERS);
    for (uint32_t i = 0; i < h.n_members; i++)
        FUZZ_CHECK(memchr(h.m[i].addr, '\0', BACKUP_ADDR_MAX) != NULL);
    uint8_t hdr[BACKUP_HEADER_MAX];
    FUZZ_CHECK(backup_header_encode(&h, hdr) == off && memcmp(hdr, data, off) == 0);
    /* What a restore does next with the state. */
    struct storage_snapshot meta;
    uint64_t data_off;
    if (st_snap_parse(data + off, h.state_bytes, &meta, &data_off) == NULL)
        fuzz_kv(data + off + data_off, meta.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] & 7;
    size--;
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data + 1, size);
    /* Bytes 4..7 of a kv snapshot are its version; only 1 and 2 end in a CRC. */
    bool kv_has_crc =
        size >= 8 && copy[4] >= 1 && copy[4] <= 2 && copy[5] == 0 && copy[6] == 0 && copy[7] == 0;
    if ((mode & 1) && size >= 4 && (mode >= 2 || kv_has_crc)) { /* a backup's CRC too */
        uint32_t crc = crc32c(0, copy, size - 4);
        for (int i = 0; i < 4; i++)
            copy[size - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
    }
    if (mode < 2)
        fuzz_kv(copy, size);
    else if (mode < 4)
        fuzz_file(copy, size);
    else
        fuzz_backup(copy, size);
    free(copy);
    return 0;
}
