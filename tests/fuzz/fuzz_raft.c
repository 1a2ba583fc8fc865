/* fuzz_raft.c: libFuzzer target for the Raft core fed arbitrary peer messages.
 *
 * One core (node 0, 1 or 2 of a three-voter cluster, booted with a few entries) is
 * driven by a script read from the input, with a correct shell around it: after
 * every event all readies are drained in the documented order (persist, send,
 * durable, apply, advance). Script operations (low 3 bits of an op byte):
 *   0  a message: u16 length and that many bytes, decoded by the peer codec; bit 7
 *      of the op keeps the decoded `to` (else it is forced to this node, so most
 *      messages get past the address check) and bit 6 folds `from` into 0..3 (3 is
 *      not a member); raft_step must accept or reject it, never crash or assert
 *   1  up to 31 ticks          2  a proposal          3  a ReadIndex read
 *   4  campaign                5  transfer            6  snapshot at the applied index
 *   7  a membership change
 * Properties checked after every event: the term never decreases; commit never
 * decreases and never passes the last index; committed entries arrive in order with
 * no gap or repeat (an installed snapshot moves the applied index to its own); a
 * leader names itself as leader.
 *
 * Two core bugs it found are fixed and their reproducers live on in the corpus
 * (tests/fuzz/corpus/raft/append-term-decreases, term-overflow): an APPEND whose
 * entry terms decrease, and a term near 2^64 that the next election would wrap.
 */
#include "fuzz/fuzz.h"

#include <string.h>

#include "net/codec.h"
#include "raft/raft.h"

struct harness {
    struct raft *r;
    raft_id self;
    raft_index applied;
    raft_term term;
    raft_index commit;
    uint64_t next_read;
};

static void drain(struct harness *h)
{
    for (int rounds = 0; raft_has_ready(h->r); rounds++) {
        FUZZ_CHECK(rounds < 1000);
        struct raft_ready rd;
        raft_ready(h->r, &rd);
        if (rd.install != NULL) {
            FUZZ_CHECK(rd.install->index >= h->applied);
            h->applied = rd.install->index;
        }
        for (size_t i = 0; i < rd.n_committed; i++) {
            FUZZ_CHECK(rd.committed[i].index == h->applied + 1);
            h->applied = rd.committed[i].index;
        }
        raft_index last = rd.last_index;
        raft_term last_term = rd.last_term;
        bool durable = rd.n_entries > 0 || rd.must_sync;
        raft_advance(h->r, &rd);
        if (durable)
            raft_durable(h->r, last, last_term);
    }
    struct raft_status st;
    raft_status(h->r, &st);
    FUZZ_CHECK(st.term >= h->term);
    FUZZ_CHECK(st.commit >= h->commit);
    FUZZ_CHECK(st.commit <= st.last_index || st.commit <= st.snap_index);
    FUZZ_CHECK(st.applied <= st.commit);
    FUZZ_CHECK(st.role != RAFT_LEADER || st.leader == h->self);
    h->term = st.term;
    h->commit = st.commit;
}

static void step_message(struct harness *h, uint8_t op, struct fuzz_in *in)
{
    size_t len;
    const uint8_t *p = fuzz_bytes(in, fuzz_u16(in) & 0x7ff, &len);
    /* The decoder is zero-copy: give it an exact copy so ASan bounds every read. */
    uint8_t *copy = malloc(len ? len : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, p, len);
    struct codec_scratch s;
    codec_scratch_init(&s);
    struct raft_msg m;
    if (codec_msg_decode(copy, len, &m, &s) == RAFT_OK) {
        if (!(op & 0x80))
            m.to = h->self;
        if (op & 0x40)
            m.from %= 4;
        int rc = raft_step(h->r, &m);
        FUZZ_CHECK(rc == RAFT_OK || rc == RAFT_ECORRUPT);
    }
    codec_scratch_free(&s);
    free(copy);
}

static void one_op(struct harness *h, struct fuzz_in *in)
{
    uint8_t op = fuzz_u8(in);
    raft_index index;
    raft_term term;
    switch (op & 7) {
    case 0:
        step_message(h, op, in);
        break;
    case 1:
        for (int i = (op >> 3) & 31; i >= 0; i--)
            raft_tick(h->r);
        break;
    case 2:
        (void)raft_propose(h->r, "cmd", (uint32_t)(op >> 6), &index, &term);
        break;
    case 3:
        (void)raft_read(h->r, ++h->next_read);
        break;
    case 4:
        raft_campaign(h->r);
        break;
    case 5:
        (void)raft_transfer(h->r, (raft_id)((op >> 3) & 3));
        break;
    case 6:
        if (h->applied > 0)
            raft_snapshot_taken(h->r, h->applied, 100 + h->applied, (op >> 3) & 7);
        break;
    case 7:
        (void)raft_change(h->r, (enum raft_change)((op >> 3) % 3), (raft_id)((op >> 5) & 3),
                          "http://127.0.0.1:9", &index);
        break;
    }
    drain(h);
}

static int boot(struct harness *h, uint8_t b0, uint8_t b1)
{
    static uint8_t payload[4] = {1, 2, 3, 4};
    struct raft_entry entries[8];
    struct raft_boot bt;
    memset(&bt, 0, sizeof bt);
    bt.initial.n = 3;
    for (uint32_t i = 0; i < 3; i++) {
        bt.initial.m[i].id = i;
        bt.initial.m[i].voter = true;
        snprintf(bt.initial.m[i].addr, RAFT_ADDR_MAX, "http://127.0.0.1:%u", 5000 + i);
    }
    bt.n_entries = b1 & 7;
    for (size_t i = 0; i < bt.n_entries; i++)
        entries[i] = (struct raft_entry){.term = 1 + i / 3,
                                         .index = i + 1,
                                         .type = RAFT_ENTRY_NORMAL,
                                         .len = sizeof payload,
                                         .data = payload};
    bt.entries = entries;
    /* Storage never holds an entry newer than the hard state's term. */
    bt.hs.term = (bt.n_entries ? entries[bt.n_entries - 1].term : 1) + (b1 >> 3 & 3);
    bt.hs.vote = RAFT_NONE;
    h->self = b0 % 3;
    struct raft_config cfg;
    raft_config_defaults(&cfg, h->self, b1);
    cfg.pre_vote = b0 & 0x10;
    cfg.check_quorum = b0 & 0x20;
    cfg.max_append_bytes = 64;
    cfg.snapshot_chunk_bytes = 16;
    return raft_new(&h->r, &cfg, &bt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 8192)
        return 0;
    struct harness h;
    memset(&h, 0, sizeof h);
    FUZZ_CHECK(boot(&h, data[0], data[1]) == RAFT_OK);
    drain(&h);
    struct fuzz_in in = {data + 2, size - 2};
    while (in.left > 0)
        one_op(&h, &in);
    raft_free(h.r);
    return 0;
}
