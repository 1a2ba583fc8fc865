/* test_storage_powerloss.c: real storage over crashfs (tests/lib/crashfs.h), with
 * power cut at random points and unsynced writes torn at random.
 *
 * A seeded workload drives one storage object the way the Ready loop does:
 * appends (some truncating a suffix above the commit index, under a new term),
 * hard-state saves, syncs, writes without sync, segment rolls (small segments),
 * snapshot saves with compaction, and snapshot receive/install, including the
 * iteration where the install is followed by entries that replace a stale suffix
 * (KEEP_AFTER from the caller). Each round arms a power cut at a random
 * operation, runs until storage fails stop or the round ends, crashes the
 * directory (sector prefixes, page subsets or both), sometimes cuts the power
 * again during recovery, reopens and checks:
 *
 *   - recovery opens (never refuses a state a disk can produce);
 *   - every entry synced before the cut is recovered, unless an append or an
 *     install issued after that sync replaced it; every recovered entry is one
 *     that was synced or issued at its index;
 *   - the hard state is the synced one or one saved after it;
 *   - the commit index is within the recovered log, and every recovered entry at
 *     or below it is the latest one issued at its index (the workload never
 *     replaces an entry at or below a commit index it saved);
 *   - the snapshot is the synced one or the one being taken when power went.
 *
 * Then the workload continues from the recovered state. VESPER_POWERLOSS_ITERS
 * (default 20) sets the number of directories, VESPER_POWERLOSS_SEED the first
 * seed; a failure prints the seed.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/crashfs.h"
#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

#define PL_MAX    2048 /* indexes the model tracks */
#define PL_ISSUED 1024 /* entries issued since the last sync */
#define PL_HS     64

struct pl_ent {
    raft_term term;
    uint32_t gen;
};

struct pl_state {
    struct pl_ent log[PL_MAX + 1];
    raft_index last, snap;
    raft_term snap_term, term;
    struct raft_hard_state hs;
};

static struct {
    uint64_t rng;
    uint32_t gen;
    struct pl_state cur, synced;
    struct {
        raft_index index;
        struct pl_ent e;
    } issued[PL_ISSUED];
    size_t n_issued;
    raft_index low_cut; /* lowest index an op since the sync may have replaced */
    struct raft_hard_state hs_issued[PL_HS];
    size_t n_hs;
    raft_index snap_pending;         /* a snapshot operation in flight, or 0 */
    struct pl_ent found[PL_MAX + 1]; /* what pl_verify matched each recovered entry to */
    uint64_t torn, crashes;          /* over all runs: the harness really tears */
} pl;

static uint64_t pl_rand(uint64_t n)
{
    pl.rng ^= pl.rng << 13;
    pl.rng ^= pl.rng >> 7;
    pl.rng ^= pl.rng << 17;
    return n ? pl.rng % n : 0;
}

static void pl_mark_synced(void)
{
    pl.synced = pl.cur;
    pl.n_issued = 0;
    pl.n_hs = 0;
    pl.low_cut = (raft_index)-1;
}

static int pl_append(struct storage *st, raft_index first, size_t n, raft_term term)
{
    static uint8_t bufs[8][TS_MAX_ENTRY];
    struct raft_entry e[8];
    uint32_t gen = ++pl.gen;
    for (size_t i = 0; i < n; i++)
        e[i] = tsu_entry(first + i, term, gen, bufs[i]);
    if (pl.n_issued + n > PL_ISSUED || first + n > PL_MAX)
        return -2; /* model full: end the round */
    if (first < pl.low_cut)
        pl.low_cut = first;
    for (size_t i = 0; i < n; i++) {
        pl.cur.log[first + i] = (struct pl_ent){.term = term, .gen = gen};
        pl.issued[pl.n_issued].index = first + i;
        pl.issued[pl.n_issued++].e = pl.cur.log[first + i];
    }
    pl.cur.last = first + n - 1;
    return storage_append(st, e, n);
}

