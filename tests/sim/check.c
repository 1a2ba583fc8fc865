/* check.c: the safety invariants, checked incrementally as the run proceeds.
 *
 * Every check costs O(1) or O(entries written) so it can run after every step:
 *   election-safety     term -> leader recorded over the whole run;
 *   log-matching        (index, term) -> data hash and chain hash (the chain covers
 *                       every earlier entry, so one compare checks a whole prefix);
 *   leader-completeness a new leader's chain at the highest applied index equals the
 *                       committed chain there;
 *   state-machine-safety index -> (term, hash, state hash after it) of applied entries;
 *   commit-monotonic    raft_status().commit never decreases while a node is up;
 *   durability          votes and acknowledgements leave only with the disk synced
 *                       and holding what they promise;
 *   read-linearizability a read index is at least every commit known when it began.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lm_rec {
    raft_term term;
    uint64_t hash, chain;
};

/* Terms remembered per index: stale leaders of many terms can each write one. */
#define SIM_LM_TERMS 8

struct lm_slot {
    uint32_t n;
    struct lm_rec r[SIM_LM_TERMS];
};

struct ap_rec {
    raft_term term; /* 0: nothing applied here yet */
    uint64_t hash, sm_hash;
    raft_term bound; /* highest leader term when first applied: committed no later */
};

struct read_rec {
    raft_index min_index;
    bool done;
};

struct sim_check {
    raft_id *term_leader;
    size_t cap_terms;
    struct lm_slot *lm;
    size_t cap_lm;
    struct ap_rec *ap;
    size_t cap_ap;
    raft_index max_applied;
    raft_term max_leader_term;
    struct read_rec *reads;
    size_t cap_reads;
};

static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need < *cap)
        return p;
    size_t nc = *cap ? *cap : 64;
    while (nc <= need)
        nc *= 2;
    p = realloc(p, nc * elem);
    if (!p)
        abort();
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *cap = nc;
    return p;
}

void sim_check_init(struct sim_world *w)
{
    w->check = calloc(1, sizeof *w->check);
    if (!w->check)
        abort();
}

void sim_check_free(struct sim_world *w)
{
    struct sim_check *c = w->check;
    free(c->term_leader);
    free(c->lm);
    free(c->ap);
    free(c->reads);
    free(c);
    w->check = NULL;
}

void sim_check_entries(struct sim_world *w, struct sim_node *n, const struct sim_entry *e,
                       size_t count)
{
    struct sim_check *c = w->check;
    c->lm = grow(c->lm, &c->cap_lm, e[count - 1].index, sizeof *c->lm);
    for (size_t i = 0; i < count; i++) {
        struct lm_slot *s = &c->lm[e[i].index];
        uint32_t k = 0;
        while (k < s->n && s->r[k].term != e[i].term)
            k++;
        if (k < s->n) {
            if (s->r[k].hash != e[i].hash || s->r[k].chain != e[i].chain) {
                sim_fail(w, "log-matching",
                         "n%u writes %llu/%llu whose %s differs from another log's entry",
                         (unsigned)n->id, (unsigned long long)e[i].index,
                         (unsigned long long)e[i].term,
                         s->r[k].hash != e[i].hash ? "data" : "earlier entries");
                return;
            }
        } else if (s->n < SIM_LM_TERMS) {
            s->r[s->n++] = (struct lm_rec){e[i].term, e[i].hash, e[i].chain};
        } else {
            /* Full: a newer term replaces the oldest. Entries written at an index
             * after its entry committed are the committed one or older terms of stale
             * leaders, so the committed entry, whose chain a snapshot install looks up
             * (sim_check_chain_of), is kept unless more than SIM_LM_TERMS newer terms
             * wrote there before it committed. The dropped term goes unchecked. */
            uint32_t low = 0;
            for (uint32_t q = 1; q < s->n; q++)
                if (s->r[q].term < s->r[low].term)
                    low = q;
            if (e[i].term > s->r[low].term)
                s->r[low] = (struct lm_rec){e[i].term, e[i].hash, e[i].chain};
        }
    }
}

uint64_t sim_check_chain_of(struct sim_world *w, raft_index index, raft_term term)
{
    struct sim_check *c = w->check;
    if (index == 0 || index >= c->cap_lm)
        return 0;
    for (uint32_t k = 0; k < c->lm[index].n; k++) {
        if (c->lm[index].r[k].term == term)
            return c->lm[index].r[k].chain;
    }
    return 0;
}

