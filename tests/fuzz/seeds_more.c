/* seeds_more.c: storage, text (client API, ip_list) and raft-script seeds; see seeds.c.
 *
 * Storage seeds come from a real data directory written through storage.h into a
 * temporary directory (its segment bytes, its snapshot file) plus record-description
 * inputs for fuzz_storage's mode 2/3. Raft seeds are scripts in fuzz_raft's format:
 * an op byte, and for messages a u16 length and a codec-encoded message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/codec.h"
#include "seeds.h"
#include "storage/storage.h"
#include "util/backup_file.h"
#include "util/crc32c.h"

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    static uint8_t tmp[1 << 20];
    *len = fread(tmp, 1, sizeof tmp, f);
    fclose(f);
    *buf = tmp;
    return 0;
}

static struct raft_conf three_conf(void)
{
    struct raft_conf c = {.n = 3};
    for (uint32_t i = 0; i < 3; i++) {
        c.m[i].id = i;
        c.m[i].voter = true;
        snprintf(c.m[i].addr, RAFT_ADDR_MAX, "http://127.0.0.1:%u", 5000 + i);
    }
    return c;
}

/* A backup file around a real snapshot file (as GET /admin/snapshot sends it). */
static void seed_backup(const uint8_t *snap, size_t snap_len)
{
    struct backup_header h = {.index = 3, .term = 2, .keys = 1, .state_bytes = snap_len};
    h.n_members = 1;
    snprintf(h.m[0].addr, sizeof h.m[0].addr, "http://127.0.0.1:5000");
    h.m[0].voter = true;
    uint8_t *img = malloc(BACKUP_HEADER_MAX + snap_len + 4);
    if (img == NULL)
        exit(1);
    size_t hlen = backup_header_encode(&h, img);
    memcpy(img + hlen, snap, snap_len);
    uint32_t crc = crc32c(0, img, hlen + snap_len);
    for (int i = 0; i < 4; i++)
        img[hlen + snap_len + (size_t)i] = (uint8_t)(crc >> (8 * i));
    seed_write_prefixed("snap", "backup-real", 4, img, hlen + snap_len + 4);
    seed_write_prefixed("snap", "backup-real-fixcrc", 5, img, hlen + snap_len + 4);
    free(img);
}

