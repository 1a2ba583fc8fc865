/* test_storage_recv_crc.c: a follower checks a received snapshot's CRC as the chunks
 * are written (snaprecv.c), so finishing the install reads back only the header and
 * the trailer. Chunks of every small size (the running CRC keeps the last 4 bytes
 * out), damage anywhere, and writes out of order (checked by reading the file).
 */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

static uint64_t read_bytes; /* by the counting table below */

static ssize_t counting_pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = tsu_sys_nosync.pread(fd, buf, n, off);
    if (r > 0)
        read_bytes += (uint64_t)r;
    return r;
}

static struct storage_sys counting;

static struct storage *follower(char *dir, size_t cap)
{
    tsu_mkdtemp(dir, cap);
    counting = tsu_sys_nosync;
    counting.pread = counting_pread;
    struct storage_options o;
    tsu_options(&o);
    o.sys = &counting;
    o.snapshot_lazy = true;
    struct storage *f;
    struct storage_boot b;
    if (tsu_open(dir, &o, &f, &b) != 0)
        return NULL;
    storage_boot_free(&b);
    return f;
}

/* Writes img in chunks whose sizes cycle through sizes[]; swap: the second and
 * third chunks are written in the opposite order. Then finishes the install. */
static int receive(struct storage *f, const uint8_t *img, size_t len, const size_t *sizes,
                   size_t n_sizes, bool swap)
{
    if (storage_snapshot_recv_begin(f, 40, 1) != 0)
        return -1;
    size_t offs[4096], lens[4096], n = 0;
    for (size_t off = 0; off < len && n < 4096; n++) {
        size_t want = sizes[n % n_sizes];
        lens[n] = len - off < want ? len - off : want;
        offs[n] = off;
        off += lens[n];
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = swap && k == 1 ? 2 : swap && k == 2 ? 1 : k;
        if (storage_snapshot_recv_write(f, offs[i], img + offs[i], lens[i]) != 0)
            return -1;
    }
    read_bytes = 0;
    struct storage_snapshot s;
    int rc = storage_snapshot_recv_finish(f, STORAGE_DROP_ALL, &s);
    if (rc == 0)
        storage_snapshot_free(&s);
    return rc;
}

static uint8_t *image(size_t data_len, size_t *len)
{
    size_t cap = data_len + 4096;
    uint8_t *img = malloc(cap);
    if (img)
        *len = tsu_snap_file(40, 1, data_len, img, cap);
    return img;
}

TEST(storage_recv_crc_every_small_chunk_size)
{
    size_t len;
    uint8_t *img = image(3000, &len);
    CHECK(img != NULL);
    static const size_t sizes[][3] = {{1, 1, 1}, {2, 3, 2}, {3, 3, 3}, {4, 4, 4},
                                      {5, 1, 7}, {8, 9, 2}, {9, 4, 1}, {513, 1, 6}};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        char dir[64];
        struct storage *f = follower(dir, sizeof dir);
        CHECK(f != NULL);
        CHECK(receive(f, img, len, sizes[k], 3, false) == 0);
        CHECK(read_bytes <= len); /* header and trailer: the whole file once, not twice */
        storage_close(f);
        tsu_rmdir(dir);
    }
    free(img);
}

TEST(storage_recv_crc_catches_damage_anywhere)
{
    size_t len;
    uint8_t *img = image(3000, &len);
    CHECK(img != NULL);
    static const size_t sizes[] = {7, 1, 1000};
    size_t at[] = {0, 9, len / 2, len - 5, len - 4, len - 1};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        char dir[64];
        struct storage *f = follower(dir, sizeof dir);
        CHECK(f != NULL);
        img[at[k]] ^= 0x10;
        CHECK(receive(f, img, len, sizes, 3, false) == STORAGE_ECORRUPT);
        img[at[k]] ^= 0x10;
        CHECK(receive(f, img, len, sizes, 3, false) == 0); /* the leader sends it again */
        storage_close(f);
        tsu_rmdir(dir);
    }
    free(img);
}

TEST(storage_recv_crc_out_of_order_reads_the_file)
{
    size_t len;
    uint8_t *img = image(2u << 20, &len);
    CHECK(img != NULL);
    static const size_t sizes[] = {1u << 18};
    char dir[64];
    struct storage *f = follower(dir, sizeof dir);
    CHECK(f != NULL);
    CHECK(receive(f, img, len, sizes, 1, true) == 0);
    CHECK(read_bytes >= len - 4); /* the whole file, for the CRC */
    img[len / 3] ^= 1;
    CHECK(receive(f, img, len, sizes, 1, true) == STORAGE_ECORRUPT);
    img[len / 3] ^= 1;
    CHECK(receive(f, img, len, sizes, 1, false) == 0);
    CHECK(read_bytes < len / 2);
    storage_close(f);
    tsu_rmdir(dir);
    free(img);
}
