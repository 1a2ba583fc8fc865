/* test_storage_unit.c: unit tests of src/storage: CRC, records, hard state, appends,
 * segment roll-over, suffix truncation, the verifier and start-up refusals.
 * Snapshots, crashes, faults and the sync thread have their own files. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "util/crc32c.h"
#include "storage/internal.h"
#include "test_storage_util.h"

TEST(storage_crc32c_vectors)
{
    CHECK_EQ_U64(crc32c(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_U64(crc32c_sw(0, "123456789", 9), 0xe3069283u);
    CHECK_EQ_U64(crc32c(0, "", 0), 0);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    for (size_t off = 0; off < 9; off++)
        for (size_t len = 0; len + off <= sizeof buf; len += 13) {
            CHECK_EQ_U64(crc32c(0, buf + off, len), crc32c_sw(0, buf + off, len));
            size_t h = len / 2;
            CHECK_EQ_U64(crc32c(crc32c(0, buf + off, h), buf + off + h, len - h),
                         crc32c(0, buf + off, len));
            for (size_t a = 0; a <= len; a += 7) /* a header summed after the data */
                CHECK_EQ_U64(crc32c_concat(crc32c(0, buf + off, a),
                                           crc32c(0, buf + off + a, len - a), len - a),
                             crc32c(0, buf + off, len));
        }
}

/* crc32c_concat over long pieces: one split of a few MB checked against the CRC of
 * the whole, and lengths past 2^32 by the two ways of joining three pieces. */
TEST(storage_crc32c_concat_long)
{
    size_t len = (3u << 20) + 5, a = (1u << 20) + 3;
    uint8_t *buf = malloc(len);
    CHECK(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(i * 2654435761u >> 13);
    CHECK_EQ_U64(crc32c_concat(crc32c(0, buf, a), crc32c(0, buf + a, len - a), len - a),
                 crc32c(0, buf, len));
    free(buf);
    uint32_t x = 0x12345678u, y = 0x9abcdef0u, z = 0x0badf00du;
    uint64_t ny = 5000000011ull, nz = 7000000003ull;
    CHECK_EQ_U64(crc32c_concat(crc32c_concat(x, y, ny), z, nz),
                 crc32c_concat(x, crc32c_concat(y, z, nz), ny + nz));
    CHECK_EQ_U64(crc32c_concat(x, 0, 0), x);
}

TEST(storage_record_roundtrip)
{
    uint8_t data[50], enc[REC_HDR_BYTES + 50];
    memset(data, 0xab, sizeof data);
    struct rec r = {
        .type = REC_NORMAL, .term = 7, .index = 1234567890123ull, .len = 50, .data = data};
    size_t n = st_rec_encode(enc, &r);
    CHECK_EQ_U64(n, sizeof enc);
    struct rec d;
    size_t sz;
    CHECK(st_rec_decode(enc, n, &d, &sz) == REC_OK);
    CHECK_EQ_U64(sz, n);
    CHECK(d.type == REC_NORMAL && d.term == 7 && d.index == 1234567890123ull && d.len == 50);
    CHECK(memcmp(d.data, data, 50) == 0);
    for (size_t cut = 0; cut < n; cut++)
        CHECK(st_rec_decode(enc, cut, &d, &sz) != REC_OK);
    for (size_t bit = 0; bit < 8 * n; bit++) {
        enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK(st_rec_decode(enc, n, &d, &sz) != REC_OK);
        enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    uint8_t zero[REC_HDR_BYTES] = {0};
    CHECK(st_rec_decode(zero, sizeof zero, &d, &sz) == REC_BAD);
}

TEST(storage_conf_roundtrip)
{
    struct raft_conf c = tsu_conf(), d;
    uint8_t buf[1024];
    size_t n = st_snap_conf_encode(&c, buf, sizeof buf);
    CHECK(n < sizeof buf);
    CHECK(st_snap_conf_decode(&d, buf, n) == 0);
    CHECK(d.n == 3 && d.m[2].id == 3 && !d.m[2].voter && d.m[0].voter);
    CHECK(strcmp(d.m[1].addr, c.m[1].addr) == 0);
    CHECK(st_snap_conf_decode(&d, buf, n - 1) != 0);
}

TEST(storage_fresh_and_hard_state_roundtrip)
{
    char tmp[64], dir[128];
    tsu_mkdtemp(tmp, sizeof tmp);
    snprintf(dir, sizeof dir, "%s/data", tmp);
    struct storage_options o;
    tsu_options(&o);
    o.preallocate = true;
    o.segment_bytes = 1u << 20;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.n_entries == 0 && b.hs.term == 0 && b.snap.index == 0);
    storage_boot_free(&b);
    struct raft_hard_state hs = {.term = 5, .vote = 2, .commit = 0};
    CHECK(storage_save_hard_state(st, &hs) == 0);
    CHECK(storage_sync(st) == 0);
    struct raft_hard_state hs2 = {.term = 6, .vote = RAFT_NONE, .commit = 0};
    CHECK(storage_save_hard_state(st, &hs2) == 0); /* never synced: not promised */
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.hs.term == 5 && b.hs.vote == 2);
    storage_boot_free(&b);
    CHECK(storage_save_hard_state(st, &hs2) == 0);
    CHECK(storage_sync(st) == 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.hs.term == 6 && b.hs.vote == RAFT_NONE);
    storage_boot_free(&b);
    storage_close(st);
    /* The segment is preallocated: its zeros are a clean end. */
    char *text;
    size_t tlen;
    FILE *out = open_memstream(&text, &tlen);
    CHECK(storage_check(dir, out) == 0);
    fclose(out);
    int clean = strstr(text, "healthy\n") && !strstr(text, "torn");
    free(text);
    CHECK(clean);
    tsu_rmdir(tmp);
}

