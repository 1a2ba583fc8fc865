/* kv_snap_read.c: the validating snapshot reader (format in kv_snap.h).
 *
 * The reader pulls fields through the caller's read callback, checks each
 * length against a hard cap (and against the bytes left, when the input size is
 * known) before it allocates, and builds a private kv that only escapes once
 * the whole snapshot decoded (and, for versions 1 and 2, once their trailing
 * checksum matched).
 */
#include "kv/kv_snap.h"
#include "kv/kv_snap_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/crc32c.h"

int snap_in_fail(struct snap_in *in, const char *fmt, ...)
{
    if (in->err != NULL && in->err_len > 0) {
        int n = snprintf(in->err, in->err_len, "snapshot: ");
        va_list ap;
        va_start(ap, fmt);
        if (n > 0 && (size_t)n < in->err_len)
            vsnprintf(in->err + n, in->err_len - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int snap_in_bytes(struct snap_in *in, void *p, size_t n, const char *what)
{
    if (n == 0)
        return 0;
    if (n > in->left || in->read_cb(in->ctx, p, n) != 0)
        return snap_in_fail(in, "truncated in %s", what);
    if (in->left != UINT64_MAX)
        in->left -= n;
    if (in->version < 3) /* still 0 while the magic and version are read */
        in->crc = crc32c(in->crc, p, n);
    return 0;
}

int snap_in_u32(struct snap_in *in, uint32_t *v, const char *what)
{
    unsigned char b[4];
    if (snap_in_bytes(in, b, 4, what) != 0)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

int snap_in_u64(struct snap_in *in, uint64_t *v, const char *what)
{
    uint32_t lo, hi;
    if (snap_in_u32(in, &lo, what) != 0 || snap_in_u32(in, &hi, what) != 0)
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* Versions 1 and 2: the member list blob the format no longer carries, skipped. */
static int skip_members(struct snap_in *in)
{
    uint32_t len;
    if (snap_in_u32(in, &len, "header") != 0)
        return -1;
    if (len > KV_SNAP_MAX_MEMBERS || len > in->left)
        return snap_in_fail(in, "member list of %u bytes", len);
    uint8_t scratch[4096];
    while (len > 0) {
        uint32_t take = len < sizeof scratch ? len : (uint32_t)sizeof scratch;
        if (snap_in_bytes(in, scratch, take, "member list") != 0)
            return -1;
        len -= take;
    }
    return 0;
}

static int read_header(struct snap_in *in, struct kv **kvp)
{
    char magic[4];
    uint32_t version, max_sessions;
    uint64_t index, term;
    if (snap_in_bytes(in, magic, 4, "header") != 0)
        return -1;
    if (memcmp(magic, SNAP_MAGIC, 4) != 0)
        return snap_in_fail(in, "bad magic");
    if (snap_in_u32(in, &version, "header") != 0)
        return -1;
    if (version < KV_SNAP_VERSION_MIN || version > KV_SNAP_VERSION)
        return snap_in_fail(in, "unsupported version %u", version);
    in->version = version;
    if (snap_in_u64(in, &index, "header") != 0 || snap_in_u64(in, &term, "header") != 0)
        return -1;
    uint64_t revision = index; /* versions 1-3: see kv_snap.h */
    if (version >= 4 && snap_in_u64(in, &revision, "header") != 0)
        return -1;
    if (version <= 2 && skip_members(in) != 0)
        return -1;
    if (snap_in_u32(in, &max_sessions, "session header") != 0)
        return -1;
    if (max_sessions == 0 || max_sessions > KV_SNAP_MAX_SESSIONS)
        return snap_in_fail(in, "session table size %u", max_sessions);
    struct kv *kv = kv_new(max_sessions);
    if (kv == NULL)
        return snap_in_fail(in, "out of memory");
    kv->applied_index = index;
    kv->applied_term = term;
    kv->revision = revision;
    /* Before version 5 the watch window was not in snapshots: it starts empty here
     * (version 5 reads it after the pairs, kv_snap_ext.c). */
    kv_hist_reset(kv, revision);
    *kvp = kv;
    return 0;
}

/* The answer a failed CAS saw (version 2), copied into the session. */
static int read_answer(struct snap_in *in, uint32_t i, uint8_t *has_current, uint8_t **current,
                       uint32_t *len)
{
    *current = NULL;
    *len = 0;
    if (snap_in_bytes(in, has_current, 1, "sessions") != 0)
        return -1;
    if (*has_current > 1)
        return snap_in_fail(in, "session %u: answer flag %u", i, *has_current);
    if (!*has_current)
        return 0;
    if (snap_in_u32(in, len, "sessions") != 0)
        return -1;
    if (*len > KV_SNAP_MAX_VALUE || *len > in->left)
        return snap_in_fail(in, "session %u: answer of %u bytes", i, *len);
    if (*len == 0)
        return 0;
    if ((*current = malloc(*len)) == NULL)
        return snap_in_fail(in, "out of memory");
    if (snap_in_bytes(in, *current, *len, "sessions") != 0) {
        free(*current);
        *current = NULL;
        return -1;
    }
    return 0;
}

static int read_live_sessions(struct snap_in *in, struct kv *kv)
{
    uint32_t n;
    if (snap_in_u32(in, &n, "session header") != 0)
        return -1;
    if (n > kv->sessions.max)
        return snap_in_fail(in, "%u sessions exceed the table size %zu", n, kv->sessions.max);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id, seq;
        uint8_t result, has_current = 0, *current = NULL;
        uint32_t len = 0;
        if (snap_in_u64(in, &id, "sessions") != 0 || snap_in_u64(in, &seq, "sessions") != 0 ||
            snap_in_bytes(in, &result, 1, "sessions") != 0)
            return -1;
        if (in->version >= 2 && read_answer(in, i, &has_current, &current, &len) != 0)
            return -1;
        uint64_t rev = kv->revision;
        if (in->version >= 4 && snap_in_u64(in, &rev, "sessions") != 0) {
            free(current);
            return -1;
        }
        int rc = -1;
        /* Version 4 adds answers of transactions: KV_OK with the results; version 5
         * those of lease grants and keepalives (also KV_OK) and the lease statuses. */
        bool answer_ok = result == KV_CAS_MISMATCH || (in->version >= 4 && result == KV_OK);
        uint8_t max_result = in->version >= 5 ? KV_LEASE_EXISTS : KV_CAS_MISMATCH;
        if (seq == 0 || result > max_result || result == KV_STALE_SEQ || result == KV_BAD_COMMAND ||
            result == KV_ALREADY_APPLIED || result == KV_SESSION_EXPIRED ||
            (has_current && !answer_ok) || rev > kv->revision)
            snap_in_fail(in, "session %u: seq %llu status %u", i, (unsigned long long)seq, result);
        else if (kv_sessions_find(&kv->sessions, id) != NULL)
            snap_in_fail(in, "duplicate session %llu", (unsigned long long)id);
        else if (kv_sessions_record(&kv->sessions, id, seq, result, has_current, current, len) != 0)
            snap_in_fail(in, "out of memory");
        else
            rc = 0;
        if (rc == 0)
            kv_sessions_find(&kv->sessions, id)->revision = rev;
        free(current);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Version 2: the evicted sessions, oldest eviction first. */
static int read_expired_sessions(struct snap_in *in, struct kv *kv)
{
    uint32_t n;
    if (in->version < 2)
        return 0;
    if (snap_in_u32(in, &n, "expired sessions") != 0)
        return -1;
    if (n > kv->sessions.max)
        return snap_in_fail(in, "%u expired sessions exceed the table size %zu", n,
                            kv->sessions.max);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t id, seq;
        if (snap_in_u64(in, &id, "expired sessions") != 0 ||
            snap_in_u64(in, &seq, "expired sessions") != 0)
            return -1;
        if (seq == 0)
            return snap_in_fail(in, "expired session %u: seq 0", i);
        if (kv_sessions_add_expired(&kv->sessions, id, seq) != 0)
            return snap_in_fail(in, "expired session %llu duplicate or out of memory",
                                (unsigned long long)id);
    }
    return 0;
}

static int read_sessions(struct snap_in *in, struct kv *kv)
{
    if (read_live_sessions(in, kv) != 0)
        return -1;
    return read_expired_sessions(in, kv);
}

/* A key's revisions (version 4); older versions know none, so every key is
 * taken as written once at the snapshot's revision (its applied index). */
static int read_revisions(struct snap_in *in, const struct kv *kv, struct kv_rec *r, uint64_t i)
{
    if (in->version < 4) {
        if (kv->revision == 0) /* no write was applied, yet a key exists */
            return snap_in_fail(in, "pair %llu in a state at applied index 0",
                                (unsigned long long)i);
        r->create_revision = r->mod_revision = kv->revision;
        r->version = 1;
        return 0;
    }
    if (snap_in_u64(in, &r->create_revision, "pairs") != 0 ||
        snap_in_u64(in, &r->mod_revision, "pairs") != 0 ||
        snap_in_u64(in, &r->version, "pairs") != 0)
        return -1;
    if (in->version >= 5 && snap_in_u64(in, &r->lease, "pairs") != 0)
        return -1;
    if (r->lease != 0 && kv_lease_find(kv, r->lease) == NULL)
        return snap_in_fail(in, "pair %llu: unknown lease %llu", (unsigned long long)i,
                            (unsigned long long)r->lease);
    if (r->create_revision == 0 || r->create_revision > r->mod_revision ||
        r->mod_revision > kv->revision || r->version == 0)
        return snap_in_fail(in, "pair %llu: revisions %llu/%llu version %llu",
                            (unsigned long long)i, (unsigned long long)r->create_revision,
                            (unsigned long long)r->mod_revision, (unsigned long long)r->version);
    return 0;
}

static int read_pairs(struct snap_in *in, struct kv *kv)
{
    uint64_t n;
    if (snap_in_u64(in, &n, "pair count") != 0)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t klen, vlen;
        if (snap_in_u32(in, &klen, "pairs") != 0 || snap_in_u32(in, &vlen, "pairs") != 0)
            return -1;
        if (klen == 0 || klen > KV_SNAP_MAX_KEY || vlen > KV_SNAP_MAX_VALUE ||
            (uint64_t)klen + vlen > in->left)
            return snap_in_fail(in, "pair %llu: key %u bytes, value %u bytes",
                                (unsigned long long)i, klen, vlen);
        struct kv_rec *r = kv_rec_alloc(klen, vlen);
        if (r == NULL)
            return snap_in_fail(in, "out of memory");
        if (read_revisions(in, kv, r, i) != 0 ||
            snap_in_bytes(in, r->data, (size_t)klen + vlen, "pairs") != 0) {
            free(r);
            return -1;
        }
        uint64_t lease = r->lease;
        int rc = kv_map_adopt(&kv->map, r); /* frees r unless inserted */
        if (rc != 0)
            return snap_in_fail(in,
                                rc > 0 ? "duplicate key in pair %llu" : "out of memory (pair %llu)",
                                (unsigned long long)i);
        if (lease != 0 && kv_lease_restore_key(kv, lease, r->data, klen) != 0)
            return snap_in_fail(in, "pair %llu: lease %llu full or out of memory",
                                (unsigned long long)i, (unsigned long long)lease);
    }
    return 0;
}

static int snap_read(struct snap_in *in, struct kv **out)
{
    struct kv *kv = NULL;
    if (read_header(in, &kv) != 0)
        return -1;
    if (read_sessions(in, kv) != 0 || (in->version >= 5 && snap_read_leases(in, kv) != 0) ||
        read_pairs(in, kv) != 0 || (in->version >= 5 && snap_read_hist(in, kv) != 0))
        goto fail;
    if (in->version >= 3) { /* the storage snapshot file's CRC covers these bytes */
        *out = kv;
        return 0;
    }
    uint32_t computed = in->crc, stored;
    if (snap_in_u32(in, &stored, "checksum") != 0)
        goto fail;
    if (stored != computed) {
        snap_in_fail(in, "checksum mismatch (stored %08x, computed %08x)", stored, computed);
        goto fail;
    }
    *out = kv;
    return 0;
fail:
    kv_free(kv);
    return -1;
}

int kv_snap_read(kv_snap_read_cb read_cb, void *ctx, struct kv **out, char *err, size_t err_len)
{
    struct snap_in in = {read_cb, ctx, 0, UINT64_MAX, err, err_len, 0};
    return snap_read(&in, out);
}

struct buf_src {
    const uint8_t *p;
    size_t left;
};

static int buf_read_cb(void *ctx, void *buf, size_t len)
{
    struct buf_src *b = ctx;
    if (len > b->left)
        return -1;
    memcpy(buf, b->p, len);
    b->p += len;
    b->left -= len;
    return 0;
}

int kv_snap_decode(const uint8_t *buf, size_t len, struct kv **out, char *err, size_t err_len)
{
    struct buf_src src = {buf, len};
    struct snap_in in = {buf_read_cb, &src, 0, len, err, err_len, 0};
    struct kv *kv;
    if (snap_read(&in, &kv) != 0)
        return -1;
    if (src.left != 0) {
        kv_free(kv);
        return snap_in_fail(&in, "%zu trailing bytes", src.left);
    }
    *out = kv;
    return 0;
}
