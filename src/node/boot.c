/* boot.c: vesperd's start-up state: the storage opened (created on first start), the
 * newest snapshot loaded into the state machine, the log after it replayed, and the
 * Raft core started with the membership it knew (or, on a first start, the ip_list's
 * nodes as voters; none when joining). src/replica does the loading; this file turns
 * the configuration into its options and reports what the replicated configuration
 * says against the ip_list file.
 */
#include "node/node.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "storage/storage.h"
#include "util/logging.h"

#define SNAPSHOT_TRAILING 5000 /* entries kept behind a snapshot for slow followers */

/* config.h states the Raft limits without including the core. */
_Static_assert(CONFIG_MAX_NODES == RAFT_MAX_MEMBERS, "ip_list nodes = configuration members");
_Static_assert(CONFIG_URL_MAX == RAFT_ADDR_MAX, "node URL = member address");

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
    struct replica_config rc;
    memset(&rc, 0, sizeof rc);
    rc.dir = cfg->data_dir;
    storage_options_defaults(&rc.sopt);
    rc.sopt.create = true;
    /* Each new WAL segment is reserved with fallocate: a commit's fdatasync then has no
     * file size to record, which makes it about a third faster on ext4 (bench/RESULTS.md). */
    rc.sopt.preallocate = true;
    rc.sopt.snapshot_entries = cfg->snapshot_entries;
    rc.sopt.snapshot_bytes = cfg->snapshot_bytes;
    /* Each node snapshots at its own point of the interval: all at once, every node
     * forks and writes the whole state at the same moment, on the same cores and
     * disks when they share a machine, and a leader then finds no follower free to
     * acknowledge. */
    if (cfg->n_nodes > 0)
        rc.sopt.snapshot_phase = cfg->snapshot_entries / (uint64_t)cfg->n_nodes *
                                 ((uint64_t)cfg->id % (uint64_t)cfg->n_nodes);
    for (int k = 0; k < cfg->n_nodes && !cfg->join; k++) {
        struct raft_member *mb = &rc.initial.m[rc.initial.n++];
        mb->id = (raft_id)k;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "%s", cfg->nodes[k].text);
    }
    raft_config_defaults(&rc.rc, (raft_id)cfg->id, (uint64_t)time(NULL) ^ (uint64_t)cfg->id << 17);
    rc.rc.heartbeat_ticks = cfg->heartbeat_ms / cfg->tick_ms;
    rc.rc.election_ticks = cfg->election_timeout_ms / cfg->tick_ms;
    rc.snapshot_trailing = SNAPSHOT_TRAILING;
    rc.hist_events = cfg->watch_history_events;
    rc.hist_bytes = cfg->watch_history_bytes;
    rc.lease_grace_ms = cfg->election_timeout_ms;
    rc.sync_mode = cfg->sync_inline ? REPLICA_SYNC_INLINE : REPLICA_SYNC_THREAD;
    char err[512];
    if (replica_open(&n->rep, &rc, &node_replica_ops, n, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    node_bind_replica(n);
    warn_if_ip_list_differs(n, &rc.initial);
    return node_cluster_id_load(n);
}

int node_check_data(const char *dir)
{
    return storage_check(dir, stdout);
}
