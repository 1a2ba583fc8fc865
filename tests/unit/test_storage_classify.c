/* test_storage_classify.c: recovery tells a torn write from damaged durable data
 * by what was durably written, never by bytes a client controls.
 *
 *   - A client value may contain the exact bytes of any WAL record. When the
 *     write that carries it is torn, recovery truncates the tail as for any torn
 *     write; the forged record inside the value must not make it refuse to start.
 *   - Damage inside the last write that was synced (no later write exists) is
 *     corruption: cutting it as a torn tail would silently drop a durable vote.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

/* Offset of the last record of `type` (and, for entries, `index`) in a segment
 * image, walking the records from the start (skipping the reserved header area
 * where records do not continue); (size_t)-1 when there is none. */
static size_t find_rec(const uint8_t *img, size_t len, uint8_t type, raft_index index)
{
    size_t off = 0, found = (size_t)-1;
    while (off < len) {
        struct rec r;
        size_t sz;
        if (st_rec_decode(img + off, len - off, &r, &sz) != REC_OK) {
            if (off >= 4096)
                break;
            off++; /* header padding or slots: look further (test helper only) */
            continue;
        }
        if (r.type == type && (!st_rec_is_entry(type) || r.index == index))
            found = off;
        off += sz;
    }
    return found;
}

static void open_dir(char *dir, struct storage_options *o, struct storage **st)
{
    struct storage_boot b;
    tsu_mkdtemp(dir, 64);
    tsu_options(o);
    o->sys = &tsu_sys_nosync;
    if (tsu_open(dir, o, st, &b) == 0)
        storage_boot_free(&b);
}

TEST(storage_classify_forged_record_in_torn_value)
{
    char dir[64], path[160];
    struct storage_options o;
    struct storage *st;
    struct storage_boot b;
    open_dir(dir, &o, &st);
    CHECK(tsu_append_range(st, 1, 5, 1, 1, 5) == 0);
    /* A value holding a valid-looking "durable through 2^40 bytes" record. */
    uint8_t value[96];
    memset(value, 'v', sizeof value);
    struct rec forged = {.type = REC_DURABLE, .index = 1ull << 40};
    st_rec_encode(value + 17, &forged);
    struct raft_entry e[2] = {
        {.term = 1, .index = 6, .type = RAFT_ENTRY_NORMAL, .len = sizeof value, .data = value},
        {.term = 1, .index = 7, .type = RAFT_ENTRY_NORMAL, .len = 3, .data = (uint8_t *)"abc"},
    };
    CHECK(storage_append(st, e, 2) == 0);
    CHECK(storage_write(st) == 0); /* never synced */
    storage_close(st);
    /* The crash tore the write: its first sector never reached the disk. */
    uint8_t *img;
    size_t len;
    tsu_seg_path(dir, 1, path, sizeof path);
    CHECK(tsu_read(path, &img, &len) == 0);
    size_t at = find_rec(img, len, RAFT_ENTRY_NORMAL, 6);
    CHECK(at != (size_t)-1);
    memset(img + at, 0, 16);
    CHECK(tsu_write(path, img, len) == 0);
    free(img);
    char err[512];
    int rc = storage_open(&st, dir, &o, &b, err, sizeof err);
    if (rc)
        fprintf(stderr, "  open: %s\n", err);
    CHECK(rc == 0);
    CHECK_EQ_U64(b.n_entries, 5);
    CHECK(tsu_boot_has(&b, 1, 5, 1, 1));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

TEST(storage_classify_damage_in_last_synced_write)
{
    char dir[64], path[160];
    struct storage_options o;
    struct storage *st;
    struct storage_boot b;
    open_dir(dir, &o, &st);
    CHECK(tsu_append_range(st, 1, 5, 1, 1, 5) == 0);
    struct raft_hard_state hs = {.term = 3, .vote = 2, .commit = 5};
    CHECK(storage_save_hard_state(st, &hs) == 0);
    CHECK(storage_sync(st) == 0); /* the vote is durable; nothing is written after it */
    storage_close(st);
    uint8_t *img;
    size_t len;
    tsu_seg_path(dir, 1, path, sizeof path);
    CHECK(tsu_read(path, &img, &len) == 0);
    size_t at = find_rec(img, len, REC_HARDSTATE, 0);
    CHECK(at != (size_t)-1 && st_rec_get64(img + at + 16) == 3);
    img[at + 12] ^= 0x01; /* the vote field */
    CHECK(tsu_write(path, img, len) == 0);
    free(img);
    char err[512];
    int rc = storage_open(&st, dir, &o, &b, err, sizeof err);
    if (rc == 0) {
        fprintf(stderr, "  opened: hard state term %llu vote %u\n", (unsigned long long)b.hs.term,
                b.hs.vote);
        storage_boot_free(&b);
        storage_close(st);
    }
    CHECK(rc == STORAGE_ECORRUPT);
    CHECK(strstr(err, ".seg offset") != NULL);
    CHECK(storage_check(dir, stderr) == 1);
    tsu_rmdir(dir);
}

/* A directory written by a build of format version 1 (records from offset 0, no
 * sync slots) opens: its records are read, a bad record in its last segment is a
 * torn tail, FORMAT is upgraded and new records go to a version 2 segment. */
TEST(storage_classify_reads_and_upgrades_version_1)
{
    char dir[64], path[160];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/FORMAT", dir);
    CHECK(tsu_write(path, (const uint8_t *)"vesper-storage-format 1\n", 24) == 0);
    static uint8_t img[16384];
    size_t n = 0;
    struct rec h = {
        .type = REC_SEGHDR, .aux = 1, .index = 1, .len = 8, .data = (const uint8_t *)REC_SEG_MAGIC};
    n += st_rec_encode(img + n, &h);
    struct rec hs = {.type = REC_HARDSTATE, .aux = 2, .term = 4, .index = 3};
    n += st_rec_encode(img + n, &hs);
    for (raft_index i = 1; i <= 6; i++) {
        uint8_t buf[TS_MAX_ENTRY];
        struct raft_entry e = tsu_entry(i, 4, 1, buf);
        struct rec r = {.type = e.type, .term = e.term, .index = i, .len = e.len, .data = e.data};
        n += st_rec_encode(img + n, &r);
        struct rec claim = {.type = REC_DURABLE, .index = n}; /* as version 1 wrote */
        n += st_rec_encode(img + n, &claim);
    }
    memset(img + n, 0x77, 20); /* a torn last write */
    n += 20;
    tsu_seg_path(dir, 1, path, sizeof path);
    CHECK(tsu_write(path, img, n) == 0);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.hs.term == 4 && b.hs.vote == 2 && b.hs.commit == 3);
    CHECK_EQ_U64(b.n_entries, 6);
    CHECK(tsu_boot_has(&b, 1, 6, 4, 1));
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 7, 9, 5, 2, 3) == 0);
    storage_close(st);
    uint8_t *text;
    size_t len;
    snprintf(path, sizeof path, "%s/FORMAT", dir);
    CHECK(tsu_read(path, &text, &len) == 0);
    CHECK(len == 24 && memcmp(text, "vesper-storage-format 2\n", 24) == 0);
    free(text);
    tsu_seg_path(dir, 2, path, sizeof path);
    CHECK(tsu_read(path, &text, &len) == 0);
    CHECK(len > WAL_DATA_START && st_rec_get32(text + 12) == STORAGE_FORMAT_VERSION);
    free(text);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 9);
    CHECK(tsu_boot_has(&b, 1, 6, 4, 1) && tsu_boot_has(&b, 7, 9, 5, 2));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

