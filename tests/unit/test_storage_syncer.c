/* test_storage_syncer.c: the background sync thread (syncer.c): completions come
 * back through the eventfd, synced_index only moves forward and never past the
 * log, segment rolls and suffix truncations drain it, and a failed fdatasync in
 * the thread fails the object stop at once and for good. Kept simple: one loop
 * thread, one sync thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/storage.h"
#include "test_storage_util.h"

static int wait_complete(struct storage *st)
{
    struct pollfd p = {.fd = storage_sync_fd(st), .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return -1;
    return storage_sync_complete(st);
}

static int sy_open(const char *dir, uint64_t segment_bytes, const struct storage_sys *sys,
                   struct storage **st)
{
    struct storage_options o;
    tsu_options(&o);
    o.segment_bytes = segment_bytes;
    o.sys = sys;
    struct storage_boot b;
    char err[512];
    int rc = storage_open(st, dir, &o, &b, err, sizeof err);
    if (rc == 0)
        storage_boot_free(&b);
    return rc;
}

TEST(storage_syncer_group_commit_and_roll)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage *st;
    CHECK(sy_open(dir, 4096, &tsu_sys_nosync, &st) == 0);
    CHECK(storage_sync_thread_start(st) == 0);
    CHECK(storage_sync_fd(st) >= 0);
    uint8_t buf[TS_MAX_ENTRY];
    raft_index prev = 0;
    for (raft_index i = 1; i <= 300; i++) {
        struct raft_entry e = tsu_entry(i, 1, 1, buf);
        CHECK(storage_append(st, &e, 1) == 0);
        CHECK(storage_sync_begin(st) == 0);
        CHECK(storage_written_index(st) == i);
        if (i % 3 == 0)
            CHECK(wait_complete(st) == 0);
        raft_index s = storage_synced_index(st);
        CHECK(s >= prev && s <= i);
        prev = s;
    }
    while (storage_synced_index(st) < 300)
        CHECK(wait_complete(st) == 0);
    storage_close(st);
    CHECK(tsu_count_files(dir, ".seg") > 3);
    struct storage_options o;
    tsu_options(&o);
    struct storage_boot b;
    char err[512];
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == 0);
    CHECK_EQ_U64(b.n_entries, 300);
    for (size_t i = 0; i < 300; i++)
        CHECK(b.entries[i].index == i + 1 && tsu_entry_ok(&b.entries[i], 1));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

TEST(storage_syncer_truncation_drains)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage *st;
    CHECK(sy_open(dir, 1u << 20, &tsu_sys_nosync, &st) == 0);
    CHECK(storage_sync_thread_start(st) == 0);
    uint8_t bufs[10][TS_MAX_ENTRY];
    struct raft_entry e[10];
    for (int i = 0; i < 10; i++)
        e[i] = tsu_entry((raft_index)i + 1, 1, 1, bufs[i]);
    CHECK(storage_append(st, e, 10) == 0);
    CHECK(storage_sync_begin(st) == 0);
    for (int i = 0; i < 2; i++)
        e[i] = tsu_entry((raft_index)i + 5, 2, 2, bufs[i]);
    CHECK(storage_append(st, e, 2) == 0); /* waits for the sync of 1..10 */
    CHECK(storage_synced_index(st) == 4);
    CHECK(storage_sync_begin(st) == 0);
    while (storage_synced_index(st) < 6)
        CHECK(wait_complete(st) == 0);
    CHECK_EQ_U64(storage_synced_index(st), 6);
    storage_close(st);
    struct storage_options o;
    tsu_options(&o);
    struct storage_boot b;
    char err[512];
    CHECK(storage_open(&st, dir, &o, &b, err, sizeof err) == 0);
    CHECK_EQ_U64(b.n_entries, 6);
    CHECK(b.entries[3].term == 1 && b.entries[4].term == 2 && tsu_entry_ok(&b.entries[5], 2));
    storage_boot_free(&b);
    storage_close(st);
    tsu_rmdir(dir);
}

static int fail_sync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

/* The test tables' calls with another fdatasync. */
static struct storage_sys with_fdatasync(int (*fn)(int fd))
{
    struct storage_sys sys = tsu_sys_nosync;
    sys.fdatasync = fn;
    return sys;
}

TEST(storage_syncer_failed_sync_fails_stop)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage *st;
    struct storage_sys bad_sync_sys = with_fdatasync(fail_sync);
    CHECK(sy_open(dir, 1u << 20, &bad_sync_sys, &st) == 0);
    CHECK(storage_sync_thread_start(st) == 0);
    uint8_t buf[TS_MAX_ENTRY];
    struct raft_entry e = tsu_entry(1, 1, 1, buf);
    CHECK(storage_append(st, &e, 1) == 0);
    CHECK(storage_sync_begin(st) == 0);
    CHECK(wait_complete(st) == STORAGE_EIO);
    CHECK(strstr(storage_errmsg(st), "wal: fdatasync 0000000000000001.seg: Input/output error"));
    CHECK_EQ_U64(storage_synced_index(st), 0);
    e = tsu_entry(2, 1, 1, buf);
    CHECK(storage_append(st, &e, 1) == STORAGE_EFAILED);
    CHECK(storage_sync_begin(st) == STORAGE_EFAILED);
    storage_close(st);
    tsu_rmdir(dir);
}

