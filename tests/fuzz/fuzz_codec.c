/* fuzz_codec.c: libFuzzer target for the peer message decoder (src/net/codec.c).
 *
 * The input is decoded twice: as a batch (codec_batch_iter_init / codec_batch_next,
 * what POST /raft does with a request body) and as one bare message
 * (codec_msg_decode). Every message that decodes is encoded again and decoded from
 * the new bytes; both decodings must agree field by field, and the re-encoding must
 * be stable (encode(decode(encode(m))) == encode(m)). The decoder is zero-copy, so
 * ASan also checks that no entry or chunk pointer reaches outside the input.
 */
#include "fuzz/fuzz.h"

#include <string.h>

#include "net/codec.h"

static void check_same_conf(const struct raft_conf *a, const struct raft_conf *b)
{
    FUZZ_CHECK((a == NULL) == (b == NULL));
    if (a == NULL)
        return;
    FUZZ_CHECK(a->n == b->n && a->n <= RAFT_MAX_MEMBERS);
    for (uint32_t i = 0; i < a->n; i++) {
        FUZZ_CHECK(a->m[i].id == b->m[i].id && a->m[i].voter == b->m[i].voter);
        FUZZ_CHECK(strcmp(a->m[i].addr, b->m[i].addr) == 0);
    }
}

static void check_same(const struct raft_msg *a, const struct raft_msg *b)
{
    FUZZ_CHECK(a->type == b->type && a->from == b->from && a->to == b->to);
    FUZZ_CHECK(a->term == b->term && a->index == b->index && a->log_term == b->log_term);
    FUZZ_CHECK(a->commit == b->commit && a->hint_index == b->hint_index && a->seq == b->seq);
    FUZZ_CHECK(a->prevote == b->prevote && a->transfer == b->transfer);
    FUZZ_CHECK(a->granted == b->granted && a->reject == b->reject && a->done == b->done);
    FUZZ_CHECK(a->snap_index == b->snap_index && a->snap_term == b->snap_term);
    FUZZ_CHECK(a->snap_size == b->snap_size && a->offset == b->offset);
    FUZZ_CHECK(a->n_entries == b->n_entries && a->len == b->len);
    FUZZ_CHECK(a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
    for (uint32_t i = 0; i < a->n_entries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        FUZZ_CHECK(x->term == y->term && x->index == y->index && x->type == y->type);
        FUZZ_CHECK(x->len == y->len && (x->len == 0 || memcmp(x->data, y->data, x->len) == 0));
    }
    check_same_conf(a->conf, b->conf);
}

/* Re-encodes m, decodes the copy with its own scratch and compares. */
static void roundtrip(const struct raft_msg *m)
{
    struct codec_buf b1, b2;
    codec_buf_init(&b1);
    codec_buf_init(&b2);
    FUZZ_CHECK(codec_msg_size(m) > 0);
    FUZZ_CHECK(codec_msg_encode(&b1, m) == RAFT_OK);
    FUZZ_CHECK(b1.len == codec_msg_size(m));
    struct codec_scratch s;
    codec_scratch_init(&s);
    struct raft_msg back;
    FUZZ_CHECK(codec_msg_decode(b1.p, b1.len, &back, &s) == RAFT_OK);
    check_same(m, &back);
    FUZZ_CHECK(codec_msg_encode(&b2, &back) == RAFT_OK);
    FUZZ_CHECK(b1.len == b2.len && memcmp(b1.p, b2.p, b1.len) == 0);
    codec_scratch_free(&s);
    codec_buf_free(&b1);
    codec_buf_free(&b2);
}

static void fuzz_batch(const uint8_t *data, size_t size)
{
    struct codec_batch_iter it;
    if (codec_batch_iter_init(&it, data, size) != RAFT_OK)
        return;
    struct codec_scratch s;
    codec_scratch_init(&s);
    struct raft_msg m;
    int rc;
    uint32_t n = 0;
    while ((rc = codec_batch_next(&it, &m, &s)) == 1) {
        roundtrip(&m);
        n++;
    }
    FUZZ_CHECK(rc == 0 || rc == -RAFT_ECORRUPT || rc == -RAFT_ENOMEM);
    FUZZ_CHECK(n <= it.count);
    FUZZ_CHECK(rc != 0 || (n == it.count && it.pos == size));
    /* After the end (or an error) the walk stays finished. */
    FUZZ_CHECK(codec_batch_next(&it, &m, &s) <= 0);
    codec_scratch_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_batch(data, size);
    struct codec_scratch s;
    codec_scratch_init(&s);
    struct raft_msg m;
    int rc = codec_msg_decode(data, size, &m, &s);
    FUZZ_CHECK(rc == RAFT_OK || rc == RAFT_ECORRUPT || rc == RAFT_ENOMEM);
    if (rc == RAFT_OK)
        roundtrip(&m);
    codec_scratch_free(&s);
    return 0;
}
