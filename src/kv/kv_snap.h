/* kv_snap.h: snapshot encoding of the whole state machine.
 *
 * Format (version 5), integers little-endian:
 *   "VSNP"  u32 version  u64 applied_index  u64 applied_term  u64 revision
 *   u32 max_sessions, u32 n_sessions, n x (u64 client_id, u64 seq, u8 status,
 *       u8 has_current, [u32 len, bytes: the value a failed CAS saw or the
 *       results of a transaction or the answer of a lease grant or keepalive,
 *       if has_current], u64 revision it reported)
 *       (least recently used first, so decoding restores the LRU order)
 *   u32 n_expired, n x (u64 client_id, u64 seq)  (evicted sessions, oldest first)
 *   u64 next_lease_id, u64 n_leases, n x (u64 id, u64 ttl_s, u64 renewed_index)
 *       (in increasing id order; kv_lease.h)
 *   u64 n_pairs, n x (u32 key_len, u32 value_len, u64 create_revision,
 *       u64 mod_revision, u64 version, u64 lease (0: none), key, value)
 *       (written in key order, so equal states give equal bytes on every replica;
 *       the reader accepts any order; a lease must be in the lease table)
 *   u64 compacted, u64 n_events, n x (u64 revision, u64 create_revision,
 *       u64 version, u8 type, u32 key_len, u32 value_len, key, value)
 *       (the watch history window, kv_hist.h, oldest first)
 *
 * Older versions, still read, no longer written. None of them has leases or
 * the history window (it starts empty at the snapshot's revision).
 * - Version 4 is version 5 without the lease table, the pairs' lease and the
 *   history window.
 * None of versions 1 to 3 has revisions:
 * the store revision is taken to be the applied index (an upper bound of the
 * writes before it, so revisions keep growing), every key was created and last
 * written at that revision with version 1, and every session reported it.
 * - Version 3 is version 4 without the revisions.
 * - Version 2 has, after applied_term, a member list (u32 members_len, blob),
 *   which the reader skips (membership lives in the storage snapshot header),
 *   and ends with a u32 CRC-32C of every preceding byte, which the reader checks.
 * - Version 1 is version 2 without has_current and the expired list: such a
 *   state restores with no stored CAS answers and no expired ids.
 *
 * Integrity: versions 3 to 5 carry no checksum of its own. Its bytes only ever reach
 * the decoder as the payload of a storage snapshot file (src/storage/snapshot.c),
 * whose trailing CRC-32C covers header, configuration and exactly this payload,
 * and which storage verifies on every path that hands the payload out: loading
 * the newest snapshot at start-up and at a reload (st_snap_load_file from
 * recovery), and installing a received one (storage_snapshot_recv_finish reads
 * the whole file back and checks it before the rename). The decoder still
 * bounds every length and rejects malformed structure, so damaged input that
 * somehow got past storage yields an error, never a crash; but a flipped bit
 * inside a value decodes as a different value. A caller decoding bytes from
 * anywhere else must check them first. See docs/storage-format.md.
 *
 * kv_snap_write() streams through a write callback in 64 KiB chunks and needs
 * no second copy of the state: the node takes a snapshot that way, straight into
 * the file (storage_snapshot_append). kv_snap_encode() collects that stream into
 * one buffer, which IS a second copy (tests and tools use it). The node installs
 * from a loaded copy of the file (kv_snap_decode on the payload storage read), so
 * installing a snapshot holds the state twice in memory for a moment. Decoding builds a NEW
 * struct kv and hands it over only after the whole input decoded (and, for
 * versions 1 and 2, the checksum matched): the live state is never touched by a
 * bad snapshot. The decoder bounds every length before allocating and rejects
 * duplicates, so malformed input yields an error, never a crash.
 *
 * Ownership: callbacks receive borrowed buffers valid for the call only. A
 * decoded struct kv belongs to the caller (kv_free).
 */
#ifndef VESPER_KV_SNAP_H
#define VESPER_KV_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

#define KV_SNAP_VERSION      5
#define KV_SNAP_VERSION_MIN  1                 /* oldest version the decoder accepts */
#define KV_SNAP_MAX_MEMBERS  (1u << 20)        /* member blob bytes (versions 1, 2) */
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
 * in err ("snapshot: truncated in pairs", "snapshot: checksum mismatch ...")
 * and *out untouched. */
int kv_snap_read(kv_snap_read_cb read_cb, void *ctx, struct kv **out, char *err, size_t err_len);
/* Decodes buf; additionally requires that the snapshot spans all len bytes. */
int kv_snap_decode(const uint8_t *buf, size_t len, struct kv **out, char *err, size_t err_len);

#endif
