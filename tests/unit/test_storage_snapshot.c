/* test_storage_snapshot.c: snapshots: save and load round trip, thresholds, a
 * payload streamed into the file, reading a snapshot for transfer, a follower
 * receiving it (damaged transfers rejected), installing with DROP_ALL and
 * KEEP_AFTER, and recovery after an install interrupted between its rename and
 * its log mark. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

TEST(storage_snapshot_roundtrip_and_thresholds)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.snapshot_entries = 50;
    o.snapshot_phase = 10; /* due at 60, 110, 160, ... */
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 59, 1, 1, 10) == 0);
    CHECK(!storage_should_snapshot(st));
    CHECK(tsu_append_range(st, 60, 100, 1, 1, 10) == 0);
    CHECK(storage_should_snapshot(st));
    uint8_t *payload = malloc(10000);
    CHECK(payload);
    for (int i = 0; i < 10000; i++)
        payload[i] = (uint8_t)(i * 31);
    struct raft_conf c = tsu_conf();
    uint64_t size = 0;
    CHECK(storage_snapshot_save(st, 60, 1, &c, payload, 10000, 50, &size) == 0);
    CHECK(size > 10000);
    CHECK(!storage_should_snapshot(st)); /* next due at 110 */
    struct storage_snapshot s;
    CHECK(storage_snapshot_load(st, &s) == 0);
    CHECK(s.index == 60 && s.term == 1 && s.size == size && s.len == 10000);
    CHECK(memcmp(s.data, payload, 10000) == 0 && s.conf.n == 3);
    storage_snapshot_free(&s);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.snap.index == 60 && b.snap.size == size && b.snap.len == 10000);
    CHECK(memcmp(b.snap.data, payload, 10000) == 0);
    CHECK(strcmp(b.snap.conf.m[2].addr, c.m[2].addr) == 0);
    CHECK_EQ_U64(b.n_entries, 40);
    CHECK(tsu_boot_has(&b, 61, 100, 1, 1));
    storage_boot_free(&b);
    /* A newer snapshot replaces the old file; reading the old one is refused. */
    CHECK(storage_snapshot_save(st, 90, 1, &c, payload, 100, 80, NULL) == 0);
    size_t got;
    uint8_t chunk[16];
    CHECK(storage_snapshot_read(st, 60, 0, chunk, sizeof chunk, &got) == STORAGE_ENOTFOUND);
    CHECK(storage_snapshot_read(st, 90, 0, chunk, sizeof chunk, &got) == 0 && got == 16);
    CHECK(memcmp(chunk, SNAP_MAGIC, 8) == 0);
    CHECK_EQ_U64(tsu_count_files(dir, ".snap"), 1);
    free(payload);
    storage_close(st);
    tsu_rmdir(dir);
}

static bool fail_past_128k; /* set once the storage is open */

static ssize_t pwrite_fails_past_128k(int fd, const void *buf, size_t n, off_t off)
{
    if (fail_past_128k && off + (off_t)n > (1 << 17)) {
        errno = EIO;
        return -1;
    }
    return pwrite(fd, buf, n, off);
}

/* A payload streamed in uneven pieces makes the same file, byte for byte, as the
 * file a leader would send (built here without the writer), header written last. */
