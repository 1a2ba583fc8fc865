/* test_storage_order.c: durability does not depend on the order of calls.
 *
 * The Ready loop saves the hard state before it appends, and installs a received
 * snapshot before both. Whatever that order, storage must never make durable:
 *   - a commit index that names entries not durable with it (a torn write that
 *     kept the hard state but not the entries before it, or a new segment's
 *     header carrying a hard state that was only buffered);
 *   - a log that a restart reads as an interrupted install, dropping entries
 *     that were synced after the install.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

static long seg_len(const char *dir, uint64_t seq)
{
    char path[160];
    uint8_t *img;
    size_t len;
    tsu_seg_path(dir, seq, path, sizeof path);
    if (tsu_read(path, &img, &len))
        return -1;
    free(img);
    return (long)len;
}

static uint64_t last_seq(const char *dir)
{
    uint64_t seq = 1;
    while (seg_len(dir, seq + 1) >= 0)
        seq++;
    return seq;
}

/* Recovered state is consistent: commit within the log, and every entry at or
 * below commit among 5..10 is the one of term 2 (the old ones were never
 * committed). */
static int order_check(const char *dir, struct storage_options *o)
{
    struct storage *st;
    struct storage_boot b;
    if (tsu_open(dir, o, &st, &b))
        return -1;
    raft_index last = b.snap.index + b.n_entries;
    int ok = b.hs.commit <= last;
    for (raft_index i = 5; ok && i <= b.hs.commit && i <= 10; i++)
        ok = tsu_boot_has(&b, i, i, 2, 2);
    if (!ok)
        fprintf(stderr, "  commit %llu over last %llu, entry 5 term %llu\n",
                (unsigned long long)b.hs.commit, (unsigned long long)last,
                (unsigned long long)(b.n_entries >= 5 ? b.entries[4].term : 0));
    storage_boot_free(&b);
    storage_close(st);
    return ok ? 0 : -1;
}

/* Entries 1..10 of term 1 are durable with commit 4. A new leader's entries 5..10
 * (term 2) and commit 10 arrive in one iteration, hard state saved first. The
 * write is cut at every offset of the segment it went to. */
static void commit_vs_entries(uint64_t segment_bytes)
{
    char dir[64], path[160];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    o.segment_bytes = segment_bytes;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    struct raft_hard_state hs = {.term = 1, .vote = 1, .commit = 4};
    CHECK(storage_save_hard_state(st, &hs) == 0);
    CHECK(tsu_append_range(st, 1, 10, 1, 1, 10) == 0);
    uint64_t seq = last_seq(dir);
    long before = seg_len(dir, seq);
    CHECK(before > 0);
    hs = (struct raft_hard_state){.term = 2, .vote = 2, .commit = 10};
    CHECK(storage_save_hard_state(st, &hs) == 0);
    static uint8_t bufs[6][TS_MAX_ENTRY];
    struct raft_entry e[6];
    for (raft_index i = 5; i <= 10; i++)
        e[i - 5] = tsu_entry(i, 2, 2, bufs[i - 5]);
    CHECK(storage_append(st, e, 6) == 0);
    CHECK(storage_write(st) == 0); /* written, never synced: a crash may tear it */
    storage_close(st);
    uint64_t wseq = last_seq(dir);
    size_t from = wseq == seq ? (size_t)before : 0;
    uint8_t *img;
    size_t len;
    tsu_seg_path(dir, wseq, path, sizeof path);
    CHECK(tsu_read(path, &img, &len) == 0);
    for (size_t cut = from; cut <= len; cut++) {
        for (uint64_t extra = wseq + 1; seg_len(dir, extra) >= 0; extra++) {
            char xpath[160]; /* a segment the previous reopen rolled to */
            tsu_seg_path(dir, extra, xpath, sizeof xpath);
            CHECK(unlink(xpath) == 0);
        }
        CHECK(tsu_write(path, img, cut) == 0);
        if (order_check(dir, &o)) {
            fprintf(stderr, "  segment %llu cut at %zu of %zu\n", (unsigned long long)wseq, cut,
                    len);
            free(img);
            CHECK(0);
        }
    }
    free(img);
    tsu_rmdir(dir);
}

TEST(storage_order_commit_never_ahead_of_entries)
{
    commit_vs_entries(1u << 30);
}

/* The same write rolls to a new segment: its header must not carry commit 10. */
TEST(storage_order_commit_never_ahead_of_entries_on_roll)
{
    commit_vs_entries(2048);
}
