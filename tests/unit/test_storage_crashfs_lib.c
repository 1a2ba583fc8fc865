/* test_storage_crashfs_lib.c: the crash-simulating file system itself
 * (tests/lib/crashfs.h): what a crash may keep and what it must keep. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/crashfs.h"
#include "lib/test.h"
#include "test_storage_util.h"

static const struct storage_sys *S = &crashfs_sys;

static long file_size(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) < 0 ? -1 : (long)sb.st_size;
}

/* Creates dir/name with n bytes of 'x', optionally fsyncing file and directory. */
static int make_file(const char *dir, const char *name, size_t n, int sync_file, int sync_dir)
{
    char p[512], buf[8192];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    memset(buf, 'x', sizeof buf);
    int fd = S->open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || storage_pwrite_all(S, fd, buf, n, 0) < 0)
        return -1;
    if (sync_file && S->fsync(fd) < 0)
        return -1;
    S->close(fd);
    return sync_dir ? storage_fsync_dir(S, dir) : 0;
}

TEST(crashfs_synced_survives_unsynced_may_not)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    CHECK(crashfs_init(dir) == 0);
    CHECK(make_file(dir, "a", 5000, 1, 1) == 0);
    CHECK(make_file(dir, "b", 5000, 0, 1) == 0); /* name durable, data not */
    CHECK(make_file(dir, "c", 5000, 1, 0) == 0); /* data durable, name not */
    CHECK(crashfs_crash(NULL, 1, CRASHFS_LOSE_ALL) == 0);
    CHECK_EQ_U64(file_size(dir, "a"), 5000);
    CHECK_EQ_U64(file_size(dir, "b"), 0);
    CHECK(file_size(dir, "c") == -1);
    /* after a crash the model starts over from what is there */
    CHECK(crashfs_crash(NULL, 2, CRASHFS_LOSE_ALL) == 0);
    CHECK_EQ_U64(file_size(dir, "a"), 5000);
    crashfs_free();
    tsu_rmdir(dir);
}

TEST(crashfs_tears_at_sector_boundaries)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    CHECK(crashfs_init(dir) == 0);
    CHECK(make_file(dir, "f", 0, 1, 1) == 0);
    int torn = 0, none = 0, all = 0;
    for (uint64_t seed = 0; seed < 64; seed++) {
        char p[512];
        snprintf(p, sizeof p, "%s/f", dir);
        int fd = S->open(p, O_WRONLY, 0);
        CHECK(fd >= 0);
        CHECK(S->ftruncate(fd, 100) == 0 && S->fsync(fd) == 0);
        uint8_t buf[3000];
        memset(buf, 'y', sizeof buf);
        CHECK(storage_pwrite_all(S, fd, buf, sizeof buf, 100) == 0);
        S->close(fd);
        CHECK(crashfs_crash(NULL, seed, CRASHFS_SECTORS) == 0);
        long sz = file_size(dir, "f");
        CHECK(sz >= 100 && sz <= 3100);
        CHECK(sz == 100 || sz == 3100 || sz % 512 == 0);
        torn += sz > 100 && sz < 3100;
        none += sz == 100;
        all += sz == 3100;
    }
    CHECK(torn > 0 && none > 0 && all > 0);
    crashfs_free();
    tsu_rmdir(dir);
}

TEST(crashfs_rename_needs_directory_fsync)
{
    char dir[64], from[128], to[128];
    tsu_mkdtemp(dir, sizeof dir);
    CHECK(crashfs_init(dir) == 0);
    CHECK(make_file(dir, "old", 10, 1, 1) == 0);
    CHECK(make_file(dir, "new.tmp", 20, 1, 1) == 0);
    snprintf(from, sizeof from, "%s/new.tmp", dir);
    snprintf(to, sizeof to, "%s/old", dir);
    CHECK(S->rename(from, to) == 0);
    CHECK(crashfs_crash(NULL, 3, CRASHFS_LOSE_ALL) == 0);
    CHECK_EQ_U64(file_size(dir, "old"), 10);
    CHECK_EQ_U64(file_size(dir, "new.tmp"), 20);
    CHECK(S->rename(from, to) == 0);
    CHECK(storage_fsync_dir(S, dir) == 0);
    CHECK(crashfs_crash(NULL, 4, 0) == 0);
    CHECK_EQ_U64(file_size(dir, "old"), 20);
    CHECK(file_size(dir, "new.tmp") == -1);
    crashfs_free();
    tsu_rmdir(dir);
}

TEST(crashfs_power_cut_at_nth_operation)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    CHECK(crashfs_init(dir) == 0);
    uint64_t before = crashfs_ops();
    crashfs_crash_at(before + 3); /* open(create), write, then the fsync fails */
    CHECK(make_file(dir, "f", 100, 1, 1) == -1);
    CHECK(errno == EIO);
    CHECK(crashfs_dead());
    CHECK(make_file(dir, "g", 1, 0, 0) == -1);
    CHECK(crashfs_crash(NULL, 5, CRASHFS_KEEP_ALL) == 0);
    CHECK(!crashfs_dead());
    CHECK_EQ_U64(file_size(dir, "f"), 100); /* everything issued, kept */
    CHECK(file_size(dir, "g") == -1);
    crashfs_free();
    tsu_rmdir(dir);
}

/* One node's directory crashes; a sibling's pending writes stay pending. */
TEST(crashfs_crash_one_subdirectory)
{
    char root[64], a[96], b[96];
    tsu_mkdtemp(root, sizeof root);
    CHECK(crashfs_init(root) == 0);
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    CHECK(S->mkdir(a, 0755) == 0 && S->mkdir(b, 0755) == 0);
    CHECK(storage_fsync_dir(S, root) == 0);
    CHECK(make_file(a, "f", 700, 0, 1) == 0);
    CHECK(make_file(b, "f", 700, 0, 1) == 0);
    CHECK(crashfs_crash(a, 7, CRASHFS_LOSE_ALL) == 0);
    CHECK_EQ_U64(file_size(a, "f"), 0);
    CHECK_EQ_U64(file_size(b, "f"), 700); /* untouched, still unsynced */
    CHECK(crashfs_crash(NULL, 8, CRASHFS_LOSE_ALL) == 0);
    CHECK_EQ_U64(file_size(b, "f"), 0);
    /* A directory whose own name was never made durable goes with its files. */
    char c[96];
    snprintf(c, sizeof c, "%s/c", root);
    CHECK(S->mkdir(c, 0755) == 0);
    CHECK(make_file(c, "g", 10, 1, 1) == 0);
    CHECK(crashfs_crash(NULL, 9, CRASHFS_LOSE_ALL) == 0);
    CHECK(file_size(root, "c") == -1);
    crashfs_free();
    tsu_rmdir(root);
}
