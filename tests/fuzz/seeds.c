/* seeds.c: writes the seed corpora of the fuzz targets (build/fuzz-seeds OUT_DIR).
 *
 *   OUT_DIR/<target>/<name>   one file per seed, for api codec storage snap config raft
 *
 * Seeds are generated from the real encoders (peer codec, storage, kv snapshot) so
 * they stay valid when a format changes: regenerate with `make fuzz-seeds` and commit
 * tests/fuzz/corpus/. Each seed reaches one interesting path; mutation does the rest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "lib/kv_snap_v2.h"
#include "net/codec.h"
#include "net/codec_samples.h"
#include "seeds.h"
#include "storage/storage.h"

static const char *out_dir;

void seed_write(const char *target, const char *name, const void *buf, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", out_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* byte 0 selects the mode or method; the body follows. */
void seed_write_prefixed(const char *target, const char *name, uint8_t b0, const void *buf,
                         size_t len)
{
    uint8_t *p = malloc(len + 1);
    if (p == NULL)
        exit(1);
    p[0] = b0;
    memcpy(p + 1, buf, len);
    seed_write(target, name, p, len + 1);
    free(p);
}

static void seeds_codec(void)
{
    static struct codec_samples s;
    codec_samples_init(&s);
    struct codec_buf all;
    codec_buf_init(&all);
    if (codec_batch_begin(&all) != RAFT_OK)
        exit(1);
    for (int i = 0; i < CODEC_SAMPLES_N; i++) {
        struct codec_buf one, batch;
        codec_buf_init(&one);
        codec_buf_init(&batch);
        if (codec_msg_encode(&one, &s.msgs[i]) != RAFT_OK || codec_batch_begin(&batch) != RAFT_OK ||
            codec_batch_add(&batch, &s.msgs[i]) != RAFT_OK || codec_batch_add(&all, &s.msgs[i]))
            exit(1);
        char name[64];
        snprintf(name, sizeof name, "msg-%02d", i);
        seed_write("codec", name, one.p, one.len);
        snprintf(name, sizeof name, "batch-%02d", i);
        seed_write("codec", name, batch.p, batch.len);
        codec_buf_free(&one);
        codec_buf_free(&batch);
    }
    seed_write("codec", "batch-all", all.p, all.len);
    uint8_t empty[5] = {CODEC_VERSION, 0, 0, 0, 0};
    seed_write("codec", "batch-empty", empty, sizeof empty);
    codec_buf_free(&all);
}

static void seeds_snap(void)
{
    struct kv *kv = kv_new(0);
    if (kv == NULL)
        exit(1);
    uint8_t *enc;
    size_t len;
    if (kv_snap_encode(kv, &enc, &len) != 0)
        exit(1);
    seed_write_prefixed("snap", "kv-empty", 0, enc, len);
    free(enc);
    const char *keys[] = {"a", "bb", "key\0nul", "\xff\xfe", "name"};
    for (int i = 0; i < 5; i++) {
        struct kv_cmd c = {.op = KV_OP_PUT,
                           .has_session = i & 1,
                           .client_id = 7 + (uint64_t)i,
                           .seq = 1,
                           .key = (const uint8_t *)keys[i],
                           .key_len = i == 2 ? 7 : strlen(keys[i]),
                           .value = (const uint8_t *)"value",
                           .value_len = (size_t)i};
        uint8_t *cmd;
        size_t cmd_len;
        struct kv_result res;
        if (kv_cmd_encode_alloc(&c, &cmd, &cmd_len) != 0)
            exit(1);
        kv_apply(kv, kv->applied_index + 1, 3, cmd, cmd_len, &res);
        free(cmd);
    }
    if (kv_snap_encode(kv, &enc, &len) != 0)
        exit(1);
    seed_write_prefixed("snap", "kv-five", 0, enc, len);
    seed_write_prefixed("snap", "kv-truncated", 0, enc, len / 2);
    free(enc);
    /* Version 2, still read: a member list to skip and a trailing CRC. */
    if (kv_snap_encode_v2(kv, "members-blob", 12, &enc, &len) != 0)
        exit(1);
    seed_write_prefixed("snap", "kv-v2-five", 0, enc, len);
    seed_write_prefixed("snap", "kv-v2-five-fixcrc", 1, enc, len);
    seed_write_prefixed("snap", "kv-v2-truncated", 1, enc, len / 2);
    free(enc);
    /* Version 5: two leases (one with two keys) and the history window. */
    struct kv_cmd lc[] = {{.op = KV_OP_LEASE_GRANT, .ttl = 30},
                          {.op = KV_OP_LEASE_GRANT, .lease = 9, .ttl = 5},
                          {.op = KV_OP_PUT, .key = (const uint8_t *)"a", .key_len = 1, .lease = 1},
                          {.op = KV_OP_PUT, .key = (const uint8_t *)"l", .key_len = 1, .lease = 1},
                          {.op = KV_OP_LEASE_KEEPALIVE, .lease = 9}};
    for (size_t i = 0; i < sizeof lc / sizeof lc[0]; i++) {
        uint8_t *cmd;
        size_t cmd_len;
        struct kv_result res;
        if (kv_cmd_encode_alloc(&lc[i], &cmd, &cmd_len) != 0)
            exit(1);
        kv_apply(kv, kv->applied_index + 1, 3, cmd, cmd_len, &res);
        free(cmd);
    }
    if (kv_snap_encode(kv, &enc, &len) != 0)
        exit(1);
    seed_write_prefixed("snap", "kv-leases", 0, enc, len);
    free(enc);
    kv_free(kv);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-seeds OUT_DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    seeds_codec();
    seeds_snap();
    seeds_storage();
    seeds_text();
    seeds_raft();
    return 0;
}