/* A real directory: entries 1..6 over two segments, a truncation, a snapshot. */
static void seeds_storage_real(void)
{
    char dir[] = "/tmp/vesper-seeds.XXXXXX";
    if (mkdtemp(dir) == NULL)
        exit(1);
    struct storage_options o;
    storage_options_defaults(&o);
    o.segment_bytes = 300;
    o.preallocate = false;
    struct storage *st;
    struct storage_boot b;
    char err[256];
    if (storage_open(&st, dir, &o, &b, err, sizeof err) != STORAGE_OK)
        exit(1);
    storage_boot_free(&b);
    uint8_t pay[40];
    memset(pay, 'x', sizeof pay);
    struct raft_hard_state hs = {.term = 2, .vote = 1, .commit = 3};
    struct raft_entry e[6];
    for (int i = 0; i < 6; i++)
        e[i] = (struct raft_entry){.term = 1 + (i > 2),
                                   .index = (raft_index)i + 1,
                                   .type = i == 0 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL,
                                   .len = i == 0 ? 0 : 10 + (uint32_t)i,
                                   .data = i == 0 ? NULL : pay};
    struct raft_entry again = {
        .term = 3, .index = 5, .type = RAFT_ENTRY_NORMAL, .len = 4, .data = pay};
    struct raft_conf conf = three_conf();
    if (storage_save_hard_state(st, &hs) || storage_append(st, e, 6) || storage_sync(st) ||
        storage_append(st, &again, 1) || storage_sync(st) ||
        storage_snapshot_save(st, 3, 2, &conf, "snapdata", 8, 1, NULL))
        exit(1);
    storage_close(st);
    char path[512];
    uint8_t *buf;
    size_t len;
    for (int seq = 1; seq <= 4; seq++) {
        snprintf(path, sizeof path, "%s/%016x.seg", dir, seq);
        if (read_file(path, &buf, &len) == 0) {
            char name[32];
            snprintf(name, sizeof name, "real-seg-%d", seq);
            seed_write_prefixed("storage", name, 0, buf, len);
            snprintf(name, sizeof name, "real-seg-%d-torn", seq);
            seed_write_prefixed("storage", name, 0, buf, len - 5);
        }
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/%016x-%016x.snap", dir, 3, 2);
    if (read_file(path, &buf, &len) != 0)
        exit(1);
    seed_write_prefixed("snap", "file-real", 2, buf, len);
    seed_write_prefixed("snap", "file-real-fixcrc", 3, buf, len);
    seed_backup(buf, len);
    unlink(path);
    snprintf(path, sizeof path, "%s/FORMAT", dir);
    unlink(path);
    if (rmdir(dir) != 0)
        perror(dir);
}

/* Record descriptions: type, flags, aux, term, index, len, payload. */
static void seeds_storage_described(void)
{
    static const uint8_t log3[] = {2, 0, 0, 1, 1, 2, 'a', 'b', 2, 0, 0, 1, 2, 0,
                                   2, 0, 0, 2, 3, 1, 'c', 16,  0, 1, 2, 3, 0};
    seed_write_prefixed("storage", "desc-log3", 2, log3, sizeof log3);
    static const uint8_t truncate[] = {2, 0, 0, 1, 1, 0, 2, 0, 0, 1, 2, 0,  2,
                                       0, 0, 1, 3, 0, 2, 0, 0, 2, 2, 1, 'z'};
    seed_write_prefixed("storage", "desc-truncate", 2, truncate, sizeof truncate);
    static const uint8_t segs[] = {2, 0, 0, 1, 1,    0,    0xf0, 1, 0, 0, 0, 0, 2,
                                   0, 0, 1, 2, 0,    0xf0, 1,    0, 0, 0, 0, 2, 0,
                                   0, 1, 3, 0, 0xf1, 0,    0,    0, 0, 3, 1, 2, 3};
    seed_write_prefixed("storage", "desc-segments-torn", 2, segs, sizeof segs);
    static const uint8_t gap[] = {2, 0, 0, 1, 1, 0, 2, 0, 0, 1, 5, 0};
    seed_write_prefixed("storage", "desc-gap", 2, gap, sizeof gap);
    /* Snapshot (index 4, term 2, valid conf, 3 payload bytes), then a mark and entries. */
    static const uint8_t snap[] = {4, 2, 1, 3, 'k', 'v', '!', 17, 1, 0, 2, 4, 0,
                                   2, 0, 0, 2, 5,   1,   'q', 2,  0, 0, 2, 6, 0};
    seed_write_prefixed("storage", "desc-snap-mark", 3, snap, sizeof snap);
    static const uint8_t snap_only[] = {9, 3, 1, 0, 16, 0, 7, 3, 4, 0};
    seed_write_prefixed("storage", "desc-snap-hs", 3, snap_only, sizeof snap_only);
    static const uint8_t bad_mark[] = {2, 0, 0, 1, 1, 0, 17, 1, 0, 1, 9, 0};
    seed_write_prefixed("storage", "desc-mark-above-snap", 2, bad_mark, sizeof bad_mark);
    seed_write_prefixed("storage", "prefix-garbage", 1, "\x01\x02\x03garbage", 10);
    seed_write_prefixed("storage", "prefix-empty", 1, "", 0);
}

void seeds_storage(void)
{
    seeds_storage_real();
    seeds_storage_described();
}

void seeds_text(void)
{
    static const struct {
        uint8_t method; /* fuzz_api: 0 GET 1 PUT 2 POST 3 DELETE 4 PATCH; +8 tiny limits */
        const char *body;
    } api[] = {
        {0, "{\"type\":\"get\",\"payload\":{\"key\":\"name\"}}"},
        {0, "{\"payload\":{\"key\":\"k\",\"consistency\":\"stale\"}}"},
        {1, "{\"type\":\"put\",\"payload\":{\"key\":\"name\",\"value\":\"Leslie Lamport\"}}"},
        {1, "{\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":7,\"seq\":1}"},
        {2,
         "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"value\":\"new\",\"expected\":\"old\"}}"},
        {2, "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"value\":\"v\",\"expected\":null}}"},
        {2, "{\"type\":\"delete\",\"payload\":{\"key\":\"k\",\"client_id\":1,\"seq\":2}}"},
        {3, "{\"payload\":{\"key\":\"k\"}}"},
        {4, "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}}"},
        {2, "{\"type\":\"put\",\"payload\":{\"key\":\"\\u0000\\ud800\xff\",\"value\":\"\\\"\"}}"},
        {9, "{\"type\":\"put\",\"payload\":{\"key\":\"0123456789\",\"value\":\"v\"}}"},
        {2, "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":1e999}}"},
        {2,
         "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"seq\":-1,\"client_id\":"
         "18446744073709551615}"},
        {0, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["},
        {2, "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\"}} trailing"},
        {2, "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\""},
        {0, "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"limit\":2}}"},
        {2,
         "{\"type\":\"range\",\"payload\":{\"start\":\"a\",\"end\":\"k\",\"after\":\"ab\","
         "\"keys_only\":true},\"consistency\":\"stale\"}"},
        {2, "{\"type\":\"range\",\"payload\":{\"prefix\":\"\",\"count_only\":true}}"},
        {2, "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},\"revisions\":true}"},
        {2,
         "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":\"value\","
         "\"op\":\"<\",\"value\":\"b\"},{\"key\":\"k\",\"target\":\"exists\",\"value\":"
         "true},{\"key\":\"b\",\"target\":\"mod_revision\",\"op\":\">\",\"value\":1}],"
         "\"success\":[{\"op\":\"put\",\"key\":\"z\",\"value\":\"1\"},{\"op\":\"get\","
         "\"key\":\"z\"},{\"op\":\"delete\",\"key\":\"a\"}],\"failure\":[{\"op\":"
         "\"get\",\"key\":\"ab\"}]},\"client_id\":3,\"seq\":1}"},
        {10,
         "{\"type\":\"txn\",\"payload\":{\"success\":[{\"op\":\"put\",\"key\":\"k\","
         "\"value\":\"0123456789abcdefXYZ\"}]}}"},
        /* The shapes the direct parser (src/api/parse_fast.c) takes. */
        {1, "{\"type\": \"put\", \"payload\": {\"key\": \"k\", \"value\": \"v\"}}"},
        {1,
         "{\"type\":\"put\",\"payload\":{\"key\":\"k00042\",\"value\":\"abc\"},\"client_id\":"
         "12345678901234567890,\"seq\":1}"},
        {0,
         " {\"payload\":{\"key\":\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\xc3\xa9\"},\"type\":\"get\"}\r\n"},
        {3, "{\"payload\":{\"seq\":2,\"key\":\"k\",\"client_id\":0}}"},
        {9, "{\"type\":\"put\",\"payload\":{\"key\":\"12345678\",\"value\":\"0123456789abcdef\"}}"},
    };
    for (size_t i = 0; i < sizeof api / sizeof api[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "api-%02zu", i);
        seed_write_prefixed("api", name, api[i].method, api[i].body, strlen(api[i].body));
    }
    static const char *const lists[] = {
        "http://127.0.0.1:5000\n",
        "http://127.0.0.1:5000\nhttp://127.0.0.1:5001\nhttp://127.0.0.1:5002\n",
        "  https://node-a.example:443/  \r\nhttp://[::1]:5001\r\nhttp://10.0.0.3:65535",
        "http://127.0.0.1:5000\n\nhttp://127.0.0.1:5001\n",
        "http://127.0.0.1:0\n",
        "http://127.0.0.1:70000\n",
        "ftp://127.0.0.1:21\n",
        "http://:5000\n",
        "http://[::1\n",
        "",
    };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "iplist-%02zu", i);
        seed_write_prefixed("config", name, (uint8_t)(i % 3), lists[i], strlen(lists[i]));
    }
}

