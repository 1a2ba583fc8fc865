/* read.c: linearizable reads by ReadIndex (thesis 6.4).
 *
 * A read is registered on the leader with the current commit index as its read
 * index, then waits for a heartbeat round sent after it to be acknowledged by a
 * majority: that proves no newer leader had been elected when the read began, so
 * every write acknowledged before it is at or below the read index. It is
 * released once the state machine has applied through that index (the shell
 * applies a ready's committed entries before answering its reads). A new leader
 * does not know the true commit index until its no-op commits, so reads that
 * arrive earlier wait for it. Reads registered during one loop iteration share
 * one heartbeat round.
 */
#include "internal.h"

#include <stdlib.h>

static int push_result(struct raft *r, uint64_t id, bool ok, raft_index index)
{
    if (r->n_results == r->cap_results) {
        size_t cap = r->cap_results ? r->cap_results * 2 : 16;
        struct raft_read_result *v = realloc(r->results, cap * sizeof *v);
        if (!v)
            return RAFT_ENOMEM;
        r->results = v;
        r->cap_results = cap;
    }
    r->results[r->n_results++] = (struct raft_read_result){.read_id = id, .ok = ok, .index = index};
    return RAFT_OK;
}

int raft__read_request(struct raft *r, uint64_t id)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (r->n_reads == r->cap_reads) {
        size_t cap = r->cap_reads ? r->cap_reads * 2 : 16;
        struct raft__read *v = realloc(r->reads, cap * sizeof *v);
        if (!v)
            return RAFT_ENOMEM;
        r->reads = v;
        r->cap_reads = cap;
    }
    struct raft__read *rd = &r->reads[r->n_reads++];
    rd->id = id;
    rd->index = 0;
    rd->seq = 0;
    if (r->commit >= r->term_start) {
        rd->index = r->commit;
        rd->seq = r->read_seq + 1;
    }
    return RAFT_OK;
}

void raft__reads_flush(struct raft *r)
{
    if (!r->n_reads || r->reads[r->n_reads - 1].seq <= r->read_seq)
        return;
    r->read_seq++;
    raft__heartbeat_round(r);
    raft__reads_check(r);
}

/* The highest round a majority of voters (the leader included) acknowledged. */
static uint64_t confirmed_seq(struct raft *r)
{
    uint64_t v[RAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t k = 0; k < r->conf.n; k++) {
        const struct raft_member *mb = &r->conf.m[k];
        if (!mb->voter)
            continue;
        if (mb->id == r->cfg.id) {
            v[n++] = r->read_seq;
        } else {
            struct raft__progress *pr = raft__progress(r, mb->id);
            v[n++] = pr ? pr->acked_seq : 0;
        }
    }
    if (!n)
        return 0;
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j] > v[j - 1]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

void raft__reads_check(struct raft *r)
{
    if (r->role != RAFT_LEADER || !r->n_reads)
        return;
    if (r->commit >= r->term_start) {
        for (size_t k = 0; k < r->n_reads; k++) {
            if (r->reads[k].seq)
                continue;
            r->reads[k].index = r->commit;
            r->reads[k].seq = r->read_seq + 1;
        }
    }
    uint64_t ok_seq = confirmed_seq(r);
    size_t done = 0;
    while (done < r->n_reads) {
        struct raft__read *rd = &r->reads[done];
        if (!rd->seq || rd->seq > ok_seq || rd->index > r->commit)
            break;
        if (push_result(r, rd->id, true, rd->index) != RAFT_OK)
            break;
        done++;
    }
    if (done) {
        for (size_t k = done; k < r->n_reads; k++)
            r->reads[k - done] = r->reads[k];
        r->n_reads -= done;
    }
}

void raft__reads_fail_all(struct raft *r)
{
    for (size_t k = 0; k < r->n_reads; k++)
        push_result(r, r->reads[k].id, false, 0);
    r->n_reads = 0;
}
