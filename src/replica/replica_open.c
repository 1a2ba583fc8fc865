/* replica_open.c: bringing a replica up from its data directory, taking it down,
 * reloading it after a rejected snapshot transfer, and the helpers the loop
 * shares (fail stop, log lines).
 *
 * Recovery is storage_open() (newest snapshot, then the WAL after it), the state
 * machine restored from that snapshot, and a core started from the recovered
 * hard state and log. The same function serves a restart and a reload, so a
 * reload is exactly what a restart would find.
 */
#include "replica/replica.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_snap.h"

void replica_log(struct replica *r, enum replica_log_level level, const char *fmt, ...)
{
    if (!r->ops->log)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->ops->log(r->arg, level, line);
}

int replica_fail(struct replica *r, const char *what)
{
    if (r->failed)
        return -1;
    r->failed = true;
    r->ops->fail_stop(r->arg, what, r->st ? storage_errmsg(r->st) : "storage is closed");
    return -1;
}

static int open_state(struct replica *r, char *err, size_t err_len)
{
    struct storage_boot boot;
    char why[512];
    if (storage_open(&r->st, r->cfg.dir, &r->cfg.sopt, &boot, why, sizeof why) != STORAGE_OK) {
        r->st = NULL;
        snprintf(err, err_len, "storage: %s", why);
        return -1;
    }
    if (r->ops->recovered)
        r->ops->recovered(r->arg, &boot);
    int sy = r->cfg.sync_mode == REPLICA_SYNC_THREAD   ? storage_sync_thread_start(r->st)
             : r->cfg.sync_mode == REPLICA_SYNC_MANUAL ? storage_sync_manual_start(r->st)
                                                       : STORAGE_OK;
    if (sy != STORAGE_OK) {
        snprintf(err, err_len, "storage: %s", storage_errmsg(r->st));
        goto fail;
    }
    r->hs_term = boot.hs.term;
    r->hs_vote = boot.hs.vote;
    if (!r->kv)
        r->kv = kv_new(r->cfg.max_sessions);
    if (!r->kv) {
        snprintf(err, err_len, "kv: out of memory");
        goto fail;
    }
    kv_hist_limit(r->kv, r->cfg.hist_events, r->cfg.hist_bytes);
    struct raft_boot rb = {.hs = boot.hs, .entries = boot.entries, .n_entries = boot.n_entries};
    rb.initial = r->cfg.initial;
    r->applied_conf = rb.initial;
    if (boot.snap.index) {
        if (replica_restore_current(r, &boot.snap, err, err_len) != 0)
            goto fail;
        rb.snap_index = boot.snap.index;
        rb.snap_term = boot.snap.term;
        rb.snap_size = boot.snap.size;
        rb.snap_conf = boot.snap.conf;
    }
    int rv = raft_new(&r->raft, &r->cfg.rc, &rb);
    if (rv != RAFT_OK) {
        r->raft = NULL;
        snprintf(err, err_len, "raft: %s", raft_strerror(rv));
        goto fail;
    }
    replica_log(r, REPLICA_LOG_INFO,
                "recovered: term %llu, snapshot %llu, %zu log entries, commit %llu",
                (unsigned long long)boot.hs.term, (unsigned long long)boot.snap.index,
                boot.n_entries, (unsigned long long)boot.hs.commit);
    storage_boot_free(&boot);
    r->last_role = raft_role(r->raft);
    return 0;
fail:
    storage_boot_free(&boot);
    storage_close(r->st);
    r->st = NULL;
    return -1;
}

int replica_open(struct replica *r, const struct replica_config *cfg, const struct replica_ops *ops,
                 void *arg, char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->cfg.sopt.snapshot_lazy = true; /* the restore streams the payload */
    r->ops = ops;
    r->arg = arg;
    if (open_state(r, err, err_len) != 0) {
        kv_free(r->kv);
        r->kv = NULL;
        return -1;
    }
    return 0;
}

void replica_close(struct replica *r)
{
    replica_restore_drop(r);
    if (r->st)
        storage_close(r->st);
    raft_free(r->raft);
    kv_free(r->kv);
    free(r->snap_buf);
    replica_lease_free(&r->leases);
    r->st = NULL;
    r->raft = NULL;
    r->kv = NULL;
    r->snap_buf = NULL;
    r->snap_buf_cap = 0;
}

/* A transfer that fails validation (storage_snapshot_recv_finish: ECORRUPT) was
 * already accepted by the core, which now disagrees with the disk. Start over
 * from the disk, exactly as a restart would, instead of exiting: the state on
 * disk is intact and the leader will send the snapshot again. */
int replica_reload(struct replica *r, const char *why)
{
    replica_log(r, REPLICA_LOG_ERROR, "%s: %s; reloading state from the data directory", why,
                storage_errmsg(r->st));
    if (storage_sync_wait(r->st) != STORAGE_OK) /* a failed sync is not forgotten */
        return replica_fail(r, "sync");
    replica_restore_drop(r); /* recovery restores from disk anyway */
    if (r->ops->reloading)
        r->ops->reloading(r->arg);
    storage_close(r->st);
    raft_free(r->raft);
    kv_free(r->kv);
    replica_lease_reset(r);
    r->st = NULL;
    r->raft = NULL;
    r->kv = NULL;
    char err[512];
    if (open_state(r, err, sizeof err) != 0) {
        r->failed = true;
        r->ops->fail_stop(r->arg, "reload", err);
        return -1;
    }
    if (r->ops->reloaded)
        r->ops->reloaded(r->arg);
    return 0;
}
