/* test_raft_stale_term.c: a node answers every message of an older term with its own
 * term, with or without Pre-Vote and CheckQuorum.
 *
 * Without the answer, a leader whose term fell behind a follower's kept sending that
 * follower appends and snapshot chunks that it dropped in silence. A follower that
 * never campaigns (a learner, or a node whose term a removed member's vote requests
 * raised) then never caught up: a random simulation seed without either option left
 * one node 229 entries behind the leader for good.
 */
#include <string.h>

#include "lib/test.h"
#include "raft/raft.h"

/* Node 1 of a three-voter cluster, at term 7 after a vote request, options as given. */
static struct raft *follower_at_term_7(bool options)
{
    struct raft_boot boot = {.hs = {.vote = RAFT_NONE}};
    for (int i = 0; i < 3; i++) {
        struct raft_member *mb = &boot.initial.m[boot.initial.n++];
        mb->id = (raft_id)i;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "node%d", i);
    }
    struct raft_config cfg;
    raft_config_defaults(&cfg, 1, 5);
    cfg.pre_vote = options;
    cfg.check_quorum = options;
    struct raft *r;
    if (raft_new(&r, &cfg, &boot) != RAFT_OK)
        return NULL;
    struct raft_msg vote = {.type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 7};
    if (raft_step(r, &vote) != RAFT_OK)
        return NULL;
    struct raft_ready rd;
    raft_ready(r, &rd);
    raft_advance(r, &rd);
    raft_durable(r, rd.last_index, rd.last_term);
    return r;
}

/* Steps m (from node 0, term 3) and returns the answer to node 0, or a zeroed one. */
static struct raft_msg answer_to_stale(struct raft *r, enum raft_msg_type type)
{
    struct raft_msg m = {.type = type, .from = 0, .to = 1, .term = 3};
    if (type == RAFT_MSG_SNAPSHOT) {
        m.snap_index = 10;
        m.snap_term = 3;
        m.snap_size = 100;
    }
    struct raft_msg out;
    memset(&out, 0, sizeof out);
    if (raft_step(r, &m) != RAFT_OK)
        return out;
    struct raft_ready rd;
    raft_ready(r, &rd);
    for (size_t k = 0; k < rd.n_msgs + rd.n_msgs_sync; k++) {
        const struct raft_msg *o = k < rd.n_msgs ? &rd.msgs[k] : &rd.msgs_sync[k - rd.n_msgs];
        if (o->to == 0)
            out = *o;
    }
    raft_advance(r, &rd);
    raft_durable(r, rd.last_index, rd.last_term);
    return out;
}

TEST(raft_stale_leader_is_answered_with_the_newer_term)
{
    const enum raft_msg_type types[] = {RAFT_MSG_APPEND, RAFT_MSG_HEARTBEAT, RAFT_MSG_SNAPSHOT};
    for (int options = 0; options < 2; options++) {
        struct raft *r = follower_at_term_7(options);
        CHECK(r != NULL);
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            struct raft_msg a = answer_to_stale(r, types[t]);
            CHECK_EQ_U64(a.type, RAFT_MSG_APPEND_RESP);
            CHECK(a.reject);
            CHECK_EQ_U64(a.term, 7);
        }
        raft_free(r);
    }
}