static int pl_save_hs(struct storage *st, raft_index commit)
{
    if (pl.n_hs == PL_HS)
        return -2;
    raft_id votes[] = {RAFT_NONE, 1, 2, 3};
    pl.cur.hs =
        (struct raft_hard_state){.term = pl.cur.term, .vote = votes[pl_rand(4)], .commit = commit};
    pl.hs_issued[pl.n_hs++] = pl.cur.hs;
    return storage_save_hard_state(st, &pl.cur.hs);
}

/* One loop iteration of a follower receiving snapshot S: install, hard state,
 * perhaps entries after S that replace a stale suffix, sync. */
static int pl_install(struct storage *st)
{
    raft_index lo = pl.cur.hs.commit > pl.cur.snap ? pl.cur.hs.commit : pl.cur.snap;
    raft_index s = lo + 1 + pl_rand(pl.cur.last + 4 - lo);
    if (s + 10 > PL_MAX)
        return -2;
    raft_term t = pl.cur.term + pl_rand(2);
    bool holds = s <= pl.cur.last && pl.cur.log[s].term == t;
    size_t after = pl_rand(3) ? 0 : 1 + (size_t)pl_rand(6);
    static uint8_t img[4096];
    size_t len = tsu_snap_file(s, t, 1 + (size_t)pl_rand(40), img, sizeof img);
    pl.snap_pending = s;
    if (s + 1 < pl.low_cut)
        pl.low_cut = s + 1;
    int rc = storage_snapshot_recv_begin(st, s, t);
    if (rc == 0)
        rc = storage_snapshot_recv_write(st, 0, img, len / 2);
    if (rc == 0)
        rc = storage_snapshot_recv_write(st, len / 2, img + len / 2, len - len / 2);
    /* The loop asks to keep the log when the core's log runs past S: it holds
     * (S, T), or this iteration appends after S. */
    enum storage_install mode = holds && pl.cur.last > s ? STORAGE_KEEP_AFTER : STORAGE_DROP_ALL;
    if (after)
        mode = STORAGE_KEEP_AFTER;
    if (rc == 0)
        rc = storage_snapshot_recv_finish(st, mode, NULL);
    if (rc)
        return rc;
    pl.cur.snap = pl.synced.snap = s;
    pl.cur.snap_term = pl.synced.snap_term = t;
    pl.cur.term = t;
    pl.snap_pending = 0;
    if (!holds || mode == STORAGE_DROP_ALL) {
        pl.cur.last = s;
        pl_mark_synced(); /* the DROP_ALL mark was synced with everything before it */
    }
    rc = pl_save_hs(st, s);
    if (rc == 0 && after)
        rc = pl_append(st, s + 1, after, t);
    return rc ? rc : storage_sync(st);
}

static int pl_step(struct storage *st)
{
    struct pl_state *c = &pl.cur;
    uint64_t r = pl_rand(100);
    if (r < 35) {
        /* A Ready: the hard state is saved first, and its commit index may
         * already name the entries appended after it (a follower learning the
         * leader's commit along with the entries). */
        raft_index floor = c->hs.commit > c->snap ? c->hs.commit : c->snap;
        raft_index first = c->last + 1;
        size_t n = 1 + (size_t)pl_rand(8);
        if (pl_rand(5) == 0 && c->last > floor) { /* a new leader's suffix */
            c->term++;
            first = floor + 1 + pl_rand(c->last - floor);
        }
        if (pl_rand(2)) {
            raft_index to = first + n - 1; /* the leader's commit, often all of them */
            int rc =
                pl_save_hs(st, pl_rand(2) ? to : c->hs.commit + pl_rand(to - c->hs.commit + 1));
            if (rc)
                return rc;
        }
        return pl_append(st, first, n, c->term);
    }
    if (r < 55) {
        raft_index last = c->last > c->snap ? c->last : c->snap;
        return pl_save_hs(st, c->hs.commit + pl_rand(last - c->hs.commit + 1));
    }
    if (r < 80) {
        int rc = storage_sync(st);
        if (rc == 0)
            pl_mark_synced();
        return rc;
    }
    if (r < 85)
        return storage_write(st);
    if (r < 93 && c->hs.commit > c->snap && c->hs.commit <= c->last) {
        raft_index x = c->snap + 1 + pl_rand(c->hs.commit - c->snap);
        raft_index keep = x > 5 ? x - pl_rand(5) : 1;
        struct raft_conf conf = tsu_conf();
        pl.snap_pending = x;
        int rc = storage_snapshot_save(st, x, c->log[x].term, &conf, "state", 5, keep, NULL);
        if (rc == 0) {
            c->snap = pl.synced.snap = x;
            c->snap_term = pl.synced.snap_term = c->log[x].term;
            pl.snap_pending = 0;
        }
        return rc;
    }
    if (r < 98)
        return pl_install(st);
    return 0;
}

