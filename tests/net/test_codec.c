/* test_codec.c: the peer wire format round-trips every message and rejects every
 * malformed input without crashing or reading past its buffer.
 *
 * Inputs under test are always copied into a malloc'd buffer of exactly their
 * length, so ASan turns any over-read into a failure.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "net/codec.h"
#include "net/codec_samples.h"

static int msg_equal(const struct raft_msg *a, const struct raft_msg *b)
{
    if (a->type != b->type || a->from != b->from || a->to != b->to || a->term != b->term ||
        a->index != b->index || a->log_term != b->log_term || a->commit != b->commit ||
        a->hint_index != b->hint_index || a->seq != b->seq || a->prevote != b->prevote ||
        a->transfer != b->transfer || a->granted != b->granted || a->reject != b->reject ||
        a->n_entries != b->n_entries || a->snap_index != b->snap_index ||
        a->snap_term != b->snap_term || a->snap_size != b->snap_size || a->offset != b->offset ||
        a->done != b->done || a->len != b->len)
        return 0;
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        if (x->term != y->term || x->index != y->index || x->type != y->type || x->len != y->len ||
            (x->len && memcmp(x->data, y->data, x->len) != 0))
            return 0;
    }
    if ((a->conf == NULL) != (b->conf == NULL) || (a->len && memcmp(a->data, b->data, a->len)))
        return 0;
    if (a->conf == NULL)
        return 1;
    if (a->conf->n != b->conf->n)
        return 0;
    for (uint32_t i = 0; i < a->conf->n; i++)
        if (a->conf->m[i].id != b->conf->m[i].id || a->conf->m[i].voter != b->conf->m[i].voter ||
            strcmp(a->conf->m[i].addr, b->conf->m[i].addr) != 0)
            return 0;
    return 1;
}

/* Decodes one message from an exact-size heap copy of buf[0, len). */
static int decode_copy(const uint8_t *buf, size_t len, struct raft_msg *m, struct codec_scratch *s,
                       uint8_t **copy)
{
    *copy = malloc(len ? len : 1);
    if (len)
        memcpy(*copy, buf, len);
    return codec_msg_decode(*copy, len, m, s);
}

TEST(round_trip_every_type)
{
    struct codec_samples smp;
    codec_samples_init(&smp);
    struct codec_scratch s;
    codec_scratch_init(&s);
    for (int i = 0; i < CODEC_SAMPLES_N; i++) {
        struct codec_buf b;
        codec_buf_init(&b);
        CHECK_EQ_U64(codec_msg_encode(&b, &smp.msgs[i]), RAFT_OK);
        CHECK_EQ_U64(b.len, codec_msg_size(&smp.msgs[i]));
        struct raft_msg m;
        uint8_t *copy;
        int rc = decode_copy(b.p, b.len, &m, &s, &copy);
        int same = rc == RAFT_OK && msg_equal(&smp.msgs[i], &m);
        free(copy);
        codec_buf_free(&b);
        CHECK_EQ_U64(rc, RAFT_OK);
        CHECK(same);
    }
    codec_scratch_free(&s);
}

TEST(heartbeat_is_small)
{
    struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 7, .commit = 9};
    CHECK_EQ_U64(codec_msg_size(&m), 12 + 16);
}

TEST(encode_rejects_unencodable)
{
    struct raft_entry e = {.term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL, .len = 3};
    struct raft_msg bad[] = {
        {.type = 0},
        {.type = RAFT_MSG_TYPE_MAX + 1},
        {.type = RAFT_MSG_SNAPSHOT, .len = 10},                   /* data not filled in */
        {.type = RAFT_MSG_VOTE, .n_entries = 1, .entries = &e},   /* entries off APPEND */
        {.type = RAFT_MSG_APPEND, .n_entries = 1, .entries = &e}, /* entry data NULL */
        {.type = RAFT_MSG_HEARTBEAT, .len = 1, .data = (const uint8_t *)"x"},
    };
    struct codec_buf b;
    codec_buf_init(&b);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_U64(codec_msg_size(&bad[i]), 0);
        CHECK_EQ_U64(codec_msg_encode(&b, &bad[i]), RAFT_EINVAL);
        CHECK_EQ_U64(b.len, 0);
    }
    CHECK_EQ_U64(codec_batch_begin(&b), RAFT_OK);
    CHECK_EQ_U64(codec_batch_add(&b, &bad[2]), RAFT_EINVAL);
    CHECK_EQ_U64(codec_batch_count(&b), 0);
    CHECK_EQ_U64(b.len, CODEC_BATCH_HEADER_BYTES);
    codec_buf_free(&b);
}

static void encode_sample_batch(struct codec_buf *b, struct codec_samples *smp)
{
    codec_buf_init(b);
    if (codec_batch_begin(b) != RAFT_OK)
        abort();
    for (int i = 0; i < CODEC_SAMPLES_N; i++)
        if (codec_batch_add(b, &smp->msgs[i]) != RAFT_OK)
            abort();
}

