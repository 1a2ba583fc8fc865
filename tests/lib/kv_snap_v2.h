/* kv_snap_v2.h: version 2 and 3 kv snapshot writers for tests (the node writes
 * version 4 only; the decoder must keep reading version 3, which has no
 * revisions, and version 2, which also carries a member list blob and a
 * trailing CRC-32C: see src/kv/kv_snap.h).
 */
#ifndef VESPER_TESTS_KV_SNAP_V2_H
#define VESPER_TESTS_KV_SNAP_V2_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

/* Encodes kv as version 3 (its revisions are left out) into a malloc'd buffer
 * (caller frees). 0 ok, -1 ENOMEM. */
int kv_snap_encode_v3(const struct kv *kv, uint8_t **out, size_t *out_len);

/* Encodes kv as version 2 with the given member list blob (members_len bytes,
 * may be 0) into a malloc'd buffer (caller frees). 0 ok, -1 ENOMEM. */
int kv_snap_encode_v2(const struct kv *kv, const void *members, uint32_t members_len, uint8_t **out,
                      size_t *out_len);

#endif
