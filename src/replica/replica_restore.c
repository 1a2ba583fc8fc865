/* replica_restore.c: replacing the state machine with the current snapshot's
 * state, at start-up, at a reload, and when a follower installs a leader's
 * snapshot.
 *
 * Three steps, as taking a snapshot has (replica_snap.c), so the slow middle one
 * can run beside the loop:
 *   begin (loop): opens the snapshot file on a descriptor of its own, which keeps
 *     it readable even if a newer snapshot replaces it meanwhile;
 *   decode (any thread): reads the payload in pieces and decodes it into a new
 *     struct kv. It touches nothing but r->restore: not the core, not storage,
 *     not the live state machine;
 *   finish (loop): swaps the new state in (the struct kv keeps its address, which
 *     the shell holds), releases the old one and the core's held entries.
 * After an install vesperd decodes on a thread (ops->restore_background). The
 * loop goes on meanwhile: the follower appends and acknowledges entries, answers
 * heartbeats and votes; the core hands out no committed entries and no reads, and
 * starts no election (raft_hold_apply), until finish, because what follows the
 * snapshot must reach the new state. Start-up, a reload, the simulation's seeds
 * without a decode delay and vesperd when it cannot start a thread run the three
 * in a row: the order of the loop is the same code either way.
 *
 * A decode that fails is fail stop at finish, as it was when the restore ran on
 * the loop: storage checked the CRC of the bytes it wrote before the install, so
 * they are what the leader sent (damage on the disk itself shows at the next
 * start, whose recovery checks the file again).
 */
#include "replica/replica.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_snap.h"

/* The payload is read in pieces: storage hands it out lazily (snapshot_lazy), so
 * restoring a large state never holds a second copy of it. */
#define STREAM_PIECE (1u << 20)

struct snap_stream {
    struct replica_restore *job;
    uint64_t pos; /* payload bytes read from the file */
    uint8_t *buf;
    size_t have, used;
    bool io_error;
};

static uint64_t now_us(struct replica *r)
{
    return r->ops->now_us ? r->ops->now_us(r->arg) : 0;
}

static int stream_read(void *ctx, void *out, size_t len)
{
    struct snap_stream *ss = ctx;
    struct replica_restore *j = ss->job;
    uint8_t *dst = out;
    while (len) {
        if (ss->used == ss->have) {
            uint64_t left = j->meta.len - ss->pos;
            size_t want = left < STREAM_PIECE ? (size_t)left : STREAM_PIECE;
            if (want == 0 || atomic_load(&j->stop))
                return -1; /* the decoder wants more than the payload holds, or dropped */
            ssize_t got =
                storage_pread_all(j->sys, j->fd, ss->buf, want, j->meta.data_off + ss->pos);
            if (got != (ssize_t)want) {
                ss->io_error = true;
                return -1;
            }
            ss->have = want;
            ss->used = 0;
            ss->pos += want;
        }
        size_t n = ss->have - ss->used < len ? ss->have - ss->used : len;
        memcpy(dst, ss->buf + ss->used, n);
        ss->used += n;
        dst += n;
        len -= n;
    }
    return 0;
}

int replica_restore_decode(struct replica *r)
{
    struct replica_restore *j = &r->restore;
    uint64_t t0 = now_us(r);
    struct snap_stream ss = {.job = j, .buf = malloc(STREAM_PIECE)};
    if (!ss.buf) {
        snprintf(j->err, sizeof j->err, "out of memory");
        return -1;
    }
    int rc = kv_snap_read(stream_read, &ss, &j->fresh, j->err, sizeof j->err);
    if (rc == 0 && (ss.pos != j->meta.len || ss.used != ss.have)) {
        snprintf(j->err, sizeof j->err, "snapshot: %llu trailing bytes",
                 (unsigned long long)(j->meta.len - ss.pos + (ss.have - ss.used)));
        kv_free(j->fresh);
        j->fresh = NULL;
        rc = -1;
    }
    if (rc != 0 && ss.io_error)
        snprintf(j->err, sizeof j->err, "snapshot %llu: read error",
                 (unsigned long long)j->meta.index);
    free(ss.buf);
    j->decode_us = now_us(r) - t0;
    return rc;
}

static void close_file(struct replica_restore *j)
{
    if (j->fd >= 0)
        j->sys->close(j->fd);
    j->fd = -1;
}