void sim_check_apply(struct sim_world *w, struct sim_node *n, const struct sim_entry *e)
{
    struct sim_check *c = w->check;
    c->ap = grow(c->ap, &c->cap_ap, e->index, sizeof *c->ap);
    struct ap_rec *a = &c->ap[e->index];
    if (a->term == 0) {
        *a = (struct ap_rec){e->term, e->hash, n->sm_hash, c->max_leader_term};
        if (e->index > c->max_applied)
            c->max_applied = e->index;
        return;
    }
    if (a->term != e->term || a->hash != e->hash || a->sm_hash != n->sm_hash)
        sim_fail(w, "state-machine-safety",
                 "n%u applies %llu/%llu but another node applied %llu/%llu there%s",
                 (unsigned)n->id, (unsigned long long)e->index, (unsigned long long)e->term,
                 (unsigned long long)e->index, (unsigned long long)a->term,
                 a->term == e->term && a->hash == e->hash ? " (state hash differs)" : "");
}

void sim_check_sm_state(struct sim_world *w, struct sim_node *n)
{
    struct sim_check *c = w->check;
    if (n->applied == 0 || n->applied >= c->cap_ap || c->ap[n->applied].term == 0)
        return;
    if (c->ap[n->applied].sm_hash != n->sm_hash)
        sim_fail(w, "state-machine-safety", "n%u state at %llu (from a snapshot) differs",
                 (unsigned)n->id, (unsigned long long)n->applied);
}

bool sim_applied_term_at(struct sim_world *w, raft_index i, raft_term *term)
{
    struct sim_check *c = w->check;
    if (i >= c->cap_ap || c->ap[i].term == 0)
        return false;
    *term = c->ap[i].term;
    return true;
}

/* Leader completeness: a leader of term T holds every entry committed in a term
 * before T. An entry first applied while the highest leader term was B was
 * committed in a term <= B, and B grows with the index, so the last index with
 * B < T is found by bisection; by the chain hash one compare covers the prefix. */
static void check_new_leader(struct sim_world *w, struct sim_node *n, raft_term term)
{
    struct sim_check *c = w->check;
    raft_index lo = 0, hi = c->max_applied;
    while (lo < hi) {
        raft_index mid = lo + (hi - lo + 1) / 2;
        if (c->ap[mid].term && c->ap[mid].bound < term)
            lo = mid;
        else
            hi = mid - 1;
    }
    raft_index i = lo;
    const struct sim_log *l = &n->cur.log;
    if (i == 0 || i <= l->base_index)
        return;
    const struct sim_entry *e = sim_log_at(l, i);
    uint64_t want = sim_check_chain_of(w, i, c->ap[i].term);
    if (!e || e->term != c->ap[i].term || e->chain != want)
        sim_fail(w, "leader-completeness",
                 "n%u leads term %llu but its log %s committed entry %llu/%llu", (unsigned)n->id,
                 (unsigned long long)term, e ? "differs at" : "lacks", (unsigned long long)i,
                 (unsigned long long)c->ap[i].term);
}

void sim_check_node(struct sim_world *w, struct sim_node *n)
{
    struct sim_check *c = w->check;
    enum raft_role role = raft_role(n->rep.raft);
    raft_term term = raft_term_now(n->rep.raft);
    sim_rules_node(w, n);
    if (role == RAFT_LEADER) {
        c->term_leader = grow(c->term_leader, &c->cap_terms, term, sizeof *c->term_leader);
        raft_id prev = c->term_leader[term];
        if (prev == 0) {
            c->term_leader[term] = n->id + 1;
            if (term > c->max_leader_term)
                c->max_leader_term = term;
            sim_trace(w, "sim: n%u is leader of term %llu", (unsigned)n->id,
                      (unsigned long long)term);
            check_new_leader(w, n, term);
        } else if (prev != n->id + 1) {
            sim_fail(w, "election-safety", "n%u and n%u both lead term %llu", (unsigned)prev - 1,
                     (unsigned)n->id, (unsigned long long)term);
        }
    }
    n->role_seen = role;
    struct raft_status st;
    raft_status(n->rep.raft, &st);
    if (st.commit < n->commit_seen)
        sim_fail(w, "commit-monotonic", "n%u commit went from %llu to %llu", (unsigned)n->id,
                 (unsigned long long)n->commit_seen, (unsigned long long)st.commit);
    n->commit_seen = st.commit;
}

