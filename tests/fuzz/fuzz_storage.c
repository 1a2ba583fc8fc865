/* fuzz_storage.c: libFuzzer target for WAL record decoding and recovery (src/storage).
 *
 * Each input becomes a data directory on the simulation's in-memory disk (simfs:
 * FORMAT plus segments and, optionally, a snapshot file), which storage_check_with()
 * judges and storage_open() recovers through the same storage_sys table. No system
 * call per input keeps the target fast; the real file system's behaviour under
 * storage is the crash and cluster suites' business. Byte 0 picks the layout:
 *   0  raw:     the rest of the input is segment 1, byte for byte;
 *   1  prefix:  a valid segment header and hard state, then the raw rest (torn tails,
 *               garbage after valid records);
 *   2  records: the rest is a list of record descriptions that the harness encodes
 *               with valid CRCs (so the fuzzer reaches the replay rules instead of
 *               dying at the checksum); special types start a new segment or append
 *               raw bytes;
 *   3  records plus a snapshot file in front (index, term, conf, payload from the
 *               input, CRC and sizes fixed up).
 * Properties beyond no crash/leak/UB:
 *   - storage_check() says healthy exactly when storage_open() succeeds;
 *   - a recovered log is contiguous and starts right after the snapshot;
 *   - after a successful open, appending one entry and a hard state, syncing,
 *     closing and reopening succeeds and returns that entry and that hard state.
 * Durability is not what is fuzzed: no crash is ever injected into the simfs disk.
 */
#include "fuzz/fuzz.h"

#include <string.h>

#include <fcntl.h>

#include "sim/simfs.h"
#include "storage/internal.h"
#include "util/crc32c.h"

#define MAX_OUT   (1u << 16)
#define T_NEW_SEG 0xf0 /* record type that starts the next segment */
#define T_RAW     0xf1 /* record type that appends its payload as raw bytes */

#define DIR "/vesper-fuzz-storage" /* a name on the simulated disk only */

static struct simfs disk;
static uint64_t disk_prng = 1;

/* A fresh, empty directory for each input. */
static void dir_reset(void)
{
    static bool live;
    if (live)
        simfs_destroy(&disk);
    FUZZ_CHECK(simfs_init(&disk, DIR, &disk_prng) == 0);
    live = true;
}

static void put_file(const char *name, const uint8_t *buf, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", DIR, name);
    int fd = simfs_sys.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(storage_pwrite_all(&simfs_sys, fd, buf, len, 0) == 0);
    FUZZ_CHECK(simfs_sys.close(fd) == 0);
}

static void quiet(void *arg, const char *line)
{
    (void)arg;
    (void)line;
}

struct seg_writer {
    uint8_t buf[MAX_OUT + 4096];
    size_t len;
    uint64_t seq;
};

static void flush_segment(struct seg_writer *w)
{
    char name[64];
    st_seg_name(w->seq, name, sizeof name);
    put_file(name, w->buf, w->len);
    w->len = 0;
    w->seq++;
}

static void put_rec(struct seg_writer *w, const struct rec *r)
{
    if (w->len + REC_HDR_BYTES + r->len <= sizeof w->buf)
        w->len += st_rec_encode(w->buf + w->len, r);
}

/* A valid segment header, then the hard state every real segment starts with and
 * the reserved area up to where the records start. */
static void put_seg_start(struct seg_writer *w, bool with_hs)
{
    struct rec hdr = {.type = REC_SEGHDR,
                      .aux = STORAGE_FORMAT_VERSION,
                      .index = w->seq,
                      .len = 8,
                      .data = (const uint8_t *)REC_SEG_MAGIC};
    put_rec(w, &hdr);
    if (with_hs) {
        struct rec hs = {.type = REC_HARDSTATE, .aux = RAFT_NONE, .term = 1};
        put_rec(w, &hs);
        memset(w->buf + w->len, 0, WAL_DATA_START - w->len); /* empty sync slots */
        w->len = WAL_DATA_START;
    }
}

/* Record descriptions: type, flags, aux (u8), term (u8), index (u8), len (u8), payload. */
static void put_described(struct seg_writer *w, struct fuzz_in *in)
{
    while (in->left > 0 && w->len < MAX_OUT) {
        struct rec r = {.type = fuzz_u8(in), .flags = fuzz_u8(in)};
        uint8_t aux = fuzz_u8(in);
        r.aux = aux == 0xff ? RAFT_NONE : aux;
        r.term = fuzz_u8(in);
        r.index = fuzz_u8(in);
        size_t got;
        r.data = fuzz_bytes(in, fuzz_u8(in), &got);
        r.len = (uint32_t)got;
        if (r.type == T_NEW_SEG) {
            flush_segment(w);
            put_seg_start(w, r.flags & 1);
        } else if (r.type == T_RAW) {
            memcpy(w->buf + w->len, r.data, got);
            w->len += got;
        } else {
            put_rec(w, &r);
        }
    }
}

/* A snapshot file: index (u8), term (u8), flags, conf bytes or a fixed valid conf,
 * payload; header sizes and CRC computed here. */
