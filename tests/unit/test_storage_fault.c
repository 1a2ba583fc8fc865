/* test_storage_fault.c: fault injection at the storage syscalls.
 *
 * A deterministic workload (hard states, batches with group syncs, segment rolls,
 * a snapshot with compaction, a suffix truncation) runs over a syscall table that
 * fails the n-th mutating call (write, fdatasync, fsync, rename, unlink, ftruncate,
 * create) with EIO or ENOSPC, or writes short and then fails. For every n:
 *   - the failing call returns an error whose message names the operation and file,
 *   - the object is then failed for good (every later write returns EFAILED: fail
 *     stop, no retried fsync),
 *   - reopening the directory succeeds and yields the state of the last successful
 *     sync, or that state plus a record prefix of the batch that failed; nothing
 *     else, and storage_check calls the directory healthy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

enum flt_kind { FLT_EIO, FLT_ENOSPC, FLT_SHORT_THEN_ENOSPC, FLT_SHORT_THEN_OK };

static struct {
    long countdown; /* fail the call that brings this to 0; <= 0: disarmed */
    enum flt_kind kind;
    long calls;
    int fired;
    int failing_next_write; /* after a short write: the next pwrite fails */
    char what[32];
} flt;

static int flt_hit(const char *what)
{
    bool short_kind = flt.kind == FLT_SHORT_THEN_ENOSPC || flt.kind == FLT_SHORT_THEN_OK;
    if (short_kind && strcmp(what, "pwrite") != 0)
        return 0; /* the short-write sweeps target writes only */
    flt.calls++;
    if (flt.countdown <= 0 || --flt.countdown > 0)
        return 0;
    flt.fired = 1;
    snprintf(flt.what, sizeof flt.what, "%s", what);
    errno = flt.kind == FLT_EIO ? EIO : ENOSPC;
    return 1;
}

static int f_open(const char *path, int flags, mode_t mode)
{
    if ((flags & O_CREAT) && flt_hit("create"))
        return -1;
    return open(path, flags, mode);
}

static ssize_t f_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (flt.failing_next_write) {
        flt.failing_next_write = 0;
        errno = ENOSPC;
        return -1;
    }
    if (flt_hit("pwrite")) {
        if (flt.kind == FLT_SHORT_THEN_ENOSPC || flt.kind == FLT_SHORT_THEN_OK) {
            flt.failing_next_write = flt.kind == FLT_SHORT_THEN_ENOSPC;
            return n > 1 ? pwrite(fd, buf, n / 2, off) : -1;
        }
        return -1;
    }
    return pwrite(fd, buf, n, off);
}

static int f_sync(int fd)
{
    (void)fd;
    return flt_hit("sync") ? -1 : 0; /* durability itself is not under test here */
}

static int f_rename(const char *a, const char *b)
{
    return flt_hit("rename") ? -1 : rename(a, b);
}

static int f_unlink(const char *p)
{
    return flt_hit("unlink") ? -1 : unlink(p);
}

static int f_ftruncate(int fd, off_t len)
{
    return flt_hit("ftruncate") ? -1 : ftruncate(fd, len);
}

static const struct storage_sys flt_sys = {
    .open = f_open,
    .close = close,
    .pwrite = f_pwrite,
    .pread = pread,
    .fdatasync = f_sync,
    .fsync = f_sync,
    .ftruncate = f_ftruncate,
    .rename = f_rename,
    .unlink = f_unlink,
    .mkdir = mkdir,
    .fstat = fstat,
};

#define FM_MAX 400

struct fm_state {
    struct raft_hard_state hs;
    raft_index last;
    raft_term term[FM_MAX];
    uint32_t gen[FM_MAX];
    raft_index snap;
};

static struct fm_state synced, attempt;
static raft_index batch_first;

static int fm_batch(struct storage *st, raft_index from, size_t n, raft_term term, uint32_t gen)
{
    static uint8_t bufs[8][TS_MAX_ENTRY];
    struct raft_entry e[8];
    batch_first = from;
    for (size_t i = 0; i < n; i++) {
        e[i] = tsu_entry(from + i, term, gen, bufs[i]);
        attempt.term[from + i] = term;
        attempt.gen[from + i] = gen;
    }
    attempt.last = from + n - 1;
    int rc = storage_append(st, e, n);
    if (rc == 0)
        rc = storage_sync(st);
    if (rc == 0)
        synced = attempt;
    return rc;
}

static int fm_workload(struct storage *st)
{
    struct raft_conf conf = {.n = 1, .m = {{.id = 1, .voter = true}}};
    raft_term term = 1;
    int rc = 0;
    for (int b = 0; rc == 0 && b < 60; b++) {
        if (b % 5 == 0) {
            attempt.hs = (struct raft_hard_state){.term = ++term, .vote = 1, .commit = 0};
            rc = storage_save_hard_state(st, &attempt.hs);
        }
        if (rc == 0 && b == 45)
            rc = fm_batch(st, attempt.last - 2, 3, term, 2); /* suffix truncation */
        else if (rc == 0)
            rc = fm_batch(st, attempt.last + 1, 3, term, 1 + (attempt.last + 1 >= 133));
        if (rc == 0 && b == 30) {
            raft_index at = attempt.last - 10;
            uint8_t payload[300];
            memset(payload, (int)at, sizeof payload);
            attempt.snap = at;
            rc = storage_snapshot_save(st, at, attempt.term[at], &conf, payload, sizeof payload,
                                       at - 20, NULL);
            if (rc == 0)
                synced.snap = at;
        }
    }
    return rc;
}

