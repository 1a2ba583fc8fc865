/* ready.c: recovery at start and the Ready loop: the one place where vesperd
 * orders persistence, messages, application and answers.
 *
 * For each ready of the core: write the snapshot chunk / install, the hard state
 * and the entries; send the leader's messages at once (the leader's own write
 * overlaps replication, thesis 10.2.1); fdatasync once when the ready asks for it
 * (group commit: a ready holds every proposal of a loop iteration); only then
 * send votes and acknowledgements and tell the core what is durable; apply
 * committed entries and answer the clients waiting on them; advance. A storage
 * error at any step stops the process (fail stop): a node that no longer knows
 * what its disk holds must not vote or acknowledge again.
 */
#include "node/node.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv/kv.h"
#include "kv/kv_snap.h"
#include "net/transport.h"
#include "storage/storage.h"
#include "util/log.h"

#define SNAPSHOT_TRAILING 5000 /* entries kept behind a snapshot for slow followers */

static void check(struct node *n, int rv, const char *what)
{
    if (rv != STORAGE_OK)
        node_fail_stop(n, what, storage_errmsg(n->st));
}

static void restore_kv(struct node *n, const struct storage_snapshot *s)
{
    struct kv *kv = NULL;
    char err[256];
    if (kv_snap_decode(s->data, s->len, &kv, err, sizeof err) != 0)
        node_fatal("snapshot restore", err);
    kv_free(n->kv);
    n->kv = kv;
    n->applied_conf = s->conf;
}

/* The replicated configuration wins over the file once the cluster has one: a
 * stale ip_list must not silently change who votes. Say so, loudly. */
static void warn_if_ip_list_differs(struct node *n, const struct raft_conf *file)
{
    const struct raft_conf *cur = raft_current_conf(n->raft);
    bool same = cur->n == file->n;
    for (uint32_t k = 0; same && k < cur->n; k++) {
        const struct raft_member *mb = raft_conf_find(file, cur->m[k].id);
        same = mb && mb->voter == cur->m[k].voter && strcmp(mb->addr, cur->m[k].addr) == 0;
    }
    if (same)
        return;
    log_warn(
        "%s disagrees with the replicated configuration (%u members): following the "
        "replicated one",
        n->cfg->ip_list_path, cur->n);
    for (uint32_t k = 0; k < cur->n; k++)
        log_warn("  member %u %s %s", cur->m[k].id, cur->m[k].voter ? "voter" : "learner",
                 cur->m[k].addr);
}

/* Loads the newest snapshot and the log after it, and starts the core. */
int node_open_state(struct node *n)
{
    const struct vesper_config *cfg = n->cfg;
    struct storage_options opt;
    storage_options_defaults(&opt);
    opt.create = true;
    opt.snapshot_entries = cfg->snapshot_entries;
    opt.snapshot_bytes = cfg->snapshot_bytes;
    struct storage_boot boot;
    char err[512];
    if (storage_open(&n->st, cfg->data_dir, &opt, &boot, err, sizeof err) != STORAGE_OK) {
        log_error("storage: %s", err);
        return -1;
    }
    n->kv = kv_new(0);
    if (!n->kv)
        node_fatal("kv", "out of memory");
    struct raft_boot rb = {.hs = boot.hs, .entries = boot.entries, .n_entries = boot.n_entries};
    for (int k = 0; k < cfg->n_nodes && !cfg->join; k++) {
        struct raft_member *mb = &rb.initial.m[rb.initial.n++];
        mb->id = (raft_id)k;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "%s", cfg->nodes[k].text);
    }
    n->applied_conf = rb.initial;
    if (boot.snap.index) {
        restore_kv(n, &boot.snap);
        rb.snap_index = boot.snap.index;
        rb.snap_term = boot.snap.term;
        rb.snap_size = boot.snap.size;
        rb.snap_conf = boot.snap.conf;
    }
    struct raft_config rc;
    raft_config_defaults(&rc, (raft_id)cfg->id, (uint64_t)time(NULL) ^ (uint64_t)cfg->id << 17);
    rc.heartbeat_ticks = cfg->heartbeat_ms / cfg->tick_ms;
    rc.election_ticks = cfg->election_timeout_ms / cfg->tick_ms;
    int rv = raft_new(&n->raft, &rc, &rb);
    log_info("recovered: term %llu, snapshot %llu, %zu log entries, commit %llu",
             (unsigned long long)boot.hs.term, (unsigned long long)boot.snap.index, boot.n_entries,
             (unsigned long long)boot.hs.commit);
    storage_boot_free(&boot);
    if (rv != RAFT_OK) {
        log_error("raft: %s", raft_strerror(rv));
        return -1;
    }
    warn_if_ip_list_differs(n, &rb.initial);
    return 0;
}

