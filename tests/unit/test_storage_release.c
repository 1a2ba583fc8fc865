/* test_storage_release.c: how storage keeps large files off the caller's back.
 * The default table's unlink (release.c): the name is gone when it returns, a
 * large file's descriptor is closed by the background thread, a small one at
 * once, errors are unlink's own, a forked child never touches the parent's
 * thread, a hard-linked or held file stays whole, and replacing a large
 * snapshot goes through it. Write-behind: a large snapshot is written and sent to
 * disk in pieces (storage_writeback), and a received one piece by piece as it
 * arrives. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/storage.h"
#include "storage/sys.h"
#include "test_storage_util.h"

#define LARGE (6u << 20)

static void make_file(const char *path, size_t len)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 0) == 0);
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    for (size_t off = 0; off < len; off += sizeof block)
        CHECK(write(fd, block, sizeof block) == (ssize_t)sizeof block);
    CHECK(close(fd) == 0);
}

TEST(storage_release_large_file_is_closed_by_the_thread)
{
    char dir[64], path[128];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big", dir);
    struct storage_release_stats before, after;
    storage_release_wait(&before);
    make_file(path, LARGE);
    CHECK(storage_sys_default.unlink(path) == 0);
    CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    storage_release_wait(&after);
    CHECK_EQ_U64(after.queued, before.queued + 1);
    CHECK_EQ_U64(after.released, after.queued);
    /* A small file is closed at once: nothing queued. */
    snprintf(path, sizeof path, "%s/small", dir);
    make_file(path, 1 << 16);
    CHECK(storage_sys_default.unlink(path) == 0);
    CHECK(access(path, F_OK) < 0 && errno == ENOENT);
    storage_release_wait(&before);
    CHECK_EQ_U64(before.queued, after.queued);
    tsu_rmdir(dir);
}

/* Unlinks path through the default table, which hands the file to the thread;
 * waits for the thread. *before (optional): the counts before. */
static void unlink_to_thread(const char *path, struct storage_release_stats *before)
{
    struct storage_release_stats b, after;
    storage_release_wait(&b);
    CHECK(storage_sys_default.unlink(path) == 0);
    storage_release_wait(&after);
    CHECK_EQ_U64(after.queued, b.queued + 1);
    if (before)
        *before = b;
}

/* The thread frees a removed file by truncating it, but never one that another
 * name still holds: that copy keeps every byte. */
TEST(storage_release_keeps_a_hard_linked_copy_whole)
{
    char dir[64], path[128], copy[128];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big", dir);
    snprintf(copy, sizeof copy, "%s/copy", dir);
    make_file(path, LARGE);
    CHECK(link(path, copy) == 0);
    unlink_to_thread(path, NULL);
    struct stat sb;
    CHECK(stat(copy, &sb) == 0 && sb.st_size == (off_t)LARGE);
    CHECK(unlink(copy) == 0);
    tsu_rmdir(dir);
}

/* Nor one a reader holds (storage_snapshot_open's hold): it reads every byte, and
 * its own close, the last one, leaves the freeing to the thread. */
TEST(storage_release_keeps_a_held_file_whole)
{
    char dir[64], path[128];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/big", dir);
    make_file(path, LARGE);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && storage_sys_default.hold(fd) == 0);
    struct storage_release_stats before, after;
    unlink_to_thread(path, &before);
    struct stat sb;
    char last = 0;
    CHECK(fstat(fd, &sb) == 0 && sb.st_size == (off_t)LARGE);
    CHECK(pread(fd, &last, 1, LARGE - 1) == 1 && last == 'x');
    /* The reader's close, the last one, hands the freeing to the thread too. */
    CHECK(storage_sys_default.close(fd) == 0);
    storage_release_wait(&after);
    CHECK_EQ_U64(after.queued, before.queued + 2);
    CHECK_EQ_U64(after.released, after.queued);
    tsu_rmdir(dir);
}

TEST(storage_release_reports_unlink_errors)
{
    char dir[64], path[128];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/missing", dir);
    errno = 0;
    CHECK(storage_sys_default.unlink(path) < 0 && errno == ENOENT);
    /* A directory cannot be unlinked; the error is unlink's (EISDIR on Linux). */
    snprintf(path, sizeof path, "%s/sub", dir);
    CHECK(mkdir(path, 0755) == 0);
    errno = 0;
    CHECK(storage_sys_default.unlink(path) < 0 && errno == EISDIR);
    CHECK(rmdir(path) == 0);
    tsu_rmdir(dir);
}

