/* replica_snap.c: taking a snapshot of the applied state, in three steps so that
 * the slow middle one can run away from the loop (see replica.h).
 *
 * prepare: on the loop, names what the snapshot will be (the applied index, its
 * term and configuration). write: encodes the state machine and writes the file;
 * it changes nothing but the file system, so vesperd runs it in a forked child
 * (src/node/snapfork.c) on a copy-on-write image of the process while the loop
 * goes on. finish: on the loop again, adopts the file (storage compacts the log
 * behind it) and tells the core. The simulation, and vesperd when it cannot fork,
 * run the three in a row (replica_snapshot), so the loop order is the same code.
 */
#include "replica/replica.h"

#include <stdlib.h>

#include "kv/kv.h"
#include "kv/kv_snap.h"

static uint64_t now_us(struct replica *r)
{
    return r->ops->now_us ? r->ops->now_us(r->arg) : 0;
}

int replica_snapshot_prepare(struct replica *r, struct replica_snap_job *job)
{
    if (r->failed)
        return -1;
    struct raft_status st;
    raft_status(r->raft, &st);
    raft_index index = kv_applied_index(r->kv);
    if (index <= st.snap_index || index <= storage_snapshot_index(r->st))
        return 0;
    *job = (struct replica_snap_job){
        .index = index,
        .term = kv_applied_term(r->kv),
        .conf = r->applied_conf,
        .started_us = now_us(r),
    };
    return 1;
}

/* kv_snap_write's output, straight into the file. */
struct snap_stream {
    struct storage_snap_writer w;
    int storage_rc;
};

static int stream_piece(void *ctx, const void *buf, size_t len)
{
    struct snap_stream *s = ctx;
    s->storage_rc = storage_snapshot_append(&s->w, buf, len);
    return s->storage_rc == STORAGE_OK ? 0 : -1;
}

int replica_snapshot_write(struct replica *r, struct replica_snap_job *job)
{
    if (kv_applied_index(r->kv) != job->index)
        return -1;
    /* A writer of its own waits for each piece to reach the disk, so the WAL's
     * fdatasyncs wait behind less; the loop must not wait (sys.h). */
    struct snap_stream s = {.storage_rc = STORAGE_OK};
    if (storage_snapshot_begin(r->st, job->index, job->term, &job->conf, job->forked, &s.w) !=
        STORAGE_OK)
        return -2;
    if (kv_snap_write(r->kv, stream_piece, &s, NULL) != 0) {
        storage_snapshot_abort(&s.w);
        return s.storage_rc != STORAGE_OK ? -2 : -1;
    }
    return storage_snapshot_end(&s.w, &job->size) == STORAGE_OK ? 0 : -2;
}

int replica_snapshot_finish(struct replica *r, const struct replica_snap_job *job, bool written)
{
    if (r->failed)
        return -1;
    if (job->index <= storage_snapshot_index(r->st)) {
        replica_log(r, REPLICA_LOG_INFO, "snapshot at %llu dropped: a newer one is in place",
                    (unsigned long long)job->index);
        return 0;
    }
    if (!written)
        return replica_fail(r, "snapshot write");
    uint64_t trailing = r->cfg.snapshot_trailing;
    raft_index keep = job->index > trailing ? job->index - trailing + 1 : 1;
    if (storage_snapshot_adopt(r->st, job->index, job->term, &job->conf, job->size, keep) !=
        STORAGE_OK)
        return replica_fail(r, "snapshot save");
    raft_snapshot_taken(r->raft, job->index, job->size, trailing);
    uint64_t took = now_us(r) - job->started_us;
    r->stats.snapshots_taken++;
    r->stats.snapshot_us_total += took;
    replica_log(r, REPLICA_LOG_INFO, "snapshot taken at %llu (%llu bytes, %llu ms%s)",
                (unsigned long long)job->index, (unsigned long long)job->size,
                (unsigned long long)took / 1000, job->forked ? ", by a forked writer" : "");
    return 0;
}

int replica_snapshot(struct replica *r)
{
    struct replica_snap_job job;
    int due = replica_snapshot_prepare(r, &job);
    if (due <= 0)
        return due;
    int rv = replica_snapshot_write(r, &job);
    if (rv == -2)
        return replica_fail(r, "snapshot save");
    if (rv != 0) {
        r->failed = true;
        r->ops->fail_stop(r->arg, "snapshot", "encode failed");
        return -1;
    }
    return replica_snapshot_finish(r, &job, true);
}

int replica_maybe_snapshot(struct replica *r)
{
    if (!storage_should_snapshot(r->st))
        return 0;
    if (r->ops->snapshot_background && r->ops->snapshot_background(r->arg))
        return r->failed ? -1 : 0;
    return replica_snapshot(r);
}