static int fm_entry_ok(const struct raft_entry *e, const struct fm_state *s)
{
    return e->index <= s->last && e->term == s->term[e->index] && tsu_entry_ok(e, s->gen[e->index]);
}

/* The reopened state is the synced one, or that plus a record prefix of the batch
 * being written when the fault hit. */
static int fm_valid(const struct storage_boot *b)
{
    if (b->snap.index != synced.snap && b->snap.index != attempt.snap)
        return 0;
    if (b->snap.index && (b->snap.len != 300 || b->snap.data[0] != (uint8_t)b->snap.index))
        return 0;
    int hs_ok = (b->hs.term == synced.hs.term && b->hs.vote == synced.hs.vote) ||
                (b->hs.term == attempt.hs.term && b->hs.vote == attempt.hs.vote);
    raft_index last = b->snap.index + b->n_entries;
    int as_synced = last == (synced.last > b->snap.index ? synced.last : b->snap.index);
    for (size_t i = 0; as_synced && i < b->n_entries; i++)
        as_synced = fm_entry_ok(&b->entries[i], &synced);
    int as_attempt = last + 1 >= batch_first && last <= attempt.last;
    for (size_t i = 0; as_attempt && i < b->n_entries; i++) {
        const struct raft_entry *e = &b->entries[i];
        as_attempt = fm_entry_ok(e, e->index < batch_first ? &synced : &attempt);
    }
    return hs_ok && (as_synced || as_attempt);
}

static int fm_run(long n, enum flt_kind kind, long *calls)
{
    char dir[64];
    tsu_mkdtemp(dir, sizeof dir);
    memset(&synced, 0, sizeof synced);
    memset(&attempt, 0, sizeof attempt);
    batch_first = 1;
    memset(&flt, 0, sizeof flt);
    flt.countdown = n;
    flt.kind = kind;
    struct storage_options o;
    tsu_options(&o);
    o.sys = &flt_sys;
    o.segment_bytes = 2048;
    struct storage *st;
    struct storage_boot b;
    char err[512];
    int ok = 1, rc = storage_open(&st, dir, &o, &b, err, sizeof err);
    if (rc == 0) {
        storage_boot_free(&b);
        rc = fm_workload(st);
        if (rc && kind != FLT_SHORT_THEN_OK) {
            /* Fail stop: the error has context and sticks. */
            const char *msg = storage_errmsg(st);
            ok = rc == STORAGE_EIO && (strstr(msg, "wal: ") || strstr(msg, "snapshot: ")) &&
                 strstr(msg, strerror(kind == FLT_EIO ? EIO : ENOSPC));
            uint8_t buf[TS_MAX_ENTRY];
            struct raft_entry e = tsu_entry(attempt.last + 1, 99, 1, buf);
            ok = ok && storage_append(st, &e, 1) == STORAGE_EFAILED &&
                 storage_sync(st) == STORAGE_EFAILED &&
                 storage_save_hard_state(st, &attempt.hs) == STORAGE_EFAILED;
            if (!ok)
                fprintf(stderr, "  fault %ld (%s): rc %d msg '%s'\n", n, flt.what, rc, msg);
        }
        storage_close(st);
    }
    *calls = flt.calls;
    if (kind == FLT_SHORT_THEN_OK && rc != 0)
        ok = 0; /* a short write alone is not an error */
    flt.countdown = 0;
    o.sys = &tsu_sys_nosync;
    if (storage_open(&st, dir, &o, &b, err, sizeof err) != 0) {
        fprintf(stderr, "  fault %ld (%s): reopen: %s\n", n, flt.what, err);
        ok = 0;
    } else {
        if (!fm_valid(&b)) {
            fprintf(stderr, "  fault %ld (%s): wrong state after reopen\n", n, flt.what);
            ok = 0;
        }
        storage_boot_free(&b);
        storage_close(st);
        FILE *null = fopen("/dev/null", "w");
        ok = ok && null && storage_check(dir, null) == 0;
        if (null)
            fclose(null);
    }
    tsu_rmdir(dir);
    return ok;
}

static void fm_sweep(enum flt_kind kind)
{
    long total;
    CHECK(fm_run(0, kind, &total)); /* clean run: counts the calls */
    CHECK(total > (kind == FLT_EIO || kind == FLT_ENOSPC ? 150 : 60));
    for (long n = 1; n <= total; n++) {
        long calls;
        CHECK(fm_run(n, kind, &calls));
        CHECK(flt.fired || kind == FLT_SHORT_THEN_OK);
    }
}

TEST(storage_fault_eio_every_call)
{
    fm_sweep(FLT_EIO);
}

TEST(storage_fault_enospc_every_call)
{
    fm_sweep(FLT_ENOSPC);
}

TEST(storage_fault_short_write_then_enospc)
{
    fm_sweep(FLT_SHORT_THEN_ENOSPC);
}

TEST(storage_fault_short_write_alone_is_fine)
{
    fm_sweep(FLT_SHORT_THEN_OK);
}