/* Checks the recovered boot against the model (see the top of this file). */
static int pl_verify(const struct storage_boot *b)
{
    const struct pl_state *s = &pl.synced;
    raft_index snap = b->snap.index, last = snap + b->n_entries;
#define PL_FAIL(...)                       \
    do {                                   \
        fprintf(stderr, "  " __VA_ARGS__); \
        return -1;                         \
    } while (0)
    if (snap != s->snap && snap != pl.snap_pending)
        PL_FAIL("snapshot %llu, synced %llu, pending %llu\n", (unsigned long long)snap,
                (unsigned long long)s->snap, (unsigned long long)pl.snap_pending);
    if (last > PL_MAX)
        PL_FAIL("log ends at %llu\n", (unsigned long long)last);
    raft_index must = s->last < pl.low_cut ? s->last : pl.low_cut - 1;
    if (last < must)
        PL_FAIL("log ends at %llu, synced through %llu lost\n", (unsigned long long)last,
                (unsigned long long)must);
    for (size_t k = 0; k < b->n_entries; k++) {
        const struct raft_entry *e = &b->entries[k];
        raft_index i = e->index;
        bool ok = i > s->snap && i <= s->last && e->term == s->log[i].term &&
                  tsu_entry_ok(e, s->log[i].gen);
        if (i <= must && !ok)
            PL_FAIL("entry %llu term %llu is not the synced one\n", (unsigned long long)i,
                    (unsigned long long)e->term);
        if (ok)
            pl.found[i] = s->log[i];
        for (size_t j = 0; !ok && j < pl.n_issued; j++) {
            ok = pl.issued[j].index == i && pl.issued[j].e.term == e->term &&
                 tsu_entry_ok(e, pl.issued[j].e.gen);
            if (ok)
                pl.found[i] = pl.issued[j].e;
        }
        if (!ok)
            PL_FAIL("entry %llu term %llu was never issued\n", (unsigned long long)i,
                    (unsigned long long)e->term);
        if (i <= b->hs.commit &&
            (e->term != pl.cur.log[i].term || !tsu_entry_ok(e, pl.cur.log[i].gen)))
            PL_FAIL("entry %llu term %llu at or below commit %llu is stale\n",
                    (unsigned long long)i, (unsigned long long)e->term,
                    (unsigned long long)b->hs.commit);
    }
    bool hs_ok = !memcmp(&b->hs, &s->hs, sizeof b->hs);
    for (size_t j = 0; !hs_ok && j < pl.n_hs; j++)
        hs_ok = !memcmp(&b->hs, &pl.hs_issued[j], sizeof b->hs);
    if (!hs_ok)
        PL_FAIL("hard state term %llu vote %u commit %llu was never saved\n",
                (unsigned long long)b->hs.term, b->hs.vote, (unsigned long long)b->hs.commit);
    if (b->hs.commit > last)
        PL_FAIL("commit %llu beyond the log's last index %llu\n", (unsigned long long)b->hs.commit,
                (unsigned long long)last);
#undef PL_FAIL
    return 0;
}

/* The model restarts from what was recovered. */
static void pl_adopt(const struct storage_boot *b)
{
    struct pl_state *c = &pl.cur;
    c->snap = b->snap.index;
    c->snap_term = b->snap.term;
    c->last = b->snap.index + b->n_entries;
    c->hs = b->hs;
    c->term = b->hs.term > c->snap_term ? b->hs.term : c->snap_term;
    for (size_t k = 0; k < b->n_entries; k++) {
        raft_index i = b->entries[k].index;
        c->log[i] = pl.found[i];
        if (c->log[i].term > c->term)
            c->term = c->log[i].term;
    }
    pl.snap_pending = 0;
    pl_mark_synced();
}

