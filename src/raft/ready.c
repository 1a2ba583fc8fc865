/* ready.c: the core's output side: building a struct raft_ready, taking it back
 * in raft_advance(), and the notices that close the loop (durable, snapshot).
 *
 * Work that benefits from batching is deferred to raft_ready(): proposals made
 * during one loop iteration leave as one AppendEntries per follower, and reads
 * registered in one iteration share one heartbeat round. Entry pointers inside
 * messages are resolved here too, because the log array may move while events
 * are still being processed.
 */
#include "internal.h"

#include <assert.h>
#include <string.h>

static bool hs_differs(const struct raft *r)
{
    return r->term != r->hs_saved.term || r->vote != r->hs_saved.vote ||
           r->commit != r->hs_saved.commit;
}

/* Committed entries and released reads go out unless the shell holds them
 * (raft_hold_apply) or the ready installs a snapshot: the shell may restore the
 * state machine from it beside its loop, and what follows the snapshot must not
 * reach the state before that. */
static bool apply_open(const struct raft *r)
{
    return !r->apply_held && !r->install_pending;
}

bool raft_has_ready(const struct raft *r)
{
    return hs_differs(r) || r->log.written < raft__log_last(&r->log) || r->out.n || r->out_sync.n ||
           (!r->apply_held && (r->commit > r->applied || r->n_results)) || r->chunk_pending ||
           r->install_pending || r->need_broadcast ||
           (r->role == RAFT_LEADER && r->n_reads && r->reads[r->n_reads - 1].seq > r->read_seq);
}

static void resolve_entries(struct raft *r, struct raft__msgbuf *b)
{
    for (size_t k = 0; k < b->n; k++) {
        struct raft_msg *m = &b->v[k];
        if (m->type != RAFT_MSG_APPEND || !m->n_entries)
            continue;
        /* Truncation purges pending appends and compaction spares them, so the
         * entries a message names are still held. */
        m->entries = (struct raft_entry *)raft__log_get(&r->log, m->index + 1);
        assert(m->index + m->n_entries <= raft__log_last(&r->log));
    }
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
    memset(rd, 0, sizeof *rd);
    if (r->role == RAFT_LEADER) {
        if (r->need_broadcast)
            raft__broadcast_append(r);
        raft__reads_flush(r);
    }
    r->need_broadcast = false;
    rd->hs.term = r->term;
    rd->hs.vote = r->vote;
    rd->hs.commit = r->commit;
    rd->hs_changed = hs_differs(r);
    raft_index last = raft__log_last(&r->log);
    if (r->log.written < last) {
        rd->entries = raft__log_get(&r->log, r->log.written + 1);
        rd->n_entries = (size_t)(last - r->log.written);
    }
    rd->must_sync = rd->n_entries || r->install_pending || r->chunk_pending ||
                    r->term != r->hs_saved.term || r->vote != r->hs_saved.vote;
    rd->last_index = last;
    rd->last_term = raft__log_last_term(&r->log);
    rd->chunk = r->chunk_pending ? &r->chunk : NULL;
    rd->install = r->install_pending ? &r->install : NULL;
    resolve_entries(r, &r->out);
    rd->msgs = r->out.v;
    rd->n_msgs = r->out.n;
    rd->msgs_sync = r->out_sync.v;
    rd->n_msgs_sync = r->out_sync.n;
    if (!apply_open(r))
        return;
    if (r->commit > r->applied) {
        rd->committed = raft__log_get(&r->log, r->applied + 1);
        rd->n_committed = (size_t)(r->commit - r->applied);
    }
    rd->reads = r->results;
    rd->n_reads = r->n_results;
}

