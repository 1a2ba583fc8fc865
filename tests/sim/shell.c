/* shell.c: the simulated node shell, processing each struct raft_ready exactly in
 * the order raft.h prescribes: persist (unsynced) -> send rd.msgs -> hold
 * rd.msgs_sync until a later sync event -> apply -> answer reads -> advance.
 *
 * The sync event carries the node's incarnation so a completion issued before a
 * crash never lands after it, and sync times per node never go backwards (one
 * disk, fsyncs complete in order). Snapshot writes (taking one, installing one)
 * flush the pending writes first: a real shell fsyncs the log before it renames a
 * snapshot into place, otherwise a crash could leave a snapshot with a stale log
 * tail after it. Every message is checked for durability when it leaves.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void apply_op(struct sim_world *w, struct sim_node *n, struct sim_op *op)
{
    if (op->has_hs)
        n->syn.hs = op->hs;
    if (op->n && !sim_log_write(&n->syn.log, op->entries, op->n))
        sim_fail(w, "disk", "n%u synced write at %llu leaves a gap", (unsigned)n->id,
                 (unsigned long long)op->entries[0].index);
    for (size_t j = 0; j < op->n; j++)
        free(op->entries[j].data);
    free(op->entries);
}

/* Moves pending writes with seq <= upto from cur into syn, oldest first. */
void sim_shell_flush(struct sim_world *w, struct sim_node *n, uint64_t upto)
{
    size_t k = 0;
    while (k < n->n_ops && n->ops[k].seq <= upto)
        apply_op(w, n, &n->ops[k++]);
    if (k == 0)
        return;
    memmove(n->ops, n->ops + k, (n->n_ops - k) * sizeof *n->ops);
    n->n_ops -= k;
}

void sim_sync_free(struct sim_sync *s)
{
    for (size_t i = 0; i < s->n_msgs; i++)
        sim_msg_free(&s->msgs[i]);
    free(s->msgs);
    free(s->promise);
    free(s);
}

void sim_shell_sync(struct sim_world *w, struct sim_node *n, struct sim_sync *s)
{
    sim_shell_flush(w, n, s->upto_seq);
    for (size_t i = 0; i < s->n_msgs && !w->failed; i++) {
        sim_check_sent(w, n, &s->msgs[i], &s->promise[i]);
        sim_net_send(w, n, &s->msgs[i]);
    }
    raft_durable(n->r, s->last_index, s->last_term);
    sim_shell_process(w, n);
}

static void write_chunk(struct sim_world *w, struct sim_node *n, const struct raft_snap_chunk *c)
{
    if (c->first) {
        n->tmp_len = 0;
        n->tmp_index = c->snap_index;
    } else if (c->snap_index != n->tmp_index) {
        sim_fail(w, "snapshot-chunks", "n%u chunk of %llu continues temp snapshot %llu",
                 (unsigned)n->id, (unsigned long long)c->snap_index,
                 (unsigned long long)n->tmp_index);
        return;
    }
    uint64_t end = c->offset + c->len;
    if (end > n->tmp_cap) {
        n->tmp_cap = end * 2;
        n->tmp = realloc(n->tmp, n->tmp_cap);
        if (!n->tmp)
            abort();
    }
    if (c->len)
        memcpy(n->tmp + c->offset, c->data, c->len);
    if (end > n->tmp_len)
        n->tmp_len = end;
}

static void reset_log_to(struct sim_world *w, struct sim_log *l, raft_index i, raft_term t)
{
    const struct sim_entry *e = sim_log_at(l, i);
    if (e && e->term == t)
        return; /* the log already holds the snapshot point: keep the suffix */
    sim_log_free(l);
    l->base_index = i;
    l->base_term = t;
    l->base_chain = sim_check_chain_of(w, i, t);
}

static void install(struct sim_world *w, struct sim_node *n, const struct raft_snap_install *in)
{
    if (n->tmp_index != in->index || n->tmp_len != in->size) {
        sim_fail(w, "snapshot-chunks", "n%u install %llu size %llu but temp holds %llu/%llu",
                 (unsigned)n->id, (unsigned long long)in->index, (unsigned long long)in->size,
                 (unsigned long long)n->tmp_index, (unsigned long long)n->tmp_len);
        return;
    }
    if (in->index < n->applied) {
        sim_fail(w, "state-machine-regression", "n%u installs snapshot %llu below applied %llu",
                 (unsigned)n->id, (unsigned long long)in->index, (unsigned long long)n->applied);
        return;
    }
    if (!sim_sm_restore(n, n->tmp, n->tmp_len) || n->applied != in->index) {
        sim_fail(w, "snapshot-image", "n%u snapshot %llu does not restore", (unsigned)n->id,
                 (unsigned long long)in->index);
        return;
    }
    n->sm_conf = *in->conf;
    sim_check_sm_state(w, n);
    sim_shell_flush(w, n, UINT64_MAX); /* fsync the log before the rename */
    struct sim_snap s = {in->index, in->term, *in->conf, n->tmp, in->size};
    sim_snap_set(&n->syn.snap, &s);
    sim_snap_set(&n->cur.snap, &s);
    reset_log_to(w, &n->syn.log, in->index, in->term);
    reset_log_to(w, &n->cur.log, in->index, in->term);
    sim_trace(w, "sim: n%u installed snapshot %llu/%llu", (unsigned)n->id,
              (unsigned long long)in->index, (unsigned long long)in->term);
}