/* s: the current snapshot as storage checked it (where its payload lies). */
static int begin(struct replica *r, const struct storage_snapshot *s, char *err, size_t err_len)
{
    struct replica_restore *j = &r->restore;
    replica_restore_drop(r); /* an older install still decoding: this one replaces it */
    struct storage_snapshot cur;
    if (storage_snapshot_open(r->st, &j->fd, &cur) != STORAGE_OK) {
        snprintf(err, err_len, "%s", storage_errmsg(r->st));
        return -1;
    }
    j->meta = *s;
    j->meta.data = NULL;
    j->sys = storage_sys_of(r->st);
    if (cur.index != s->index) {
        close_file(j);
        snprintf(err, err_len, "snapshot %llu is not the current one",
                 (unsigned long long)s->index);
        return -1;
    }
    j->fresh = NULL;
    j->err[0] = '\0';
    atomic_store(&j->stop, false);
    j->started_us = now_us(r);
    j->decode_us = 0;
    j->running = true;
    j->background = false;
    return 0;
}

/* Lets the core hand out entries again. Inside a ready (an install finished or
 * replaced on the loop) no raft_* call is allowed: process_one sets the hold from
 * replica_restoring() after raft_advance instead. */
static void release_hold(struct replica *r)
{
    if (r->raft && !r->in_ready)
        raft_hold_apply(r->raft, false);
}

/* Swaps the contents so the struct kv keeps its address (the shell holds it). */
static void swap_in(struct replica *r)
{
    struct replica_restore *j = &r->restore;
    struct kv *old = j->fresh;
    struct kv tmp = *r->kv;
    *r->kv = *old;
    *old = tmp;
    j->fresh = NULL;
    kv_hist_limit(r->kv, r->cfg.hist_events, r->cfg.hist_bytes);
    kv_hist_trim(r->kv); /* a window from a writer with larger limits */
    if (r->ops->release_state)
        r->ops->release_state(r->arg, old);
    else
        kv_free(old);
    replica_lease_reset(r);
    r->applied_conf = j->meta.conf;
}

/* 0, or -1 with err set: the decode's reason. */
static int finish(struct replica *r, char *err, size_t err_len)
{
    struct replica_restore *j = &r->restore;
    j->running = false;
    close_file(j);
    release_hold(r);
    if (!j->fresh) {
        snprintf(err, err_len, "snapshot %llu: %s", (unsigned long long)j->meta.index, j->err);
        return -1;
    }
    swap_in(r);
    if (r->ops->restored)
        r->ops->restored(r->arg, &j->meta);
    return 0;
}

int replica_restore_current(struct replica *r, const struct storage_snapshot *s, char *err,
                            size_t err_len)
{
    if (begin(r, s, err, err_len) != 0)
        return -1;
    replica_restore_decode(r);
    return finish(r, err, err_len);
}

static int fail(struct replica *r, const char *why)
{
    r->failed = true;
    r->ops->fail_stop(r->arg, "snapshot restore", why);
    return -1;
}

int replica_restore_installed(struct replica *r, const struct storage_snapshot *s)
{
    char err[512];
    if (begin(r, s, err, sizeof err) != 0)
        return fail(r, err);
    struct replica_restore *j = &r->restore;
    if (r->ops->restore_background && r->ops->restore_background(r->arg)) {
        j->background = true;
        replica_log(r, REPLICA_LOG_INFO,
                    "snapshot %llu: restoring the state from it beside the loop",
                    (unsigned long long)j->meta.index);
        return 0; /* the loop holds the core's apply after this ready */
    }
    replica_restore_decode(r);
    return replica_restore_finish(r);
}

int replica_restore_finish(struct replica *r)
{
    struct replica_restore *j = &r->restore;
    if (!j->running || r->failed)
        return r->failed ? -1 : 0;
    uint64_t t0 = now_us(r);
    bool background = j->background;
    char err[512];
    if (finish(r, err, sizeof err) != 0)
        return fail(r, err);
    uint64_t t1 = now_us(r);
    replica_log(r, REPLICA_LOG_INFO,
                "state restored from snapshot %llu: decoded in %llu ms%s, swapped in %llu us, "
                "%llu ms after the install",
                (unsigned long long)j->meta.index, (unsigned long long)j->decode_us / 1000,
                background ? " beside the loop" : " on the loop", (unsigned long long)(t1 - t0),
                (unsigned long long)(t1 - j->started_us) / 1000);
    return 0;
}

void replica_restore_drop(struct replica *r)
{
    struct replica_restore *j = &r->restore;
    if (!j->running)
        return;
    atomic_store(&j->stop, true);
    if (j->background)
        r->ops->restore_join(r->arg);
    j->running = false;
    close_file(j);
    kv_free(j->fresh);
    j->fresh = NULL;
    release_hold(r);
}

bool replica_restoring(const struct replica *r)
{
    return r->restore.running;
}
