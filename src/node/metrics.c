/* metrics.c: GET /metrics in the Prometheus text format.
 *
 * Counters are plain integers owned by the loop thread and read here on the same
 * thread, so no atomics are needed. Latencies go into fixed buckets (100 µs to
 * 5 s): cheap to update on the hot path, and what Prometheus' histogram_quantile
 * expects. Names follow etcd's where the meaning matches, so existing dashboards
 * translate (vesper_disk_wal_fsync_duration_seconds ~ etcd_disk_wal_fsync_...).
 */
#include "node/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "kv/kv.h"
#include "net/transport.h"
#include "node/node.h"

static const double bounds[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

void metrics_observe(struct metrics_hist *h, double seconds)
{
    int k = 0;
    while (k < METRICS_BUCKETS && seconds > bounds[k])
        k++;
    h->counts[k]++;
    h->count++;
    h->sum_seconds += seconds;
}

struct out {
    char *p;
    size_t len, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (o->len + (size_t)n < o->cap) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = (o->cap + (size_t)n) * 2;
        char *p = realloc(o->p, cap);
        if (!p)
            return;
        o->p = p;
        o->cap = cap;
    }
}

static void metric(struct out *o, const char *name, const char *type, const char *help,
                   double value)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

static void hist(struct out *o, const char *name, const char *help, const struct metrics_hist *h)
{
    put(o, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int k = 0; k < METRICS_BUCKETS; k++) {
        cum += h->counts[k];
        put(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[k], (unsigned long long)cum);
    }
    put(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n", name,
        (unsigned long long)h->count, name, h->sum_seconds, name, (unsigned long long)h->count);
}

static void requests(struct out *o, const struct node_metrics *m)
{
    static const char *const ops[] = {
        "get",         "put",          "delete",          "cas",        "range",      "txn",
        "lease_grant", "lease_revoke", "lease_keepalive", "lease_list", "lease_info", "admin"};
    _Static_assert(sizeof ops / sizeof ops[0] == NODE_OP_ADMIN + 1, "one name per request type");
    static const char *const outcomes[] = {"success", "fail", "error"};
    put(o,
        "# HELP vesper_requests_total Client requests by type and outcome.\n"
        "# TYPE vesper_requests_total counter\n");
    for (int op = 0; op <= NODE_OP_ADMIN; op++)
        for (int k = 0; k < 3; k++)
            put(o, "vesper_requests_total{type=\"%s\",outcome=\"%s\"} %llu\n", ops[op], outcomes[k],
                (unsigned long long)m->requests[op][k]);
}

static void raft_metrics(struct out *o, struct node *n)
{
    struct raft_status st;
    raft_status(n->raft, &st);
    const struct node_metrics *m = &n->m;
    metric(o, "vesper_raft_term", "gauge", "Current Raft term.", (double)st.term);
    metric(o, "vesper_raft_is_leader", "gauge", "1 if this node leads.",
           st.role == RAFT_LEADER ? 1 : 0);
    metric(o, "vesper_raft_leader_changes_total", "counter", "Leader changes seen.",
           (double)m->leader_changes);
    metric(o, "vesper_raft_elections_started_total", "counter", "Elections this node started.",
           (double)m->elections_started);
    metric(o, "vesper_raft_proposals_committed_total", "counter", "Entries applied.",
           (double)m->applied_entries);
    metric(o, "vesper_raft_proposals_failed_total", "counter",
           "Proposals refused or lost to a leader change.", (double)m->proposals_failed);
    metric(o, "vesper_raft_commit_index", "gauge", "Commit index.", (double)st.commit);
    raft_index applied = kv_applied_index(n->kv); /* the core's runs ahead while restoring */
    metric(o, "vesper_raft_applied_index", "gauge", "Applied index.", (double)applied);
    metric(o, "vesper_raft_apply_lag_entries", "gauge", "Committed but not applied entries.",
           (double)(st.commit > applied ? st.commit - applied : 0));
    metric(o, "vesper_snapshot_restoring", "gauge",
           "1 while an installed snapshot's state is decoded beside the loop.",
           replica_restoring(&n->rep) ? 1.0 : 0.0);
    metric(o, "vesper_raft_log_entries", "gauge", "Entries held in the log.",
           (double)(st.last_index + 1 - st.first_index));
    metric(o, "vesper_snapshots_taken_total", "counter", "Snapshots taken.",
           (double)m->snapshots_taken);
    metric(o, "vesper_snapshots_installed_total", "counter", "Snapshots installed from a leader.",
           (double)m->snapshots_installed);
    metric(o, "vesper_snapshot_duration_seconds_total", "counter", "Time spent taking snapshots.",
           (double)m->snapshot_us_total / 1e6);
}

int node_on_metrics(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    struct out o = {0};
    raft_metrics(&o, n);
    struct transport_stats ts;
    transport_stats(n->tp, &ts);
    metric(&o, "vesper_peer_send_errors_total", "counter", "Failed peer requests.",
           (double)ts.send_errors);
    metric(&o, "vesper_peer_messages_dropped_total", "counter", "Peer messages dropped.",
           (double)ts.msgs_dropped);
    metric(&o, "vesper_peer_requests_total", "counter", "Peer requests (POST /raft) sent.",
           (double)ts.batches_sent);
    metric(&o, "vesper_peer_replied_messages_total", "counter",
           "Messages sent back in answers to peers' requests.", (double)ts.msgs_replied);
    metric(&o, "vesper_peer_unauthorized_total", "counter", "Peer batches without the secret.",
           (double)ts.recv_unauthorized);
    metric(&o, "vesper_peer_wrong_cluster_total", "counter",
           "Peer batches refused for another cluster id.", (double)ts.recv_wrong_cluster);
    metric(&o, "vesper_peer_messages_rejected_total", "counter",
           "Peer messages from unknown senders.", (double)n->m.peer_msgs_rejected);
    metric(&o, "vesper_connections_open", "gauge", "Client and peer connections open.",
           (double)n->n_conns);
    metric(&o, "vesper_connections_refused_total", "counter", "Connections over the limit.",
           (double)n->m.conns_refused);
    metric(&o, "vesper_connections_accept_batch_max", "gauge",
           "Most connections accepted in one turn of the loop.", (double)n->m.accept_batch_max);
    metric(&o, "vesper_requests_shed_total", "counter", "Requests refused with 503 (overload).",
           (double)n->m.requests_shed);
    metric(&o, "vesper_requests_pending", "gauge", "Requests waiting on the log.",
           (double)n->n_pending);
    metric(&o, "vesper_kv_keys", "gauge", "Keys in the state machine.", (double)n->kv->map.count);
    metric(&o, "vesper_kv_data_bytes", "gauge", "Key and value bytes in the state machine.",
           (double)n->kv->map.data_bytes);
    metric(&o, "vesper_leases", "gauge", "Leases in the state machine.",
           (double)kv_lease_count(n->kv));
    metric(&o, "vesper_leases_expired_total", "counter",
           "Leases revoked by expiry (applied here since start).", (double)n->rep.leases.expired);
    put(&o,
        "# HELP vesper_build_info The running version.\n# TYPE vesper_build_info gauge\n"
        "vesper_build_info{version=\"%s\"} 1\n",
        VESPER_VERSION);
    requests(&o, &n->m);
    hist(&o, "vesper_disk_wal_fsync_duration_seconds", "Latency of WAL fdatasync.", &n->m.fsync);
    hist(&o, "vesper_request_duration_seconds", "Client request latency.", &n->m.request);
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = o.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4"));
    h2o_send_inline(req, o.p ? o.p : "", o.len);
    free(o.p);
    return 0;
}