TEST(storage_append_rollover_reopen)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.segment_bytes = 4096;
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    struct raft_hard_state hs = {.term = 3, .vote = 1, .commit = 7};
    CHECK(storage_save_hard_state(st, &hs) == 0);
    CHECK(tsu_append_range(st, 1, 500, 3, 1, 7) == 0);
    CHECK_EQ_U64(storage_last_index(st), 500);
    CHECK_EQ_U64(storage_synced_index(st), 500);
    storage_close(st);
    CHECK(tsu_count_files(dir, ".seg") > 5);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 500);
    CHECK(tsu_boot_has(&b, 1, 500, 3, 1));
    CHECK(b.hs.term == 3 && b.hs.vote == 1 && b.hs.commit == 7);
    storage_boot_free(&b);
    /* Compaction deletes old segments; every segment repeats the hard state. */
    struct raft_conf c = tsu_conf();
    CHECK(storage_snapshot_save(st, 400, 3, &c, "state", 5, 390, NULL) == 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.hs.term == 3 && b.hs.vote == 1);
    CHECK(b.snap.index == 400 && b.snap.len == 5 && memcmp(b.snap.data, "state", 5) == 0);
    CHECK_EQ_U64(b.n_entries, 100);
    CHECK(tsu_boot_has(&b, 401, 500, 3, 1));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

TEST(storage_suffix_truncation)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.segment_bytes = 2048;
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 200, 1, 1, 5) == 0);
    CHECK(tsu_append_range(st, 150, 160, 2, 2, 3) == 0); /* reaches back several segments */
    CHECK_EQ_U64(storage_last_index(st), 160);
    CHECK_EQ_U64(storage_last_term(st), 2);
    uint8_t buf[TS_MAX_ENTRY];
    struct raft_entry gap = tsu_entry(170, 2, 2, buf);
    CHECK(storage_append(st, &gap, 1) == STORAGE_EINVAL);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 160);
    CHECK(tsu_boot_has(&b, 1, 149, 1, 1));
    CHECK(tsu_boot_has(&b, 150, 160, 2, 2));
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 161, 170, 2, 2, 4) == 0);
    CHECK(tsu_append_range(st, 5, 6, 3, 3, 4) == 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 6);
    CHECK(tsu_boot_has(&b, 1, 4, 1, 1) && tsu_boot_has(&b, 5, 6, 3, 3));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

TEST(storage_check_and_refusals)
{
    char dir[64], path[160];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.segment_bytes = 2048;
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 100, 1, 1, 4) == 0);
    storage_close(st);
    char *text;
    size_t tlen;
    FILE *out = open_memstream(&text, &tlen);
    CHECK(storage_check(dir, out) == 0);
    fclose(out);
    CHECK(strstr(text, "healthy") != NULL);
    free(text);
    /* A flipped bit in a completed segment: refuse, naming file and offset. */
    uint8_t *img;
    size_t len;
    tsu_seg_path(dir, 2, path, sizeof path);
    CHECK(tsu_read(path, &img, &len) == 0);
    size_t flip = WAL_DATA_START + (len - WAL_DATA_START) / 2; /* inside the records */
    img[flip] ^= 4;
    CHECK(tsu_write(path, img, len) == 0);
    out = open_memstream(&text, &tlen);
    CHECK(storage_check(dir, out) == 1);
    fclose(out);
    CHECK(strstr(text, "CORRUPT") && strstr(text, "0000000000000002.seg offset"));
    free(text);
    char err[512];
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == STORAGE_ECORRUPT);
    CHECK(strstr(err, "0000000000000002.seg offset") != NULL);
    img[flip] ^= 4;
    CHECK(tsu_write(path, img, len) == 0);
    free(img);
    /* A missing segment. */
    char moved[180];
    snprintf(moved, sizeof moved, "%s.away", path);
    CHECK(rename(path, moved) == 0);
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == STORAGE_ECORRUPT);
    CHECK(strstr(err, "0000000000000002.seg missing") != NULL);
    /* The first segment gone: the log has a hole before segment 2. */
    CHECK(rename(moved, path) == 0);
    tsu_seg_path(dir, 1, path, sizeof path);
    CHECK(unlink(path) == 0);
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == STORAGE_ECORRUPT);
    CHECK(strstr(err, "gap") != NULL);
    /* Another format version. */
    snprintf(path, sizeof path, "%s/FORMAT", dir);
    CHECK(tsu_write(path, (const uint8_t *)"vesper-storage-format 3\n", 24) == 0);
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == STORAGE_EVERSION);
    CHECK(strstr(err, "version 3") != NULL);
    tsu_rmdir(dir);
}

TEST(storage_torn_tail_is_truncated_and_logged)
{
    char dir[64], path[160];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 10, 1, 1, 4) == 0);
    storage_close(st);
    tsu_seg_path(dir, 1, path, sizeof path);
    uint8_t *img;
    size_t len;
    CHECK(tsu_read(path, &img, &len) == 0);
    uint8_t *bigger = calloc(1, len + 20);
    CHECK(bigger);
    memcpy(bigger, img, len);
    memset(bigger + len, 0x77, 20);
    CHECK(tsu_write(path, bigger, len + 20) == 0);
    free(bigger);
    free(img);
    int logs = tsu_n_logs;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(tsu_n_logs > logs && strstr(tsu_last_log, "torn tail at offset") != NULL);
    CHECK_EQ_U64(b.n_entries, 10);
    storage_boot_free(&b);
    storage_close(st);
    CHECK(tsu_read(path, &img, &len) == 0);
    free(img);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 10);
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}