/* Persist step: write hs and entries to cur, queue them as one unsynced op. */
static bool persist(struct sim_world *w, struct sim_node *n, const struct raft_ready *rd)
{
    struct sim_op op = {.seq = ++n->op_seq, .has_hs = rd->hs_changed, .hs = rd->hs};
    if (rd->hs_changed)
        n->cur.hs = rd->hs;
    if (rd->chunk)
        write_chunk(w, n, rd->chunk);
    if (rd->install && !w->failed)
        install(w, n, rd->install);
    if (rd->n_entries && !w->failed) {
        struct sim_log *l = &n->cur.log;
        raft_index first = rd->entries[0].index;
        uint64_t chain;
        if (first == l->base_index + 1)
            chain = l->base_chain;
        else if (sim_log_at(l, first - 1))
            chain = sim_log_at(l, first - 1)->chain;
        else {
            sim_fail(w, "disk", "n%u writes entries from %llu, log is %llu..%llu", (unsigned)n->id,
                     (unsigned long long)first, (unsigned long long)l->base_index + 1,
                     (unsigned long long)sim_log_last(l));
            return false;
        }
        op.n = rd->n_entries;
        op.entries = calloc(op.n, sizeof *op.entries);
        if (!op.entries)
            abort();
        for (size_t i = 0; i < op.n; i++) {
            const struct raft_entry *re = &rd->entries[i];
            struct sim_entry *e = &op.entries[i];
            *e = (struct sim_entry){re->term, re->index, re->type, re->len, NULL, 0, 0};
            e->hash = sim_hash_bytes(re->data, re->len, re->type);
            chain = e->chain = sim_mix(chain, sim_mix(e->hash, re->term));
            if (re->len) {
                e->data = malloc(re->len);
                if (!e->data)
                    abort();
                memcpy(e->data, re->data, re->len);
            }
        }
        sim_check_entries(w, n, op.entries, op.n);
        if (!sim_log_write(l, op.entries, op.n))
            sim_fail(w, "disk", "n%u write at %llu leaves a gap", (unsigned)n->id,
                     (unsigned long long)first);
    }
    if (!op.has_hs && !op.n)
        return rd->chunk || rd->install;
    if (n->n_ops == n->cap_ops) {
        n->cap_ops = n->cap_ops ? 2 * n->cap_ops : 16;
        n->ops = realloc(n->ops, n->cap_ops * sizeof *n->ops);
        if (!n->ops)
            abort();
    }
    n->ops[n->n_ops++] = op;
    return true;
}

static void schedule_sync(struct sim_world *w, struct sim_node *n, const struct raft_ready *rd)
{
    struct sim_sync *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    s->incarnation = n->incarnation;
    s->upto_seq = n->op_seq;
    s->last_index = rd->last_index;
    s->last_term = rd->last_term;
    s->n_msgs = rd->n_msgs_sync;
    s->msgs = calloc(s->n_msgs + 1, sizeof *s->msgs);
    s->promise = calloc(s->n_msgs + 1, sizeof *s->promise);
    if (!s->msgs || !s->promise)
        abort();
    for (size_t i = 0; i < s->n_msgs; i++) {
        s->msgs[i] = sim_msg_copy(&rd->msgs_sync[i]);
        s->promise[i] = sim_check_promise(n, &rd->msgs_sync[i]);
        /* An ack repeating entries an earlier sync already made durable keeps its
         * promise from the start (a duplicate append). */
        if (s->promise[i] && sim_check_synced_holds(n, rd->msgs_sync[i].index, s->promise[i]))
            s->promise[i] = SIM_PROMISE_KEPT;
    }
    uint64_t t = w->now_ms + 1 + w->min_sync_ms + sim_range(&w->prng, w->max_sync_ms);
    if (t < n->last_sync_ms)
        t = n->last_sync_ms;
    n->last_sync_ms = t;
    struct sim_event ev = {.time_ms = t, .kind = SIM_EV_SYNC, .node = n->id, .sync = s};
    sim_heap_push(w, &ev);
}

/* Removed members shut down once their removal is applied anywhere: they take no
 * further part, as an operator would stop them. Never mid-ready. */
static void reap_removed(struct sim_world *w)
{
    for (uint32_t i = 0; i < w->n_nodes; i++) {
        if (!w->remove_pending[i])
            continue;
        w->remove_pending[i] = false;
        w->node[i].removed = true;
        sim_node_crash(w, i);
    }
}

void sim_shell_process(struct sim_world *w, struct sim_node *n)
{
    while (n->up && !w->failed && raft_has_ready(n->r)) {
        struct raft_ready rd;
        raft_ready(n->r, &rd);
        bool need_sync = persist(w, n, &rd);
        for (size_t i = 0; i < rd.n_msgs && !w->failed; i++) {
            sim_check_sent(w, n, &rd.msgs[i], NULL);
            sim_net_send(w, n, &rd.msgs[i]);
        }
        if (need_sync || rd.n_msgs_sync)
            schedule_sync(w, n, &rd);
        sim_shell_apply(w, n, &rd);
        raft_advance(n->r, &rd);
        sim_check_node(w, n);
        reap_removed(w);
    }
}
