/* test_raft_ack.c: what a follower's acknowledgements promise when several messages
 * are stepped into one Ready, as vesperd does with every peer message of a loop
 * iteration.
 *
 * An acknowledgement waits in the sync outbox until the Ready's write is synced. If a
 * message stepped after it in the same Ready cuts the entries it acknowledges (an
 * append of a newer leader that conflicts, or a snapshot that replaces the log), the
 * acknowledgement would tell the old leader that this node durably holds entries it
 * no longer holds at all, and that leader could count it toward a commit.
 */
#include <string.h>

#include "lib/test.h"
#include "raft/raft.h"

static struct raft *follower(void)
{
    struct raft_boot boot = {.hs = {.vote = RAFT_NONE}};
    for (raft_id i = 0; i < 3; i++) {
        struct raft_member *mb = &boot.initial.m[boot.initial.n++];
        mb->id = i;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "node%u", i);
    }
    struct raft_config cfg;
    raft_config_defaults(&cfg, 2, 11);
    struct raft *r = NULL;
    return raft_new(&r, &cfg, &boot) == RAFT_OK ? r : NULL;
}

static struct raft_msg append(raft_id from, raft_term term, raft_index prev, raft_term prev_term,
                              struct raft_entry *e, uint32_t n)
{
    return (struct raft_msg){.type = RAFT_MSG_APPEND,
                             .from = from,
                             .to = 2,
                             .term = term,
                             .index = prev,
                             .log_term = prev_term,
                             .entries = e,
                             .n_entries = n};
}

/* The acknowledgements the Ready would send to `to`, highest index, or 0. */
static raft_index acked_to(const struct raft_ready *rd, raft_id to)
{
    raft_index best = 0;
    for (size_t k = 0; k < rd->n_msgs_sync; k++) {
        const struct raft_msg *m = &rd->msgs_sync[k];
        if (m->type == RAFT_MSG_APPEND_RESP && !m->reject && m->to == to && m->index > best)
            best = m->index;
    }
    for (size_t k = 0; k < rd->n_msgs; k++) {
        const struct raft_msg *m = &rd->msgs[k];
        if (m->type == RAFT_MSG_APPEND_RESP && !m->reject && m->to == to && m->index > best)
            best = m->index;
    }
    return best;
}

TEST(raft_ack_of_entries_cut_in_the_same_ready_is_not_sent)
{
    struct raft *r = follower();
    CHECK(r != NULL);
    struct raft_entry old[3] = {
        {.index = 1, .term = 2, .type = RAFT_ENTRY_NORMAL},
        {.index = 2, .term = 2, .type = RAFT_ENTRY_NORMAL},
        {.index = 3, .term = 2, .type = RAFT_ENTRY_NORMAL},
    };
    struct raft_msg m1 = append(0, 2, 0, 0, old, 3);
    CHECK(raft_step(r, &m1) == RAFT_OK);
    /* Before any Ready: a leader of term 3 replaces index 2 onward. */
    struct raft_entry newer[1] = {{.index = 2, .term = 3, .type = RAFT_ENTRY_NORMAL}};
    struct raft_msg m2 = append(1, 3, 1, 2, newer, 1);
    CHECK(raft_step(r, &m2) == RAFT_OK);
    CHECK(raft_has_ready(r));
    struct raft_ready rd;
    raft_ready(r, &rd);
    /* Index 1 still matches term 2, so "I hold 1" would be true; 3 is gone. */
    CHECK(acked_to(&rd, 0) < 2);
    CHECK(acked_to(&rd, 1) == 2);
    raft_advance(r, &rd);
    raft_free(r);
}

TEST(raft_ack_before_a_duplicate_append_is_kept)
{
    struct raft *r = follower();
    CHECK(r != NULL);
    struct raft_entry e[2] = {
        {.index = 1, .term = 2, .type = RAFT_ENTRY_NORMAL},
        {.index = 2, .term = 2, .type = RAFT_ENTRY_NORMAL},
    };
    struct raft_msg m1 = append(0, 2, 0, 0, e, 2);
    CHECK(raft_step(r, &m1) == RAFT_OK);
    struct raft_msg m2 = append(0, 2, 0, 0, e, 1); /* an older, shorter copy: no conflict */
    CHECK(raft_step(r, &m2) == RAFT_OK);
    struct raft_ready rd;
    raft_ready(r, &rd);
    CHECK(acked_to(&rd, 0) == 2);
    raft_advance(r, &rd);
    raft_free(r);
}
