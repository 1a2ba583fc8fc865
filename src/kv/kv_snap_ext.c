/* kv_snap_ext.c: the sections snapshot version 5 added (format in kv_snap.h):
 * the lease table, written before the pairs so that each pair's lease id can be
 * checked as it is read, and the watch history window, written after them so a
 * node restored from a snapshot serves watches from where its writer could.
 *
 * Both are written in a fixed order (leases by id, events by revision as held)
 * and read back with every field bounded and every ordering rule checked; the
 * keys attached to each lease are not written: they follow from the pairs.
 */
#include "kv/kv_snap_int.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

void snap_write_leases(struct snap_out *o, const struct kv *kv)
{
    snap_out_u64(o, kv->leases.next_id);
    snap_out_u64(o, kv_lease_count(kv));
    for (size_t i = 0; i < kv_lease_count(kv); i++) {
        const struct kv_lease *l = kv_lease_at(kv, i);
        snap_out_u64(o, l->id);
        snap_out_u64(o, l->ttl_s);
        snap_out_u64(o, l->renewed_index);
    }
}

int snap_read_leases(struct snap_in *in, struct kv *kv)
{
    uint64_t next_id, n, prev = 0;
    if (snap_in_u64(in, &next_id, "leases") != 0 || snap_in_u64(in, &n, "leases") != 0)
        return -1;
    if (next_id > KV_LEASE_MAX_ID)
        return snap_in_fail(in, "next lease id %llu", (unsigned long long)next_id);
    kv->leases.next_id = next_id;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id, ttl, renewed;
        if (snap_in_u64(in, &id, "leases") != 0 || snap_in_u64(in, &ttl, "leases") != 0 ||
            snap_in_u64(in, &renewed, "leases") != 0)
            return -1;
        if (id <= prev || id > KV_LEASE_MAX_ID || ttl == 0 || ttl > KV_LEASE_MAX_TTL ||
            renewed > kv->applied_index)
            return snap_in_fail(in, "lease %llu: id %llu ttl %llu renewed at %llu",
                                (unsigned long long)i, (unsigned long long)id,
                                (unsigned long long)ttl, (unsigned long long)renewed);
        if (kv_lease_restore(kv, id, ttl, renewed) != 0)
            return snap_in_fail(in, "out of memory (lease %llu)", (unsigned long long)i);
        prev = id;
    }
    return 0;
}

void snap_write_hist(struct snap_out *o, const struct kv *kv)
{
    snap_out_u64(o, kv->hist.compacted);
    snap_out_u64(o, kv_hist_count(kv));
    for (size_t i = 0; i < kv_hist_count(kv); i++) {
        const struct kv_event *e = kv_hist_at(kv, i);
        snap_out_u64(o, e->revision);
        snap_out_u64(o, e->create_revision);
        snap_out_u64(o, e->version);
        snap_out_bytes(o, &e->type, 1);
        snap_out_u32(o, e->key_len);
        snap_out_u32(o, e->value_len);
        snap_out_bytes(o, e->data, (size_t)e->key_len + e->value_len);
    }
}

/* One event's header; checks it against the previous event's revision. */
static int read_event_head(struct snap_in *in, const struct kv *kv, uint64_t i, uint64_t prev,
                           struct kv_event *e)
{
    if (snap_in_u64(in, &e->revision, "history") != 0 ||
        snap_in_u64(in, &e->create_revision, "history") != 0 ||
        snap_in_u64(in, &e->version, "history") != 0 ||
        snap_in_bytes(in, &e->type, 1, "history") != 0 ||
        snap_in_u32(in, &e->key_len, "history") != 0 ||
        snap_in_u32(in, &e->value_len, "history") != 0)
        return -1;
    bool put = e->type == KV_EVENT_PUT;
    bool ok = e->revision > prev && e->revision <= kv->revision && e->key_len > 0 &&
              e->key_len <= KV_SNAP_MAX_KEY && e->value_len <= KV_SNAP_MAX_VALUE &&
              (uint64_t)e->key_len + e->value_len <= in->left;
    if (put)
        ok = ok && e->create_revision >= 1 && e->create_revision <= e->revision && e->version >= 1;
    else
        ok = ok && e->type == KV_EVENT_DELETE && e->create_revision == 0 && e->version == 0 &&
             e->value_len == 0;
    if (!ok)
        return snap_in_fail(in, "history event %llu: type %u revision %llu", (unsigned long long)i,
                            e->type, (unsigned long long)e->revision);
    return 0;
}

int snap_read_hist(struct snap_in *in, struct kv *kv)
{
    uint64_t compacted, n;
    if (snap_in_u64(in, &compacted, "history") != 0 || snap_in_u64(in, &n, "history") != 0)
        return -1;
    if (compacted > kv->revision)
        return snap_in_fail(in, "history compacted at %llu past revision %llu",
                            (unsigned long long)compacted, (unsigned long long)kv->revision);
    kv_hist_reset(kv, compacted);
    uint64_t prev = compacted; /* events of one revision share it: strictly after compacted */
    for (uint64_t i = 0; i < n; i++) {
        struct kv_event e;
        if (read_event_head(in, kv, i, prev ? prev - 1 : 0, &e) != 0)
            return -1;
        if (i == 0 && e.revision <= compacted)
            return snap_in_fail(in, "history event 0 at %llu, compacted at %llu",
                                (unsigned long long)e.revision, (unsigned long long)compacted);
        size_t len = (size_t)e.key_len + e.value_len;
        uint8_t *data = malloc(len);
        if (data == NULL)
            return snap_in_fail(in, "out of memory (history event %llu)", (unsigned long long)i);
        int rc = snap_in_bytes(in, data, len, "history");
        if (rc == 0 && kv_hist_restore(kv, &e, data, data + e.key_len) != 0)
            rc = snap_in_fail(in, "out of memory (history event %llu)", (unsigned long long)i);
        free(data);
        if (rc != 0)
            return -1;
        prev = e.revision;
    }
    return 0;
}