TEST(batch_round_trip)
{
    struct codec_samples smp;
    codec_samples_init(&smp);
    struct codec_buf b;
    encode_sample_batch(&b, &smp);
    CHECK_EQ_U64(codec_batch_count(&b), CODEC_SAMPLES_N);
    struct codec_batch_iter it;
    struct codec_scratch s;
    codec_scratch_init(&s);
    CHECK_EQ_U64(codec_batch_iter_init(&it, b.p, b.len), RAFT_OK);
    struct raft_msg m;
    int n = 0, rc;
    while ((rc = codec_batch_next(&it, &m, &s)) == 1) {
        CHECK(n < CODEC_SAMPLES_N && msg_equal(&smp.msgs[n], &m));
        n++;
    }
    CHECK_EQ_U64(rc, 0);
    CHECK_EQ_U64(n, CODEC_SAMPLES_N);
    codec_scratch_free(&s);
    codec_buf_free(&b);
}

/* Walks a batch; returns messages decoded, or -1 on the first error. */
static int walk(const uint8_t *buf, size_t len, struct codec_scratch *s)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, buf, len);
    struct codec_batch_iter it;
    struct raft_msg m;
    int n = 0, rc = -1;
    if (codec_batch_iter_init(&it, copy, len) == RAFT_OK)
        while ((rc = codec_batch_next(&it, &m, s)) == 1)
            n++;
    free(copy);
    return rc == 0 ? n : -1;
}

TEST(truncated_batch_at_every_length)
{
    struct codec_samples smp;
    codec_samples_init(&smp);
    struct codec_buf b;
    encode_sample_batch(&b, &smp);
    struct codec_scratch s;
    codec_scratch_init(&s);
    for (size_t len = 0; len < b.len; len++)
        CHECK_EQ_U64((uint64_t)(int64_t)walk(b.p, len, &s), (uint64_t)(int64_t)-1);
    CHECK_EQ_U64(walk(b.p, b.len, &s), CODEC_SAMPLES_N);
    codec_scratch_free(&s);
    codec_buf_free(&b);
}

TEST(truncated_message_at_every_length)
{
    struct codec_samples smp;
    codec_samples_init(&smp);
    struct codec_scratch s;
    codec_scratch_init(&s);
    for (int i = 0; i < CODEC_SAMPLES_N; i++) {
        struct codec_buf b;
        codec_buf_init(&b);
        CHECK_EQ_U64(codec_msg_encode(&b, &smp.msgs[i]), RAFT_OK);
        for (size_t len = 0; len < b.len; len++) {
            struct raft_msg m;
            uint8_t *copy;
            int rc = decode_copy(b.p, len, &m, &s, &copy);
            free(copy);
            CHECK_EQ_U64(rc, RAFT_ECORRUPT);
        }
        codec_buf_free(&b);
    }
    codec_scratch_free(&s);
}

TEST(trailing_bytes_and_bad_headers)
{
    struct codec_samples smp;
    codec_samples_init(&smp);
    struct codec_buf b;
    encode_sample_batch(&b, &smp);
    struct codec_scratch s;
    codec_scratch_init(&s);
    CHECK_EQ_U64(codec_buf_reserve(&b, 1), RAFT_OK);
    b.p[b.len] = 0;
    CHECK_EQ_U64((uint64_t)(int64_t)walk(b.p, b.len + 1, &s), (uint64_t)(int64_t)-1);
    b.p[0] = CODEC_VERSION + 1;
    CHECK_EQ_U64((uint64_t)(int64_t)walk(b.p, b.len, &s), (uint64_t)(int64_t)-1);
    /* A count larger than the body could hold is refused up front. */
    uint8_t huge[] = {CODEC_VERSION, 0xff, 0xff, 0x00, 0x00, 0, 0, 0, 0};
    CHECK_EQ_U64((uint64_t)(int64_t)walk(huge, sizeof huge, &s), (uint64_t)(int64_t)-1);
    /* An APPEND claiming 2^32-1 entries in a few bytes allocates nothing. */
    uint8_t lie[] = {RAFT_MSG_APPEND, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    struct codec_scratch fresh;
    codec_scratch_init(&fresh);
    struct raft_msg m;
    uint8_t *copy;
    int rc = decode_copy(lie, sizeof lie, &m, &fresh, &copy);
    free(copy);
    uint32_t cap = fresh.cap;
    codec_scratch_free(&fresh);
    codec_scratch_free(&s);
    codec_buf_free(&b);
    CHECK_EQ_U64(rc, RAFT_ECORRUPT);
    CHECK_EQ_U64(cap, 0);
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

TEST(random_garbage_and_mutations)
{
    struct codec_samples smp;
    codec_samples_init(&smp);
    struct codec_buf b;
    encode_sample_batch(&b, &smp);
    struct codec_scratch s;
    codec_scratch_init(&s);
    uint64_t x = 0x9e3779b97f4a7c15u;
    uint8_t junk[512];
    int decoded = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = rng_next(&x) % sizeof junk;
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rng_next(&x);
        if (round % 2 == 0 && len >= 5) /* a plausible header gets further in */
            memcpy(junk, (uint8_t[]){CODEC_VERSION, 1, 0, 0, 0}, 5);
        decoded += walk(junk, len, &s) > 0;
    }
    uint8_t *mut = malloc(b.len);
    for (int round = 0; round < 20000; round++) {
        memcpy(mut, b.p, b.len);
        for (int k = 1 + (int)(rng_next(&x) % 4); k > 0; k--)
            mut[rng_next(&x) % b.len] ^= (uint8_t)(1u << (rng_next(&x) % 8));
        decoded += walk(mut, b.len, &s) > 0;
    }
    free(mut);
    printf("  random/mutated inputs that still decoded: %d of 40000\n", decoded);
    codec_scratch_free(&s);
    codec_buf_free(&b);
}

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