TEST(storage_snapshot_streamed_in_pieces)
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
    CHECK(tsu_append_range(st, 1, 20, 1, 1, 10) == 0);
    size_t len = STORAGE_SNAP_PIECE_BYTES + 70001, cap = len + 4096;
    uint8_t *img = malloc(cap), *data = malloc(len), *got = NULL;
    CHECK(img && data);
    for (size_t i = 0; i < len; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 9)); /* a piece out of place shows */
    size_t img_len = tsu_snap_file_of(12, 1, data, len, img, cap);
    struct raft_conf c = tsu_conf();
    static const size_t pieces[] = {0, 1, 7, 65536, 99999, 4096};
    for (int wait = 0; wait <= 1; wait++) {
        struct storage_snap_writer w;
        CHECK(storage_snapshot_begin(st, 12, 1, &c, wait, &w) == 0);
        size_t done = 0;
        for (size_t i = 0; done < len; i++) {
            size_t n = pieces[i % 6] < len - done ? pieces[i % 6] : len - done;
            CHECK(storage_snapshot_append(&w, data + done, n) == 0);
            done += n;
        }
        uint64_t size = 0;
        CHECK(storage_snapshot_end(&w, &size) == 0);
        CHECK_EQ_U64(size, img_len);
        char name[64], path[STORAGE_PATH_MAX];
        st_snap_name(12, 1, "", name, sizeof name);
        st_path(dir, name, path, sizeof path);
        size_t got_len = 0;
        CHECK(tsu_read(path, &got, &got_len) == 0);
        CHECK(got_len == img_len && memcmp(got, img, img_len) == 0);
        free(got);
        got = NULL;
    }
    /* A write that fails half way fails the storage; the file is never finished. */
    struct storage_options fo = o;
    struct storage_sys failing = tsu_sys_nosync;
    failing.pwrite = pwrite_fails_past_128k;
    fo.sys = &failing;
    struct storage *fst;
    char fdir[64];
    tsu_mkdtemp(fdir, sizeof fdir);
    CHECK(tsu_open(fdir, &fo, &fst, &b) == 0);
    storage_boot_free(&b);
    fail_past_128k = true;
    struct storage_snap_writer fw;
    CHECK(storage_snapshot_begin(fst, 12, 1, &c, true, &fw) == 0);
    int rc = 0;
    for (size_t done = 0; rc == 0 && done < len; done += 65536)
        rc = storage_snapshot_append(&fw, data + done, len - done < 65536 ? len - done : 65536);
    CHECK(rc == STORAGE_EIO && fst->failed);
    CHECK(storage_snapshot_append(&fw, data, 10) != 0);
    CHECK(storage_snapshot_end(&fw, NULL) != 0);
    CHECK_EQ_U64(tsu_count_files(fdir, ".snap"), 0);
    fail_past_128k = false;
    storage_close(fst);
    tsu_rmdir(fdir);
    /* Given up half way: nothing is adopted, the temp file goes at the next start. */
    struct storage_snap_writer w;
    CHECK(storage_snapshot_begin(st, 15, 1, &c, true, &w) == 0);
    CHECK(storage_snapshot_append(&w, data, 1000) == 0);
    storage_snapshot_abort(&w);
    CHECK(storage_snapshot_append(&w, data, 1000) != 0);
    CHECK(storage_snapshot_adopt(st, 12, 1, &c, img_len, 5) == 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.snap.index == 12 && b.snap.len == len && memcmp(b.snap.data, data, len) == 0);
    storage_boot_free(&b);
    CHECK_EQ_U64(tsu_count_files(dir, ".tmp"), 0);
    free(img);
    free(data);
    storage_close(st);
    tsu_rmdir(dir);
}

/* Leader has snapshot 60 (term 2); the follower's log conflicts at 58..70. */
static int make_pair(char *ldir, char *fdir, struct storage **lst, struct storage **fst,
                     struct storage_options *o)
{
    struct storage_boot b;
    tsu_mkdtemp(ldir, 64);
    tsu_mkdtemp(fdir, 64);
    if (tsu_open(ldir, o, lst, &b))
        return -1;
    storage_boot_free(&b);
    if (tsu_open(fdir, o, fst, &b))
        return -1;
    storage_boot_free(&b);
    struct raft_conf c = tsu_conf();
    uint8_t payload[5000];
    memset(payload, 0x5a, sizeof payload);
    if (tsu_append_range(*lst, 1, 57, 1, 1, 8) || tsu_append_range(*lst, 58, 80, 2, 2, 8) ||
        storage_snapshot_save(*lst, 60, 2, &c, payload, sizeof payload, 50, NULL))
        return -1;
    if (tsu_append_range(*fst, 1, 57, 1, 1, 8) || tsu_append_range(*fst, 58, 70, 1, 9, 8))
        return -1;
    return 0;
}

