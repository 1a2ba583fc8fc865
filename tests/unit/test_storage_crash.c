/* test_storage_crash.c: crash consistency of the WAL.
 *
 * A log is written by a real append sequence (hard states, batches, a suffix
 * truncation, group syncs). Then, for every byte offset of the last segment, the
 * segment is cut there (a crash mid-append) and recovery must yield exactly the
 * state after the last complete record before the cut: a prefix that holds every
 * record synced before it, never a wrong record. Appending after the recovery and
 * reopening must keep that prefix; the same again with preallocated zeros after
 * the cut. Each segment's sync slots (the bytes known durable) are cleared in the
 * staged cut, as after a crash before any sync; with them intact, a cut below the
 * synced length must refuse. Then bits and bytes are flipped at random offsets: a
 * flip in a record below the synced length must refuse to start with an error
 * naming the file and offset; with the slots cleared, a flip in the last segment
 * may only drop the records from the flipped one on; a flip in a slot or in the
 * padding of the header area changes nothing.
 *
 * The expected states come from a model in this file that replays the operations
 * the test issued; the records in the written files are checked against those
 * operations one by one first.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/test.h"
#include "storage/internal.h"
#include "test_storage_util.h"

#define CR_MAX_IDX  128
#define CR_MAX_RECS 512
#define CR_MAX_SEGS 32

struct cr_state {
    struct raft_hard_state hs;
    raft_index last;
    raft_term term[CR_MAX_IDX];
    uint32_t gen[CR_MAX_IDX];
};

struct cr_op {
    int is_hs;
    struct raft_hard_state hs;
    raft_index index;
    raft_term term;
    uint32_t gen;
};

struct cr_log {
    struct cr_op ops[CR_MAX_RECS];
    size_t n_ops;
    /* per segment: record end offsets and the model state after each */
    size_t n_segs;
    uint8_t *img[CR_MAX_SEGS];
    size_t len[CR_MAX_SEGS];
    size_t n_bounds[CR_MAX_SEGS];
    size_t bound[CR_MAX_SEGS][CR_MAX_RECS];
    struct cr_state *state[CR_MAX_SEGS]; /* state[s][k]: after bound[s][k] */
};

static struct cr_log lg;

static void cr_apply(struct cr_state *s, const struct cr_op *op)
{
    if (op->is_hs) {
        s->hs = op->hs;
        return;
    }
    s->last = op->index;
    s->term[op->index] = op->term;
    s->gen[op->index] = op->gen;
}

/* A saved hard state is written after the entries of the same write (wal.c), so
 * the model records it when the batch that follows it is issued. */
static struct cr_op cr_pending_hs;

static int cr_hs(struct storage *st, raft_term term, raft_id vote, raft_index commit)
{
    cr_pending_hs =
        (struct cr_op){.is_hs = 1, .hs = {.term = term, .vote = vote, .commit = commit}};
    return storage_save_hard_state(st, &cr_pending_hs.hs);
}

static int cr_batch(struct storage *st, raft_index from, raft_index to, raft_term term,
                    uint32_t gen)
{
    static uint8_t bufs[16][TS_MAX_ENTRY];
    struct raft_entry e[16];
    size_t n = 0;
    for (raft_index i = from; i <= to; i++, n++) {
        e[n] = tsu_entry(i, term, gen, bufs[n]);
        lg.ops[lg.n_ops++] = (struct cr_op){.index = i, .term = term, .gen = gen};
    }
    if (cr_pending_hs.is_hs) {
        lg.ops[lg.n_ops++] = cr_pending_hs;
        cr_pending_hs.is_hs = 0;
    }
    int rc = storage_append(st, e, n);
    return rc ? rc : storage_sync(st);
}

/* The real append sequence. */
static int cr_workload(struct storage *st)
{
    int rc = cr_hs(st, 1, 1, 0);
    for (raft_index i = 1; rc == 0 && i <= 12; i += 3)
        rc = cr_batch(st, i, i + 2, 1, 1);
    if (rc == 0)
        rc = cr_hs(st, 2, RAFT_NONE, 6);
    for (raft_index i = 13; rc == 0 && i <= 20; i += 2)
        rc = cr_batch(st, i, i + 1, 2, 1);
    if (rc == 0)
        rc = cr_batch(st, 15, 17, 3, 2); /* suffix truncation */
    if (rc == 0)
        rc = cr_hs(st, 3, 2, 14);
    for (raft_index i = 18; rc == 0 && i <= 26; i++)
        rc = cr_batch(st, i, i, 3, 2);
    return rc;
}

