/* status.c: the operator endpoints served beside /request.
 *
 *   GET /health  200 while the loop turns (liveness; the scratch image probes it)
 *   GET /ready   200 once a leader is known and this node applied what it knows
 *                is committed; 503 otherwise (readiness)
 *   GET /status  JSON: role, term, leader, indexes, per-peer progress, members,
 *                version, uptime and the state machine's size (keys, data_bytes)
 *   GET /noop    the cheapest answer the loop can give: the HTTP ceiling for
 *                benchmarks
 */
#include "node/node.h"

#include <json-c/json.h>
#include <string.h>

#include "kv/kv.h"
#include "util/logging.h"

static void send_text(h2o_req_t *req, int status, const char *body)
{
    node_send_json(req, status, body, strlen(body));
}

int node_on_health(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    send_text(req, 200, "{\"health\":\"ok\"}");
    return 0;
}

int node_on_noop(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    send_text(req, 200, "{}");
    return 0;
}

int node_on_ready(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    struct raft_status st;
    raft_status(n->raft, &st);
    /* The state machine's applied index: while an installed snapshot is still being
     * decoded, the core's already names the snapshot. */
    bool ready = st.leader != RAFT_NONE && kv_applied_index(n->kv) >= st.commit && !n->stopping &&
                 !replica_restoring(&n->rep);
    send_text(req, ready ? 200 : 503, ready ? "{\"ready\":true}" : "{\"ready\":false}");
    return 0;
}

static json_object *u64(uint64_t v)
{
    return json_object_new_int64((int64_t)v);
}

static json_object *members_json(struct node *n)
{
    const struct raft_conf *c = raft_current_conf(n->raft);
    json_object *arr = json_object_new_array();
    for (uint32_t k = 0; k < c->n; k++) {
        json_object *m = json_object_new_object();
        json_object_object_add(m, "id", u64(c->m[k].id));
        json_object_object_add(m, "role",
                               json_object_new_string(c->m[k].voter ? "voter" : "learner"));
        json_object_object_add(m, "url", json_object_new_string(c->m[k].addr));
        /* The URL clients (and the console) reach it at, as this node knows it. */
        const char *client = node_client_url(n, c->m[k].id);
        json_object_object_add(m, "client_url", client ? json_object_new_string(client) : NULL);
        json_object_array_add(arr, m);
    }
    return arr;
}

static json_object *peers_json(struct node *n, const struct raft_status *st)
{
    json_object *arr = json_object_new_array();
    for (uint32_t k = 0; k < st->n_progress; k++) {
        const struct raft_progress_info *p = &st->progress[k];
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", u64(p->id));
        json_object_object_add(o, "match", u64(p->match));
        json_object_object_add(o, "next", u64(p->next));
        json_object_object_add(o, "last_contact_ms",
                               u64((uint64_t)p->ticks_since_contact * n->cfg->tick_ms));
        json_object_array_add(arr, o);
    }
    return arr;
}

int node_on_status(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    struct raft_status st;
    raft_status(n->raft, &st);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", u64(st.id));
    json_object_object_add(o, "role", json_object_new_string(raft_role_name(st.role)));
    json_object_object_add(o, "term", u64(st.term));
    json_object_object_add(o, "leader", st.leader == RAFT_NONE ? NULL : u64(st.leader));
    const char *url = st.leader == RAFT_NONE ? NULL : node_client_url(n, st.leader);
    json_object_object_add(o, "leader_url", url ? json_object_new_string(url) : NULL);
    json_object_object_add(o, "commit_index", u64(st.commit));
    json_object_object_add(o, "applied_index", u64(kv_applied_index(n->kv)));
    json_object_object_add(o, "restoring", json_object_new_boolean(replica_restoring(&n->rep)));
    json_object_object_add(o, "last_index", u64(st.last_index));
    json_object_object_add(o, "durable_index", u64(st.durable_index));
    json_object_object_add(o, "snapshot_index", u64(st.snap_index));
    json_object_object_add(o, "client_url", json_object_new_string(n->cfg->advertise_url.text));
    json_object_object_add(o, "version", json_object_new_string(VESPER_VERSION));
    json_object_object_add(o, "uptime_ms", u64(node_now_ms(n) - n->started_ms));
    json_object_object_add(o, "keys", u64(n->kv->map.count));
    json_object_object_add(o, "data_bytes", u64(n->kv->map.data_bytes));
    json_object_object_add(o, "peers", peers_json(n, &st));
    json_object_object_add(o, "members", members_json(n));
    size_t len;
    const char *body = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    node_send_json(req, 200, body, len);
    json_object_put(o);
    return 0;
}
