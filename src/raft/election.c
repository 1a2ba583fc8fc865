/* election.c: election timers, Pre-Vote, RequestVote on both sides, and the
 * transitions into follower and candidate.
 *
 * A follower whose randomized timeout expires first runs a pre-vote round
 * (thesis 9.6): it asks whether it *could* win at term+1 without touching its
 * term, so a node that was cut off cannot inflate terms and depose a healthy
 * leader when it returns. Only a pre-vote majority leads to a real election.
 * Vote requests and grants leave through the sync outbox: a grant promises a
 * durable (term, vote), and a candidate's request advertises durable log state.
 */
#include "internal.h"

void raft__reset_timeout(struct raft *r)
{
    r->election_elapsed = 0;
    r->timeout = r->cfg.election_ticks + (uint32_t)(raft__rand(r) % r->cfg.election_ticks);
}

void raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
    if (r->role == RAFT_LEADER) {
        raft__reads_fail_all(r);
        r->transferee = RAFT_NONE;
        r->need_broadcast = false;
    }
    if (term > r->term) {
        r->term = term;
        r->vote = RAFT_NONE;
    }
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    r->heartbeat_elapsed = 0;
    raft__reset_timeout(r);
}

void raft__tick_election(struct raft *r)
{
    r->election_elapsed++;
    if (r->election_elapsed < r->timeout)
        return;
    if (!raft__is_voter(r, r->cfg.id) || r->apply_held) {
        /* Learners and removed nodes never campaign; nor does a node whose state
         * machine is still being restored (raft_hold_apply): as leader it could
         * answer nothing until that ends. It still votes. */
        raft__reset_timeout(r);
        return;
    }
    raft__tracef(r, "election timeout in term %u -> %s", (unsigned long long)r->term,
                 r->cfg.pre_vote ? "pre-vote" : "campaign");
    raft__start_election(r, r->cfg.pre_vote, false);
}

/* Counts one answer; returns the number of grants and sets *against. */
static uint32_t tally(struct raft *r, raft_id from, bool granted, uint32_t *against)
{
    bool seen = false;
    for (uint32_t k = 0; k < r->n_voted; k++)
        seen |= r->voted_ids[k] == from;
    if (!seen && r->n_voted < RAFT_MAX_MEMBERS * 2 && raft__is_voter(r, from)) {
        r->voted_ids[r->n_voted++] = from;
        if (granted)
            r->n_votes_for++;
        else
            r->n_votes_against++;
    }
    *against = r->n_votes_against;
    return r->n_votes_for;
}

static void won(struct raft *r, bool prevote, bool transfer)
{
    if (prevote)
        raft__start_election(r, false, transfer);
    else
        raft__become_leader(r);
}

void raft__start_election(struct raft *r, bool prevote, bool transfer)
{
    raft_term req_term;
    if (prevote) {
        r->role = RAFT_PRECANDIDATE;
        req_term = r->term + 1;
    } else {
        r->role = RAFT_CANDIDATE;
        r->term++;
        r->vote = r->cfg.id;
        req_term = r->term;
    }
    r->leader = RAFT_NONE;
    raft__reset_timeout(r);
    r->n_voted = 0;
    r->n_votes_for = 0;
    r->n_votes_against = 0;
    uint32_t against;
    if (tally(r, r->cfg.id, true, &against) >= raft__quorum(r)) {
        won(r, prevote, transfer);
        return;
    }
    raft__tracef(r, "start %s for term %u", prevote ? "pre-vote" : "election",
                 (unsigned long long)req_term);
    for (uint32_t k = 0; k < r->conf.n; k++) {
        const struct raft_member *mb = &r->conf.m[k];
        if (!mb->voter || mb->id == r->cfg.id)
            continue;
        struct raft_msg m = {.type = RAFT_MSG_VOTE,
                             .to = mb->id,
                             .term = req_term,
                             .index = raft__log_last(&r->log),
                             .log_term = raft__log_last_term(&r->log),
                             .prevote = prevote,
                             .transfer = transfer};
        raft__send_sync(r, &m);
    }
}

/* Figure 2, RequestVote receiver: grant if we have not voted for someone else in
 * this term and the candidate's log is at least as up-to-date as ours (5.4.1). */
void raft__recv_vote(struct raft *r, const struct raft_msg *m)
{
    raft_index last = raft__log_last(&r->log);
    raft_term last_term = raft__log_last_term(&r->log);
    bool up_to_date = m->log_term > last_term || (m->log_term == last_term && m->index >= last);
    bool can_vote = r->vote == m->from || (r->vote == RAFT_NONE && r->leader == RAFT_NONE) ||
                    (m->prevote && m->term > r->term);
    struct raft_msg resp = {.type = RAFT_MSG_VOTE_RESP, .to = m->from, .prevote = m->prevote};
    if (can_vote && up_to_date) {
        resp.granted = true;
        resp.term = m->term;
        if (!m->prevote) {
            r->vote = m->from;
            r->election_elapsed = 0;
        }
    }
    raft__tracef(r, "%s from %u term %u log %u/%u -> %s", m->prevote ? "pre-vote" : "vote",
                 (unsigned long long)m->from, (unsigned long long)m->term,
                 (unsigned long long)m->index, (unsigned long long)m->log_term,
                 resp.granted ? "grant" : "reject");
    raft__send_sync(r, &resp);
}

void raft__recv_vote_resp(struct raft *r, const struct raft_msg *m)
{
    if (m->prevote) {
        if (r->role != RAFT_PRECANDIDATE)
            return;
        if (m->granted && m->term != r->term + 1)
            return;
    } else if (r->role != RAFT_CANDIDATE || m->term != r->term) {
        return;
    }
    uint32_t against;
    uint32_t grants = tally(r, m->from, m->granted, &against);
    if (grants >= raft__quorum(r)) {
        raft__tracef(r, "%u %s grants -> won", (unsigned long long)grants,
                     m->prevote ? "pre-vote" : "vote");
        won(r, m->prevote, false);
    } else if (against >= raft__quorum(r)) {
        raft__tracef(r, "%u rejections -> follower", (unsigned long long)against);
        raft__become_follower(r, r->term, RAFT_NONE);
    }
}
