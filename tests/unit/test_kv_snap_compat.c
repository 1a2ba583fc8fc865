/* test_kv_snap_compat.c: the snapshot decoder still reads versions 1 to 3
 * (a version 2 snapshot carries a member list, skipped, and a trailing CRC-32C,
 * checked; none before version 4 has revisions), so a node upgraded in place
 * recovers the snapshots it already has.
 */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "lib/kv_put.h"
#include "lib/kv_snap_v2.h"
#include "lib/test.h"
#include "util/crc32c.h"

static struct kv *sample(void)
{
    struct kv *kv = kv_new(4);
    if (kv == NULL)
        abort();
    kv_test_put(kv, "k1", 2, "v1", 2, 9, 1);
    kv_test_put(kv, "k2", 2, "v22", 3, 0, 0);
    kv_test_put(kv, "k3", 2, "", 0, 11, 4);
    return kv;
}

/* Applied position, pairs and live sessions (in LRU order) agree. */
static int same_state(const struct kv *a, const struct kv *b)
{
    if (a->applied_index != b->applied_index || a->applied_term != b->applied_term ||
        a->map.count != b->map.count || a->sessions.max != b->sessions.max)
        return 0;
    size_t cur = 0;
    const struct kv_rec *r;
    while ((r = kv_map_next(&a->map, &cur)) != NULL) {
        const struct kv_rec *o = kv_get(b, kv_rec_key(r), r->key_len);
        if (o == NULL || o->value_len != r->value_len ||
            memcmp(kv_rec_value(o), kv_rec_value(r), r->value_len) != 0)
            return 0;
    }
    const struct kv_session *x = a->sessions.live.oldest, *y = b->sessions.live.oldest;
    for (; x && y; x = x->newer, y = y->newer)
        if (x->client_id != y->client_id || x->seq != y->seq || x->result != y->result)
            return 0;
    return x == NULL && y == NULL;
}

struct src {
    const uint8_t *p;
    size_t left;
};

static int src_read(void *ctx, void *buf, size_t n)
{
    struct src *s = ctx;
    if (n > s->left)
        return -1;
    memcpy(buf, s->p, n);
    s->p += n;
    s->left -= n;
    return 0;
}

/* Rewrites the trailing CRC so a crafted body passes the checksum. */
static void reseal(uint8_t *buf, size_t len)
{
    uint32_t crc = crc32c(0, buf, len - 4);
    for (int i = 0; i < 4; i++)
        buf[len - 4 + i] = (uint8_t)(crc >> (8 * i));
}

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Version 2 carries its own CRC: every flipped bit and every cut is refused. */
TEST(snap_v2_rejects_every_flip_and_truncation)
{
    struct kv *a = sample();
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode_v2(a, "m", 1, &buf, &len) == 0);
    struct kv *b = (struct kv *)&b; /* must stay untouched on failure */
    struct kv *sentinel = b;
    char err[128];
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
            CHECK(b == sentinel && strncmp(err, "snapshot: ", 10) == 0);
            buf[i] ^= (uint8_t)(1u << bit);
        }
    }
    for (size_t cut = 0; cut < len; cut++)
        CHECK(kv_snap_decode(buf, cut, &b, err, sizeof err) == -1);
    uint8_t *longer = malloc(len + 1);
    CHECK(longer != NULL);
    memcpy(longer, buf, len);
    longer[len] = 0;
    CHECK(kv_snap_decode(longer, len + 1, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "trailing") != NULL);
    free(longer);
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == 0);
    kv_free(b);
    free(buf);
    kv_free(a);
}

/* A version 3 snapshot has no revisions: the store revision becomes the applied
 * index and every key reads as written once then; writes after it continue. */
TEST(snap_reads_version_3_revisions_from_applied_index)
{
    struct kv *a = sample();
    kv_test_put(a, "k1", 2, "v1b", 3, 0, 0);
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode_v3(a, &buf, &len) == 0);
    CHECK_EQ_U64(buf[4], 3);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == 0);
    CHECK(same_state(a, b));
    CHECK_EQ_U64(kv_revision(b), a->applied_index);
    const struct kv_rec *r = kv_get(b, "k1", 2);
    CHECK(r != NULL && r->create_revision == 4 && r->mod_revision == 4 && r->version == 1);
    CHECK_EQ_U64(kv_sessions_find(&b->sessions, 9)->revision, 4);
    kv_test_put(b, "k1", 2, "x", 1, 0, 0);
    r = kv_get(b, "k1", 2);
    CHECK(r != NULL && r->create_revision == 4 && r->mod_revision == 5 && r->version == 2);
    CHECK_EQ_U64(kv_revision(b), 5);
    free(buf);
    kv_free(a);
    kv_free(b);
}

