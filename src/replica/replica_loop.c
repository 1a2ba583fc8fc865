/* replica_loop.c: the Ready loop, the one place where the ordering rules between
 * the disk, the network, the state machine and the clients live (the order is
 * spelled out in replica.h). vesperd runs it after every event-loop iteration;
 * the simulation runs it after every simulated event, over the same storage and
 * state machine code.
 */
#include "replica/replica.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"

/* ===== Writing ===== */

static uint64_t now_us(struct replica *r)
{
    return r->ops->now_us ? r->ops->now_us(r->arg) : 0;
}

/* 1 to go on, 0 when the ready must be abandoned (the state was reloaded), -1 on
 * failure. */
static int persist_snapshot(struct replica *r, const struct raft_ready *rd)
{
    if (rd->chunk) {
        const struct raft_snap_chunk *c = rd->chunk;
        if (c->first &&
            storage_snapshot_recv_begin(r->st, c->snap_index, c->snap_term) != STORAGE_OK)
            return replica_fail(r, "snapshot receive");
        if (storage_snapshot_recv_write(r->st, c->offset, c->data, c->len) != STORAGE_OK)
            return replica_fail(r, "snapshot receive");
    }
    if (!rd->install)
        return 1;
    struct raft_status st;
    raft_status(r->raft, &st);
    enum storage_install mode =
        st.last_index > rd->install->index ? STORAGE_KEEP_AFTER : STORAGE_DROP_ALL;
    struct storage_snapshot snap = {0};
    uint64_t t0 = now_us(r);
    int rv = storage_snapshot_recv_finish(r->st, mode, &snap);
    if (rv == STORAGE_ECORRUPT)
        return replica_reload(r, "snapshot install rejected") == 0 ? 0 : -1;
    if (rv != STORAGE_OK)
        return replica_fail(r, "snapshot install");
    replica_log(r, REPLICA_LOG_INFO, "snapshot installed at %llu term %llu (%llu bytes, %llu ms)",
                (unsigned long long)rd->install->index, (unsigned long long)rd->install->term,
                (unsigned long long)rd->install->size, (unsigned long long)(now_us(r) - t0) / 1000);
    r->stats.snapshots_installed++;
    int ok = replica_restore_installed(r, &snap);
    storage_snapshot_free(&snap);
    return ok == 0 ? 1 : -1;
}

static int persist(struct replica *r, const struct raft_ready *rd)
{
    int go = persist_snapshot(r, rd);
    if (go <= 0)
        return go;
    if (rd->hs_changed) {
        if (storage_save_hard_state(r->st, &rd->hs) != STORAGE_OK)
            return replica_fail(r, "hard state");
        r->hs_term = rd->hs.term;
        r->hs_vote = rd->hs.vote;
    }
    if (rd->n_entries && storage_append(r->st, rd->entries, rd->n_entries) != STORAGE_OK)
        return replica_fail(r, "append");
    if (r->ops->persisted)
        r->ops->persisted(r->arg, rd);
    return 1;
}

static int sync_storage(struct replica *r)
{
    uint64_t t0 = now_us(r);
    if (storage_sync(r->st) != STORAGE_OK)
        return replica_fail(r, "sync");
    if (r->ops->synced)
        r->ops->synced(r->arg, now_us(r) - t0);
    return 0;
}

/* True when the ready's sync may trail the loop: the node leads, and nothing of
 * this ready promises durable state to anyone (no vote or acknowledgement in
 * msgs_sync, no snapshot chunk or install, the term and vote unchanged since they
 * were last made durable). Its entries then reach the followers (step 2) while
 * its own fdatasync runs, and the core counts its copy only from
 * replica_sync_done() (thesis 10.2.1). Decided before persist() records the new
 * hard state. */
static bool sync_may_trail(const struct replica *r, const struct raft_ready *rd)
{
    if (r->cfg.sync_mode == REPLICA_SYNC_INLINE || raft_role(r->raft) != RAFT_LEADER)
        return false;
    if (rd->n_msgs_sync || rd->chunk || rd->install)
        return false;
    return rd->hs.term == r->hs_term && rd->hs.vote == r->hs_vote;
}

static int sync_begin(struct replica *r)
{
    return storage_sync_begin(r->st) == STORAGE_OK ? 0 : replica_fail(r, "sync");
}

int replica_sync_done(struct replica *r)
{
    if (r->failed)
        return -1;
    if (storage_sync_complete(r->st) != STORAGE_OK)
        return replica_fail(r, "sync");
    uint64_t us = storage_sync_take_us(r->st);
    if (us && r->ops->synced)
        r->ops->synced(r->arg, us);
    raft_index i = storage_synced_index(r->st);
    raft_term t;
    if (i && raft_entry_term(r->raft, i, &t))
        raft_durable(r->raft, i, t);
    return 0;
}

