/* check_rules.c: invariants about the liveness protections of the core, which the
 * safety checks in check.c cannot see because breaking them loses no data.
 *
 *   pre-vote-log   a pre-vote is granted only to a candidate whose log (as its
 *                  request advertised it) is at least as up to date as the
 *                  granter's log at the moment of the grant (thesis 9.6). A core
 *                  that ignores the log lets a lagging node inflate terms and
 *                  depose a healthy leader, which Pre-Vote exists to prevent.
 *   check-quorum   with CheckQuorum on, a node does not stay leader while, for
 *                  SIM_CQ_PERIODS election timeouts, it has heard from less than
 *                  a quorum of the voters of its configuration (itself included),
 *                  that configuration being unchanged all along. The core checks
 *                  once per timeout, so it steps down within two; one is slack.
 *                  Time a node spends stopped (sim_pause) does not count.
 *
 *   own-term-commit
 *                  a leader moves its commit index only to an entry of its own
 *                  term (section 5.4.2: entries of earlier terms are committed
 *                  only indirectly). Counting replicas of an older entry is the
 *                  Figure 8 bug, which loses data only in a rare interleaving.
 *
 * The network tells this file what it delivers (sim_rules_delivered), the checker
 * what a node sends (sim_rules_sent), and the world calls sim_rules_step once per
 * simulated millisecond.
 */
#include "sim/sim.h"

#include <string.h>

#define SIM_CQ_PERIODS 3

/* Called before the core steps m. A pre-vote request is remembered with whether
 * granting it would be allowed now: the core answers from its log as it is at this
 * step, and the grant leaves later, after a sync, when the log may have grown. */
void sim_rules_delivered(struct sim_world *w, const struct raft_msg *m)
{
    struct sim_rules *ru = &w->rules;
    if (m->to >= SIM_MAX_NODES || m->from >= SIM_MAX_NODES)
        return;
    ru->heard_ms[m->to][m->from] = w->now_ms;
    if (m->type != RAFT_MSG_VOTE || !m->prevote || !w->node[m->to].up)
        return;
    struct raft_status st;
    raft_status(w->node[m->to].rep.raft, &st);
    bool up_to_date =
        m->log_term > st.last_term || (m->log_term == st.last_term && m->index >= st.last_index);
    /* The slot of this term, else the one of the lowest term. */
    struct sim_prevote_req *slots = ru->prevote[m->to][m->from], *q = &slots[0];
    for (int k = 0; k < SIM_PREVOTE_TERMS && q->term != m->term; k++) {
        if (slots[k].term == m->term || slots[k].term < q->term)
            q = &slots[k];
    }
    if (q->term != m->term) {
        q->term = m->term;
        q->grantable = false;
    }
    q->grantable |= up_to_date;
    q->index = m->index;
    q->log_term = m->log_term;
    q->own_index = st.last_index;
    q->own_term = st.last_term;
}

void sim_rules_sent(struct sim_world *w, struct sim_node *n, const struct raft_msg *m)
{
    if (m->type != RAFT_MSG_VOTE_RESP || !m->prevote || !m->granted || m->to >= SIM_MAX_NODES)
        return;
    const struct sim_prevote_req *q = NULL;
    for (int k = 0; k < SIM_PREVOTE_TERMS; k++) {
        if (w->rules.prevote[n->id][m->to][k].term == m->term)
            q = &w->rules.prevote[n->id][m->to][k];
    }
    if (!q || q->grantable)
        return;
    sim_fail(w, "pre-vote-log",
             "n%u grants a pre-vote for term %llu to n%u whose log %llu/%llu is behind its "
             "own %llu/%llu",
             (unsigned)n->id, (unsigned long long)m->term, (unsigned)m->to,
             (unsigned long long)q->index, (unsigned long long)q->log_term,
             (unsigned long long)q->own_index, (unsigned long long)q->own_term);
}

