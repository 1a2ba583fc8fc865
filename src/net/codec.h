/* codec.h: the binary wire format of struct raft_msg and of a batch of them.
 *
 * Pure: no I/O, no h2o. The transport sends one batch per HTTP request body:
 *
 *   batch   = u8 version (CODEC_VERSION) | u32 count | count * (u32 len | msg)
 *   msg     = u8 type | u8 flags | u32 from | u32 to | u16 present
 *             | one u64 per bit set in present (index, log_term, commit, hint_index,
 *               seq, snap_index, snap_term, snap_size, offset; zero fields omitted)
 *             | [APPEND]   u32 n_entries | n * (u64 term | u64 index | u8 type
 *                                               | u32 len | len bytes)
 *             | [flags & CONF] u32 conf_len | raft_conf_encode() bytes
 *             | [SNAPSHOT] u32 len | len bytes of chunk data
 *
 * All integers little-endian. term is the first field of `present` (bit 0) so a
 * term-0 message costs nothing extra. Every length is checked against the bytes
 * left before it is used; malformed input yields RAFT_ECORRUPT, never a crash or
 * an over-read.
 *
 * Errors are the core's codes (RAFT_OK, RAFT_ECORRUPT, RAFT_ENOMEM, RAFT_EINVAL):
 * the codec is the wire form of the core's types, so it shares their error table.
 */
#ifndef VESPER_NET_CODEC_H
#define VESPER_NET_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "raft/raft.h"

#define CODEC_VERSION            1
#define CODEC_BATCH_HEADER_BYTES 5           /* version + count */
#define CODEC_MSG_MAX_BYTES      (64u << 20) /* one encoded message */
#define CODEC_BATCH_MAX_MSGS     65536       /* messages in one batch */
#define CODEC_CONF_MAX_BYTES     (64u << 10) /* an encoded configuration */

/* A growable output buffer. Owns p (free with codec_buf_free). */
struct codec_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

void codec_buf_init(struct codec_buf *b);
void codec_buf_free(struct codec_buf *b);
/* Makes room for extra more bytes. RAFT_OK or RAFT_ENOMEM. */
int codec_buf_reserve(struct codec_buf *b, size_t extra);

/* Exact encoded size of m (without the batch's u32 length prefix). 0 when m cannot
 * be encoded: unknown type, data NULL with len > 0, or too large. */
size_t codec_msg_size(const struct raft_msg *m);
/* Appends m to b. RAFT_OK, RAFT_EINVAL (see codec_msg_size) or RAFT_ENOMEM; on
 * error b is unchanged. m is only read. */
int codec_msg_encode(struct codec_buf *b, const struct raft_msg *m);

/* Scratch memory a decoded message points into, reused across messages: the
 * entries array and the configuration. Owns both (free with codec_scratch_free). */
struct codec_scratch {
    struct raft_entry *entries;
    uint32_t cap;
    struct raft_conf conf;
};

void codec_scratch_init(struct codec_scratch *s);
void codec_scratch_free(struct codec_scratch *s);

/* Decodes exactly len bytes into *m. On RAFT_OK, m->entries and m->conf point into
 * s and every entry's data and m->data point into buf (zero-copy: the core copies
 * what it keeps during raft_step, which never writes through them). All of it is
 * valid until buf changes or s is reused. RAFT_ECORRUPT or RAFT_ENOMEM otherwise. */
int codec_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m, struct codec_scratch *s);

/* ===== Batches ===== */

/* Starts a batch in b (b->len must be 0). RAFT_OK or RAFT_ENOMEM. */
int codec_batch_begin(struct codec_buf *b);
/* Appends one length-prefixed message and bumps the count. RAFT_OK, RAFT_EINVAL
 * (unencodable message or batch full) or RAFT_ENOMEM; on error b is unchanged. */
int codec_batch_add(struct codec_buf *b, const struct raft_msg *m);
/* Number of messages in a batch begun in b. */
uint32_t codec_batch_count(const struct codec_buf *b);

/* Walks a received batch without copying. buf is borrowed for the walk. */
struct codec_batch_iter {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    uint32_t count;
    uint32_t seen;
};

/* RAFT_OK, or RAFT_ECORRUPT for a wrong version, a bad count or a short header. */
int codec_batch_iter_init(struct codec_batch_iter *it, const uint8_t *buf, size_t len);
/* Returns 1 and the next message in *m (see codec_msg_decode for lifetimes), 0 at
 * the end, or a negative -RAFT_ECORRUPT / -RAFT_ENOMEM; after an error the walk
 * stops (the messages already returned stay valid). Trailing bytes after the
 * last message are corruption. */
int codec_batch_next(struct codec_batch_iter *it, struct raft_msg *m, struct codec_scratch *s);

#endif