void raft_hold_apply(struct raft *r, bool hold)
{
    r->apply_held = hold;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
    if (rd->hs_changed)
        r->hs_saved = rd->hs;
    if (rd->n_entries) {
        raft_index last = rd->entries[rd->n_entries - 1].index;
        if (last > r->log.written)
            r->log.written = last;
    }
    r->applied += rd->n_committed;
    assert(r->applied <= r->commit);
    r->out.n = 0;
    r->out_sync.n = 0;
    if (rd->n_reads) /* else held back: they go out with the next open ready */
        r->n_results = 0;
    r->chunk_pending = false;
    r->install_pending = false;
}

void raft_durable(struct raft *r, raft_index index, raft_term term)
{
    raft_term t;
    if (index > raft__log_last(&r->log) || !raft__log_term(&r->log, index, &t) || t != term)
        return; /* the log changed since that ready: a later notice will come */
    if (index > r->log.written)
        return;
    if (index > r->log.durable)
        r->log.durable = index;
    if (r->role == RAFT_LEADER)
        raft__maybe_commit(r);
}

/* The lowest entry an unsent AppendEntries still names: compaction must keep it. */
static raft_index lowest_pending(const struct raft *r)
{
    raft_index low = UINT64_MAX;
    for (size_t k = 0; k < r->out.n; k++) {
        const struct raft_msg *m = &r->out.v[k];
        if (m->type == RAFT_MSG_APPEND && m->n_entries && m->index + 1 < low)
            low = m->index + 1;
    }
    return low;
}

void raft_snapshot_taken(struct raft *r, raft_index index, uint64_t size, uint64_t trailing)
{
    raft_term term;
    if (index <= r->snap_index || index > r->applied || !raft__log_term(&r->log, index, &term))
        return;
    r->snap_index = index;
    r->snap_term = term;
    r->snap_size = size;
    /* The configuration at index: the latest CONF entry at or before it. */
    r->snap_conf = r->conf;
    if (r->conf_index > index)
        raft__conf_at(r, index, &r->snap_conf);
    raft_index upto = index > trailing ? index - trailing : 0;
    raft_index low = lowest_pending(r);
    if (upto >= low)
        upto = low - 1;
    if (upto > r->log.written)
        upto = r->log.written;
    raft__conf_compacting(r, upto);
    raft__log_compact(&r->log, upto);
    raft__tracef(r, "snapshot at %u term %u -> log starts after %u", (unsigned long long)index,
                 (unsigned long long)term, (unsigned long long)r->log.offset);
    raft__snapshot_restart_senders(r);
}

/* ===== Queries ===== */

bool raft_entry_term(const struct raft *r, raft_index index, raft_term *term)
{
    return raft__log_term(&r->log, index, term);
}

void raft_status(const struct raft *r, struct raft_status *st)
{
    memset(st, 0, sizeof *st);
    st->id = r->cfg.id;
    st->role = r->role;
    st->term = r->term;
    st->vote = r->vote;
    st->leader = r->leader;
    st->commit = r->commit;
    st->applied = r->applied;
    st->first_index = r->log.offset + 1;
    st->last_index = raft__log_last(&r->log);
    st->last_term = raft__log_last_term(&r->log);
    st->conf_index = r->conf_index;
    st->durable_index = r->log.durable;
    st->snap_index = r->snap_index;
    st->snap_term = r->snap_term;
    st->transferee = r->transferee;
    if (r->role != RAFT_LEADER)
        return;
    for (uint32_t k = 0; k < r->n_pr; k++) {
        struct raft_progress_info *p = &st->progress[st->n_progress++];
        p->id = r->pr[k].id;
        p->voter = r->pr[k].voter;
        p->match = r->pr[k].match;
        p->next = r->pr[k].next;
        p->ticks_since_contact = r->pr[k].since_contact;
    }
}

const struct raft_conf *raft_current_conf(const struct raft *r)
{
    return &r->conf;
}

enum raft_role raft_role(const struct raft *r)
{
    return r->role;
}

raft_id raft_leader(const struct raft *r)
{
    return r->leader;
}

raft_term raft_term_now(const struct raft *r)
{
    return r->term;
}
