/* replication.c: AppendEntries on both sides and the leader's flow control.
 *
 * Each follower's progress is in one of three states (etcd-raft's design): PROBE
 * sends one append and waits, to find where the logs match; REPLICATE pipelines
 * up to max_inflight appends, optimistically advancing next; SNAPSHOT hands over
 * to snapshot.c because the entries the follower needs were compacted. A
 * rejection carries a hint (the follower's last index and the term there) so the
 * leader skips a whole conflicting term per round trip instead of one entry.
 */
#include "internal.h"

#include <assert.h>

struct raft__progress *raft__progress(struct raft *r, raft_id id)
{
    for (uint32_t k = 0; k < r->n_pr; k++)
        if (r->pr[k].id == id)
            return &r->pr[k];
    return NULL;
}

static void inflight_add(struct raft__progress *pr, raft_index last)
{
    uint32_t slot = (pr->inflight_head + pr->inflight_n) % RAFT__INFLIGHT_MAX;
    pr->inflight[slot] = last;
    pr->inflight_n++;
}

static void inflight_free_to(struct raft__progress *pr, raft_index match)
{
    while (pr->inflight_n && pr->inflight[pr->inflight_head] <= match) {
        pr->inflight_head = (pr->inflight_head + 1) % RAFT__INFLIGHT_MAX;
        pr->inflight_n--;
    }
}

void raft__progress_probe(struct raft__progress *pr, raft_index next)
{
    pr->state = RAFT__PROBE;
    pr->next = next;
    pr->paused = false;
    pr->inflight_n = 0;
    pr->inflight_head = 0;
    pr->gap = 0;
}

/* Entries from next on, bounded by max_append_bytes but at least one. */
static uint32_t batch_size(struct raft *r, raft_index next)
{
    raft_index last = raft__log_last(&r->log);
    uint64_t bytes = 0;
    uint32_t n = 0;
    for (raft_index i = next; i <= last; i++) {
        bytes += raft__log_get(&r->log, i)->len;
        if (n && bytes > r->cfg.max_append_bytes)
            break;
        n++;
    }
    return n;
}

void raft__send_append(struct raft *r, struct raft__progress *pr)
{
    if (pr->state == RAFT__SNAPSHOT)
        return;
    raft_term prev_term;
    if (!raft__log_term(&r->log, pr->next - 1, &prev_term)) {
        raft__send_snapshot(r, pr); /* the entries it needs are compacted */
        return;
    }
    uint32_t n = batch_size(r, pr->next);
    if (pr->state == RAFT__REPLICATE && (n == 0 || pr->inflight_n >= r->cfg.max_inflight))
        return;
    if (pr->state == RAFT__PROBE && pr->paused)
        return;
    struct raft_msg m = {.type = RAFT_MSG_APPEND,
                         .to = pr->id,
                         .index = pr->next - 1,
                         .log_term = prev_term,
                         .commit = r->commit,
                         .n_entries = n};
    raft__send(r, &m);
    if (pr->state == RAFT__REPLICATE) {
        pr->next += n;
        inflight_add(pr, pr->next - 1);
    } else {
        pr->paused = true;
    }
}

/* Fills the pipeline: each call sends one batch while there is room. */
static void fill_pipeline(struct raft *r, struct raft__progress *pr)
{
    raft_index before;
    do {
        before = pr->next;
        raft__send_append(r, pr);
    } while (pr->state == RAFT__REPLICATE && pr->next != before);
}

void raft__broadcast_append(struct raft *r)
{
    for (uint32_t k = 0; k < r->n_pr; k++)
        fill_pipeline(r, &r->pr[k]);
}

/* REPLICATE again from match + 1: what the follower refused after match is missing
 * there. */
static void replicate_after_match(struct raft__progress *pr)
{
    raft__progress_probe(pr, pr->match + 1);
    pr->state = RAFT__REPLICATE;
    pr->resent_from = pr->match + 1;
}

int raft__append_local(struct raft *r, uint8_t type, const void *data, uint32_t len)
{
    struct raft_entry e = {.term = r->term,
                           .index = raft__log_last(&r->log) + 1,
                           .type = type,
                           .len = len,
                           .data = (uint8_t *)data};
    int rv = raft__log_append(&r->log, &e);
    if (rv)
        return rv;
    if (type == RAFT_ENTRY_CONF)
        raft__conf_changed(r);
    r->need_broadcast = true;
    return RAFT_OK;
}

/* ===== Follower side ===== */

