/* snaprecv.c: a follower receiving and installing a leader's snapshot.
 *
 * The chunks are the exact bytes of the leader's file, written at their offsets
 * into recv.snap.tmp. finish() syncs the file and checks the header and the
 * whole-file CRC, so a transfer damaged anywhere is rejected before it can replace
 * anything; then rename and directory fsync make it the snapshot. The CRC is
 * computed chunk by chunk as the bytes are written (they arrive in order), so
 * finish() reads only the header and the trailer back instead of the whole file:
 * for a 150 MB state that pass held a follower's loop for about 100 ms. Writes
 * out of order (the core never makes them) fall back to reading the file.
 *
 * Discarding the log (STORAGE_DROP_ALL, or KEEP_AFTER when the WAL does not hold
 * the snapshot's (index, term): see terms.c) is made durable with a REC_MARK record
 * after the rename: replay treats it as "the log before this point is void". A
 * crash between the rename and the mark is caught at recovery, which drops log
 * entries after a snapshot whose own index holds a different term in the log
 * (Figure 13, step 7: such a log conflicts with the snapshot).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "storage/internal.h"
#include "util/crc32c.h"

#define RECV_TMP "recv.snap.tmp"

/* The received file is synced every few MiB as it arrives. Written back alone
 * (storage_writeback), its data reach the disk as they come, but the file system's
 * record of the new blocks does not: one fsync at the end paid for all of them at
 * once, about 0.8 ms per MiB on ext4 here (115 ms on the loop for a 150 MB state).
 * Synced every 4 MiB, each sync takes a few milliseconds and the last one almost
 * nothing. Durability still comes from the fsync in finish(). */
#define RECV_SYNC_BYTES (4u << 20)

