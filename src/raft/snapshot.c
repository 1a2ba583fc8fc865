/* snapshot.c: InstallSnapshot in chunks, on both sides (Figure 13, thesis 5).
 *
 * The core never holds snapshot bytes on the sending side: a SNAPSHOT message
 * names a byte range of the leader's snapshot and the shell fills it in when it
 * sends, so a large state machine is streamed from disk. One chunk is in flight
 * per follower; the follower acknowledges each chunk after it is durable and
 * names the next offset it wants, so a lost chunk or a restarted receiver simply
 * resumes from there. The receiving core copies one chunk for the shell to
 * write; the last chunk installs the snapshot, keeping any log suffix that
 * follows a matching entry (thesis 5.1, receiver step 6), and is acknowledged
 * as an append match at the snapshot's index.
 *
 * The leader keeps only its newest snapshot, so a transfer it replaced midway
 * restarts with the new one (raft__snapshot_restart_senders). A transfer that
 * completed is never redone: the match acknowledgement moves the follower back
 * to the log whenever the leader still holds the entries after it, even if a
 * newer snapshot was taken while the acknowledgement was on its way.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void raft__send_snapshot(struct raft *r, struct raft__progress *pr)
{
    if (!r->snap_index || !r->snap_size) {
        raft__tracef(r, "follower %u needs compacted entries -> no snapshot yet",
                     (unsigned long long)pr->id);
        return;
    }
    if (pr->state != RAFT__SNAPSHOT || pr->snap_index != r->snap_index) {
        raft__tracef(r, "follower %u behind log start %u -> send snapshot %u",
                     (unsigned long long)pr->id, (unsigned long long)(r->log.offset + 1),
                     (unsigned long long)r->snap_index);
        pr->state = RAFT__SNAPSHOT;
        pr->snap_index = r->snap_index;
        pr->snap_offset = 0;
        pr->inflight_n = 0;
        pr->inflight_head = 0;
        pr->gap = 0;
    }
    uint64_t left = r->snap_size - pr->snap_offset;
    uint32_t len =
        left < r->cfg.snapshot_chunk_bytes ? (uint32_t)left : r->cfg.snapshot_chunk_bytes;
    struct raft_msg m = {.type = RAFT_MSG_SNAPSHOT,
                         .to = pr->id,
                         .snap_index = r->snap_index,
                         .snap_term = r->snap_term,
                         .snap_size = r->snap_size,
                         .offset = pr->snap_offset,
                         .len = len,
                         .done = pr->snap_offset + len == r->snap_size,
                         .conf = &r->snap_conf};
    pr->snap_wait = 0;
    raft__send(r, &m);
}

void raft__snapshot_restart_senders(struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return;
    for (uint32_t k = 0; k < r->n_pr; k++)
        if (r->pr[k].state == RAFT__SNAPSHOT && r->pr[k].snap_index != r->snap_index)
            raft__send_snapshot(r, &r->pr[k]);
}

static void install(struct raft *r, const struct raft_msg *m)
{
    raft_term t;
    if (raft__log_term(&r->log, m->snap_index, &t) && t == m->snap_term &&
        m->snap_index <= raft__log_last(&r->log)) {
        /* A node that led an earlier term may still hold appends it queued then;
         * compaction would pull their entries from under them. */
        raft__drop_queued_appends(r);
        raft__log_compact(&r->log, m->snap_index);
    } else {
        raft__log_reset(&r->log, m->snap_index, m->snap_term);
        raft__purge_appends(r, m->snap_index + 1);
    }
    r->snap_index = m->snap_index;
    r->snap_term = m->snap_term;
    r->snap_size = m->snap_size;
    r->snap_conf = *m->conf;
    r->base_conf = *m->conf;
    raft__conf_recompute(r);
    if (m->snap_index > r->commit)
        r->commit = m->snap_index;
    r->applied = m->snap_index;
    r->install = (struct raft_snap_install){
        .index = m->snap_index, .term = m->snap_term, .size = m->snap_size, .conf = &r->snap_conf};
    r->install_pending = true;
    raft__tracef(r, "snapshot %u term %u complete -> install, log after %u",
                 (unsigned long long)m->snap_index, (unsigned long long)m->snap_term,
                 (unsigned long long)r->log.offset);
}

static bool copy_chunk(struct raft *r, const struct raft_msg *m)
{
    if (m->len > r->chunk_cap) {
        uint8_t *buf = realloc(r->chunk_buf, m->len);
        if (!buf)
            return false;
        r->chunk_buf = buf;
        r->chunk_cap = m->len;
    }
    if (m->len)
        memcpy(r->chunk_buf, m->data, m->len);
    r->chunk = (struct raft_snap_chunk){.snap_index = m->snap_index,
                                        .snap_term = m->snap_term,
                                        .offset = m->offset,
                                        .data = r->chunk_buf,
                                        .len = m->len,
                                        .first = m->offset == 0};
    r->chunk_pending = true;
    return true;
}

void raft__recv_snapshot(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_FOLLOWER)
        raft__become_follower(r, r->term, m->from);
    r->leader = m->from;
    r->election_elapsed = 0;
    if (m->snap_index <= r->commit) {
        struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from, .index = r->commit};
        raft__send_sync(r, &resp);
        return;
    }
    if ((m->len && !m->data) || !m->conf || m->offset + m->len > m->snap_size ||
        (m->done && m->offset + m->len != m->snap_size) || r->chunk_pending)
        return; /* malformed, or one chunk per ready: the leader will resend */
    struct raft_msg resp = {
        .type = RAFT_MSG_SNAPSHOT_RESP, .to = m->from, .snap_index = m->snap_index};
    if (m->offset == 0) {
        r->recv_index = m->snap_index;
        r->recv_term = m->snap_term;
        r->recv_offset = 0;
    } else if (m->snap_index != r->recv_index || m->offset != r->recv_offset) {
        resp.reject = true;
        resp.offset = m->snap_index == r->recv_index ? r->recv_offset : 0;
        raft__send_sync(r, &resp);
        return;
    }
    if (!copy_chunk(r, m))
        return;
    r->recv_offset += m->len;
    resp.offset = r->recv_offset;
    if (m->done) {
        install(r, m);
        /* Installed: acknowledge it as a match, which the leader acts on even if it
         * has moved on to a newer snapshot since; it then serves us from its log if
         * it still holds the entries after this one. */
        resp =
            (struct raft_msg){.type = RAFT_MSG_APPEND_RESP, .to = m->from, .index = m->snap_index};
    }
    raft__send_sync(r, &resp);
}

void raft__recv_snapshot_resp(struct raft *r, const struct raft_msg *m)
{
    struct raft__progress *pr = r->role == RAFT_LEADER ? raft__progress(r, m->from) : NULL;
    if (!pr || pr->state != RAFT__SNAPSHOT || m->snap_index != pr->snap_index ||
        pr->snap_index != r->snap_index)
        return;
    if (m->reject) {
        pr->snap_offset = m->offset <= r->snap_size ? m->offset : 0;
        raft__send_snapshot(r, pr);
        return;
    }
    if (m->offset >= r->snap_size) {
        if (pr->snap_index > pr->match)
            pr->match = pr->snap_index;
        raft__progress_probe(pr, pr->snap_index + 1);
        raft__maybe_commit(r);
        raft__send_append(r, pr);
        return;
    }
    if (m->offset > pr->snap_offset) {
        pr->snap_offset = m->offset;
        raft__send_snapshot(r, pr);
    }
}