/* ===== Writing ===== */

/* A transfer that fails validation (storage_snapshot_recv_finish: ECORRUPT) was
 * already accepted by the core, which now disagrees with the disk. Start over
 * from the disk, exactly as a restart would, instead of exiting: the state on
 * disk is intact and the leader will send the snapshot again. */
static void reload_state(struct node *n, const char *why)
{
    log_error("%s: %s; reloading state from the data directory", why, storage_errmsg(n->st));
    node_expire_pending(n, true);
    storage_close(n->st);
    raft_free(n->raft);
    kv_free(n->kv);
    n->st = NULL;
    n->raft = NULL;
    n->kv = NULL;
    if (node_open_state(n) != 0)
        node_fatal("reload", "cannot reopen the data directory");
}

/* Returns false when the ready must be abandoned (the state was reloaded). */
static bool persist_snapshot(struct node *n, const struct raft_ready *rd)
{
    if (rd->chunk) {
        const struct raft_snap_chunk *c = rd->chunk;
        if (c->first)
            check(n, storage_snapshot_recv_begin(n->st, c->snap_index, c->snap_term),
                  "snapshot receive");
        check(n, storage_snapshot_recv_write(n->st, c->offset, c->data, c->len),
              "snapshot receive");
    }
    if (rd->install) {
        struct raft_status st;
        raft_status(n->raft, &st);
        enum storage_install mode =
            st.last_index > rd->install->index ? STORAGE_KEEP_AFTER : STORAGE_DROP_ALL;
        struct storage_snapshot snap = {0};
        int rv = storage_snapshot_recv_finish(n->st, mode, &snap);
        if (rv == STORAGE_ECORRUPT) {
            reload_state(n, "snapshot install rejected");
            return false;
        }
        check(n, rv, "snapshot install");
        restore_kv(n, &snap);
        storage_snapshot_free(&snap);
        n->m.snapshots_installed++;
        log_info("snapshot installed at %llu term %llu (%llu bytes)",
                 (unsigned long long)rd->install->index, (unsigned long long)rd->install->term,
                 (unsigned long long)rd->install->size);
    }
    return true;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static bool persist(struct node *n, const struct raft_ready *rd)
{
    if (!persist_snapshot(n, rd))
        return false;
    if (rd->hs_changed)
        check(n, storage_save_hard_state(n->st, &rd->hs), "hard state");
    if (rd->n_entries)
        check(n, storage_append(n->st, rd->entries, rd->n_entries), "append");
    return true;
}

static void sync_storage(struct node *n)
{
    uint64_t t0 = now_us();
    check(n, storage_sync(n->st), "sync");
    metrics_observe(&n->m.fsync, (double)(now_us() - t0) / 1e6);
}

/* ===== Sending ===== */

static void send_one(struct node *n, const struct raft_msg *m)
{
    if (m->type != RAFT_MSG_SNAPSHOT) {
        transport_send(n->tp, m);
        return;
    }
    /* The core names a byte range of its snapshot; the bytes come from disk. */
    if (m->len > n->snap_buf_cap) {
        uint8_t *buf = realloc(n->snap_buf, m->len);
        if (!buf)
            return;
        n->snap_buf = buf;
        n->snap_buf_cap = m->len;
    }
    size_t got = 0;
    if (storage_snapshot_read(n->st, m->snap_index, m->offset, n->snap_buf, m->len, &got) !=
            STORAGE_OK ||
        got != m->len)
        return; /* replaced by a newer snapshot: the core restarts the transfer */
    struct raft_msg copy = *m;
    copy.data = n->snap_buf;
    transport_send(n->tp, &copy);
}

static void send_all(struct node *n, const struct raft_msg *msgs, size_t count)
{
    for (size_t k = 0; k < count; k++)
        send_one(n, &msgs[k]);
}

/* ===== Applying ===== */

static void apply_entry(struct node *n, const struct raft_entry *e)
{
    struct kv_result res = {0};
    struct raft_conf conf;
    switch (e->type) {
    case RAFT_ENTRY_NORMAL:
        kv_apply(n->kv, e->index, e->term, e->data, e->len, &res);
        break;
    case RAFT_ENTRY_CONF:
        /* The core ignores a configuration it cannot decode; so does the shell,
         * rather than refusing to start on every restart. */
        if (raft_conf_decode(&conf, e->data, e->len) != RAFT_OK) {
            log_error("configuration entry %llu undecodable: ignored",
                      (unsigned long long)e->index);
            kv_set_applied(n->kv, e->index, e->term);
            break;
        }
        n->applied_conf = conf;
        if (kv_set_members(n->kv, e->data, e->len) != 0)
            node_fatal("apply", "out of memory");
        kv_set_applied(n->kv, e->index, e->term);
        log_info("configuration applied at %llu: %u members", (unsigned long long)e->index,
                 n->applied_conf.n);
        break;
    default:
        kv_set_applied(n->kv, e->index, e->term);
        break;
    }
    n->m.applied_entries++;
    node_complete_write(n, e, &res);
}

/* A snapshot when the log since the last one passed a threshold. Encoding runs on
 * the loop: simple and correct; a forked writer is the known next step. */
static void maybe_snapshot(struct node *n)
{
    if (!storage_should_snapshot(n->st))
        return;
    uint64_t t0 = now_us();
    uint8_t *buf = NULL;
    size_t len = 0;
    if (kv_snap_encode(n->kv, &buf, &len) != 0)
        node_fatal("snapshot", "encode failed");
    raft_index index = n->kv->applied_index;
    raft_index keep = index > SNAPSHOT_TRAILING ? index - SNAPSHOT_TRAILING + 1 : 1;
    uint64_t size = 0;
    check(n,
          storage_snapshot_save(n->st, index, n->kv->applied_term, &n->applied_conf, buf, len, keep,
                                &size),
          "snapshot save");
    free(buf);
    raft_snapshot_taken(n->raft, index, size, SNAPSHOT_TRAILING);
    n->m.snapshots_taken++;
    n->m.snapshot_us_total += now_us() - t0;
    log_info("snapshot taken at %llu (%llu bytes, %llu ms)", (unsigned long long)index,
             (unsigned long long)size, (unsigned long long)(now_us() - t0) / 1000);
}

static void note_role(struct node *n)
{
    raft_id leader = raft_leader(n->raft);
    raft_term term = raft_term_now(n->raft);
    enum raft_role role = raft_role(n->raft);
    if (role == RAFT_CANDIDATE && (n->last_role != RAFT_CANDIDATE || term != n->last_term))
        n->m.elections_started++;
    if (leader != n->last_leader) {
        n->m.leader_changes++;
        if (leader == (raft_id)n->cfg->id)
            log_info("election won: leader of term %llu", (unsigned long long)term);
        else if (leader == RAFT_NONE)
            log_info("no leader in term %llu (%s)", (unsigned long long)term, raft_role_name(role));
        else
            log_info("leader is node %u in term %llu", leader, (unsigned long long)term);
    } else if (term != n->last_term) {
        log_info("term %llu (%s)", (unsigned long long)term, raft_role_name(role));
    }
    if (n->last_role == RAFT_LEADER && role != RAFT_LEADER)
        node_leadership_lost(n);
    n->last_leader = leader;
    n->last_term = term;
    n->last_role = role;
}

void node_process_ready(struct node *n)
{
    while (raft_has_ready(n->raft)) {
        struct raft_ready rd;
        raft_ready(n->raft, &rd);
        if (!persist(n, &rd))
            continue; /* a fresh core from disk: its own readies follow */
        send_all(n, rd.msgs, rd.n_msgs);
        transport_flush(n->tp);
        if (rd.must_sync)
            sync_storage(n);
        send_all(n, rd.msgs_sync, rd.n_msgs_sync);
        for (size_t k = 0; k < rd.n_committed; k++)
            apply_entry(n, &rd.committed[k]);
        for (size_t k = 0; k < rd.n_reads; k++)
            node_complete_read(n, &rd.reads[k]);
        raft_index last = rd.last_index;
        raft_term last_term = rd.last_term;
        raft_advance(n->raft, &rd);
        raft_durable(n->raft, last, last_term);
    }
    transport_flush(n->tp);
    node_sync_peers(n);
    note_role(n);
    maybe_snapshot(n);
}
