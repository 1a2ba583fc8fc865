/* leader.c: becoming leader, the leader's clock (heartbeats, CheckQuorum,
 * transfer timeout), heartbeats on both sides, and the commit rule.
 *
 * The commit rule is Figure 2's last leader rule with the Figure 8 restriction:
 * the leader counts replicas only for an entry of its own term. The leader's own
 * vote in that count is its *durable* index, never its last index, so a leader
 * that crashes before its disk write finishes cannot have counted an entry it
 * then loses (etcd #14370 is this bug in a single-node cluster).
 */
#include "internal.h"

void raft__become_leader(struct raft *r)
{
    r->role = RAFT_LEADER;
    r->leader = r->cfg.id;
    r->transferee = RAFT_NONE;
    r->heartbeat_elapsed = 0;
    r->election_elapsed = 0;
    r->n_pr = 0;
    raft__progress_rebuild(r);
    r->term_start = raft__log_last(&r->log) + 1;
    raft__tracef(r, "won term %u -> leader, no-op at %u", (unsigned long long)r->term,
                 (unsigned long long)r->term_start);
    /* The no-op commits the entries of earlier terms (Figure 8) and gates reads
     * and configuration changes until this term has committed something. */
    if (raft__append_local(r, RAFT_ENTRY_NOOP, NULL, 0) != RAFT_OK)
        raft__become_follower(r, r->term, RAFT_NONE);
}

static void send_heartbeats(struct raft *r)
{
    raft_index last = raft__log_last(&r->log);
    for (uint32_t k = 0; k < r->n_pr; k++) {
        struct raft__progress *pr = &r->pr[k];
        /* No progress over a whole round with appends out means one was lost. */
        if (pr->state == RAFT__REPLICATE && pr->inflight_n && pr->match < last &&
            pr->match == pr->match_at_hb)
            raft__progress_probe(pr, pr->match + 1);
        pr->match_at_hb = pr->match;
        struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT,
                             .to = pr->id,
                             .commit = pr->match < r->commit ? pr->match : r->commit,
                             .seq = r->read_seq};
        raft__send(r, &m);
    }
}

void raft__heartbeat_round(struct raft *r)
{
    r->heartbeat_elapsed = 0;
    send_heartbeats(r);
}

/* CheckQuorum: a leader that has not heard from a majority for an election
 * timeout steps down, so a partitioned leader stops accepting work it cannot
 * commit and stops answering reads. */
static bool quorum_active(struct raft *r)
{
    uint32_t active = raft__is_voter(r, r->cfg.id) ? 1 : 0;
    for (uint32_t k = 0; k < r->n_pr; k++) {
        if (r->pr[k].voter && r->pr[k].active)
            active++;
        r->pr[k].active = false;
    }
    return active >= raft__quorum(r);
}

void raft__tick_leader(struct raft *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    for (uint32_t k = 0; k < r->n_pr; k++) {
        r->pr[k].since_contact++;
        if (r->pr[k].state == RAFT__SNAPSHOT && ++r->pr[k].snap_wait >= r->cfg.election_ticks)
            raft__send_snapshot(r, &r->pr[k]); /* the chunk or its answer was lost */
    }
    if (r->transferee != RAFT_NONE && ++r->transfer_elapsed >= r->cfg.election_ticks) {
        raft__tracef(r, "transfer to %u timed out -> abort", (unsigned long long)r->transferee);
        r->transferee = RAFT_NONE;
        if (!raft__is_voter(r, r->cfg.id) && r->commit >= r->conf_index) {
            raft__become_follower(r, r->term, RAFT_NONE); /* removed: leave anyway */
            return;
        }
    }
    if (r->election_elapsed >= r->cfg.election_ticks) {
        r->election_elapsed = 0;
        if (r->cfg.check_quorum && !quorum_active(r)) {
            raft__tracef(r, "no quorum heard in term %u -> step down", (unsigned long long)r->term);
            raft__become_follower(r, r->term, RAFT_NONE);
            return;
        }
    }
    if (r->heartbeat_elapsed >= r->cfg.heartbeat_ticks)
        raft__heartbeat_round(r);
}

void raft__recv_heartbeat(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER)
        raft__become_follower(r, r->term, m->from);
    r->leader = m->from;
    r->election_elapsed = 0;
    raft_index last = raft__log_last(&r->log);
    raft_index c = m->commit < last ? m->commit : last;
    if (c > r->commit) {
        r->commit = c;
        raft__commit_advanced(r);
    }
    /* Not a promise about durable state, so it need not wait for a sync. */
    struct raft_msg resp = {.type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .seq = m->seq};
    raft__send(r, &resp);
}

void raft__recv_heartbeat_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = r->role == RAFT_LEADER ? raft__progress(r, m->from) : NULL;
    if (!pr)
        return;
    if (m->seq > pr->acked_seq)
        pr->acked_seq = m->seq;
    raft__reads_check(r);
    if (pr->state == RAFT__PROBE)
        pr->paused = false;
    /* The follower is reachable again but its chunk went unanswered: resend now
     * rather than after a whole election timeout. */
    if (pr->state == RAFT__SNAPSHOT && pr->snap_wait > 2 * r->cfg.heartbeat_ticks)
        raft__send_snapshot(r, pr);
    if (pr->match < raft__log_last(&r->log))
        raft__send_append(r, pr);
}

/* Figure 2, rules for leaders: commit N if a majority has matchIndex >= N and
 * log[N].term == currentTerm. */
void raft__maybe_commit(struct raft *r)
{
    raft_index v[RAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t k = 0; k < r->conf.n; k++) {
        const struct raft_member *mb = &r->conf.m[k];
        if (!mb->voter)
            continue;
        if (mb->id == r->cfg.id) {
            v[n++] = r->log.durable;
        } else {
            struct raft__progress *pr = raft__progress(r, mb->id);
            v[n++] = pr ? pr->match : 0;
        }
    }
    if (!n)
        return;
    for (uint32_t i = 1; i < n; i++) /* descending insertion sort; n <= 16 */
        for (uint32_t j = i; j > 0 && v[j] > v[j - 1]; j--) {
            raft_index t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    raft_index q = v[n / 2];
    raft_term t;
    if (q <= r->commit || !raft__log_term(&r->log, q, &t) || t != r->term)
        return;
    r->commit = q;
    raft__commit_advanced(r);
}

void raft__commit_advanced(struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return;
    raft__reads_check(r);
    raft__check_self_removed(r);
}
