/* check_restart.c: invariants on what a node's disk holds after a crash.
 *
 * A crash rewrites a node's directory into a state a real disk could hold after
 * power loss (simfs), and storage recovers it; these checks run on every such
 * recovery (the probe right after the crash and the restart itself):
 *   recovered-commit    the recovered commit index never exceeds the recovered log
 *                       (snapshot or entries), and the entries up to it are the
 *                       committed ones, never a stale suffix a torn write left;
 *   log-matching        the recovered entries agree with every log written anywhere;
 *   durable-majority    every entry applied anywhere is still on the disks of
 *                       enough voters that every majority of the configuration
 *                       holds it (a down node counts with what it recovered).
 * The state machine side (a restarted node's state is the committed state at its
 * applied index, and it applies from there in order) is checked by check.c as
 * the node restores its snapshot and applies.
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

void sim_check_recovered(struct sim_world *w, struct sim_node *n, const struct storage_boot *b,
                         struct sim_disk *d)
{
    sim_disk_free(d);
    d->hs = b->hs;
    d->snap_index = b->snap.index;
    d->snap_term = b->snap.term;
    uint64_t chain = b->snap.index ? sim_check_chain_of(w, b->snap.index, b->snap.term) : 0;
    sim_log_reset(&d->log, b->snap.index, b->snap.term, chain);
    size_t k = 0;
    struct sim_entry *es = calloc(b->n_entries + 1, sizeof *es);
    if (!es)
        abort();
    for (size_t i = 0; i < b->n_entries; i++) {
        const struct raft_entry *re = &b->entries[i];
        if (re->index <= b->snap.index)
            continue;
        es[k] = (struct sim_entry){re->term, re->index, re->type,
                                   sim_hash_bytes(re->data, re->len, re->type), 0};
        chain = es[k].chain = sim_mix(chain, sim_mix(es[k].hash, re->term));
        k++;
    }
    if (k && (b->snap.index == 0 || d->log.base_chain))
        sim_check_entries(w, n, es, k);
    if (!sim_log_write(&d->log, es, k))
        sim_fail(w, "recovered-log", "n%u recovered entries from %llu after snapshot %llu",
                 (unsigned)n->id, (unsigned long long)es[0].index,
                 (unsigned long long)b->snap.index);
    free(es);
    raft_index last = sim_log_last(&d->log);
    sim_trace(w, "sim: n%u recovers term %llu vote %d commit %llu, snapshot %llu, log to %llu",
              (unsigned)n->id, (unsigned long long)b->hs.term, (int)b->hs.vote,
              (unsigned long long)b->hs.commit, (unsigned long long)b->snap.index,
              (unsigned long long)last);
    if (b->hs.commit > last) {
        sim_fail(w, "recovered-commit", "n%u recovers commit %llu but its log ends at %llu",
                 (unsigned)n->id, (unsigned long long)b->hs.commit, (unsigned long long)last);
        return;
    }
    raft_term t = 0;
    const struct sim_entry *e = sim_log_at(&d->log, b->hs.commit);
    if (e && sim_applied_term_at(w, b->hs.commit, &t)) {
        uint64_t want = sim_check_chain_of(w, b->hs.commit, t);
        if (e->term != t || (want && e->chain != want))
            sim_fail(w, "recovered-commit",
                     "n%u recovers commit %llu over entry %llu/%llu, but %llu/%llu was committed",
                     (unsigned)n->id, (unsigned long long)b->hs.commit,
                     (unsigned long long)e->index, (unsigned long long)e->term,
                     (unsigned long long)e->index, (unsigned long long)t);
    }
}

bool sim_disk_holds(const struct sim_disk *d, raft_index i, uint64_t chain)
{
    if (d->snap_index >= i)
        return true;
    const struct sim_entry *e = sim_log_at(&d->log, i);
    if (e)
        return e->chain == chain;
    return d->log.base_index == i && d->log.base_chain == chain;
}

/* An acknowledged entry is durable: if the running log still held the newest entry
 * the node acknowledged when it crashed (no later truncation or install replaced
 * it), the recovered disk holds it too. */
void sim_check_acked(struct sim_world *w, struct sim_node *n, bool held)
{
    /* A crash inside the install of a newer leader's snapshot may recover that
     * snapshot without the log after it, rightly when the log conflicts with it: an
     * entry of an older term cannot follow a snapshot of a newer one. */
    bool superseded = n->syn.snap_index < n->acked_index && n->syn.snap_term > n->acked_term;
    if (held && !superseded && !sim_disk_holds(&n->syn, n->acked_index, n->acked_chain))
        sim_fail(w, "recovered-acked",
                 "n%u acknowledged entry %llu as durable, but recovers a log to %llu (snapshot "
                 "%llu) without it",
                 (unsigned)n->id, (unsigned long long)n->acked_index,
                 (unsigned long long)sim_log_last(&n->syn.log),
                 (unsigned long long)n->syn.snap_index);
    n->acked_index = 0;
    n->acked_term = 0;
    n->acked_chain = 0;
}

void sim_check_majority(struct sim_world *w)
{
    uint64_t chain = 0;
    raft_index m = sim_check_max_applied(w, &chain);
    if (m == 0 || chain == 0 || w->failed)
        return;
    uint32_t voters = 0, holders = 0;
    for (uint32_t k = 0; k < w->conf.n; k++) {
        if (!w->conf.m[k].voter)
            continue;
        voters++;
        const struct sim_node *n = &w->node[w->conf.m[k].id];
        if (n->started && sim_disk_holds(n->up ? &n->cur : &n->syn, m, chain))
            holders++;
    }
    /* Every majority (voters / 2 + 1) must include a holder. */
    if (holders <= voters - (voters / 2 + 1))
        sim_fail(w, "durable-majority",
                 "entry %llu was applied but only %u of %u voters' disks hold it",
                 (unsigned long long)m, (unsigned)holders, (unsigned)voters);
}