static int transfer(struct storage *l, struct storage *f, int corrupt_at)
{
    if (storage_snapshot_recv_begin(f, 60, 2))
        return -1;
    uint8_t chunk[777];
    for (uint64_t off = 0;; off += sizeof chunk) {
        size_t n;
        if (storage_snapshot_read(l, 60, off, chunk, sizeof chunk, &n))
            return -1;
        if (n == 0)
            break;
        if (corrupt_at >= 0 && (uint64_t)corrupt_at >= off && (uint64_t)corrupt_at < off + n)
            chunk[corrupt_at - off] ^= 0x10;
        if (storage_snapshot_recv_write(f, off, chunk, n))
            return -1;
    }
    return 0;
}

/* The entries threshold falls at k * snapshot_entries + snapshot_phase, at least
 * half an interval after the current snapshot, wherever that came from. */
TEST(storage_snapshot_transfer_drop_all)
{
    char ldir[64], fdir[64];
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *l, *f;
    struct storage_boot b;
    CHECK(make_pair(ldir, fdir, &l, &f, &o) == 0);
    /* A damaged transfer is rejected without failing the follower. */
    CHECK(transfer(l, f, 1234) == 0);
    CHECK(storage_snapshot_recv_finish(f, STORAGE_DROP_ALL, NULL) == STORAGE_ECORRUPT);
    CHECK(strstr(storage_errmsg(f), "rejected") != NULL);
    CHECK_EQ_U64(tsu_count_files(fdir, ".snap"), 0);
    CHECK_EQ_U64(tsu_count_files(fdir, ".tmp"), 0);
    CHECK(transfer(l, f, -1) == 0);
    struct storage_snapshot s;
    CHECK(storage_snapshot_recv_finish(f, STORAGE_DROP_ALL, &s) == 0);
    CHECK(s.index == 60 && s.term == 2 && s.len == 5000 && s.data[4999] == 0x5a);
    storage_snapshot_free(&s);
    CHECK_EQ_U64(storage_last_index(f), 60);
    CHECK(tsu_append_range(f, 61, 65, 2, 2, 8) == 0);
    storage_close(f);
    CHECK(tsu_open(fdir, &o, &f, &b) == 0);
    CHECK(b.snap.index == 60 && b.snap.term == 2);
    CHECK_EQ_U64(b.n_entries, 5);
    CHECK(tsu_boot_has(&b, 61, 65, 2, 2));
    storage_boot_free(&b);
    storage_close(f);
    storage_close(l);
    tsu_rmdir(ldir);
    tsu_rmdir(fdir);
}

