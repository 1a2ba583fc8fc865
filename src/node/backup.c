/* backup.c: GET /admin/snapshot, the server side of `vesper snapshot save`.
 *
 * The answer is a backup file (layout in src/util/backup_file.h): a small header,
 * the exact bytes of this node's snapshot file, and a CRC-32C over both. Rules:
 *
 *   - Fresh enough: the request first takes a ReadIndex round, like a
 *     linearizable get (so only the leader answers; a follower redirects, as for
 *     every admin request). Once released, every write acknowledged before the
 *     request began is applied here, at or below the read index.
 *   - Consistent: a snapshot is a state at one index. When the current snapshot
 *     is older than the applied state, one is taken first (between Ready loop
 *     runs, as the loop itself does), so the file's index is the applied index,
 *     which is at least the read index. The key count comes from the live state
 *     at that moment, which is exactly the snapshot's.
 *   - No second copy: the file is streamed from disk in 64 KiB chunks through
 *     h2o's generator (one chunk read each time h2o asks for more), from a
 *     descriptor of its own, so a newer snapshot may replace the file meanwhile
 *     and the node keeps serving between chunks.
 *   - Failure is visible: a read error aborts the response (the client sees a
 *     short body), and the client checks length and CRC before it keeps anything.
 */
#include "node/node.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "kv/kv.h"
#include "storage/storage.h"
#include "util/backup_file.h"
#include "util/crc32c.h"
#include "util/logging.h"

#define CHUNK_BYTES (64 * 1024)

struct snap_stream {
    h2o_generator_t super;
    int fd; /* the snapshot file, or -1 */
    const struct storage_sys
        *sys;       /* storage's calls: its close frees a replaced file off the loop */
    uint64_t off;   /* next byte of the snapshot file to send */
    uint64_t size;  /* bytes of the snapshot file */
    uint64_t index; /* for log lines */
    uint32_t crc;   /* over everything sent so far */
    size_t hdr_len;
    uint8_t hdr[BACKUP_HEADER_MAX];
    uint8_t buf[CHUNK_BYTES + 4]; /* a chunk, and the trailer after the last one */
};

static void stream_dispose(void *p)
{
    struct snap_stream *s = p;
    if (s->fd >= 0)
        s->sys->close(s->fd);
    s->fd = -1;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* h2o asks for the next chunk once the previous one is written to the socket. */
static void stream_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    struct snap_stream *s = (struct snap_stream *)g;
    size_t want = s->size - s->off < CHUNK_BYTES ? (size_t)(s->size - s->off) : CHUNK_BYTES;
    ssize_t got = want ? pread(s->fd, s->buf, want, (off_t)s->off) : 0;
    if (got < 0 || (size_t)got != want) {
        log_error("backup: read snapshot %llu at %llu: %s", (unsigned long long)s->index,
                  (unsigned long long)s->off, got < 0 ? strerror(errno) : "short file");
        h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR); /* the client sees a short file */
        return;
    }
    s->crc = crc32c(s->crc, s->buf, want);
    s->off += want;
    h2o_iovec_t v = h2o_iovec_init(s->buf, want);
    if (s->off < s->size) {
        h2o_send(req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
        return;
    }
    put32(s->buf + want, s->crc);
    v.len += 4;
    log_info("backup: snapshot %llu sent (%llu bytes)", (unsigned long long)s->index,
             (unsigned long long)(s->hdr_len + s->size + 4));
    h2o_send(req, &v, 1, H2O_SEND_STATE_FINAL);
}

static void stream_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    struct snap_stream *s = (struct snap_stream *)g;
    log_warn("backup: client went away after %llu of %llu snapshot bytes",
             (unsigned long long)s->off, (unsigned long long)s->size);
}

static void fill_header(struct snap_stream *s, const struct storage_snapshot *meta, uint64_t keys)
{
    struct backup_header h;
    memset(&h, 0, sizeof h);
    h.index = meta->index;
    h.term = meta->term;
    h.keys = keys;
    h.state_bytes = meta->size;
    for (uint32_t k = 0; k < meta->conf.n && k < BACKUP_MAX_MEMBERS; k++) {
        h.m[k].id = meta->conf.m[k].id;
        h.m[k].voter = meta->conf.m[k].voter;
        snprintf(h.m[k].addr, sizeof h.m[k].addr, "%s", meta->conf.m[k].addr);
    }
    h.n_members = meta->conf.n < BACKUP_MAX_MEMBERS ? meta->conf.n : BACKUP_MAX_MEMBERS;
    s->hdr_len = backup_header_encode(&h, s->hdr);
}

/* Takes the snapshot the backup needs (if the current one is older than the applied
 * state) and starts streaming it. Runs between Ready loop runs. */
static void start_one(struct node *n, h2o_req_t *req, raft_index read_index)
{
    if (n->failed || n->stopping) {
        node_send_error(req, 503, API_ERR_UNAVAILABLE, "stopping");
        return;
    }
    struct raft_status rs;
    raft_status(n->raft, &rs);
    if (kv_applied_index(n->kv) > rs.snap_index) {
        node_snapshot_abandon(n); /* it would write the same temporary file */
        if (replica_snapshot(&n->rep) != 0)
            return; /* fail stop: never returns in vesperd */
    }
    struct snap_stream *s = h2o_mem_alloc_shared(&req->pool, sizeof *s, stream_dispose);
    memset(s, 0, offsetof(struct snap_stream, buf)); /* buf needs no zeroing */
    s->fd = -1;
    s->sys = storage_sys_of(n->st);
    struct storage_snapshot meta;
    if (storage_snapshot_open(n->st, &s->fd, &meta) != STORAGE_OK || meta.index < read_index) {
        log_error("backup: %s", s->fd < 0 ? storage_errmsg(n->st) : "snapshot older than reads");
        node_send_error(req, 503, API_ERR_UNAVAILABLE, "no snapshot at the read index");
        return;
    }
    fill_header(s, &meta, (uint64_t)n->kv->map.count);
    s->size = meta.size;
    s->index = meta.index;
    s->crc = crc32c(0, s->hdr, s->hdr_len);
    s->super.proceed = stream_proceed;
    s->super.stop = stream_stop;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = s->hdr_len + s->size + 4;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/octet-stream"));
    log_info("backup: streaming snapshot %llu (term %llu, %llu keys) for read index %llu",
             (unsigned long long)meta.index, (unsigned long long)meta.term,
             (unsigned long long)n->kv->map.count, (unsigned long long)read_index);
    h2o_start_response(req, &s->super);
    h2o_iovec_t v = h2o_iovec_init(s->hdr, s->hdr_len);
    h2o_send(req, &v, 1, H2O_SEND_STATE_IN_PROGRESS);
}

void node_backups_start(struct node *n)
{
    raft_index read_index;
    h2o_req_t *req;
    while ((req = node_take_backup(n, &read_index)) != NULL)
        start_one(n, req, read_index);
}

int node_on_snapshot(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    if (!node_client_authorized(n, req))
        return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        node_send_error(req, 405, API_ERR_BAD_METHOD, "use GET");
        return 0;
    }
    if (n->stopping || n->failed) {
        node_send_error(req, 503, API_ERR_UNAVAILABLE, NULL);
        return 0;
    }
    if (node_admin_not_leader(n, req))
        return 0;
    uint64_t id = ++n->next_read_id;
    if (raft_read(n->raft, id) != RAFT_OK) {
        node_send_error(req, 503, API_ERR_NO_LEADER, NULL);
        return 0;
    }
    node_wait_backup(n, req, id);
    return 0;
}