/* Preallocated segments end in zeros, completed ones too: a clean end, not damage. */
TEST(storage_classify_preallocated_completed_segments)
{
    char dir[64];
    struct storage_options o;
    struct storage *st;
    struct storage_boot b;
    open_dir(dir, &o, &st);
    storage_close(st);
    struct storage_sys sys = tsu_sys_nosync;
    sys.fallocate = fallocate;
    o.sys = &sys;
    o.preallocate = true;
    o.segment_bytes = 4096;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 60, 1, 1, 4) == 0);
    storage_close(st);
    CHECK(tsu_count_files(dir, ".seg") >= 3);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(tsu_boot_has(&b, 1, 60, 1, 1));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

/* A version 2 segment holding its header record but not the hard state after it
 * never had a record synced: it goes, and new records never land in the header
 * area (found by fuzzing: they did, and the next open skipped them). */
TEST(storage_classify_header_without_hard_state)
{
    char dir[64], path[160];
    struct storage_options o;
    struct storage *st;
    struct storage_boot b;
    open_dir(dir, &o, &st);
    CHECK(tsu_append_range(st, 1, 3, 1, 1, 3) == 0);
    storage_close(st);
    uint8_t head[40];
    struct rec h = {.type = REC_SEGHDR,
                    .aux = STORAGE_FORMAT_VERSION,
                    .index = 2,
                    .len = 8,
                    .data = (const uint8_t *)REC_SEG_MAGIC};
    CHECK(st_rec_encode(head, &h) == sizeof head);
    tsu_seg_path(dir, 2, path, sizeof path);
    CHECK(tsu_write(path, head, sizeof head) == 0);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK_EQ_U64(b.n_entries, 3);
    storage_boot_free(&b);
    struct raft_hard_state hs = {.term = 2, .vote = 1, .commit = 3};
    CHECK(storage_save_hard_state(st, &hs) == 0);
    CHECK(tsu_append_range(st, 4, 4, 2, 2, 1) == 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.hs.term == 2 && b.hs.vote == 1 && b.hs.commit == 3);
    CHECK(tsu_boot_has(&b, 1, 3, 1, 1) && tsu_boot_has(&b, 4, 4, 2, 2));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}
