/* test_storage_snap_points.c: when storage says a snapshot is due
 * (storage_should_snapshot): each node at its own point of the entries interval,
 * and, for large entries, of the shorter interval the byte threshold leaves, both
 * after snapshots taken on the node's points and off them (installed, or adopted
 * while the log ran on), and after a restart or a suffix truncation. */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "storage/storage.h"
#include "test_storage_util.h"

TEST(storage_snapshot_threshold_phase)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.snapshot_entries = 100;
    o.snapshot_phase = 30;
    o.snapshot_bytes = 100000; /* 100 entries hold at most 23 kB: no effect */
    o.sys = &tsu_sys_nosync;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    /* The first point at or after 50 (half an interval after nothing) is 130. */
    CHECK(tsu_append_range(st, 1, 129, 1, 1, 4) == 0);
    CHECK(!storage_should_snapshot(st));
    CHECK(tsu_append_range(st, 130, 130, 1, 1, 4) == 0);
    CHECK(storage_should_snapshot(st));
    uint8_t payload[16] = {0};
    struct raft_conf c = tsu_conf();
    CHECK(storage_snapshot_save(st, 130, 1, &c, payload, sizeof payload, 131, NULL) == 0);
    CHECK(tsu_append_range(st, 131, 229, 1, 1, 4) == 0);
    CHECK(!storage_should_snapshot(st));
    CHECK(tsu_append_range(st, 230, 230, 1, 1, 4) == 0);
    CHECK(storage_should_snapshot(st));
    /* A snapshot off the node's points (one installed from a leader with another
     * phase): 330 is the first point half an interval past 200, not 230. */
    CHECK(storage_snapshot_save(st, 200, 1, &c, payload, sizeof payload, 201, NULL) == 0);
    CHECK(tsu_append_range(st, 231, 329, 1, 1, 4) == 0);
    CHECK(!storage_should_snapshot(st));
    CHECK(tsu_append_range(st, 330, 330, 1, 1, 4) == 0);
    CHECK(storage_should_snapshot(st));
    storage_close(st);
    tsu_rmdir(dir);
}

enum { BIG = 1000 }; /* payload bytes of append_big's entries: 1,032 in the WAL */

/* Appends entries from..to, each of BIG bytes, each written and synced alone. */
static int append_big(struct storage *st, raft_index from, raft_index to)
{
    static uint8_t payload[BIG];
    for (raft_index i = from; i <= to; i++) {
        struct raft_entry e = {
            .term = 1, .index = i, .type = RAFT_ENTRY_NORMAL, .len = BIG, .data = payload};
        if (storage_append(st, &e, 1) != 0 || storage_sync(st) != 0)
            return -1;
    }
    return 0;
}

/* The first index from..to at which a snapshot is due, appending up to it; 0: none. */
static raft_index first_due(struct storage *st, raft_index from, raft_index to)
{
    for (raft_index i = from; i <= to; i++) {
        if (append_big(st, i, i) != 0)
            return 0;
        if (storage_should_snapshot(st))
            return i;
    }
    return 0;
}

/* Opens (creating it when new) dir with entries 1,000, the given phase and a
 * byte threshold of 100 kB: 96.9 entries of 1,032 bytes, the ladder's 89. */
static struct storage *reopen_big(const char *dir, uint64_t phase)
{
    struct storage_options o;
    tsu_options(&o);
    o.snapshot_entries = 1000;
    o.snapshot_phase = phase;
    o.snapshot_bytes = 100000;
    o.sys = &tsu_sys_nosync;
    struct storage *st = NULL;
    struct storage_boot b;
    if (tsu_open(dir, &o, &st, &b) != 0)
        return NULL;
    storage_boot_free(&b);
    return st;
}

static struct storage *open_big(char *dir, size_t cap, uint64_t phase)
{
    tsu_mkdtemp(dir, cap);
    return reopen_big(dir, phase);
}

/* 1,000 entries would hold 1 MB against a 100 kB threshold: the interval shrinks
 * to 89 entries (1,000 * 23/32 / 8), and the phase of 333 in 1,000 becomes 29 in
 * 89, so this node snapshots at 118, 207, 296, ... and a node of phase 0 at 89,
 * 178, ...: apart, as with the entries threshold, not both once 100 kB are
 * written. */
TEST(storage_snapshot_threshold_bytes_phase)
{
    char dir[64], dir0[64];
    struct storage *st = open_big(dir, sizeof dir, 333);
    struct storage *st0 = open_big(dir0, sizeof dir0, 0);
    CHECK(st && st0);
    CHECK_EQ_U64(first_due(st0, 1, 400), 89);
    CHECK_EQ_U64(first_due(st, 1, 400), 118);
    uint8_t payload[16] = {0};
    struct raft_conf c = tsu_conf();
    CHECK(storage_snapshot_save(st, 118, 1, &c, payload, sizeof payload, 119, NULL) == 0);
    CHECK_EQ_U64(first_due(st, 119, 400), 207); /* steady: one interval later */
    /* A forked writer's snapshot at 207 adopted once the log reached 250: the 43
     * entries past 207 still count, and the next point is half an interval past
     * 207 (252 or later): 296. */
    CHECK(append_big(st, 208, 250) == 0);
    uint64_t size = 0;
    CHECK(storage_snapshot_write(st, 207, 1, &c, payload, sizeof payload, &size) == 0);
    CHECK(storage_snapshot_adopt(st, 207, 1, &c, size, 208) == 0);
    CHECK_EQ_U64(first_due(st, 251, 400), 296);
    /* A snapshot off the node's points (installed from a leader of another phase):
     * 300 + 45 = 345 is not a point; the next is 385. */
    CHECK(append_big(st, 297, 300) == 0);
    CHECK(storage_snapshot_save(st, 300, 1, &c, payload, sizeof payload, 301, NULL) == 0);
    CHECK_EQ_U64(first_due(st, 301, 500), 385);
    storage_close(st);
    storage_close(st0);
    tsu_rmdir(dir);
    tsu_rmdir(dir0);
}

/* After a restart the count covers only what was written since; a snapshot below
 * that point (the applied index lagged the log) keeps it as it is, and a suffix
 * truncation below it starts it again: either way the average is taken over the
 * entries whose bytes were counted. */
TEST(storage_snapshot_threshold_bytes_after_restart)
{
    char dir[64];
    struct storage *st = open_big(dir, sizeof dir, 333);
    CHECK(st && append_big(st, 1, 100) == 0);
    storage_close(st);
    st = reopen_big(dir, 333); /* counts from 100 */
    CHECK(st);
    uint8_t payload[16] = {0};
    struct raft_conf c = tsu_conf();
    CHECK(storage_snapshot_save(st, 50, 1, &c, payload, sizeof payload, 51, NULL) == 0);
    /* Due at 118 (the first point past 50 + 45), once 13 entries were counted. */
    CHECK_EQ_U64(first_due(st, 101, 400), 118);
    CHECK(append_big(st, 119, 200) == 0);
    storage_close(st);
    st = reopen_big(dir, 333); /* counts from 200 */
    CHECK(st);
    /* A new leader's entries replace 150..200. Point 118 is behind: due as soon as
     * the count knows the entries' size again, 13 entries in, at 162. */
    CHECK_EQ_U64(first_due(st, 150, 400), 162);
    storage_close(st);
    tsu_rmdir(dir);
}