/* Reads the segments back, checks every record against the ops, and records the
 * boundaries with the model state after each. */
static int cr_index(const char *dir)
{
    struct cr_state s = {0};
    size_t next_op = 0;
    for (size_t k = 0;; k++) {
        char path[160];
        tsu_seg_path(dir, k + 1, path, sizeof path);
        if (access(path, F_OK) != 0) {
            lg.n_segs = k;
            break;
        }
        if (k == CR_MAX_SEGS || tsu_read(path, &lg.img[k], &lg.len[k]))
            return -1;
        lg.state[k] = calloc(CR_MAX_RECS, sizeof(struct cr_state));
        size_t off = 0, nb = 0;
        while (off < lg.len[k]) {
            struct rec r;
            size_t sz;
            if (st_rec_decode(lg.img[k] + off, lg.len[k] - off, &r, &sz) != REC_OK)
                return -1;
            if (off == 0) {
                if (r.type != REC_SEGHDR || r.index != k + 1)
                    return -1;
            } else if (nb == 1 && r.type == REC_HARDSTATE) {
                /* The segment's copy: the hard state last written, never one still
                 * buffered in the batch that caused the roll. */
                if (r.term != s.hs.term || r.aux != s.hs.vote || r.index != s.hs.commit)
                    return -1;
                s.hs = (struct raft_hard_state){.term = r.term, .vote = r.aux, .commit = r.index};
            } else {
                const struct cr_op *op = &lg.ops[next_op++];
                if (op->is_hs != (r.type == REC_HARDSTATE))
                    return -1;
                if (op->is_hs &&
                    (r.term != op->hs.term || r.aux != op->hs.vote || r.index != op->hs.commit))
                    return -1;
                uint8_t buf[TS_MAX_ENTRY];
                struct raft_entry e = tsu_entry(op->index, op->term, op->gen, buf);
                if (!op->is_hs && (r.index != e.index || r.term != e.term || r.len != e.len ||
                                   (e.len && memcmp(r.data, buf, e.len))))
                    return -1;
                cr_apply(&s, op);
            }
            off += sz;
            lg.bound[k][nb] = off;
            lg.state[k][nb++] = s;
            if (nb == 2) /* header and hard state; the sync slots; then the records */
                off = WAL_DATA_START;
        }
        lg.n_bounds[k] = nb;
    }
    return next_op == lg.n_ops ? 0 : -1;
}

static void cr_free(void)
{
    for (size_t k = 0; k < lg.n_segs; k++) {
        free(lg.img[k]);
        free(lg.state[k]);
    }
    memset(&lg, 0, sizeof lg);
}

static int cr_build(char *dir, uint64_t segment_bytes)
{
    cr_free();
    tsu_mkdtemp(dir, 64);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    o.segment_bytes = segment_bytes;
    struct storage *st;
    struct storage_boot b;
    char err[512];
    if (storage_open(&st, dir, &o, &b, err, sizeof err))
        return -1;
    storage_boot_free(&b);
    int rc = cr_workload(st);
    storage_close(st);
    return rc ? rc : cr_index(dir);
}

/* Writes segment k as img[0..cut) and every other segment intact. With zeros,
 * segment k continues with that many zero bytes, as preallocated space does.
 * Unless keep_slots, segment k's sync slots are cleared: no sync is known, as
 * after a crash before the first one, so any cut is a torn write. */
static int cr_stage_zs(const char *dir, size_t k, const uint8_t *img, size_t cut, size_t zeros,
                       bool keep_slots)
{
    static uint8_t tmp[64 * 1024];
    for (size_t j = 0; j < lg.n_segs; j++) {
        char path[160];
        tsu_seg_path(dir, j + 1, path, sizeof path);
        const uint8_t *src = j == k ? img : lg.img[j];
        size_t n = j == k ? cut : lg.len[j];
        if (j == k) {
            if (n + zeros > sizeof tmp)
                return -1;
            memcpy(tmp, img, n);
            memset(tmp + n, 0, zeros);
            if (!keep_slots && n > WAL_SLOT_A)
                memset(tmp + WAL_SLOT_A, 0, (n < WAL_DATA_START ? n : WAL_DATA_START) - WAL_SLOT_A);
            src = tmp;
            n += zeros;
        }
        if (tsu_write(path, src, n))
            return -1;
    }
    return 0;
}

static int cr_stage_z(const char *dir, size_t k, const uint8_t *img, size_t cut, size_t zeros)
{
    return cr_stage_zs(dir, k, img, cut, zeros, false);
}