/* ===== Sending ===== */

static void send_one(struct replica *r, const struct raft_msg *m)
{
    if (m->type != RAFT_MSG_SNAPSHOT) {
        r->ops->send(r->arg, m);
        return;
    }
    /* The core names a byte range of its snapshot; the bytes come from disk. */
    if (m->len > r->snap_buf_cap) {
        uint8_t *buf = realloc(r->snap_buf, m->len);
        if (!buf)
            return;
        r->snap_buf = buf;
        r->snap_buf_cap = m->len;
    }
    size_t got = 0;
    if (storage_snapshot_read(r->st, m->snap_index, m->offset, r->snap_buf, m->len, &got) !=
            STORAGE_OK ||
        got != m->len)
        return; /* replaced by a newer snapshot: the core restarts the transfer */
    struct raft_msg copy = *m;
    copy.data = r->snap_buf;
    r->ops->send(r->arg, &copy);
}

static void send_all(struct replica *r, const struct raft_msg *msgs, size_t count)
{
    for (size_t k = 0; k < count && !r->failed; k++)
        send_one(r, &msgs[k]);
}

/* ===== Applying ===== */

static int apply_entry(struct replica *r, const struct raft_entry *e)
{
    struct kv_result res = {0};
    struct raft_conf conf;
    switch (e->type) {
    case RAFT_ENTRY_NORMAL:
        kv_apply(r->kv, e->index, e->term, e->data, e->len, &res);
        replica_lease_applied(r, &res);
        break;
    case RAFT_ENTRY_CONF:
        /* The core ignores a configuration it cannot decode; so does the replica,
         * rather than refusing to start on every restart. */
        if (raft_conf_decode(&conf, e->data, e->len) != RAFT_OK) {
            replica_log(r, REPLICA_LOG_ERROR, "configuration entry %llu undecodable: ignored",
                        (unsigned long long)e->index);
            kv_set_applied(r->kv, e->index, e->term);
            break;
        }
        r->applied_conf = conf;
        kv_set_applied(r->kv, e->index, e->term);
        replica_log(r, REPLICA_LOG_INFO, "configuration applied at %llu: %u members",
                    (unsigned long long)e->index, r->applied_conf.n);
        break;
    default:
        kv_set_applied(r->kv, e->index, e->term);
        break;
    }
    r->stats.applied_entries++;
    r->ops->write_done(r->arg, e, &res);
    return 0;
}

static int process_one(struct replica *r)
{
    struct raft_ready rd;
    raft_ready(r->raft, &rd);
    r->in_ready = true;
    bool trail = rd.must_sync && sync_may_trail(r, &rd);
    int go = persist(r, &rd);
    if (go < 0)
        return -1;
    if (go == 0)
        return 0; /* a fresh core from disk: its own readies follow */
    send_all(r, rd.msgs, rd.n_msgs);
    r->ops->flush(r->arg);
    if (rd.must_sync && (trail ? sync_begin(r) : sync_storage(r)) != 0)
        return -1;
    send_all(r, rd.msgs_sync, rd.n_msgs_sync);
    for (size_t k = 0; k < rd.n_committed; k++) {
        if (apply_entry(r, &rd.committed[k]) != 0)
            return -1;
    }
    for (size_t k = 0; k < rd.n_reads; k++)
        r->ops->read_done(r->arg, &rd.reads[k]);
    raft_index last = rd.last_index;
    raft_term last_term = rd.last_term;
    raft_advance(r->raft, &rd);
    r->in_ready = false; /* replica_process also clears it when this returns early */
    /* Held while an install's state is still being decoded (replica_restore.c). */
    raft_hold_apply(r->raft, replica_restoring(r));
    /* A synced ready made everything durable; otherwise the log is durable
     * through last only if no sync is still running. */
    if ((rd.must_sync && !trail) || !storage_sync_pending(r->st))
        raft_durable(r->raft, last, last_term);
    return 0;
}

int replica_process(struct replica *r)
{
    if (r->failed)
        return -1;
    while (raft_has_ready(r->raft)) {
        int rc = process_one(r);
        r->in_ready = false; /* also when it stopped early (a reload brings a new core) */
        if (rc != 0 || r->failed)
            return -1;
    }
    r->ops->flush(r->arg);
    if (r->ops->after_ready)
        r->ops->after_ready(r->arg);
    enum raft_role role = raft_role(r->raft);
    if (r->last_role == RAFT_LEADER && role != RAFT_LEADER)
        r->ops->leadership_lost(r->arg);
    r->last_role = role;
    if (replica_maybe_snapshot(r) != 0)
        return -1;
    return r->failed ? -1 : 0;
}
