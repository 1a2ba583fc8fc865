/* backup_file.h: the backup file of `vesper snapshot save`, read back by
 * `vesper snapshot status` and `vesperd --restore`.
 *
 * Layout (integers little-endian, checksums CRC-32C):
 *
 *   off  size  field
 *     0     8  magic "VSPRBKUP"
 *     8     4  format version (1)
 *    12     4  header_len: bytes before the state (fixed part + membership)
 *    16     8  index: the state includes every entry through it
 *    24     8  term of that entry
 *    32     8  keys in the state
 *    40     8  state_bytes
 *    48     .  membership the backup came from: u32 n, then per member
 *              u32 id, u8 voter, u16 addr_len, addr
 *   header_len      state_bytes  the state: the exact bytes of the node's snapshot
 *                                file (docs/storage-format.md, "Snapshots")
 *   end - 4         4            CRC-32C of every byte before it
 *
 * The server builds the header, then streams its snapshot file unchanged after it
 * and the trailer last, so it never holds the state in memory; the one trailing
 * CRC covers the whole file, and the embedded snapshot keeps its own CRC too.
 * A file that is short, long, or has any flipped bit fails the check.
 *
 * This module is pure apart from backup_file_verify, which reads a file. It sits
 * in util because the CLI (client/, which links only util) and vesperd both use it.
 */
#ifndef VESPER_UTIL_BACKUP_FILE_H
#define VESPER_UTIL_BACKUP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BACKUP_MAGIC       "VSPRBKUP"
#define BACKUP_VERSION     1
#define BACKUP_FIXED_BYTES 48
#define BACKUP_MAX_MEMBERS 16
#define BACKUP_ADDR_MAX    128 /* NUL included */
#define BACKUP_HEADER_MAX  (BACKUP_FIXED_BYTES + 4 + BACKUP_MAX_MEMBERS * (7 + BACKUP_ADDR_MAX))

struct backup_member {
    uint32_t id;
    bool voter;
    char addr[BACKUP_ADDR_MAX];
};

struct backup_header {
    uint64_t index;
    uint64_t term;
    uint64_t keys;
    uint64_t state_bytes;
    uint32_t n_members;
    struct backup_member m[BACKUP_MAX_MEMBERS];
};

/* Encodes h into buf (at least BACKUP_HEADER_MAX bytes); returns its length. */
size_t backup_header_encode(const struct backup_header *h, uint8_t *buf);

/* Decodes the header at the start of buf (len bytes available). Returns its length,
 * or 0 with a static reason in *why (bad magic, unknown version, cut short, ...). */
size_t backup_header_decode(const uint8_t *buf, size_t len, struct backup_header *h,
                            const char **why);

/* Checks a whole file image: header, sizes and the trailing CRC. Returns 0 with *h,
 * *state_off (the state's offset in img) and *crc (the trailer) set; -1 with a
 * static reason in *why. */
int backup_image_check(const uint8_t *img, size_t len, struct backup_header *h, uint64_t *state_off,
                       uint32_t *crc, const char **why);

/* The same check on a file, read in chunks (no copy of the whole state). Returns 0,
 * or -1 with one line naming the file and the problem in err. */
int backup_file_verify(const char *path, struct backup_header *h, uint32_t *crc, char *err,
                       size_t errlen);

#endif