int storage_snapshot_recv_begin(struct storage *st, raft_index index, raft_term term)
{
    int rc = st_check_writable(st);
    if (rc)
        return rc;
    if (st->recv_fd >= 0)
        storage_snapshot_recv_abort(st);
    char path[STORAGE_PATH_MAX];
    st_path(st->dir, RECV_TMP, path, sizeof path);
    st->recv_fd = st->sys->open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (st->recv_fd < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: create %s: %s", RECV_TMP, strerror(errno));
    st->recv_index = index;
    st->recv_term = term;
    st->recv_crc = (struct st_crc_known){0, 0};
    st->recv_synced = 0;
    st->recv_in_order = true;
    return 0;
}

/* Folds a write into the running CRC, which covers every byte written so far but
 * the last 4 (the file's trailer, once the last chunk is in). A write that does
 * not continue the last one leaves the check to a full read of the file. */
static void crc_fold(struct storage *st, uint64_t offset, const uint8_t *data, size_t len)
{
    struct st_crc_known *k = &st->recv_crc;
    if (!st->recv_in_order || offset != k->len) {
        st->recv_in_order = false;
        return;
    }
    size_t held = k->len < 4 ? (size_t)k->len : 4; /* bytes in recv_tail */
    uint8_t joined[8];
    if (held + len <= sizeof joined) { /* a tiny write: fold what leaves the tail */
        memcpy(joined, st->recv_tail + 4 - held, held);
        memcpy(joined + held, data, len);
        size_t n = held + len;
        size_t out = n > 4 ? n - 4 : 0;
        k->crc = crc32c(k->crc, joined, out);
        memcpy(st->recv_tail + 4 - (n - out), joined + out, n - out);
    } else {
        k->crc = crc32c(k->crc, st->recv_tail + 4 - held, held);
        k->crc = crc32c(k->crc, data, len - 4);
        memcpy(st->recv_tail, data + len - 4, 4);
    }
    k->len += len;
}

int storage_snapshot_recv_write(struct storage *st, uint64_t offset, const void *data, size_t len)
{
    int rc = st_check_writable(st);
    if (rc)
        return rc;
    if (st->recv_fd < 0)
        return st_error(st, STORAGE_EINVAL, "snapshot: write without recv_begin");
    if (storage_pwrite_all(st->sys, st->recv_fd, data, len, offset) < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: write %s at offset %llu: %s", RECV_TMP,
                       (unsigned long long)offset, strerror(errno));
    storage_writeback(st->sys, st->recv_fd, offset, len, false); /* the final fsync stays short */
    crc_fold(st, offset, data, len);
    if (offset + len >= st->recv_synced + RECV_SYNC_BYTES) {
        if (st->sys->fdatasync(st->recv_fd) < 0)
            return st_fail(st, STORAGE_EIO, "snapshot: fdatasync %s: %s", RECV_TMP,
                           strerror(errno));
        st->recv_synced = offset + len;
    }
    return 0;
}

void storage_snapshot_recv_abort(struct storage *st)
{
    if (st->recv_fd < 0)
        return;
    st->sys->close(st->recv_fd);
    st->recv_fd = -1;
    char path[STORAGE_PATH_MAX];
    st_path(st->dir, RECV_TMP, path, sizeof path);
    (void)st->sys->unlink(path); /* a leftover .tmp is removed at the next open anyway */
}

/* Syncs and validates the received file. Returns 0 with *snap loaded. */
static int recv_validate(struct storage *st, struct storage_snapshot *snap)
{
    if (st->sys->fsync(st->recv_fd) < 0)
        return st_fail(st, STORAGE_EIO, "snapshot: fsync %s: %s", RECV_TMP, strerror(errno));
    char path[STORAGE_PATH_MAX];
    st_path(st->dir, RECV_TMP, path, sizeof path);
    const char *why;
    const struct st_crc_known *known = st->recv_in_order ? &st->recv_crc : NULL;
    int rc = st_snap_get_file(st->sys, st->opt.snapshot_lazy, path, known, snap, &why);
    if (rc == STORAGE_EIO)
        return st_fail(st, rc, "snapshot: read back %s: %s", RECV_TMP, why);
    if (rc == 0 && (snap->index != st->recv_index || snap->term != st->recv_term)) {
        why = "index or term differ from the announced ones";
        storage_snapshot_free(snap);
        rc = STORAGE_ECORRUPT;
    }
    if (rc) {
        unsigned long long idx = st->recv_index;
        storage_snapshot_recv_abort(st);
        return st_error(st, rc, "snapshot: received snapshot %llu rejected: %s", idx, why);
    }
    return 0;
}

int storage_snapshot_recv_finish(struct storage *st, enum storage_install mode,
                                 struct storage_snapshot *out)
{
    int rc = st_check_writable(st);
    if (rc)
        return rc;
    if (st->recv_fd < 0)
        return st_error(st, STORAGE_EINVAL, "snapshot: finish without recv_begin");
    struct storage_snapshot snap;
    rc = recv_validate(st, &snap);
    if (rc)
        return rc;
    st->sys->close(st->recv_fd);
    st->recv_fd = -1;
    char tmp[STORAGE_PATH_MAX], name[64], path[STORAGE_PATH_MAX];
    st_path(st->dir, RECV_TMP, tmp, sizeof tmp);
    st_snap_name(snap.index, snap.term, "", name, sizeof name);
    st_path(st->dir, name, path, sizeof path);
    if (st->sys->rename(tmp, path) < 0)
        rc = st_fail(st, STORAGE_EIO, "snapshot: rename to %s: %s", name, strerror(errno));
    else if (storage_fsync_dir(st->sys, st->dir) < 0)
        rc =
            st_fail(st, STORAGE_EIO, "snapshot: fsync directory for %s: %s", name, strerror(errno));
    /* Keep the log after the snapshot only if the log WRITTEN here holds (index,
     * term) (Figure 13, step 6). The caller's KEEP_AFTER reflects the core's log,
     * which may already run past the snapshot with entries that replace a stale
     * suffix of ours in this same iteration: those are still only buffered or not
     * even appended, while the WAL's entry at the index is the stale one. */
    raft_term have = st_terms_at(st, snap.index);
    bool known = st->n_runs && snap.index >= st->runs[0].first; /* not below our snapshot */
    bool conflict = st->last_index < snap.index || (known && have != snap.term);
    if (rc == 0 && mode == STORAGE_KEEP_AFTER && conflict && st->last_index >= snap.index)
        st_log(&st->opt,
               "snapshot %llu: the log holds term %llu there, not %llu; its entries are dropped",
               (unsigned long long)snap.index, (unsigned long long)have,
               (unsigned long long)snap.term);
    if (rc == 0 && (mode == STORAGE_DROP_ALL || conflict)) {
        rc = st_wal_mark(st, snap.index, snap.term, REC_FLAG_DROP_ALL);
        if (rc == 0) {
            st->last_index = st->written_index = st->synced_index = snap.index;
            st->last_term = snap.term;
            if (st_terms_reset(st, snap.index, snap.term))
                rc = st_fail(st, STORAGE_ENOMEM, "snapshot: term index: out of memory");
        }
    }
    if (rc == 0)
        rc = st_snap_adopt(st, snap.index, snap.term, &snap.conf, snap.size, snap.index + 1);
    if (rc == 0 && out)
        *out = snap;
    else
        storage_snapshot_free(&snap);
    return rc;
}
