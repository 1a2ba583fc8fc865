/* terms.c: the term of every index of the log, kept as runs of equal terms.
 *
 * A follower installing a snapshot (index S, term T) may keep its log after S only
 * if the log really holds (S, T) (Raft Figure 13, step 6). The caller's own view
 * can differ from the WAL's: in one loop iteration the core may accept the
 * snapshot and then entries after S that replace a conflicting suffix, so its log
 * runs past S while the WAL's entry at S is still the stale one. Storage decides
 * from what it wrote, and these runs are how it knows the term at S without
 * reading the WAL back: one run per term change, a handful in practice.
 *
 * The runs cover [runs[0].first, st->last_index]; the snapshot's index is the
 * first covered index after an install or a compaction.
 */
#include <stdlib.h>

#include "storage/internal.h"

static int terms_push(struct storage *st, raft_index first, raft_term term)
{
    if (st->n_runs == st->cap_runs) {
        size_t cap = st->cap_runs ? 2 * st->cap_runs : 16;
        struct term_run *r = realloc(st->runs, cap * sizeof *r);
        if (!r)
            return -1;
        st->runs = r;
        st->cap_runs = cap;
    }
    st->runs[st->n_runs++] = (struct term_run){.first = first, .term = term};
    return 0;
}

int st_terms_append(struct storage *st, raft_index index, raft_term term)
{
    while (st->n_runs && st->runs[st->n_runs - 1].first >= index)
        st->n_runs--; /* a suffix truncation */
    if (st->n_runs && st->runs[st->n_runs - 1].term == term)
        return 0;
    return terms_push(st, index, term);
}

int st_terms_reset(struct storage *st, raft_index index, raft_term term)
{
    st->n_runs = 0;
    return index ? terms_push(st, index, term) : 0;
}

raft_term st_terms_at(const struct storage *st, raft_index index)
{
    if (index > st->last_index)
        return 0;
    for (size_t i = st->n_runs; i-- > 0;)
        if (st->runs[i].first <= index)
            return st->runs[i].term;
    return 0; /* before what is known */
}

void st_terms_compact(struct storage *st, raft_index before)
{
    size_t drop = 0;
    while (drop + 1 < st->n_runs && st->runs[drop + 1].first <= before)
        drop++;
    for (size_t i = drop; i < st->n_runs; i++)
        st->runs[i - drop] = st->runs[i];
    st->n_runs -= drop;
}
