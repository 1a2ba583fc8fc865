/* test_raft_log.c: the core's in-memory log (src/raft/log.c) on its own: payloads
 * copied into slabs, truncation that cuts a slab and appends again over the cut,
 * compaction that frees whole slabs, and a reset. Every surviving entry's payload
 * is checked byte for byte after each step; under AddressSanitizer a read of a
 * truncated or freed payload fails the run.
 */
#include <stdlib.h>
#include <string.h>

#include "lib/test.h"
#include "raft/log.h"

/* Entry i of generation g: length and bytes derived from both, so an entry written
 * over a truncated one is told apart from it. Every seventh is empty; every 500th is
 * bigger than a slab. */
static uint32_t payload_len(raft_index i, int g)
{
    if (i % 7 == 0)
        return 0;
    if (i % 500 == 0)
        return (2u << 20) + (uint32_t)g;
    return 1 + (uint32_t)((i * 37 + (raft_index)g * 11) % 300);
}

static uint8_t payload_byte(raft_index i, int g, uint32_t k)
{
    return (uint8_t)(i * 131 + (raft_index)g * 17 + k);
}

static int append_range(struct raft__log *l, raft_index from, raft_index to, raft_term term, int g)
{
    uint8_t *buf = malloc((3u << 20));
    if (!buf)
        return -1;
    for (raft_index i = from; i <= to; i++) {
        uint32_t len = payload_len(i, g);
        for (uint32_t k = 0; k < len; k++)
            buf[k] = payload_byte(i, g, k);
        struct raft_entry e = {
            .term = term, .index = i, .type = RAFT_ENTRY_NORMAL, .len = len, .data = buf};
        if (raft__log_append(l, &e) != RAFT_OK) {
            free(buf);
            return -1;
        }
    }
    free(buf);
    return 0;
}

/* Every entry held has generation g's payload from gen_from on, generation 0's
 * before it. */
static bool payloads_ok(const struct raft__log *l, raft_index gen_from, int g)
{
    for (raft_index i = l->offset + 1; i <= raft__log_last(l); i++) {
        int gi = i >= gen_from ? g : 0;
        const struct raft_entry *e = raft__log_get(l, i);
        if (e->index != i || e->len != payload_len(i, gi))
            return false;
        for (uint32_t k = 0; k < e->len; k++)
            if (e->data[k] != payload_byte(i, gi, k))
                return false;
    }
    return true;
}

TEST(raft_log_payloads_survive_truncation_and_compaction)
{
    struct raft__log l;
    raft__log_init(&l, 0, 0);
    CHECK(append_range(&l, 1, 3000, 1, 0) == 0);
    CHECK(payloads_ok(&l, 1, 0));
    size_t slabs = l.n_slabs;
    CHECK(slabs > 3);

    /* Cut in the middle of a slab, then write a different suffix over the cut. */
    raft__log_truncate(&l, 1234);
    CHECK_EQ_U64(raft__log_last(&l), 1233);
    CHECK(payloads_ok(&l, 1234, 0));
    CHECK(l.n_slabs < slabs);
    CHECK(append_range(&l, 1234, 2600, 2, 1) == 0);
    CHECK(payloads_ok(&l, 1234, 1));

    /* Compaction frees the slabs it covers whole and keeps the rest readable. */
    slabs = l.n_slabs;
    raft__log_compact(&l, 2000);
    CHECK_EQ_U64(l.offset, 2000);
    CHECK_EQ_U64(l.offset_term, 2);
    CHECK(l.n_slabs < slabs);
    CHECK(payloads_ok(&l, 1234, 1));

    /* A cut right after the compaction point, and appends again. */
    raft__log_truncate(&l, 2001);
    CHECK_EQ_U64(raft__log_last(&l), 2000);
    CHECK(append_range(&l, 2001, 2100, 3, 2) == 0);
    CHECK(payloads_ok(&l, 2001, 2));

    /* Compacting everything held, then a reset, leave an empty log that still takes
     * appends. */
    raft__log_compact(&l, 2100);
    CHECK_EQ_U64(l.n, 0);
    CHECK(append_range(&l, 2101, 2110, 3, 0) == 0);
    raft__log_reset(&l, 5000, 4);
    CHECK_EQ_U64(l.n_slabs, 0);
    CHECK_EQ_U64(raft__log_last(&l), 5000);
    CHECK(append_range(&l, 5001, 5020, 4, 0) == 0);
    CHECK(payloads_ok(&l, 5001, 0));
    raft__log_free(&l);
}

TEST(raft_log_truncation_to_an_empty_payload_keeps_earlier_bytes)
{
    struct raft__log l;
    raft__log_init(&l, 0, 0);
    CHECK(append_range(&l, 1, 20, 1, 0) == 0);
    /* Entry 14 is empty: the cut starts at the next payload, 15. */
    raft__log_truncate(&l, 14);
    CHECK(payloads_ok(&l, 14, 0));
    CHECK(append_range(&l, 14, 30, 2, 5) == 0);
    CHECK(payloads_ok(&l, 14, 5));
    raft__log_truncate(&l, 1);
    CHECK_EQ_U64(raft__log_last(&l), 0);
    CHECK_EQ_U64(l.n_slabs, 0);
    CHECK(append_range(&l, 1, 10, 3, 6) == 0);
    CHECK(payloads_ok(&l, 1, 6));
    raft__log_free(&l);
}