TEST(storage_snapshot_keep_after)
{
    char ldir[64], fdir[64];
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *l, *f;
    struct storage_boot b;
    CHECK(make_pair(ldir, fdir, &l, &f, &o) == 0);
    CHECK(tsu_append_range(f, 58, 75, 2, 2, 8) == 0); /* now matches the leader */
    CHECK(transfer(l, f, -1) == 0);
    CHECK(storage_snapshot_recv_finish(f, STORAGE_KEEP_AFTER, NULL) == 0);
    CHECK_EQ_U64(storage_last_index(f), 75);
    storage_close(f);
    CHECK(tsu_open(fdir, &o, &f, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 15);
    CHECK(tsu_boot_has(&b, 61, 75, 2, 2));
    storage_boot_free(&b);
    storage_close(f);
    storage_close(l);
    tsu_rmdir(ldir);
    tsu_rmdir(fdir);
}

/* A crash after the snapshot's rename but before the install mark: recovery sees
 * the log's entry at the snapshot index with another term and drops the suffix. */
TEST(storage_interrupted_install)
{
    char ldir[64], fdir[64], from[160], to[160];
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *l, *f;
    struct storage_boot b;
    CHECK(make_pair(ldir, fdir, &l, &f, &o) == 0);
    storage_close(f);
    char name[64];
    st_snap_name(60, 2, "", name, sizeof name);
    snprintf(from, sizeof from, "%s/%s", ldir, name);
    snprintf(to, sizeof to, "%s/%s", fdir, name);
    uint8_t *img;
    size_t len;
    CHECK(tsu_read(from, &img, &len) == 0);
    CHECK(tsu_write(to, img, len) == 0);
    free(img);
    CHECK(tsu_open(fdir, &o, &f, &b) == 0);
    CHECK(strstr(tsu_last_log, "conflict") != NULL);
    CHECK_EQ_U64(b.n_entries, 0);
    CHECK_EQ_U64(storage_last_index(f), 60);
    storage_boot_free(&b);
    CHECK(tsu_append_range(f, 61, 62, 2, 2, 8) == 0);
    storage_close(f);
    CHECK(tsu_open(fdir, &o, &f, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 2);
    CHECK(tsu_boot_has(&b, 61, 62, 2, 2));
    storage_boot_free(&b);
    storage_close(f);
    storage_close(l);
    tsu_rmdir(ldir);
    tsu_rmdir(fdir);
}

/* A damaged newer snapshot is skipped when the log still covers the older one,
 * and refused when skipping it would leave a hole. */
TEST(storage_snapshot_damaged_newest)
{
    char dir[64], path[200], name[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    o.segment_bytes = 1024;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 100, 1, 1, 4) == 0);
    struct raft_conf c = tsu_conf();
    CHECK(storage_snapshot_save(st, 40, 1, &c, "old", 3, 1, NULL) == 0);
    storage_close(st);
    st_snap_name(90, 1, "", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK(tsu_write(path, (const uint8_t *)"VSPRSNAP garbage", 16) == 0);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.snap.index == 40 && b.snap.len == 3 && memcmp(b.snap.data, "old", 3) == 0);
    CHECK_EQ_U64(b.n_entries, 60);
    storage_boot_free(&b);
    /* Compact past the old snapshot's coverage, then damage the new one. */
    CHECK(storage_snapshot_save(st, 95, 1, &c, "new", 3, 96, NULL) == 0);
    storage_close(st);
    st_snap_name(95, 1, "", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *img;
    size_t len;
    CHECK(tsu_read(path, &img, &len) == 0);
    img[len - 6] ^= 1;
    CHECK(tsu_write(path, img, len) == 0);
    free(img);
    char err[512];
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == STORAGE_ECORRUPT);
    CHECK(strstr(err, "gap") != NULL);
    tsu_rmdir(dir);
}

/* One loop iteration, in the Ready loop's order: the last chunk of snapshot 60
 * (term 2) arrives and the leader's entries 61..75 (term 2) replace the follower's
 * conflicting 58..70 (term 1). The core's log now ends past 60, so the loop asks
 * for KEEP_AFTER, yet the WAL still holds the stale term-1 entry at 60. Entries
 * 61..75 are synced and acknowledged: a restart must keep them, not take the
 * stale entry for an interrupted install and drop them. */
TEST(storage_snapshot_install_with_truncating_append)
{
    char ldir[64], fdir[64];
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *l, *f;
    struct storage_boot b;
    CHECK(make_pair(ldir, fdir, &l, &f, &o) == 0);
    CHECK(transfer(l, f, -1) == 0);
    CHECK(storage_snapshot_recv_finish(f, STORAGE_KEEP_AFTER, NULL) == 0);
    struct raft_hard_state hs = {.term = 2, .vote = RAFT_NONE, .commit = 60};
    CHECK(storage_save_hard_state(f, &hs) == 0);
    CHECK(tsu_append_range(f, 61, 75, 2, 2, 15) == 0);
    CHECK_EQ_U64(storage_synced_index(f), 75);
    storage_close(f);
    CHECK(tsu_open(fdir, &o, &f, &b) == 0);
    CHECK(b.snap.index == 60 && b.snap.term == 2);
    CHECK_EQ_U64(b.n_entries, 15);
    CHECK(tsu_boot_has(&b, 61, 75, 2, 2));
    storage_boot_free(&b);
    storage_close(f);
    storage_close(l);
    tsu_rmdir(ldir);
    tsu_rmdir(fdir);
}

/* snapshot_lazy: recovery checks the file in pieces and hands back no payload; the
 * payload reads back from the file at data_off; a file damaged past the first piece
 * is still caught (CRC) and the older snapshot is used; an install hands back no
 * payload either. */
TEST(storage_snapshot_lazy_checks_in_pieces)
{
    char dir[64], fdir[64], path[200], bad[200], name[64];
    tsu_mkdtemp(dir, sizeof dir);
    tsu_mkdtemp(fdir, sizeof fdir);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    o.snapshot_lazy = true;
    size_t len = 10u << 20; /* several 4 MiB pieces */
    uint8_t *payload = malloc(len), *back = malloc(4096);
    CHECK(payload && back);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 7 + (i >> 12));
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 100, 1, 1, 4) == 0);
    struct raft_conf c = tsu_conf();
    CHECK(storage_snapshot_save(st, 40, 1, &c, payload, len, 1, NULL) == 0);
    storage_close(st);
    /* A copy named as a newer snapshot, one bit flipped 6 MiB in. */
    st_snap_name(40, 1, "", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    st_snap_name(90, 1, "", name, sizeof name);
    snprintf(bad, sizeof bad, "%s/%s", dir, name);
    uint8_t *img;
    size_t img_len;
    CHECK(tsu_read(path, &img, &img_len) == 0);
    img[6u << 20] ^= 4;
    CHECK(tsu_write(bad, img, img_len) == 0);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.snap.index == 40 && b.snap.len == len && b.snap.data == NULL);
    CHECK(b.snap.size == img_len && b.snap.data_off > 0 && b.snap.conf.n == 3);
    uint64_t data_off = b.snap.data_off;
    CHECK_EQ_U64(tsu_count_files(dir, ".snap"), 2); /* the damaged one is only skipped */
    for (uint64_t off = 0; off < len; off += len / 5 + 4096) {
        size_t got = 0;
        CHECK(storage_snapshot_read(st, 40, b.snap.data_off + off, back, 4096, &got) == 0);
        CHECK(got == 4096 && memcmp(back, payload + off, 4096) == 0);
    }
    storage_boot_free(&b);
    storage_close(st);
    /* Install: the follower gets the metadata, the payload stays in the file. */
    img[6u << 20] ^= 4;
    struct storage *f;
    CHECK(tsu_open(fdir, &o, &f, &b) == 0);
    storage_boot_free(&b);
    CHECK(storage_snapshot_recv_begin(f, 40, 1) == 0);
    for (size_t off = 0; off < img_len; off += 1u << 20) {
        size_t n = img_len - off < (1u << 20) ? img_len - off : 1u << 20;
        CHECK(storage_snapshot_recv_write(f, off, img + off, n) == 0);
    }
    struct storage_snapshot s;
    CHECK(storage_snapshot_recv_finish(f, STORAGE_DROP_ALL, &s) == 0);
    CHECK(s.index == 40 && s.len == len && s.data == NULL && s.data_off == data_off);
    size_t got = 0;
    CHECK(storage_snapshot_read(f, 40, s.data_off + len - 4096, back, 4096, &got) == 0);
    CHECK(got == 4096 && memcmp(back, payload + len - 4096, 4096) == 0);
    storage_snapshot_free(&s);
    storage_close(f);
    free(img);
    free(payload);
    free(back);
    tsu_rmdir(dir);
    tsu_rmdir(fdir);
}