static int cr_stage(const char *dir, size_t k, const uint8_t *img, size_t cut)
{
    return cr_stage_zs(dir, k, img, cut, 0, true);
}

static int cr_matches(const struct storage_boot *b, const struct cr_state *s)
{
    if (b->hs.term != s->hs.term || b->hs.vote != s->hs.vote || b->hs.commit != s->hs.commit)
        return 0;
    if (b->n_entries != s->last)
        return 0;
    for (size_t i = 0; i < b->n_entries; i++) {
        const struct raft_entry *e = &b->entries[i];
        if (e->index != i + 1 || e->term != s->term[i + 1] || !tsu_entry_ok(e, s->gen[i + 1]))
            return 0;
    }
    return 1;
}

/* Is img[from, to) of segment k all zero bytes? */
static bool cr_zero(size_t k, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (lg.img[k][i])
            return false;
    return true;
}

/* The expected state for a cut of the last segment at cut. With a zero tail, a
 * record whose missing bytes were zeros anyway is complete: it reads back valid. */
static const struct cr_state *cr_expect_z(size_t k, size_t cut, size_t zeros)
{
    static const struct cr_state empty;
    const struct cr_state *s = NULL;
    for (size_t i = 0; i < lg.n_bounds[k]; i++) {
        size_t b = lg.bound[k][i];
        if (b > cut && !(zeros && b <= cut + zeros && cr_zero(k, cut, b)))
            break;
        s = &lg.state[k][i];
    }
    if (s == NULL) /* torn header: the segment goes */
        s = k == 0 ? &empty : &lg.state[k - 1][lg.n_bounds[k - 1] - 1];
    return s;
}

static const struct cr_state *cr_expect(size_t k, size_t cut)
{
    return cr_expect_z(k, cut, 0);
}

/* Recovery at a cut, then an append on top, then a reopen. */
static int cr_check_cut(const char *dir, size_t k, size_t cut, size_t zeros)
{
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    o.segment_bytes = 1u << 30;
    struct storage *st;
    struct storage_boot b;
    char err[512];
    if (cr_stage_z(dir, k, lg.img[k], cut, zeros))
        return -1;
    if (storage_open(&st, dir, &o, &b, err, sizeof err)) {
        fprintf(stderr, "  cut %zu: %s\n", cut, err);
        return -1;
    }
    const struct cr_state *want = cr_expect_z(k, cut, zeros);
    int ok = cr_matches(&b, want);
    storage_boot_free(&b);
    uint8_t buf[TS_MAX_ENTRY];
    struct raft_entry e = tsu_entry(want->last + 1, 9, 7, buf);
    if (ok && (storage_append(st, &e, 1) || storage_sync(st)))
        ok = 0;
    storage_close(st);
    if (!ok)
        return -1;
    if (storage_open(&st, dir, &o, &b, err, sizeof err))
        return -1;
    ok = b.n_entries == want->last + 1 && tsu_entry_ok(&b.entries[want->last], 7) &&
         b.entries[want->last].term == 9;
    b.n_entries--;
    ok = ok && cr_matches(&b, want);
    storage_boot_free(&b);
    storage_close(st);
    return ok ? 0 : -1;
}

TEST(storage_crash_cut_every_offset_one_segment)
{
    char dir[64];
    CHECK(cr_build(dir, 1u << 30) == 0);
    CHECK_EQ_U64(lg.n_segs, 1);
    for (size_t cut = 0; cut <= lg.len[0]; cut++)
        CHECK(cr_check_cut(dir, 0, cut, 0) == 0);
    cr_free();
    tsu_rmdir(dir);
}

/* The same with the preallocated zeros a crash leaves after the cut. */
TEST(storage_crash_cut_every_offset_zero_tail)
{
    char dir[64];
    CHECK(cr_build(dir, 1u << 30) == 0);
    for (size_t cut = 0; cut <= lg.len[0]; cut++)
        CHECK(cr_check_cut(dir, 0, cut, 3000) == 0);
    cr_free();
    tsu_rmdir(dir);
}

TEST(storage_crash_cut_every_offset_of_last_segment)
{
    char dir[64];
    CHECK(cr_build(dir, 1024) == 0);
    CHECK(lg.n_segs >= 3);
    size_t k = lg.n_segs - 1;
    for (size_t cut = 0; cut <= lg.len[k]; cut++)
        CHECK(cr_check_cut(dir, k, cut, cut % 2 ? 512 : 0) == 0);
    cr_free();
    tsu_rmdir(dir);
}