/* Drops appends still queued from an earlier leadership. They name their entries
 * by index, resolved only at raft_ready(): after a truncation those would be the new
 * leader's entries glued to the old prev term, and after a snapshot install that
 * compacts the log they would name entries that are gone. */
void raft__drop_queued_appends(struct raft *r)
{
    size_t keep = 0;
    for (size_t k = 0; k < r->out.n; k++)
        if (r->out.v[k].type != RAFT_MSG_APPEND)
            r->out.v[keep++] = r->out.v[k];
    r->out.n = keep;
}

/* After the log is cut from `from` on: no queued append, and no acknowledgement of a
 * cut entry. */
void raft__purge_appends(struct raft *r, raft_index from)
{
    raft__drop_queued_appends(r);
    /* An acknowledgement not yet sent promises entries the log no longer holds
     * once they are cut: several messages stepped into one Ready (an append of
     * the old leader, then one of a newer leader that truncates it) would
     * otherwise tell the old leader we hold entries that are gone. */
    size_t keep = 0;
    for (size_t k = 0; k < r->out_sync.n; k++) {
        const struct raft_msg *m = &r->out_sync.v[k];
        if (m->type == RAFT_MSG_APPEND_RESP && !m->reject && m->index >= from)
            continue;
        r->out_sync.v[keep++] = *m;
    }
    r->out_sync.n = keep;
}

/* Figure 2, AppendEntries receiver steps 3 and 4: skip entries we already hold,
 * truncate at the first conflicting term, append the rest. */
/* Entries must be consecutive, with terms that never decrease, start at or
 * above the previous entry's term and never exceed the sender's term: anything
 * else cannot come from a correct leader, and would break the log's ordering. */
static bool entries_valid(const struct raft_msg *m)
{
    raft_term prev = m->log_term;
    for (uint32_t k = 0; k < m->n_entries; k++) {
        const struct raft_entry *e = &m->entries[k];
        if (e->index != m->index + 1 + k || e->term < prev || e->term > m->term ||
            (e->len && !e->data))
            return false;
        prev = e->term;
    }
    return true;
}

static int merge_entries(struct raft *r, const struct raft_msg *m)
{
    if (!entries_valid(m))
        return RAFT_ECORRUPT;
    for (uint32_t k = 0; k < m->n_entries; k++) {
        const struct raft_entry *e = &m->entries[k];
        raft_term t;
        if (raft__log_term(&r->log, e->index, &t)) {
            if (t == e->term)
                continue;
            assert(e->index > r->commit); /* committed entries never conflict */
            raft__tracef(r, "conflict at %u (term %u vs %u) -> truncate",
                         (unsigned long long)e->index, (unsigned long long)t,
                         (unsigned long long)e->term);
            raft__log_truncate(&r->log, e->index);
            raft__purge_appends(r, e->index);
            if (r->conf_index >= e->index)
                raft__conf_recompute(r);
        } else if (e->index <= r->log.offset) {
            continue; /* compacted, hence committed and matching */
        }
        int rv = raft__log_append(&r->log, e);
        if (rv)
            return rv;
        if (e->type == RAFT_ENTRY_CONF)
            raft__conf_changed(r);
    }
    return RAFT_OK;
}

/* The hint names our last entry that could still match: the largest index at or
 * before the rejected one whose term is not above the leader's prev term.
 * Entries with a higher term cannot be in the leader's log at that point, so
 * skipping them saves a round trip each; without this step a follower holding a
 * higher-term suffix keeps sending the same hint and never converges. */
static void reject_append(struct raft *r, const struct raft_msg *m)
{
    raft_index hint = m->index < raft__log_last(&r->log) ? m->index : raft__log_last(&r->log);
    raft_term hint_term = 0;
    while (hint > r->log.offset && raft__log_term(&r->log, hint, &hint_term) &&
           hint_term > m->log_term)
        hint--;
    raft__log_term(&r->log, hint, &hint_term);
    struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP,
                            .to = m->from,
                            .reject = true,
                            .index = m->index,
                            .hint_index = hint,
                            .log_term = hint_term};
    raft__tracef(r, "append prev %u/%u from %u -> reject, hint %u/%u", (unsigned long long)m->index,
                 (unsigned long long)m->log_term, (unsigned long long)m->from,
                 (unsigned long long)hint, (unsigned long long)hint_term);
    raft__send_sync(r, &resp);
}

