/* kv_snap.h: snapshot encoding of the whole state machine.
 *
 * Format (version 1), integers little-endian:
 *   "VSNP"  u32 version  u64 applied_index  u64 applied_term
 *   u32 members_len, members blob
 *   u32 max_sessions, u32 n_sessions, n x (u64 client_id, u64 seq, u8 status)
 *       (least recently used first, so decoding restores the LRU order)
 *   u64 n_pairs, n x (u32 key_len, u32 value_len, key, value)
 *   u32 CRC-32C of every preceding byte
 *
 * kv_snap_write() streams through a write callback in 64 KiB chunks and needs
 * no second copy of the state. kv_snap_encode() collects that stream into one
 * buffer, which IS a second copy: the node uses it to take a snapshot (the
 * buffer goes to storage_snapshot_save), and installs from a loaded copy of the
 * file (kv_snap_decode on the payload storage read), so taking or installing a
 * snapshot holds the state twice in memory for a moment. Decoding builds a NEW
 * struct kv and
 * hands it over only after the checksum matched: the live state is never
 * touched by a bad snapshot. The decoder bounds every length before allocating
 * and rejects duplicates, so malformed input yields an error, never a crash.
 *
 * Ownership: callbacks receive borrowed buffers valid for the call only. A
 * decoded struct kv belongs to the caller (kv_free).
 */
#ifndef VESPER_KV_SNAP_H
#define VESPER_KV_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

#define KV_SNAP_VERSION      1
#define KV_SNAP_MAX_MEMBERS  KV_MEMBERS_MAX    /* member blob bytes */
#define KV_SNAP_MAX_SESSIONS KV_SESSIONS_LIMIT /* session table size */
#define KV_SNAP_MAX_KEY      (1u << 24)        /* bytes per key */
#define KV_SNAP_MAX_VALUE    (1u << 30)        /* bytes per value */

/* Writes all len bytes; 0 ok, -1 error (the encoder stops and returns -1). */
typedef int (*kv_snap_write_cb)(void *ctx, const void *buf, size_t len);
/* Reads exactly len bytes into buf; 0 ok, -1 error or end of input. */
typedef int (*kv_snap_read_cb)(void *ctx, void *buf, size_t len);

/* Streams kv's snapshot to write_cb. 0 ok, -1 write error or ENOMEM.
 * *size_bytes (if not NULL) gets the total size written. */
int kv_snap_write(const struct kv *kv, kv_snap_write_cb write_cb, void *ctx, uint64_t *size_bytes);
/* Encodes into a malloc'd buffer (caller frees). 0 ok, -1 ENOMEM. */
int kv_snap_encode(const struct kv *kv, uint8_t **out, size_t *out_len);

/* Decodes a snapshot from read_cb into a new kv (*out). 0 ok; -1 with a reason
 * in err ("snapshot: checksum mismatch ...") and *out untouched. */
int kv_snap_read(kv_snap_read_cb read_cb, void *ctx, struct kv **out, char *err, size_t err_len);
/* Decodes buf; additionally requires that the snapshot spans all len bytes. */
int kv_snap_decode(const uint8_t *buf, size_t len, struct kv **out, char *err, size_t err_len);

#endif