/* Voters of n's configuration (n included) heard from within the window. */
static uint32_t voters_heard(struct sim_world *w, struct sim_node *n, uint64_t window_ms,
                             uint32_t *voters)
{
    const struct raft_conf *c = raft_current_conf(n->rep.raft);
    uint32_t heard = 0;
    *voters = 0;
    for (uint32_t k = 0; k < c->n; k++) {
        if (!c->m[k].voter)
            continue;
        (*voters)++;
        raft_id id = c->m[k].id;
        if (id == n->id ||
            (id < SIM_MAX_NODES && w->rules.heard_ms[n->id][id] + window_ms >= w->now_ms))
            heard++;
    }
    return heard;
}

void sim_rules_step(struct sim_world *w)
{
    struct sim_rules *ru = &w->rules;
    uint64_t window = (uint64_t)SIM_CQ_PERIODS * w->cfg_template.election_ticks * SIM_TICK_MS;
    for (uint32_t i = 0; i < w->n_nodes && !w->failed; i++) {
        struct sim_node *n = &w->node[i];
        bool leader = n->up && raft_role(n->rep.raft) == RAFT_LEADER;
        if (!n->up)
            ru->seen_leader[i] = false; /* a restart starts a new history */
        if (!leader) {
            ru->leader_term[i] = 0;
            continue;
        }
        raft_term term = raft_term_now(n->rep.raft);
        if (ru->leader_term[i] != term) {
            ru->leader_term[i] = term;
            ru->leader_since_ms[i] = w->now_ms;
        }
        const struct raft_conf *c = raft_current_conf(n->rep.raft);
        if (memcmp(c, &ru->conf[i], sizeof *c) != 0) {
            ru->conf[i] = *c;
            ru->conf_since_ms[i] = w->now_ms;
        }
        /* A stopped process cannot step down; its clock starts again at resume. */
        if (!w->cfg_template.check_quorum || w->now_ms - ru->leader_since_ms[i] < window ||
            w->now_ms - ru->conf_since_ms[i] < window || sim_paused(w, n) ||
            w->now_ms < n->resumed_ms + window)
            continue;
        uint32_t voters = 0;
        uint32_t heard = voters_heard(w, n, window, &voters);
        if (voters && heard < voters / 2 + 1)
            sim_fail(w, "check-quorum",
                     "n%u still leads term %llu having heard from %u of %u voters in %llu ms",
                     (unsigned)n->id, (unsigned long long)term, heard, voters,
                     (unsigned long long)window);
    }
}

void sim_rules_node(struct sim_world *w, struct sim_node *n)
{
    struct sim_rules *ru = &w->rules;
    raft_id i = n->id;
    raft_term term = raft_term_now(n->rep.raft);
    struct raft_status st;
    raft_status(n->rep.raft, &st);
    bool leader = st.role == RAFT_LEADER;
    if (leader && ru->seen_leader[i] && ru->seen_term[i] == term &&
        st.commit > ru->seen_commit[i]) {
        raft_term t = 0;
        if (raft_entry_term(n->rep.raft, st.commit, &t) && t != term)
            sim_fail(w, "own-term-commit",
                     "n%u, leader of term %llu, moves commit %llu -> %llu onto an entry of "
                     "term %llu",
                     (unsigned)i, (unsigned long long)term, (unsigned long long)ru->seen_commit[i],
                     (unsigned long long)st.commit, (unsigned long long)t);
    }
    /* Single-server changes (thesis 4.1): a leader appends a configuration entry
     * only once the previous one is committed. */
    if (leader && ru->seen_leader[i] && ru->seen_term[i] == term &&
        st.conf_index > ru->seen_conf_index[i] && ru->seen_conf_index[i] > st.commit)
        sim_fail(w, "one-change-at-a-time",
                 "n%u, leader of term %llu, appends configuration %llu while %llu is not "
                 "committed (commit %llu)",
                 (unsigned)i, (unsigned long long)term, (unsigned long long)st.conf_index,
                 (unsigned long long)ru->seen_conf_index[i], (unsigned long long)st.commit);
    ru->seen_leader[i] = leader;
    ru->seen_term[i] = term;
    ru->seen_commit[i] = st.commit;
    ru->seen_conf_index[i] = st.conf_index;
}