void raft__recv_append(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER)
        raft__become_follower(r, r->term, m->from);
    r->leader = m->from;
    r->election_elapsed = 0;
    struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from};
    if (m->index < r->commit) {
        /* Everything through commit matches the leader already. */
        resp.index = r->commit;
        raft__send_sync(r, &resp);
        return;
    }
    raft_term t;
    if (!raft__log_term(&r->log, m->index, &t) || t != m->log_term) {
        reject_append(r, m);
        return;
    }
    if (merge_entries(r, m) != RAFT_OK)
        return;
    raft_index last_new = m->index + m->n_entries;
    raft_index c = m->commit < last_new ? m->commit : last_new;
    if (c > r->commit) {
        r->commit = c;
        raft__commit_advanced(r);
    }
    resp.index = last_new;
    raft__send_sync(r, &resp);
}

/* ===== Leader side ===== */

/* The largest index <= hint whose term is <= hint_term: entries after it cannot
 * match the follower's (etcd's findConflictByTerm). */
static raft_index conflict_probe(struct raft *r, raft_index hint, raft_term hint_term)
{
    if (hint > raft__log_last(&r->log))
        hint = raft__log_last(&r->log);
    raft_term t;
    while (hint > r->log.offset && raft__log_term(&r->log, hint, &t) && t > hint_term)
        hint--;
    /* Reaching our compacted start with a term still too high: the match lies in
     * the snapshot's range, so the follower needs the snapshot. */
    if (hint == r->log.offset && hint > 0 && r->log.offset_term > hint_term)
        hint--;
    return hint;
}

void raft__recv_append_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = r->role == RAFT_LEADER ? raft__progress(r, m->from) : NULL;
    if (!pr)
        return;
    if (m->reject) {
        /* The acknowledgement of match overtook this reject on the way back: the append
         * after match was refused before match arrived, and nothing sent before now
         * fills the hole. Resend once; a duplicate or an older reject of the same
         * point finds the resend done. */
        if (pr->state == RAFT__REPLICATE && m->index == pr->match && pr->next > pr->match + 1) {
            if (pr->resent_from != pr->match + 1) {
                replicate_after_match(pr);
                fill_pipeline(r, pr);
            }
            return;
        }
        bool stale = pr->state == RAFT__PROBE ? m->index != pr->next - 1 : m->index <= pr->match;
        if (stale || pr->state == RAFT__SNAPSHOT)
            return;
        /* Out of order, not divergent: the follower's log matches ours through its
         * hint, and the appends after the hint are already on their way (next is past
         * it). Probing again would resend the pipeline for each such reject, and every
         * resend that arrives out of order draws more rejects: with reordering the
         * traffic grows without bound. Instead remember the lowest rejected point and
         * resend from there once the follower's match reaches it (below), the moment
         * the resend can be accepted: one resend per acknowledgement that advances
         * match, however many rejects arrived. A lost append is still recovered: a
         * heartbeat round without progress turns the follower into a probe. */
        raft_term t;
        if (pr->state == RAFT__REPLICATE && m->hint_index >= pr->match &&
            m->hint_index + 1 < pr->next && raft__log_term(&r->log, m->hint_index, &t) &&
            t == m->log_term) {
            if (pr->gap == 0 || m->index < pr->gap)
                pr->gap = m->index;
            return;
        }
        raft_index next = conflict_probe(r, m->hint_index, m->log_term) + 1;
        if (next <= pr->match)
            next = pr->match + 1;
        raft__progress_probe(pr, next);
        raft__send_append(r, pr);
        return;
    }
    if (m->index > raft__log_last(&r->log))
        return; /* acknowledges entries we never sent */
    if (m->index > pr->match) {
        pr->match = m->index;
        inflight_free_to(pr, pr->match);
        raft__maybe_commit(r);
    }
    if (pr->state == RAFT__REPLICATE && pr->gap && pr->match >= pr->gap)
        replicate_after_match(pr); /* what was refused after the gap is missing there */
    if (pr->state == RAFT__SNAPSHOT) {
        /* A snapshot only while the entries after match are compacted away. */
        raft_term t;
        if (pr->match < pr->snap_index && !raft__log_term(&r->log, pr->match, &t))
            return;
        raft__progress_probe(pr, pr->match + 1);
    }
    if (pr->state == RAFT__PROBE) {
        pr->state = RAFT__REPLICATE;
        pr->next = pr->match + 1;
        pr->paused = false;
        pr->inflight_n = 0;
    }
    if (pr->next <= pr->match)
        pr->next = pr->match + 1;
    raft__transfer_check(r, pr);
    fill_pipeline(r, pr);
}
