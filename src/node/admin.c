/* admin.c: the admin requests that change who leads and who is a member.
 *
 *   POST /admin/transfer  {"to":ID}                         leadership transfer
 *   POST /admin/members   {"op":"add","id":ID,"url":URL}    add a learner
 *                         {"op":"promote","id":ID}          learner -> voter
 *                         {"op":"remove","id":ID}           remove a member
 *
 * They go to the leader (a follower answers with the v1 protocol's redirect). A
 * membership change is answered once its configuration entry is committed and
 * applied here, like any write: {"code":"success","index":N}. A transfer is
 * answered once started; clients watch /status for the new leader. Removing the
 * leader itself is allowed: it keeps leading until the removal commits, then
 * hands over to the most caught-up voter.
 */
#include "node/node.h"

#include <json-c/json.h>
#include <string.h>

#include "api/api.h"
#include "util/logging.h"

/* Every reply is built by src/api (json-c), since details and URLs may hold any
 * byte and must come out escaped, and sent by node_send_api or node_send_error. */
bool node_admin_not_leader(struct node *n, h2o_req_t *req)
{
    if (raft_role(n->raft) == RAFT_LEADER)
        return false;
    raft_id leader = raft_leader(n->raft);
    const char *url = leader == RAFT_NONE ? NULL : node_client_url(n, leader);
    struct api_reply r;
    node_send_api(
        req, 200, &r,
        url ? api_reply_redirect_url(url, &r) : api_reply_fail(API_ERR_NO_LEADER, NULL, &r));
    return true;
}

static json_object *parse_body(struct node *n, h2o_req_t *req)
{
    if (!node_client_authorized(n, req))
        return NULL;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        node_send_error(req, 405, API_ERR_BAD_METHOD, "use POST");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(16);
    json_object *o = tok && req->entity.base
                         ? json_tokener_parse_ex(tok, req->entity.base, (int)req->entity.len)
                         : NULL;
    if (tok)
        json_tokener_free(tok);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        node_send_error(req, 400, API_ERR_BAD_REQUEST, "body must be a JSON object");
        return NULL;
    }
    return o;
}

static bool get_id(json_object *o, const char *field, raft_id *id)
{
    json_object *v;
    if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_int))
        return false;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x >= (int64_t)RAFT_NONE)
        return false;
    *id = (raft_id)x;
    return true;
}

int node_on_transfer(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    json_object *o = parse_body(n, req);
    raft_id to;
    if (!o)
        return 0;
    if (!get_id(o, "to", &to)) {
        node_send_error(req, 400, API_ERR_BAD_REQUEST, "\"to\" must be a node id");
    } else if (!node_admin_not_leader(n, req)) {
        int rv = raft_transfer(n->raft, to);
        if (rv == RAFT_OK) {
            log_info("leadership transfer to node %u requested", to);
            struct api_reply r;
            node_send_api(req, 200, &r, api_reply_success(&r));
        } else {
            node_send_error(req, rv == RAFT_EBUSY ? 503 : 400,
                            rv == RAFT_EBUSY ? API_ERR_UNAVAILABLE : API_ERR_BAD_REQUEST,
                            raft_strerror(rv));
        }
    }
    json_object_put(o);
    return 0;
}

static int parse_change(json_object *o, enum raft_change *op, raft_id *id, const char **url)
{
    json_object *v;
    if (!json_object_object_get_ex(o, "op", &v) || !json_object_is_type(v, json_type_string) ||
        !get_id(o, "id", id))
        return -1;
    const char *s = json_object_get_string(v);
    *url = NULL;
    if (strcmp(s, "add") == 0) {
        *op = RAFT_ADD_LEARNER;
        if (!json_object_object_get_ex(o, "url", &v) || !json_object_is_type(v, json_type_string))
            return -1;
        *url = json_object_get_string(v);
        struct config_url parsed;
        char err[128];
        return strlen(*url) < RAFT_ADDR_MAX && config_url_parse(*url, &parsed, err, sizeof err) == 0
                   ? 0
                   : -1;
    }
    if (strcmp(s, "promote") == 0)
        *op = RAFT_PROMOTE;
    else if (strcmp(s, "remove") == 0)
        *op = RAFT_REMOVE;
    else
        return -1;
    return 0;
}

int node_on_members(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    json_object *o = parse_body(n, req);
    enum raft_change op;
    raft_id id;
    const char *url;
    if (!o)
        return 0;
    if (parse_change(o, &op, &id, &url) != 0) {
        node_send_error(req, 400, API_ERR_BAD_REQUEST,
                        "expected {\"op\":\"add|promote|remove\",\"id\":N[,\"url\":U]}");
    } else if (!node_admin_not_leader(n, req)) {
        raft_index index;
        int rv = raft_change(n->raft, op, id, url, &index);
        if (rv == RAFT_OK) {
            log_info("membership change proposed at %llu: %s node %u", (unsigned long long)index,
                     op == RAFT_ADD_LEARNER ? "add learner"
                     : op == RAFT_PROMOTE   ? "promote"
                                            : "remove",
                     id);
            node_wait_applied(n, req, index, raft_term_now(n->raft));
        } else {
            int status = rv == RAFT_EBUSY || rv == RAFT_ENOTCAUGHTUP ? 503 : 400;
            node_send_error(req, status, status == 503 ? API_ERR_UNAVAILABLE : API_ERR_BAD_REQUEST,
                            raft_strerror(rv));
        }
    }
    json_object_put(o);
    return 0;
}