/* A version 1 snapshot (no stored CAS values, no expired sessions) still loads. */
TEST(snap_reads_version_1)
{
    uint8_t buf[4 + 4 + 8 + 8 + 4 + 4 + 4 + 17 + 8 + 4] = {0};
    memcpy(buf, "VSNP", 4);
    le32(buf + 4, 1);
    buf[8] = 7;  /* applied index */
    buf[16] = 2; /* applied term */
    le32(buf + 28, 4);
    le32(buf + 32, 1);
    buf[36] = 9; /* client 9 */
    buf[44] = 3; /* seq 3 */
    buf[52] = KV_NOT_FOUND;
    reseal(buf, sizeof buf);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, sizeof buf, &b, err, sizeof err) == 0);
    CHECK_EQ_U64(b->applied_index, 7);
    CHECK_EQ_U64(b->sessions.live.count, 1);
    CHECK_EQ_U64(b->sessions.expired.count, 0);
    const struct kv_session *s = kv_sessions_find(&b->sessions, 9);
    CHECK(s != NULL && s->seq == 3 && s->result == KV_NOT_FOUND && !s->has_current);
    kv_free(b);
}

/* A version 2 snapshot (written before the member list and the CRC were dropped)
 * still loads: the member list is skipped, the CRC checked. */
TEST(snap_reads_version_2)
{
    struct kv *a = sample();
    static uint8_t members[5000]; /* longer than the reader's scratch buffer */
    memset(members, 'm', sizeof members);
    uint8_t *buf;
    size_t len;
    CHECK(kv_snap_encode_v2(a, members, sizeof members, &buf, &len) == 0);
    CHECK_EQ_U64(buf[4], 2);
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == 0);
    CHECK(same_state(a, b));
    /* Re-encoding writes the current version: no member list, no CRC, revisions,
     * leases (none: 16 bytes, and 8 per pair) and the history window (empty: 16). */
    uint8_t *now;
    size_t now_len;
    CHECK(kv_snap_encode(b, &now, &now_len) == 0);
    CHECK_EQ_U64(now[4], KV_SNAP_VERSION);
    CHECK_EQ_U64(now_len, len - 4 - sizeof members - 4 + 8 + 32 * a->map.count +
                              8 * a->sessions.live.count + 16 + 16);
    free(now);
    kv_free(b);
    /* The streaming reader takes it too. */
    struct src in = {buf, len};
    CHECK(kv_snap_read(src_read, &in, &b, err, sizeof err) == 0);
    CHECK(same_state(a, b));
    kv_free(b);
    /* A flip inside the skipped member list still fails the CRC. */
    buf[24 + 4 + 100] ^= 1;
    b = NULL;
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    CHECK(b == NULL && strstr(err, "checksum mismatch") != NULL);
    buf[24 + 4 + 100] ^= 1;
    /* An oversized member list is refused before anything is read. */
    le32(buf + 24, KV_SNAP_MAX_MEMBERS + 1);
    CHECK(kv_snap_decode(buf, len, &b, err, sizeof err) == -1);
    CHECK(strstr(err, "member list") != NULL);
    free(buf);
    kv_free(a);
}

/* Reads back a fixed version 2 sample (the bytes the version 2 encoder wrote):
 * applied (5, 3), session table 4, no sessions, members "ab", pair "k" = "v". */
TEST(snap_reads_committed_version_2_sample)
{
    static const uint8_t v2[] = {
        'V',  'S',  'N',  'P',  2,   0,   0, 0,                             /* magic, version */
        5,    0,    0,    0,    0,   0,   0, 0, 3,   0,   0, 0, 0, 0, 0, 0, /* index, term */
        2,    0,    0,    0,    'a', 'b',                                   /* members */
        4,    0,    0,    0,    0,   0,   0, 0, 0,   0,   0, 0,             /* max, live, expired */
        1,    0,    0,    0,    0,   0,   0, 0,                             /* one pair */
        1,    0,    0,    0,    1,   0,   0, 0, 'k', 'v',                   /* "k" = "v" */
        0x89, 0x62, 0x0e, 0xf4,                                             /* CRC-32C */
    };
    struct kv *b = NULL;
    char err[128];
    CHECK(kv_snap_decode(v2, sizeof v2, &b, err, sizeof err) == 0);
    CHECK_EQ_U64(b->applied_index, 5);
    CHECK_EQ_U64(b->applied_term, 3);
    CHECK_EQ_U64(b->sessions.max, 4);
    const struct kv_rec *r = kv_get(b, "k", 1);
    CHECK(r != NULL && r->value_len == 1 && kv_rec_value(r)[0] == 'v');
    kv_free(b);
}