static void put_snapshot(struct fuzz_in *in)
{
    uint8_t img[40 + 1024 + 256 + 4];
    uint64_t index = fuzz_u8(in), term = fuzz_u8(in);
    uint8_t flags = fuzz_u8(in);
    size_t conf_len, data_len;
    if (flags & 1) {
        struct raft_conf c = {.n = 2};
        c.m[0] = (struct raft_member){.id = 0, .voter = true, .addr = "http://127.0.0.1:1"};
        c.m[1] = (struct raft_member){.id = 1, .voter = true, .addr = "http://127.0.0.1:2"};
        conf_len = st_snap_conf_encode(&c, img + 40, 1024);
    } else {
        const uint8_t *p = fuzz_bytes(in, fuzz_u8(in), &conf_len);
        memcpy(img + 40, p, conf_len);
    }
    const uint8_t *d = fuzz_bytes(in, fuzz_u8(in), &data_len);
    memcpy(img + 40 + conf_len, d, data_len);
    memcpy(img, SNAP_MAGIC, 8);
    st_rec_put32(img + 8, SNAP_FORMAT_VERSION);
    st_rec_put32(img + 12, (uint32_t)conf_len);
    st_rec_put64(img + 16, index);
    st_rec_put64(img + 24, term);
    st_rec_put64(img + 32, data_len);
    size_t len = 40 + conf_len + data_len;
    st_rec_put32(img + len, crc32c(0, img, len));
    char name[64];
    st_snap_name(index, term, "", name, sizeof name);
    put_file(name, img, len + 4);
}

static void build_dir(const uint8_t *data, size_t size)
{
    static struct seg_writer w;
    struct fuzz_in in = {data + 1, size - 1};
    w.len = 0;
    w.seq = 1;
    char fmt[64];
    int n = snprintf(fmt, sizeof fmt, STORAGE_FORMAT_TEXT, STORAGE_FORMAT_VERSION);
    put_file(STORAGE_FORMAT_FILE, (const uint8_t *)fmt, (size_t)n);
    switch (data[0] & 3) {
    case 0:
        put_file("0000000000000001.seg", in.p, in.left);
        return;
    case 1:
        put_seg_start(&w, true);
        if (in.left > MAX_OUT)
            in.left = MAX_OUT;
        memcpy(w.buf + w.len, in.p, in.left);
        w.len += in.left;
        break;
    case 3:
        put_snapshot(&in);
        /* fall through */
    case 2:
        put_seg_start(&w, true);
        put_described(&w, &in);
        break;
    }
    flush_segment(&w);
}

static void check_boot(const struct storage_boot *b)
{
    for (size_t i = 0; i < b->n_entries; i++)
        FUZZ_CHECK(b->entries[i].index == b->snap.index + 1 + i);
}

/* A directory that opened keeps opening after a write, with the write in it. */
static void check_write_reopen(struct storage *st, const struct storage_options *o,
                               struct storage_boot *b)
{
    raft_index last = storage_last_index(st);
    raft_term term = storage_last_term(st);
    if (b->hs.term > term)
        term = b->hs.term;
    term = term ? term : 1;
    struct raft_hard_state hs = {.term = term, .vote = 1, .commit = 0};
    uint8_t payload[3] = {1, 2, 3};
    struct raft_entry e = {
        .term = term, .index = last + 1, .type = RAFT_ENTRY_NORMAL, .len = 3, .data = payload};
    storage_boot_free(b);
    FUZZ_CHECK(storage_save_hard_state(st, &hs) == STORAGE_OK);
    FUZZ_CHECK(storage_append(st, &e, 1) == STORAGE_OK);
    FUZZ_CHECK(storage_sync(st) == STORAGE_OK);
    storage_close(st);

    char err[512];
    int rc = storage_open(&st, DIR, o, b, err, sizeof err);
    if (rc != STORAGE_OK)
        fprintf(stderr, "reopen after write: %s\n", err);
    FUZZ_CHECK(rc == STORAGE_OK);
    check_boot(b);
    FUZZ_CHECK(storage_last_index(st) == last + 1);
    FUZZ_CHECK(b->n_entries > 0 && b->entries[b->n_entries - 1].term == term);
    FUZZ_CHECK(b->hs.term == term && b->hs.vote == 1);
    storage_boot_free(b);
    storage_close(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
        FUZZ_CHECK(devnull != NULL);
    }
    if (size < 1 || size > MAX_OUT)
        return 0;
    dir_reset();
    build_dir(data, size);

    int healthy = storage_check_with(DIR, &simfs_sys, devnull) == 0;
    struct storage_options o;
    storage_options_defaults(&o);
    o.sys = &simfs_sys;
    o.log = quiet;
    o.segment_bytes = 4096; /* roll segments often */
    struct storage *st;
    struct storage_boot b;
    char err[512];
    int rc = storage_open(&st, DIR, &o, &b, err, sizeof err);
    FUZZ_CHECK(rc == STORAGE_OK || rc == STORAGE_ECORRUPT || rc == STORAGE_EVERSION ||
               rc == STORAGE_EIO);
    if (healthy != (rc == STORAGE_OK))
        fprintf(stderr, "check says %s, open says %s\n", healthy ? "healthy" : "corrupt",
                rc == STORAGE_OK ? "ok" : err);
    FUZZ_CHECK(healthy == (rc == STORAGE_OK));
    if (rc != STORAGE_OK)
        return 0;
    check_boot(&b);
    check_write_reopen(st, &o, &b);
    return 0;
}
