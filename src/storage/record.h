/* record.h: the WAL record, the unit of everything the log stores.
 *
 *   off  size  field
 *     0     4  crc    CRC-32C of bytes [4, 32 + len): covers length and header too
 *     4     4  len    payload bytes
 *     8     1  type   enum rec_type
 *     9     1  flags  REC_MARK: REC_FLAG_DROP_ALL
 *    10     2  zero
 *    12     4  aux    REC_HARDSTATE: vote; REC_SEGHDR: format version
 *    16     8  term
 *    24     8  index  REC_HARDSTATE: commit; REC_SEGHDR: segment sequence number;
 *                     REC_DURABLE: durable bytes of the segment (a sync slot)
 *    32   len  payload
 *
 * All integers little-endian. A record of all zero bytes never checks (its CRC
 * would not be 0), so zeroed space after the tail reads as "end of log".
 */
#ifndef VESPER_STORAGE_RECORD_H
#define VESPER_STORAGE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define REC_HDR_BYTES     32
#define REC_MAX_PAYLOAD   (256u << 20) /* larger lengths are corruption, not data */
#define REC_FLAG_DROP_ALL 1

enum rec_type {
    REC_NOOP = 1, /* the three raft entry types keep their raft.h numbers */
    REC_NORMAL = 2,
    REC_CONF = 3,
    REC_HARDSTATE = 16, /* term, vote (aux), commit (index) */
    REC_MARK = 17,      /* a snapshot (index, term) was installed; DROP_ALL: the log
                           before this record is void */
    REC_SEGHDR = 18,    /* first record of every segment: version, sequence, magic */
    REC_DURABLE = 19,   /* a sync slot (format 2, fixed offsets, wal.c): index = bytes
                           of this segment known durable. Format 1 ended every write
                           with one; those are read and ignored */
};

#define REC_SEG_MAGIC "VSPRWAL\n" /* REC_SEGHDR payload, 8 bytes */

struct rec {
    uint8_t type;
    uint8_t flags;
    uint32_t aux;
    uint64_t term;
    uint64_t index;
    uint32_t len;
    const uint8_t *data; /* borrowed: points into the caller's or the decoded buffer */
};

enum rec_status {
    REC_OK,
    REC_SHORT, /* the buffer ends inside this record */
    REC_BAD,   /* checksum or header invalid */
};

/* Writes the record into dst (REC_HDR_BYTES + r->len bytes); returns that size. */
size_t st_rec_encode(uint8_t *dst, const struct rec *r);
/* Decodes the record at buf (avail bytes). On REC_OK, *r points into buf and
 * *size is its encoded size. */
enum rec_status st_rec_decode(const uint8_t *buf, size_t avail, struct rec *r, size_t *size);
int st_rec_is_entry(uint8_t type);

void st_rec_put32(uint8_t *p, uint32_t v);
void st_rec_put64(uint8_t *p, uint64_t v);
uint32_t st_rec_get32(const uint8_t *p);
uint64_t st_rec_get64(const uint8_t *p);

#endif