/* Linux reports a writeback error to one fdatasync only: the first call fails, the
 * next on the same file returns 0 though the pages are gone. */
static atomic_int syncs_seen;

static int fail_first_sync(int fd)
{
    if (atomic_fetch_add(&syncs_seen, 1) == 0) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

/* A fresh log in dir whose first entry the thread failed to sync: answered, not
 * yet collected. 0, or -1 when any step went otherwise. */
static int thread_sync_failed(char *dir, size_t cap, const struct storage_sys *sys,
                              struct storage **st)
{
    tsu_mkdtemp(dir, cap);
    atomic_store(&syncs_seen, 0);
    uint8_t buf[TS_MAX_ENTRY];
    struct raft_entry e = tsu_entry(1, 1, 1, buf);
    if (sy_open(dir, 1u << 20, sys, st) != 0)
        return -1;
    if (storage_sync_thread_start(*st) != 0 || storage_append(*st, &e, 1) != 0 ||
        storage_sync_begin(*st) != 0)
        return -1;
    struct pollfd p = {.fd = storage_sync_fd(*st), .events = POLLIN};
    return poll(&p, 1, 5000) == 1 ? 0 : -1;
}

/* The thread's failure is seen before anything else can claim durability: the
 * request stays pending, an inline sync (which would get 0 from the same file)
 * fails stop, and so does the next write. */
TEST(storage_syncer_failure_is_sticky)
{
    char dir[64];
    struct storage *st;
    struct storage_sys fail_once_sys = with_fdatasync(fail_first_sync);
    uint8_t buf[TS_MAX_ENTRY];
    struct raft_entry e = tsu_entry(2, 1, 1, buf);
    CHECK(thread_sync_failed(dir, sizeof dir, &fail_once_sys, &st) == 0);
    CHECK(storage_sync_pending(st));
    CHECK(storage_sync(st) == STORAGE_EIO);
    CHECK(strstr(storage_errmsg(st), "fdatasync") != NULL);
    CHECK_EQ_U64(storage_synced_index(st), 0);
    CHECK(storage_append(st, &e, 1) == STORAGE_EFAILED);
    storage_close(st);
    tsu_rmdir(dir);
    /* The same with a write as the next step. */
    CHECK(thread_sync_failed(dir, sizeof dir, &fail_once_sys, &st) == 0);
    CHECK(storage_append(st, &e, 1) == STORAGE_EIO);
    CHECK(storage_sync_begin(st) == STORAGE_EFAILED);
    storage_close(st);
    tsu_rmdir(dir);
}

/* Manual mode (the simulation's): begin only records the request, nothing is
 * durable until storage_sync_run(), a truncation serves the open request inline,
 * and the answer's duration is taken once. */
TEST(storage_syncer_manual_mode)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage *st;
    CHECK(sy_open(dir, 1u << 20, &tsu_sys_nosync, &st) == 0);
    CHECK(storage_sync_manual_start(st) == 0);
    CHECK(storage_sync_fd(st) == -1);
    CHECK(!storage_sync_pending(st));
    uint8_t bufs[10][TS_MAX_ENTRY];
    struct raft_entry e[10];
    for (int i = 0; i < 10; i++)
        e[i] = tsu_entry((raft_index)i + 1, 1, 1, bufs[i]);
    CHECK(storage_append(st, e, 10) == 0);
    CHECK(storage_sync_begin(st) == 0);
    CHECK(storage_sync_pending(st));
    CHECK(storage_sync_complete(st) == 0); /* nothing answered yet */
    CHECK_EQ_U64(storage_synced_index(st), 0);
    CHECK_EQ_U64(storage_sync_take_us(st), 0);
    CHECK(storage_sync_run(st) == 0);
    CHECK(!storage_sync_pending(st));
    CHECK_EQ_U64(storage_synced_index(st), 10);
    CHECK(storage_sync_take_us(st) > 0);
    CHECK_EQ_U64(storage_sync_take_us(st), 0);
    for (int i = 0; i < 2; i++)
        e[i] = tsu_entry((raft_index)i + 11, 1, 1, bufs[i]);
    CHECK(storage_append(st, e, 2) == 0);
    CHECK(storage_sync_begin(st) == 0);
    e[0] = tsu_entry(12, 2, 2, bufs[0]);
    CHECK(storage_append(st, e, 1) == 0); /* the truncation runs the open sync first */
    CHECK(!storage_sync_pending(st));
    CHECK_EQ_U64(storage_synced_index(st), 11);
    CHECK(storage_sync(st) == 0);
    CHECK_EQ_U64(storage_synced_index(st), 12);
    storage_close(st);
    tsu_rmdir(dir);
}
