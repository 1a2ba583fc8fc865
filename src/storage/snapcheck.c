/* snapcheck.c: checking a snapshot file without holding it in memory.
 *
 * A large state's snapshot file is as big as the state (1.5 GB for ten million
 * keys). Reading it whole to check its CRC, at start-up or when a follower
 * installs a leader's snapshot, doubled the memory a node needed at that moment and
 * zeroed every page of the copy. st_snap_check_file runs the same checks as
 * st_snap_load_file (snapshot.c: magic, trailing CRC-32C of everything before it,
 * then the header and configuration) reading 4 MiB at a time, and keeps only the
 * metadata; the caller then streams the payload from the file (storage_snapshot_read
 * at data_off). The file is read twice that way, the second time mostly from the
 * page cache. A follower that received the file computed its CRC while writing
 * it (snaprecv.c) and passes it in: only the header and the trailer are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "storage/internal.h"
#include "util/crc32c.h"

#define CHECK_PIECE (4u << 20)
#define CONF_MAX    (1u << 20) /* header bytes read at once: far above any configuration */

/* CRC-32C of bytes [0, end) of fd. 0, or -1 (errno). */
static int crc_of(const struct storage_sys *sys, int fd, uint64_t end, uint32_t *crc)
{
    uint8_t *buf = malloc(CHECK_PIECE);
    if (!buf)
        return -1;
    uint32_t c = 0;
    for (uint64_t off = 0; off < end;) {
        size_t n = end - off < CHECK_PIECE ? (size_t)(end - off) : CHECK_PIECE;
        ssize_t r = storage_pread_all(sys, fd, buf, n, off);
        if (r < 0 || (size_t)r != n) {
            if (r >= 0)
                errno = EIO; /* the file shrank under us */
            free(buf);
            return -1;
        }
        c = crc32c(c, buf, n);
        off += n;
    }
    free(buf);
    *crc = c;
    return 0;
}

/* The checks, on an open descriptor of a file of len bytes. */
static int check_fd(const struct storage_sys *sys, int fd, uint64_t len,
                    const struct st_crc_known *known, struct storage_snapshot *out,
                    const char **why)
{
    if (len < SNAP_HDR_BYTES + 4) {
        *why = "shorter than a header";
        return STORAGE_ECORRUPT;
    }
    size_t head_len =
        len - 4 < SNAP_HDR_BYTES + CONF_MAX ? (size_t)(len - 4) : SNAP_HDR_BYTES + CONF_MAX;
    uint8_t *head = malloc(head_len);
    uint8_t tail[4];
    uint32_t crc = 0;
    int rc = STORAGE_EIO;
    if (!head) {
        *why = strerror(ENOMEM);
        return STORAGE_EIO;
    }
    ssize_t r = storage_pread_all(sys, fd, head, head_len, 0);
    if (r < 0 || (size_t)r != head_len) {
        *why = r < 0 ? strerror(errno) : "short file";
        goto out;
    }
    if (memcmp(head, SNAP_MAGIC, 8) != 0) {
        *why = "bad magic";
        rc = STORAGE_ECORRUPT;
        goto out;
    }
    r = storage_pread_all(sys, fd, tail, sizeof tail, len - 4);
    if (known && known->len == len)
        crc = known->crc;
    else if (r == (ssize_t)sizeof tail && crc_of(sys, fd, len - 4, &crc) != 0)
        r = -1;
    if (r != (ssize_t)sizeof tail) {
        *why = r < 0 || r == (ssize_t)sizeof tail ? strerror(errno) : "short file";
        goto out;
    }
    rc = STORAGE_ECORRUPT;
    if (st_rec_get32(tail) != crc) {
        *why = "CRC mismatch";
        goto out;
    }
    uint64_t data_off;
    *why = st_snap_parse_header(head, head_len, len, out, &data_off);
    if (!*why)
        rc = 0;
out:
    free(head);
    return rc;
}

int st_snap_check_file(const struct storage_sys *sys, const char *path,
                       const struct st_crc_known *known, struct storage_snapshot *out,
                       const char **why)
{
    memset(out, 0, sizeof *out);
    int fd = sys->open(path, O_RDONLY, 0);
    if (fd < 0) {
        *why = strerror(errno);
        return STORAGE_EIO;
    }
    struct stat sb;
    int rc;
    if (sys->fstat(fd, &sb) < 0) {
        *why = strerror(errno);
        rc = STORAGE_EIO;
    } else {
        rc = check_fd(sys, fd, (uint64_t)sb.st_size, known, out, why);
    }
    int e = errno;
    sys->close(fd);
    errno = e;
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

int st_snap_get_file(const struct storage_sys *sys, bool lazy, const char *path,
                     const struct st_crc_known *known, struct storage_snapshot *out,
                     const char **why)
{
    return lazy ? st_snap_check_file(sys, path, known, out, why)
                : st_snap_load_file(sys, path, out, why);
}
