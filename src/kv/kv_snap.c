/* kv_snap.c: the streaming snapshot writer (format in kv_snap.h; the reader is
 * kv_snap_read.c, the lease and history sections kv_snap_ext.c).
 *
 * The writer batches fields into a 64 KiB buffer and hands it to the caller's
 * callback whenever it fills, so a snapshot never needs a second copy of the
 * state unless the caller collects one (kv_snap_encode). Everything is written
 * in an order that does not depend on the process's hash key (sessions by
 * recency, leases by id, pairs by key, events by revision), so equal states
 * give equal bytes on every replica.
 */
#include "kv/kv_snap.h"
#include "kv/kv_snap_int.h"

#include <stdlib.h>
#include <string.h>

static void out_flush(struct snap_out *o)
{
    if (o->used == 0 || o->failed)
        return;
    if (o->write_cb(o->ctx, o->buf, o->used) != 0)
        o->failed = 1;
    o->total += o->used;
    o->used = 0;
}

void snap_out_bytes(struct snap_out *o, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0 && !o->failed) {
        size_t room = SNAP_BUF_BYTES - o->used;
        size_t take = n < room ? n : room;
        memcpy(o->buf + o->used, b, take);
        o->used += take;
        b += take;
        n -= take;
        if (o->used == SNAP_BUF_BYTES)
            out_flush(o);
    }
}

void snap_out_u32(struct snap_out *o, uint32_t v)
{
    unsigned char b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    snap_out_bytes(o, b, 4);
}

void snap_out_u64(struct snap_out *o, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    snap_out_bytes(o, b, 8);
}

static void out_sessions(struct snap_out *o, const struct kv_sessions *ss)
{
    snap_out_u32(o, (uint32_t)ss->max);
    snap_out_u32(o, (uint32_t)ss->live.count);
    for (const struct kv_session *s = ss->live.oldest; s != NULL; s = s->newer) {
        uint8_t has_current = s->has_current;
        snap_out_u64(o, s->client_id);
        snap_out_u64(o, s->seq);
        snap_out_bytes(o, &s->result, 1);
        snap_out_bytes(o, &has_current, 1);
        if (has_current) {
            snap_out_u32(o, s->current_len);
            snap_out_bytes(o, s->current, s->current_len);
        }
        snap_out_u64(o, s->revision);
    }
    snap_out_u32(o, (uint32_t)ss->expired.count);
    for (const struct kv_session *s = ss->expired.oldest; s != NULL; s = s->newer) {
        snap_out_u64(o, s->client_id);
        snap_out_u64(o, s->seq);
    }
}

int kv_snap_write(const struct kv *kv, kv_snap_write_cb write_cb, void *ctx, uint64_t *size_bytes)
{
    struct snap_out *o = calloc(1, sizeof *o);
    if (o == NULL)
        return -1;
    o->write_cb = write_cb;
    o->ctx = ctx;
    snap_out_bytes(o, SNAP_MAGIC, 4);
    snap_out_u32(o, KV_SNAP_VERSION);
    snap_out_u64(o, kv->applied_index);
    snap_out_u64(o, kv->applied_term);
    snap_out_u64(o, kv->revision);
    out_sessions(o, &kv->sessions);
    snap_write_leases(o, kv);
    snap_out_u64(o, kv->map.count);
    /* Key order, not table order: the table depends on the process's hash key. */
    struct kv_index_pos pos = kv_index_seek(&kv->map.index, NULL, 0);
    const struct kv_rec *r;
    while (!o->failed && (r = kv_map_next_sorted(&kv->map, &pos)) != NULL) {
        snap_out_u32(o, r->key_len);
        snap_out_u32(o, r->value_len);
        snap_out_u64(o, r->create_revision);
        snap_out_u64(o, r->mod_revision);
        snap_out_u64(o, r->version);
        snap_out_u64(o, r->lease);
        snap_out_bytes(o, r->data, (size_t)r->key_len + r->value_len);
    }
    snap_write_hist(o, kv);
    out_flush(o);
    int rc = o->failed ? -1 : 0;
    if (rc == 0 && size_bytes != NULL)
        *size_bytes = o->total;
    free(o);
    return rc;
}

struct grow_buf {
    uint8_t *data;
    size_t len, cap;
};

static int grow_write_cb(void *ctx, const void *buf, size_t len)
{
    struct grow_buf *g = ctx;
    if (g->len + len > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->len + len)
            cap *= 2;
        uint8_t *d = realloc(g->data, cap);
        if (d == NULL)
            return -1;
        g->data = d;
        g->cap = cap;
    }
    memcpy(g->data + g->len, buf, len);
    g->len += len;
    return 0;
}

int kv_snap_encode(const struct kv *kv, uint8_t **out, size_t *out_len)
{
    struct grow_buf g = {0};
    if (kv_snap_write(kv, grow_write_cb, &g, NULL) != 0) {
        free(g.data);
        return -1;
    }
    *out = g.data;
    *out_len = g.len;
    return 0;
}