TEST(storage_release_in_a_forked_child_closes_at_once)
{
    char dir[64], path[128];
    tsu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/first", dir);
    make_file(path, LARGE); /* starts the thread in this process */
    CHECK(storage_sys_default.unlink(path) == 0);
    struct storage_release_stats before, after;
    storage_release_wait(&before);
    snprintf(path, sizeof path, "%s/child", dir);
    make_file(path, LARGE);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct storage_release_stats in_child;
        int ok = storage_sys_default.unlink(path) == 0 && access(path, F_OK) < 0;
        storage_release_wait(&in_child); /* not this process's thread: zeros */
        _exit(ok && in_child.queued == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    storage_release_wait(&after);
    CHECK_EQ_U64(after.queued, before.queued);
    tsu_rmdir(dir);
}

TEST(storage_release_replaced_snapshot_is_freed_off_the_caller)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &storage_sys_default;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 20, 1, 1, 10) == 0);
    uint8_t *payload = calloc(1, LARGE);
    CHECK(payload);
    struct raft_conf c = tsu_conf();
    struct storage_release_stats before, after;
    CHECK(storage_snapshot_save(st, 10, 1, &c, payload, LARGE, 5, NULL) == 0);
    storage_release_wait(&before);
    CHECK(storage_snapshot_save(st, 20, 1, &c, payload, LARGE, 15, NULL) == 0);
    CHECK_EQ_U64(tsu_count_files(dir, ".snap"), 1);
    storage_release_wait(&after);
    CHECK_EQ_U64(after.queued, before.queued + 1);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.snap.index == 20 && b.snap.len == LARGE);
    storage_boot_free(&b);
    storage_close(st);
    free(payload);
    tsu_rmdir(dir);
}

static uint64_t wb_calls, wb_next, wb_gaps, wb_waited;

static void wb_record(int fd, uint64_t off, uint64_t len, bool wait)
{
    (void)fd;
    wb_waited += wait;
    if (off != wb_next && wb_calls > 0)
        wb_gaps++;
    wb_next = off + len;
    wb_calls++;
    CHECK(len <= STORAGE_WRITEBACK_BYTES);
}

TEST(storage_writeback_snapshot_is_sent_to_disk_in_pieces)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    struct storage_sys sys = storage_sys_default;
    sys.writeback = wb_record;
    struct storage_options o;
    tsu_options(&o);
    o.sys = &sys;
    struct storage *st;
    struct storage_boot b;
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    storage_boot_free(&b);
    CHECK(tsu_append_range(st, 1, 20, 1, 1, 10) == 0);
    size_t len = 2 * STORAGE_SNAP_PIECE_BYTES + 12345;
    uint8_t *payload = malloc(len);
    CHECK(payload);
    for (size_t i = 0; i < len; i++)
        payload[i] = (uint8_t)(i * 7);
    struct raft_conf c = tsu_conf();
    /* Written by a writer of its own (storage_snapshot_write, vesperd's forked
     * child): each piece on disk before the next. */
    wb_calls = wb_next = wb_gaps = wb_waited = 0;
    uint64_t size = 0;
    CHECK(storage_snapshot_write(st, 10, 1, &c, payload, len, &size) == 0);
    CHECK(storage_snapshot_adopt(st, 10, 1, &c, size, 5) == 0);
    CHECK_EQ_U64(wb_calls, 3);
    CHECK_EQ_U64(wb_gaps, 0);
    CHECK_EQ_U64(wb_waited, 3);
    /* Written on the loop (storage_snapshot_save): pieces go out behind. */
    wb_calls = wb_next = wb_gaps = wb_waited = 0;
    CHECK(storage_snapshot_save(st, 11, 1, &c, payload, len, 5, NULL) == 0);
    CHECK_EQ_U64(wb_calls, 1);
    CHECK_EQ_U64(wb_waited, 0);
    storage_close(st);
    CHECK(tsu_open(dir, &o, &st, &b) == 0);
    CHECK(b.snap.index == 11 && b.snap.len == len && memcmp(b.snap.data, payload, len) == 0);
    storage_boot_free(&b);
    /* A received snapshot: each piece written goes to disk as it arrives, and the
     * loop that receives it does not wait for it. */
    wb_calls = wb_next = wb_gaps = wb_waited = 0;
    size_t cap = (3u << 20) + 4096;
    uint8_t *img = malloc(cap);
    CHECK(img);
    size_t img_len = tsu_snap_file(30, 1, 3u << 20, img, cap);
    CHECK(img_len > 3u << 20);
    CHECK(storage_snapshot_recv_begin(st, 30, 1) == 0);
    for (size_t off = 0; off < img_len; off += 1 << 20) {
        size_t n = img_len - off < (1u << 20) ? img_len - off : 1u << 20;
        CHECK(storage_snapshot_recv_write(st, off, img + off, n) == 0);
    }
    CHECK_EQ_U64(wb_calls, (img_len + (1u << 20) - 1) >> 20);
    CHECK_EQ_U64(wb_gaps, 0);
    CHECK_EQ_U64(wb_waited, 0);
    struct storage_snapshot got;
    CHECK(storage_snapshot_recv_finish(st, STORAGE_DROP_ALL, &got) == 0);
    CHECK(got.index == 30 && got.len == 3u << 20);
    storage_snapshot_free(&got);
    free(img);
    storage_close(st);
    free(payload);
    tsu_rmdir(dir);
}