/* ===== raft scripts ===== */

struct script {
    uint8_t buf[4096];
    size_t len;
};

static void op(struct script *s, uint8_t byte)
{
    s->buf[s->len++] = byte;
}

static void msg(struct script *s, const struct raft_msg *m)
{
    struct codec_buf b;
    codec_buf_init(&b);
    if (codec_msg_encode(&b, m) != RAFT_OK || s->len + 3 + b.len > sizeof s->buf)
        exit(1);
    op(s, 0x40);
    op(s, (uint8_t)b.len);
    op(s, (uint8_t)(b.len >> 8));
    memcpy(s->buf + s->len, b.p, b.len);
    s->len += b.len;
    codec_buf_free(&b);
}

static void script_follower(void)
{
    static uint8_t pay[8] = "payload";
    struct script s = {.len = 0};
    op(&s, 0x30); /* node 0, pre-vote, check quorum */
    op(&s, 3);    /* three boot entries, term 1 */
    struct raft_entry e[2] = {
        {.term = 2, .index = 4, .type = RAFT_ENTRY_NOOP},
        {.term = 2, .index = 5, .type = RAFT_ENTRY_NORMAL, .len = 7, .data = pay}};
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_APPEND,
                               .from = 1,
                               .to = 0,
                               .term = 2,
                               .index = 3,
                               .log_term = 1,
                               .commit = 4,
                               .n_entries = 2,
                               .entries = e});
    msg(&s, &(struct raft_msg){
                .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 0, .term = 2, .commit = 5, .seq = 1});
    struct raft_conf conf = three_conf();
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_SNAPSHOT,
                               .from = 1,
                               .to = 0,
                               .term = 3,
                               .snap_index = 10,
                               .snap_term = 3,
                               .snap_size = 7,
                               .done = true,
                               .conf = &conf,
                               .len = 7,
                               .data = pay});
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_APPEND,
                               .from = 1,
                               .to = 0,
                               .term = 3,
                               .index = 10,
                               .log_term = 3,
                               .commit = 11,
                               .n_entries = 1,
                               .entries = &(struct raft_entry){
                                   .term = 3, .index = 11, .type = RAFT_ENTRY_NORMAL}});
    op(&s, 6); /* snapshot at applied */
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 0, .term = 3});
    seed_write("raft", "follower-append-snapshot", s.buf, s.len);
}

