/* kv_snap_int.h: what the files of the snapshot codec share and nothing else
 * sees: the buffered writer (kv_snap.c), the checked reader (kv_snap_read.c),
 * and the sections of version 5 both of them call (kv_snap_ext.c: the lease
 * table and the watch history window).
 */
#ifndef VESPER_KV_SNAP_INT_H
#define VESPER_KV_SNAP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv_snap.h"

#define SNAP_MAGIC     "VSNP"
#define SNAP_BUF_BYTES (64u * 1024)

struct snap_out {
    kv_snap_write_cb write_cb;
    void *ctx;
    uint64_t total;
    size_t used;
    int failed;
    unsigned char buf[SNAP_BUF_BYTES];
};

void snap_out_bytes(struct snap_out *o, const void *p, size_t n);
void snap_out_u32(struct snap_out *o, uint32_t v);
void snap_out_u64(struct snap_out *o, uint64_t v);

struct snap_in {
    kv_snap_read_cb read_cb;
    void *ctx;
    uint32_t crc;
    uint64_t left; /* bytes known to remain, UINT64_MAX when unknown */
    char *err;
    size_t err_len;
    uint32_t version; /* from the header */
};

/* Writes "snapshot: <reason>" to in->err; returns -1. */
__attribute__((format(printf, 2, 3))) int snap_in_fail(struct snap_in *in, const char *fmt, ...);
/* Reads n bytes (what names the section in the error); 0 or -1 with the error set. */
int snap_in_bytes(struct snap_in *in, void *p, size_t n, const char *what);
int snap_in_u32(struct snap_in *in, uint32_t *v, const char *what);
int snap_in_u64(struct snap_in *in, uint64_t *v, const char *what);

/* kv_snap_ext.c: the version 5 sections. The leases go before the pairs (whose
 * lease ids must name one), the history window after them. */
void snap_write_leases(struct snap_out *o, const struct kv *kv);
void snap_write_hist(struct snap_out *o, const struct kv *kv);
int snap_read_leases(struct snap_in *in, struct kv *kv);
int snap_read_hist(struct snap_in *in, struct kv *kv);

#endif