static int pl_open(const char *dir, struct storage_options *o, struct storage **st,
                   struct storage_boot *b)
{
    char err[512];
    int rc = storage_open(st, dir, o, b, err, sizeof err);
    if (rc && !crashfs_dead())
        fprintf(stderr, "  open: %s\n", err);
    return rc;
}

/* Crashes the directory, reopens (perhaps losing power again while recovering),
 * and checks what was recovered. */
static int pl_crash_and_reopen(const char *dir, struct storage_options *o, struct storage **st)
{
    const unsigned modes[] = {CRASHFS_SECTORS, CRASHFS_PAGES, CRASHFS_SECTORS | CRASHFS_PAGES};
    struct storage_boot b;
    for (;;) {
        if (crashfs_crash(NULL, pl_rand(UINT64_MAX), modes[pl_rand(3)]))
            return -1;
        bool cut = pl_rand(4) == 0;
        if (cut)
            crashfs_crash_at(crashfs_ops() + 1 + pl_rand(12));
        int rc = pl_open(dir, o, st, &b);
        if (cut && crashfs_dead()) {
            if (rc == 0) {
                storage_boot_free(&b);
                storage_close(*st);
            }
            continue;
        }
        crashfs_crash_at(0);
        if (rc) {
            storage_check(dir, stderr); /* what recovery saw, segment by segment */
            return rc;
        }
        break;
    }
    int rc = pl_verify(&b);
    if (rc == 0)
        pl_adopt(&b);
    storage_boot_free(&b);
    if (rc)
        storage_close(*st);
    return rc;
}

static int pl_run(uint64_t seed, int rounds)
{
    char root[64], dir[96];
    snprintf(root, sizeof root, "/dev/shm/vesper-powerloss-XXXXXX");
    if (!mkdtemp(root)) /* memory is faster; any directory will do */
        tsu_mkdtemp(root, sizeof root);
    snprintf(dir, sizeof dir, "%s/data", root);
    uint64_t torn = pl.torn, crashes = pl.crashes;
    memset(&pl, 0, sizeof pl);
    pl.torn = torn;
    pl.crashes = crashes;
    pl.rng = seed * 0x9e3779b97f4a7c15ull + 1;
    pl_mark_synced();
    if (crashfs_init(root))
        return -1;
    struct storage_options o;
    tsu_options(&o);
    o.sys = &crashfs_sys;
    o.segment_bytes = 1024 + pl_rand(4096);
    o.preallocate = pl_rand(2);
    struct storage *st;
    struct storage_boot b;
    int rc = pl_open(dir, &o, &st, &b);
    if (rc == 0)
        storage_boot_free(&b);
    for (int round = 0; rc == 0 && round < rounds; round++) {
        crashfs_crash_at(crashfs_ops() + 1 + pl_rand(80));
        for (int step = 0; step < 60 && !crashfs_dead(); step++) {
            int src = pl_step(st);
            if (src && src != -2 && !crashfs_dead()) {
                fprintf(stderr, "  step failed without a power cut: %s\n", storage_errmsg(st));
                rc = -1;
            }
            if (src)
                break;
        }
        storage_close(st);
        if (rc == 0)
            rc = pl_crash_and_reopen(dir, &o, &st);
        if (rc)
            fprintf(stderr, "  seed %llu round %d\n", (unsigned long long)seed, round);
    }
    if (rc == 0)
        storage_close(st);
    struct crashfs_stats cs;
    crashfs_get_stats(&cs);
    pl.torn += cs.torn;
    pl.crashes += cs.crashes;
    crashfs_free();
    tsu_rmdir(root);
    return rc;
}

TEST(storage_powerloss_random)
{
    const char *e = getenv("VESPER_POWERLOSS_ITERS");
    const char *s = getenv("VESPER_POWERLOSS_SEED");
    int iters = e ? atoi(e) : 20;
    uint64_t seed0 = s ? strtoull(s, NULL, 10) : 1;
    pl.torn = pl.crashes = 0;
    for (int i = 0; i < iters; i++)
        CHECK(pl_run(seed0 + (uint64_t)i, 12) == 0);
    CHECK(iters == 0 || (pl.torn > 0 && pl.crashes > 0));
}