static void script_leader(void)
{
    struct script s = {.len = 0};
    op(&s, 0x00); /* node 0, no pre-vote, no check quorum */
    op(&s, 2);    /* two boot entries, hs term 1 */
    op(&s, 4);    /* campaign: term 2 */
    msg(&s, &(struct raft_msg){
                .type = RAFT_MSG_VOTE_RESP, .from = 1, .to = 0, .term = 2, .granted = true});
    op(&s, 2 | 1 << 6); /* propose */
    msg(&s, &(struct raft_msg){
                .type = RAFT_MSG_APPEND_RESP, .from = 1, .to = 0, .term = 2, .index = 4});
    op(&s, 3); /* read */
    msg(&s, &(struct raft_msg){
                .type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = 0, .term = 2, .seq = 1});
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_APPEND_RESP,
                               .from = 2,
                               .to = 0,
                               .term = 2,
                               .index = 1,
                               .reject = true,
                               .hint_index = 1,
                               .log_term = 1});
    op(&s, 1 | 12 << 3);         /* ticks */
    op(&s, 7 | 0 << 3 | 3 << 5); /* add learner 3 */
    op(&s, 5 | 1 << 3);          /* transfer to 1 */
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_SNAPSHOT_RESP,
                               .from = 2,
                               .to = 0,
                               .term = 2,
                               .snap_index = 3,
                               .offset = 10});
    msg(&s, &(struct raft_msg){
                .type = RAFT_MSG_VOTE, .from = 2, .to = 0, .term = 9, .index = 9, .log_term = 9});
    seed_write("raft", "leader-propose-read", s.buf, s.len);
}

static void script_prevote(void)
{
    struct script s = {.len = 0};
    op(&s, 0x31);        /* node 1, pre-vote, check quorum */
    op(&s, 5 | 1 << 3);  /* five entries, hs term 2 */
    op(&s, 1 | 31 << 3); /* election timeout: pre-vote */
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_VOTE_RESP,
                               .from = 0,
                               .to = 1,
                               .term = 3,
                               .prevote = true,
                               .granted = true});
    msg(&s, &(struct raft_msg){
                .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 3, .granted = true});
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_VOTE,
                               .from = 2,
                               .to = 1,
                               .term = 4,
                               .index = 5,
                               .log_term = 2,
                               .prevote = true});
    msg(&s, &(struct raft_msg){.type = RAFT_MSG_APPEND, .from = 0, .to = 1, .term = 1});
    op(&s, 1 | 31 << 3);
    seed_write("raft", "prevote-election", s.buf, s.len);
    s.len = 2;
    op(&s, 1 | 31 << 3);
    op(&s, 1 | 31 << 3);
    seed_write("raft", "ticks-only", s.buf, s.len);
}

void seeds_raft(void)
{
    script_follower();
    script_leader();
    script_prevote();
}
