/* test_storage_window.c: replay reads a segment through a window (src/storage/segread.c),
 * never the whole file. These tests write segments of several window sizes, with
 * records that straddle the window's edges and one larger than the window, and check
 * that reopening returns every entry intact, that a torn tail far past the first
 * window is still cut, and that damage to durable data there is still refused. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

#define WIN_ENTRIES 60
#define WIN_BIG     (3u << 19) /* 1.5 MiB: larger than the window */

/* Entry i's payload length: sizes that put record edges everywhere relative to
 * the 1 MiB window, and one entry larger than the window. */
static size_t win_len(raft_index i)
{
    static const size_t sizes[] = {1, 700, 4000, 65549, 300007, 0, 131071};
    return i == 17 ? WIN_BIG : sizes[i % (sizeof sizes / sizeof sizes[0])];
}

static uint8_t win_byte(raft_index i, size_t k)
{
    return (uint8_t)(i * 131 + k * 7 + (k >> 9));
}

static int win_append(struct storage *st, raft_index from, raft_index to)
{
    uint8_t *buf = malloc(WIN_BIG);
    int rc = buf ? 0 : -1;
    for (raft_index i = from; i <= to && rc == 0; i++) {
        size_t len = win_len(i);
        for (size_t k = 0; k < len; k++)
            buf[k] = win_byte(i, k);
        struct raft_entry e = {
            .term = 2, .index = i, .type = RAFT_ENTRY_NORMAL, .len = len, .data = buf};
        rc = storage_append(st, &e, 1);
        if (rc == 0)
            rc = storage_sync(st);
    }
    free(buf);
    return rc;
}

static int win_boot_ok(const struct storage_boot *b, raft_index last)
{
    if (b->n_entries != last)
        return 0;
    for (raft_index i = 1; i <= last; i++) {
        const struct raft_entry *e = &b->entries[i - 1];
        if (e->index != i || e->term != 2 || e->len != win_len(i))
            return 0;
        for (size_t k = 0; k < e->len; k++)
            if (e->data[k] != win_byte(i, k))
                return 0;
    }
    return 1;
}

static void win_options(struct storage_options *o)
{
    tsu_options(o);
    o->sys = &tsu_sys_nosync;
    o->preallocate = true;
    o->segment_bytes = 64u << 20; /* one segment, mostly preallocated zeros */
}

TEST(storage_replay_reads_a_segment_through_a_window)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    win_options(&o);
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(win_append(st, 1, WIN_ENTRIES) == 0);
    storage_close(st);
    CHECK_EQ_U64(tsu_count_files(dir, ".seg"), 1);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(win_boot_ok(&b, WIN_ENTRIES));
    storage_boot_free(&b);
    /* Appends continue after the last record, and a second reopen sees both. */
    CHECK(win_append(st, WIN_ENTRIES + 1, WIN_ENTRIES + 10) == 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(win_boot_ok(&b, WIN_ENTRIES + 10));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

/* Writes n bytes of x at off in dir's first segment. */
static int win_poke(const char *dir, uint64_t off, uint8_t x, size_t n)
{
    char path[256];
    tsu_seg_path(dir, 1, path, sizeof path);
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    uint8_t buf[64];
    memset(buf, x, sizeof buf);
    ssize_t w = pwrite(fd, buf, n < sizeof buf ? n : sizeof buf, (off_t)off);
    close(fd);
    return w > 0 ? 0 : -1;
}

/* A fresh directory holding one segment of entries 1..WIN_ENTRIES; returns the
 * offset after the last record (0 when writing failed). */
static uint64_t win_written(char *dir, size_t cap, struct storage_options *o)
{
    tsu_mkdtemp(dir, cap);
    win_options(o);
    struct storage *st;
    struct storage_boot b;
    if (tsu_open(dir, o, &st, &b) != 0)
        return 0;
    storage_boot_free(&b);
    uint64_t end = win_append(st, 1, WIN_ENTRIES) == 0 ? st->size : 0;
    storage_close(st);
    return end;
}

TEST(storage_replay_cuts_a_torn_tail_past_the_first_window)
{
    char dir[64];
    struct storage_options o;
    uint64_t end = win_written(dir, sizeof dir, &o);
    CHECK(end > (4u << 20));
    /* A write that was never synced: garbage after the last record, in the
     * preallocated space, 3 MiB past the first window. */
    CHECK(win_poke(dir, end + 40, 0x5a, 64) == 0);
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(win_boot_ok(&b, WIN_ENTRIES));
    CHECK(strstr(tsu_last_log, "torn tail") != NULL);
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

TEST(storage_replay_refuses_damage_below_the_synced_claim_past_the_first_window)
{
    char dir[64];
    struct storage_options o;
    uint64_t end = win_written(dir, sizeof dir, &o);
    CHECK(end > (4u << 20));
    /* One byte inside a record written and synced well before the end. */
    CHECK(win_poke(dir, end - 400000, 0xff, 1) == 0);
    struct storage *st;
    struct storage_boot b;
    char err[512];
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == STORAGE_ECORRUPT);
    CHECK(strstr(err, "sync slot") != NULL);
    tsu_rmdir(dir);
}
