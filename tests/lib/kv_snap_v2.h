/* kv_snap_v2.h: a version 2 kv snapshot writer for tests (the node writes version
 * 3 only; the decoder must keep reading version 2, which carries a member list
 * blob and a trailing CRC-32C: see src/kv/kv_snap.h).
 */
#ifndef VESPER_TESTS_KV_SNAP_V2_H
#define VESPER_TESTS_KV_SNAP_V2_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

/* Encodes kv as version 2 with the given member list blob (members_len bytes,
 * may be 0) into a malloc'd buffer (caller frees). 0 ok, -1 ENOMEM. */
int kv_snap_encode_v2(const struct kv *kv, const void *members, uint32_t members_len, uint8_t **out,
                      size_t *out_len);

#endif
