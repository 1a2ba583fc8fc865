/* test_storage_backup.c: the backup file (src/util/backup_file.h) around a real
 * snapshot file image: header round trip, and every damage the checks must catch
 * (cut short, one flipped bit anywhere, trailing bytes, bad magic or version),
 * both on an image in memory and on a file read in chunks; and
 * storage_snapshot_parse and storage_snapshot_open, which the backup's two ends
 * use (restore and the streaming server). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "test_storage_util.h"
#include "util/backup_file.h"
#include "util/crc32c.h"

#define SNAP_CAP 200000

/* A whole backup file around a snapshot image of data_len payload bytes. */
static size_t make_backup(uint8_t *out, size_t cap, size_t data_len)
{
    static uint8_t snap[SNAP_CAP];
    size_t slen = tsu_snap_file(42, 7, data_len, snap, sizeof snap);
    struct backup_header h;
    memset(&h, 0, sizeof h);
    h.index = 42;
    h.term = 7;
    h.keys = 3;
    h.state_bytes = slen;
    h.n_members = 2;
    h.m[0] = (struct backup_member){.id = 0, .voter = true, .addr = "http://a:1"};
    h.m[1] = (struct backup_member){.id = 5, .voter = false, .addr = "http://b:2"};
    size_t hlen = backup_header_encode(&h, out);
    if (hlen + slen + 4 > cap)
        return 0;
    memcpy(out + hlen, snap, slen);
    uint32_t crc = crc32c(0, out, hlen + slen);
    for (int i = 0; i < 4; i++)
        out[hlen + slen + (size_t)i] = (uint8_t)(crc >> (8 * i));
    return hlen + slen + 4;
}

TEST(storage_backup_roundtrip)
{
    static uint8_t img[SNAP_CAP + BACKUP_HEADER_MAX];
    size_t len = make_backup(img, sizeof img, 5000);
    CHECK(len > 5000);
    struct backup_header h;
    uint64_t off;
    uint32_t crc;
    const char *why = NULL;
    CHECK(backup_image_check(img, len, &h, &off, &crc, &why) == 0);
    CHECK_EQ_U64(h.index, 42);
    CHECK_EQ_U64(h.term, 7);
    CHECK_EQ_U64(h.keys, 3);
    CHECK(h.n_members == 2 && h.m[1].id == 5 && !h.m[1].voter);
    CHECK(strcmp(h.m[1].addr, "http://b:2") == 0);
    struct storage_snapshot meta;
    uint64_t data_off;
    CHECK(storage_snapshot_parse(img + off, h.state_bytes, &meta, &data_off, &why) == 0);
    CHECK(meta.index == 42 && meta.term == 7 && meta.len == 5000 && meta.conf.n == 3);
}

TEST(storage_backup_every_damage_refused)
{
    static uint8_t img[SNAP_CAP + BACKUP_HEADER_MAX], bad[SNAP_CAP + BACKUP_HEADER_MAX + 8];
    size_t len = make_backup(img, sizeof img, 700);
    struct backup_header h;
    uint64_t off;
    uint32_t crc;
    const char *why;
    for (size_t cut = 0; cut < len; cut += 7) /* every length short of the whole */
        CHECK(backup_image_check(img, cut, &h, &off, &crc, &why) != 0);
    for (size_t at = 0; at < len; at++) { /* one flipped bit at every byte */
        memcpy(bad, img, len);
        bad[at] ^= (uint8_t)(1u << (at % 8));
        CHECK(backup_image_check(bad, len, &h, &off, &crc, &why) != 0);
    }
    memcpy(bad, img, len);
    memcpy(bad + len, "extra", 5);
    CHECK(backup_image_check(bad, len + 5, &h, &off, &crc, &why) != 0);
    CHECK(strstr(why, "longer") != NULL);
}

TEST(storage_backup_file_verify)
{
    static uint8_t img[SNAP_CAP + BACKUP_HEADER_MAX];
    size_t len = make_backup(img, sizeof img, 150000); /* more than one read chunk */
    char dir[64], path[128], err[256];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/b.bak", dir);
    struct backup_header h;
    uint32_t crc;
    CHECK(tsu_write(path, img, len) == 0);
    CHECK(backup_file_verify(path, &h, &crc, err, sizeof err) == 0);
    CHECK_EQ_U64(h.keys, 3);
    CHECK(tsu_write(path, img, len - 1) == 0);
    CHECK(backup_file_verify(path, &h, &crc, err, sizeof err) != 0);
    CHECK(strstr(err, "truncated") != NULL);
    img[len / 2] ^= 1;
    CHECK(tsu_write(path, img, len) == 0);
    CHECK(backup_file_verify(path, &h, &crc, err, sizeof err) != 0);
    CHECK(strstr(err, "checksum") != NULL);
    CHECK(tsu_write(path, (const uint8_t *)"VSPRBKUP", 8) == 0);
    CHECK(backup_file_verify(path, &h, &crc, err, sizeof err) != 0);
    tsu_rmdir(dir);
}

TEST(storage_backup_open_survives_replacement)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    int fd;
    struct storage_snapshot meta;
    CHECK(storage_snapshot_open(st, &fd, &meta) == STORAGE_ENOTFOUND);
    struct raft_conf c = tsu_conf();
    CHECK(tsu_append_range(st, 1, 20, 1, 1, 5) == 0);
    CHECK(storage_snapshot_save(st, 10, 1, &c, "first", 5, 11, NULL) == 0);
    CHECK(storage_snapshot_open(st, &fd, &meta) == 0);
    CHECK(meta.index == 10 && meta.data == NULL && meta.size > 5);
    /* A newer snapshot unlinks the old file; the descriptor still reads all of it. */
    CHECK(storage_snapshot_save(st, 20, 1, &c, "second!", 7, 21, NULL) == 0);
    uint8_t buf[512];
    CHECK(pread(fd, buf, sizeof buf, 0) == (ssize_t)meta.size);
    struct storage_snapshot again;
    uint64_t data_off;
    const char *why;
    CHECK(storage_snapshot_parse(buf, meta.size, &again, &data_off, &why) == 0);
    CHECK(again.index == 10 && memcmp(buf + data_off, "first", 5) == 0);
    close(fd);
    storage_close(st);
    tsu_rmdir(dir);
}