/* Cutting a completed segment is not a crash: refuse, or (when only a repeated
 * hard state was cut off) recover everything. */
TEST(storage_crash_cut_completed_segment_refuses)
{
    char dir[64];
    CHECK(cr_build(dir, 1024) == 0);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    const struct cr_state *all = &lg.state[lg.n_segs - 1][lg.n_bounds[lg.n_segs - 1] - 1];
    for (size_t cut = 0; cut < lg.len[0]; cut++) {
        struct storage *st;
        struct storage_boot b;
        char err[512];
        CHECK(cr_stage(dir, 0, lg.img[0], cut) == 0);
        int rc = storage_open(&st, dir, &o, &b, err, sizeof err);
        if (rc == 0) {
            int ok = cr_matches(&b, all);
            storage_boot_free(&b);
            storage_close(st);
            CHECK(ok);
        } else {
            CHECK(rc == STORAGE_ECORRUPT && strstr(err, ".seg"));
        }
    }
    cr_free();
    tsu_rmdir(dir);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* One flipped bit or byte at a random offset of a random segment; the last
 * segment's sync slots kept or cleared at random. */
static void cr_flips(uint64_t segment_bytes, int rounds)
{
    char dir[64];
    CHECK(cr_build(dir, segment_bytes) == 0);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    size_t last = lg.n_segs - 1;
    for (int i = 0; i < rounds; i++) {
        size_t k = (size_t)(rng() % lg.n_segs);
        size_t off = (size_t)(rng() % lg.len[k]);
        bool keep_slots = k != last || rng() % 2;
        uint8_t mask = (i & 1) ? (uint8_t)(1u << (rng() % 8)) : (uint8_t)(1 + rng() % 255);
        lg.img[k][off] ^= mask;
        int staged = cr_stage_zs(dir, k, lg.img[k], lg.len[k], 0, keep_slots);
        lg.img[k][off] ^= mask;
        CHECK(staged == 0);
        struct storage *st;
        struct storage_boot b;
        char err[512];
        int rc = storage_open(&st, dir, &o, &b, err, sizeof err);
        bool in_record = off < 2 * REC_HDR_BYTES + 8 || off >= WAL_DATA_START;
        const struct cr_state *want = NULL; /* NULL: must refuse */
        if (!in_record) {
            want = &lg.state[last][lg.n_bounds[last] - 1]; /* a slot or padding */
        } else if (!keep_slots) {
            /* Nothing known synced: the flipped record and what follows it go, as
             * after a torn write (a flip in the header: the whole segment). */
            size_t r = 0;
            while (lg.bound[k][r] <= off)
                r++;
            want = r >= 2 ? &lg.state[k][r - 1] : cr_expect(k, 0);
        }
        if (want == NULL) {
            if (rc == 0) {
                storage_boot_free(&b);
                storage_close(st);
                fprintf(stderr, "  flip seg %zu off %zu mask %02x opened\n", k, off, mask);
            }
            CHECK(rc == STORAGE_ECORRUPT);
            CHECK(strstr(err, ".seg offset") != NULL);
            continue;
        }
        if (rc)
            fprintf(stderr, "  flip seg %zu off %zu mask %02x: %s\n", k, off, mask, err);
        CHECK(rc == 0);
        int ok = cr_matches(&b, want);
        storage_boot_free(&b);
        storage_close(st);
        CHECK(ok);
    }
    cr_free();
    tsu_rmdir(dir);
}

/* With the sync slots intact, the last segment cut anywhere below the synced
 * length lost durable records: refuse, naming the file. */
TEST(storage_crash_cut_below_synced_refuses)
{
    char dir[64];
    CHECK(cr_build(dir, 1u << 30) == 0);
    struct storage_options o;
    tsu_options(&o);
    o.sys = &tsu_sys_nosync;
    for (size_t cut = WAL_DATA_START; cut < lg.len[0]; cut += 7) {
        struct storage *st;
        struct storage_boot b;
        char err[512];
        CHECK(cr_stage(dir, 0, lg.img[0], cut) == 0);
        int rc = storage_open(&st, dir, &o, &b, err, sizeof err);
        if (rc == 0) {
            storage_boot_free(&b);
            storage_close(st);
        }
        CHECK(rc == STORAGE_ECORRUPT && strstr(err, "0000000000000001.seg offset"));
    }
    cr_free();
    tsu_rmdir(dir);
}

TEST(storage_crash_flips_one_segment)
{
    cr_flips(1u << 30, 1500);
}

TEST(storage_crash_flips_many_segments)
{
    cr_flips(1024, 1500);
}
