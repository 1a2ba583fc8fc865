/* test_raft_hold.c: what a follower's core hands out while its shell restores the
 * state machine from an installed snapshot away from the loop (raft_hold_apply).
 *
 * The log, the disk, the acknowledgements and the votes go on as usual; committed
 * entries, released reads and elections started by this node do not, neither in the ready that
 * installs a snapshot nor while the shell holds them. They go out, in order and none lost, with the
 * first ready after the hold ends: an entry after a snapshot must reach the state restored from it,
 * never the state it replaces.
 */
#include <string.h>

#include "lib/test.h"
#include "raft/raft.h"

static struct raft_conf three(void)
{
    struct raft_conf c = {0};
    for (raft_id i = 0; i < 3; i++) {
        struct raft_member *mb = &c.m[c.n++];
        mb->id = i;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "node%u", i);
    }
    return c;
}

static struct raft *follower(void)
{
    struct raft_boot boot = {.hs = {.vote = RAFT_NONE}, .initial = three()};
    struct raft_config cfg;
    raft_config_defaults(&cfg, 2, 11);
    struct raft *r = NULL;
    return raft_new(&r, &cfg, &boot) == RAFT_OK ? r : NULL;
}

static struct raft_msg append(raft_index prev, raft_term prev_term, struct raft_entry *e,
                              uint32_t n, raft_index commit)
{
    return (struct raft_msg){.type = RAFT_MSG_APPEND,
                             .from = 0,
                             .to = 2,
                             .term = 2,
                             .index = prev,
                             .log_term = prev_term,
                             .entries = e,
                             .n_entries = n,
                             .commit = commit};
}

/* Runs one ready as a shell would (everything durable at once); returns the
 * first and the number of committed entries it handed out. */
static size_t one_ready(struct raft *r, raft_index *first, bool *install)
{
    struct raft_ready rd;
    raft_ready(r, &rd);
    *first = rd.n_committed ? rd.committed[0].index : 0;
    *install = rd.install != NULL;
    size_t n = rd.n_committed;
    raft_index last = rd.last_index;
    raft_term last_term = rd.last_term;
    raft_advance(r, &rd);
    raft_durable(r, last, last_term);
    return n;
}

TEST(raft_hold_keeps_committed_entries_until_released)
{
    struct raft *r = follower();
    CHECK(r != NULL);
    struct raft_entry e[3] = {
        {.index = 1, .term = 2, .type = RAFT_ENTRY_NORMAL},
        {.index = 2, .term = 2, .type = RAFT_ENTRY_NORMAL},
        {.index = 3, .term = 2, .type = RAFT_ENTRY_NORMAL},
    };
    raft_hold_apply(r, true);
    struct raft_msg m = append(0, 0, e, 3, 3);
    CHECK(raft_step(r, &m) == RAFT_OK);
    raft_index first;
    bool install;
    CHECK(raft_has_ready(r));
    CHECK(one_ready(r, &first, &install) == 0); /* written and acknowledged, not applied */
    CHECK(!raft_has_ready(r));
    struct raft_status st;
    raft_status(r, &st);
    CHECK(st.commit == 3 && st.applied == 0 && st.durable_index == 3);
    raft_hold_apply(r, false);
    CHECK(raft_has_ready(r));
    CHECK(one_ready(r, &first, &install) == 3 && first == 1);
    raft_free(r);
}

TEST(raft_install_ready_hands_out_no_entries_after_the_snapshot)
{
    struct raft *r = follower();
    CHECK(r != NULL);
    struct raft_conf conf = three();
    uint8_t bytes[8] = {0};
    struct raft_msg snap = {.type = RAFT_MSG_SNAPSHOT,
                            .from = 0,
                            .to = 2,
                            .term = 2,
                            .snap_index = 5,
                            .snap_term = 2,
                            .snap_size = sizeof bytes,
                            .offset = 0,
                            .done = true,
                            .conf = &conf,
                            .len = sizeof bytes,
                            .data = bytes};
    CHECK(raft_step(r, &snap) == RAFT_OK);
    /* Before the ready: entries after the snapshot, committed. */
    struct raft_entry e[2] = {
        {.index = 6, .term = 2, .type = RAFT_ENTRY_NORMAL},
        {.index = 7, .term = 2, .type = RAFT_ENTRY_NORMAL},
    };
    struct raft_msg m = append(5, 2, e, 2, 7);
    CHECK(raft_step(r, &m) == RAFT_OK);
    raft_index first;
    bool install;
    CHECK(one_ready(r, &first, &install) == 0 && install);
    /* The shell decodes beside its loop: it holds, the next ready has nothing. */
    raft_hold_apply(r, true);
    CHECK(!raft_has_ready(r));
    raft_hold_apply(r, false);
    CHECK(one_ready(r, &first, &install) == 2 && first == 6 && !install);
    raft_free(r);
}

TEST(raft_hold_keeps_a_follower_from_campaigning)
{
    struct raft *r = follower();
    CHECK(r != NULL);
    raft_hold_apply(r, true);
    for (int k = 0; k < 200; k++)
        raft_tick(r);
    CHECK(raft_role(r) == RAFT_FOLLOWER);
    raft_hold_apply(r, false);
    for (int k = 0; k < 200 && raft_role(r) == RAFT_FOLLOWER; k++)
        raft_tick(r);
    CHECK(raft_role(r) != RAFT_FOLLOWER); /* a (pre-)candidate once released */
    raft_free(r);
}

TEST(raft_hold_ignores_a_leadership_transfer)
{
    struct raft *r = follower();
    CHECK(r != NULL);
    struct raft_msg now = {.type = RAFT_MSG_TIMEOUT_NOW, .from = 0, .to = 2, .term = 1};
    raft_hold_apply(r, true);
    CHECK(raft_step(r, &now) == RAFT_OK);
    CHECK(raft_role(r) == RAFT_FOLLOWER);
    raft_hold_apply(r, false);
    CHECK(raft_step(r, &now) == RAFT_OK);
    CHECK(raft_role(r) == RAFT_CANDIDATE);
    raft_free(r);
}