/* The shipped loop syncs before it sends anything that promises durable state, so
 * when such a message leaves, nothing but snapshot temp files may be unsynced on
 * the node's disk, and what storage holds must cover the promise. */
void sim_check_sent(struct sim_world *w, struct sim_node *n, const struct raft_msg *m)
{
    sim_rules_sent(w, n, m);
    const struct sim_disk *d = &n->cur;
    const char *broken = NULL;
    if (m->type == RAFT_MSG_VOTE_RESP && m->granted && !m->prevote) {
        if (d->hs.term < m->term || (d->hs.term == m->term && d->hs.vote != m->to))
            broken = "a vote its hard state does not hold";
    } else if (m->type == RAFT_MSG_APPEND_RESP && !m->reject && m->index) {
        const struct sim_entry *e = sim_log_at(&d->log, m->index);
        if (m->index > d->snap_index && m->index > d->log.base_index && !e)
            broken = "entries its log does not hold";
        else if (e && m->index >= n->acked_index) {
            n->acked_index = m->index;
            n->acked_term = e->term;
            n->acked_chain = e->chain;
        }
    } else if (m->type == RAFT_MSG_SNAPSHOT_RESP && !m->reject) {
        /* Only the final acknowledgement promises anything: the whole snapshot. */
        bool final = m->snap_index == n->seen_snap_index && m->offset >= n->seen_snap_size;
        if (final && d->snap_index < m->snap_index && sim_log_last(&d->log) < m->snap_index)
            broken = "a snapshot it has not installed";
    } else {
        return;
    }
    if (!broken && !simfs_clean(&n->fs))
        broken = "state its disk has not synced";
    if (broken)
        sim_fail(w, "durability", "n%u sends %s to n%u (term %llu index %llu) promising %s",
                 (unsigned)n->id, raft_msg_name(m->type), (unsigned)m->to,
                 (unsigned long long)m->term, (unsigned long long)m->index, broken);
}

raft_index sim_check_max_applied(struct sim_world *w, uint64_t *chain)
{
    struct sim_check *c = w->check;
    raft_index m = c->max_applied;
    *chain = m ? sim_check_chain_of(w, m, c->ap[m].term) : 0;
    return m;
}

void sim_check_read_start(struct sim_world *w, uint64_t read_id)
{
    struct sim_check *c = w->check;
    raft_index max = c->max_applied;
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        if (!w->node[i].up)
            continue;
        struct raft_status st;
        raft_status(w->node[i].rep.raft, &st);
        if (st.commit > max)
            max = st.commit;
    }
    c->reads = grow(c->reads, &c->cap_reads, read_id, sizeof *c->reads);
    c->reads[read_id] = (struct read_rec){max, false};
}

void sim_check_read_done(struct sim_world *w, struct sim_node *n, uint64_t read_id,
                         raft_index read_index)
{
    struct sim_check *c = w->check;
    if (read_id >= c->cap_reads || c->reads[read_id].done) {
        sim_fail(w, "read-linearizability", "n%u answers read %llu twice or never issued",
                 (unsigned)n->id, (unsigned long long)read_id);
        return;
    }
    struct read_rec *r = &c->reads[read_id];
    r->done = true;
    if (read_index < r->min_index || n->applied < r->min_index)
        sim_fail(w, "read-linearizability",
                 "n%u read %llu at index %llu (applied %llu) but %llu was committed at start",
                 (unsigned)n->id, (unsigned long long)read_id, (unsigned long long)read_index,
                 (unsigned long long)n->applied, (unsigned long long)r->min_index);
}

bool sim_converged(struct sim_world *w, char *why, size_t cap)
{
    raft_id lead = sim_leader(w);
    if (lead == RAFT_NONE) {
        snprintf(why, cap, "no leader");
        return false;
    }
    struct raft_status st;
    raft_status(w->node[lead].rep.raft, &st);
    for (uint32_t i = 0; i < w->conf.n; i++) {
        struct sim_node *n = &w->node[w->conf.m[i].id];
        if (!n->up) {
            snprintf(why, cap, "member n%u is down", (unsigned)n->id);
            return false;
        }
        if (n->applied != st.last_index || n->sm_hash != w->node[lead].sm_hash) {
            snprintf(why, cap, "n%u applied %llu, leader n%u log ends at %llu applied %llu",
                     (unsigned)n->id, (unsigned long long)n->applied, (unsigned)lead,
                     (unsigned long long)st.last_index, (unsigned long long)w->node[lead].applied);
            return false;
        }
    }
    return true;
}
