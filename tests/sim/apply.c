/* apply.c: the simulated state machine side of the shell and the client actions.
 *
 * Applying is step 4 of the Ready loop: committed entries fold into the node's
 * running state hash in index order, CONF entries update the world's view of the
 * membership, and ReadIndex results are answered once the state machine reached the
 * read index (a result that arrives early is parked, as a real shell would wait).
 * Client actions (propose, read, membership change) and snapshots are wrappers that
 * call the core and then drain its readies, so callers never hold a ready open.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void note_conf(struct sim_world *w, struct sim_node *n, const struct raft_entry *e)
{
    struct raft_conf c;
    if (raft_conf_decode(&c, e->data, e->len) != RAFT_OK) {
        sim_fail(w, "conf-entry", "n%u cannot decode CONF at %llu", (unsigned)n->id,
                 (unsigned long long)e->index);
        return;
    }
    n->sm_conf = c;
    if (e->index <= w->conf_index)
        return;
    for (uint32_t i = 0; i < w->conf.n; i++) {
        if (!raft_conf_find(&c, w->conf.m[i].id))
            w->remove_pending[w->conf.m[i].id] = true;
    }
    w->conf = c;
    w->conf_index = e->index;
    sim_trace(w, "sim: conf at %llu has %u members, %u voters", (unsigned long long)e->index,
              (unsigned)c.n, (unsigned)raft_conf_voters(&c));
}

static void answer_read(struct sim_world *w, struct sim_node *n, uint64_t id, raft_index index)
{
    sim_check_read_done(w, n, id, index);
    w->reads_released_ok = true;
}

void sim_shell_apply(struct sim_world *w, struct sim_node *n, const struct raft_ready *rd)
{
    for (size_t i = 0; i < rd->n_committed && !w->failed; i++) {
        const struct raft_entry *e = &rd->committed[i];
        if (e->index != n->applied + 1) {
            sim_fail(w, "apply-order", "n%u applies %llu after %llu", (unsigned)n->id,
                     (unsigned long long)e->index, (unsigned long long)n->applied);
            return;
        }
        struct sim_entry se = {e->term, e->index, e->type, e->len, NULL, 0, 0};
        se.hash = sim_hash_bytes(e->data, e->len, e->type);
        n->applied = e->index;
        n->sm_hash = sim_mix(n->sm_hash, sim_mix(se.hash, e->index));
        if (e->type == RAFT_ENTRY_NORMAL)
            n->sm_count++;
        else if (e->type == RAFT_ENTRY_CONF)
            note_conf(w, n, e);
        sim_check_apply(w, n, &se);
    }
    size_t keep = 0;
    for (size_t i = 0; i < n->n_parked; i++) {
        if (n->parked[i].index <= n->applied)
            answer_read(w, n, n->parked[i].id, n->parked[i].index);
        else
            n->parked[keep++] = n->parked[i];
    }
    n->n_parked = keep;
    for (size_t i = 0; i < rd->n_reads && !w->failed; i++) {
        const struct raft_read_result *r = &rd->reads[i];
        sim_trace(w, "sim: n%u read %llu answered %s at %llu (applied %llu)", (unsigned)n->id,
                  (unsigned long long)r->read_id, r->ok ? "ok" : "not leader",
                  (unsigned long long)r->index, (unsigned long long)n->applied);
        if (!r->ok)
            continue;
        if (r->index <= n->applied) {
            answer_read(w, n, r->read_id, r->index);
            continue;
        }
        if (n->n_parked == n->cap_parked) {
            n->cap_parked = n->cap_parked ? 2 * n->cap_parked : 8;
            n->parked = realloc(n->parked, n->cap_parked * sizeof *n->parked);
            if (!n->parked)
                abort();
        }
        n->parked[n->n_parked++] = (struct sim_read){r->read_id, r->index};
    }
}

/* Term of the entry at i in the node's written log or snapshot; 0 if unknown. */
static raft_term term_at(const struct sim_node *n, raft_index i)
{
    const struct sim_entry *e = sim_log_at(&n->cur.log, i);
    if (e)
        return e->term;
    if (i == n->cur.snap.index)
        return n->cur.snap.term;
    if (i == n->cur.log.base_index)
        return n->cur.log.base_term;
    return 0;
}

void sim_shell_take_snapshot(struct sim_world *w, struct sim_node *n, uint64_t trailing)
{
    if (!n->up || n->applied == 0 || n->applied <= n->syn.snap.index)
        return;
    raft_term t = term_at(n, n->applied);
    if (t == 0)
        return;
    /* Flush every pending write first: the snapshot must never be durable ahead of
     * the log it summarises. */
    sim_shell_flush(w, n, UINT64_MAX);
    struct sim_snap s = {n->applied, t, n->sm_conf, NULL, 0};
    s.size = sim_sm_encode(n, &s.data);
    sim_snap_set(&n->syn.snap, &s);
    sim_snap_set(&n->cur.snap, &s);
    free(s.data);
    sim_trace(w, "sim: n%u takes snapshot at %llu/%llu, trailing %llu", (unsigned)n->id,
              (unsigned long long)s.index, (unsigned long long)t, (unsigned long long)trailing);
    raft_snapshot_taken(n->r, s.index, s.size, trailing);
    sim_shell_process(w, n);
}

int sim_propose(struct sim_world *w, raft_id id, raft_index *index)
{
    struct sim_node *n = &w->node[id];
    char cmd[32];
    int len = snprintf(cmd, sizeof cmd, "c%llu", (unsigned long long)++w->cmd_counter);
    raft_index idx = 0;
    raft_term term = 0;
    int rc = raft_propose(n->r, cmd, (uint32_t)len, &idx, &term);
    sim_trace(w, "sim: n%u propose %s -> %s (index %llu term %llu)", (unsigned)id, cmd,
              raft_strerror(rc), (unsigned long long)idx, (unsigned long long)term);
    if (index)
        *index = idx;
    sim_shell_process(w, n);
    return rc;
}

int sim_read(struct sim_world *w, raft_id id)
{
    struct sim_node *n = &w->node[id];
    uint64_t rid = ++w->read_counter;
    sim_check_read_start(w, rid);
    int rc = raft_read(n->r, rid);
    sim_trace(w, "sim: n%u read %llu requested -> %s", (unsigned)id, (unsigned long long)rid,
              raft_strerror(rc));
    sim_shell_process(w, n);
    return rc;
}

int sim_change(struct sim_world *w, raft_id leader, enum raft_change op, raft_id id)
{
    static const char *names[] = {"add-learner", "promote", "remove"};
    char addr[16];
    snprintf(addr, sizeof addr, "n%u", (unsigned)id);
    raft_index idx = 0;
    int rc = raft_change(w->node[leader].r, op, id, addr, &idx);
    sim_trace(w, "sim: n%u change %s n%u -> %s (index %llu)", (unsigned)leader, names[op],
              (unsigned)id, raft_strerror(rc), (unsigned long long)idx);
    sim_shell_process(w, &w->node[leader]);
    if (rc == RAFT_OK && op == RAFT_ADD_LEARNER && !w->node[id].started)
        sim_node_start(w, id);
    return rc;
}
