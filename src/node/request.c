/* request.c: the /request endpoint (the v1 protocol, extended); the table of
 * requests waiting on the log is pending.c.
 *
 * Every answer a client gets is provably true:
 * - success (or not_found, cas_failed, ...): the entry committed on a synced
 *   majority and applied here; the answer is the state machine's own result
 *   (for a retry, the first answer, from the exactly-once table).
 * - not_leader: definitely did not apply. Given for a request this node did not
 *   propose (a follower's redirect) and for a waiting write whose index applied
 *   with another term (its entry was replaced and never can apply).
 * - no_leader, unavailable (stopping, overloaded, failed), bad_request, ...:
 *   the request was not proposed.
 * - timeout: outcome unknown; a retry with the same client_id/seq is safe. Every
 *   write that stops waiting without a proof either way gets it: the deadline
 *   passed, leadership was lost, a snapshot covered its index, the state was
 *   reloaded, the node stops (SIGTERM after the grace period, fail stop on a
 *   storage error, removal from the cluster), or its client hung up.
 * - session_expired: a retry the exactly-once table can no longer answer (see
 *   kv_session.h): outcome unknown, and retrying will not tell.
 * Reads have no effect, so any refusal of a read is true.
 */
#include "node/node.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "api/api.h"
#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "net/bearer.h"
#include "util/logging.h"

void node_send_json(h2o_req_t *req, int status, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = status == 200   ? "OK"
                      : status == 400 ? "Bad Request"
                      : status == 404 ? "Not Found"
                      : status == 405 ? "Method Not Allowed"
                      : status == 401 ? "Unauthorized"
                      : status == 413 ? "Payload Too Large"
                      : status == 503 ? "Service Unavailable"
                                      : "Error";
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, len);
}

void node_send_api(h2o_req_t *req, int status, struct api_reply *r, int rv)
{
    if (rv != 0)
        api_reply_internal(r);
    node_send_json(req, status ? status : r->http_status, r->body, r->body_len);
    api_reply_free(r);
}

void node_send_error(h2o_req_t *req, int status, int e, const char *message)
{
    struct api_reply r;
    node_send_api(req, status, &r, api_reply_fail((enum api_error)e, message, &r));
}

void node_send_reply(struct node *n, h2o_req_t *req, int op, struct api_reply *r, int rv)
{
    if (rv != 0) {
        node_send_api(req, 0, r, rv);
        return;
    }
    int outcome = r->http_status != 200 ? 2 : r->error == API_OK ? 0 : 1;
    if (op >= 0 && op <= NODE_OP_ADMIN)
        n->m.requests[op][outcome]++;
    struct timeval now;
    gettimeofday(&now, NULL);
    const struct timeval *t0 = &req->timestamps.request_begin_at;
    metrics_observe(&n->m.request,
                    (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_usec - t0->tv_usec) / 1e6);
    node_send_api(req, 0, r, 0);
}

void node_reply_fail(struct node *n, h2o_req_t *req, int op, int e, const char *message)
{
    struct api_reply r;
    node_send_reply(n, req, op, &r, api_reply_fail((enum api_error)e, message, &r));
}

static void reply_fail(struct node *n, h2o_req_t *req, int op, enum api_error e)
{
    node_reply_fail(n, req, op, e, NULL);
}

void node_answer_get(struct node *n, h2o_req_t *req, const char *key, size_t key_len)
{
    const struct kv_rec *rec = kv_get(n->kv, key, key_len);
    struct api_reply r;
    int rv;
    if (rec == NULL)
        rv = api_reply_fail(API_ERR_NOT_FOUND, NULL, &r);
    else if (rec->lease == 0) /* the v1 reply, byte for byte */
        rv = api_reply_value(key, key_len, (const char *)kv_rec_value(rec), rec->value_len, &r);
    else
        rv = api_reply_value_lease(key, key_len, (const char *)kv_rec_value(rec), rec->value_len,
                                   rec->lease, &r);
    node_send_reply(n, req, API_OP_GET, &r, rv);
}

static void answer_parsed_read(struct node *n, h2o_req_t *req, const struct api_request *ar)
{
    struct api_reply r;
    int rv;
    if (ar->op == API_OP_RANGE) {
        rv = api_reply_range(n->kv, ar, &r);
    } else if (ar->op == API_OP_LEASE_LIST) {
        rv = api_reply_lease_list(n->kv, &r);
    } else if (ar->op == API_OP_LEASE_INFO) {
        rv = api_reply_lease_info(n->kv, ar, replica_lease_remaining_ms(&n->rep, ar->lease), &r);
    } else {
        const struct kv_rec *rec = kv_get(n->kv, ar->key, ar->key_len);
        rv = rec ? api_reply_record(rec, kv_revision(n->kv), &r)
                 : api_reply_fail(API_ERR_NOT_FOUND, NULL, &r);
    }
    node_send_reply(n, req, ar->op, &r, rv);
}

static enum api_error parse(struct node *n, h2o_req_t *req, struct api_request *ar, char *detail,
                            size_t detail_len)
{
    struct api_limits lim = {.max_key_bytes = n->cfg->max_key_bytes,
                             .max_value_bytes = n->cfg->max_value_bytes};
    return api_parse_request(req->method.base, req->method.len, req->entity.base,
                             req->entity.base ? req->entity.len : 0, &lim, ar, detail, detail_len);
}

void node_answer_read(struct node *n, h2o_req_t *req)
{
    struct api_request ar;
    if (parse(n, req, &ar, NULL, 0) != API_OK) { /* it parsed when the read began */
        node_reply_fail(n, req, -1, API_ERR_INTERNAL, NULL);
        return;
    }
    answer_parsed_read(n, req, &ar);
    api_request_free(&ar);
}

/* ===== The handler ===== */

/* Back-pressure: beyond --max-pending the client is told to come back later
 * rather than queued without bound. */
static void shed(struct node *n, h2o_req_t *req)
{
    n->m.requests_shed++;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    node_send_error(req, 503, API_ERR_UNAVAILABLE, "too many pending requests");
}

static bool redirect_if_not_leader(struct node *n, h2o_req_t *req, const struct api_request *ar)
{
    if (raft_role(n->raft) == RAFT_LEADER)
        return false;
    raft_id leader = raft_leader(n->raft);
    struct api_reply r;
    if (leader != RAFT_NONE && node_forward_wanted(n, req) && node_forward(n, req, leader) == 0)
        return true;
    if (leader == RAFT_NONE || !node_client_url(n, leader))
        node_send_reply(n, req, ar->op, &r, api_reply_fail(API_ERR_NO_LEADER, NULL, &r));
    else
        node_send_reply(n, req, ar->op, &r, api_reply_redirect(ar, node_client_url(n, leader), &r));
    return true;
}

static void propose(struct node *n, h2o_req_t *req, const struct api_request *ar)
{
    struct kv_cmd cmd;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (api_request_to_cmd(ar, &cmd) != 0 || kv_cmd_encode_alloc(&cmd, &buf, &len) != 0) {
        reply_fail(n, req, ar->op, API_ERR_BAD_REQUEST);
        return;
    }
    raft_index index;
    raft_term term;
    int rv = raft_propose(n->raft, buf, (uint32_t)len, &index, &term);
    free(buf);
    if (rv != RAFT_OK) {
        n->m.proposals_failed++;
        reply_fail(n, req, ar->op, rv == RAFT_ENOTLEADER ? API_ERR_NO_LEADER : API_ERR_UNAVAILABLE);
        return;
    }
    n->m.proposals++;
    struct node_pending *pd =
        node_wait_write(n, req, ar->op, ar->key ? ar->key : "", ar->key_len, index, term);
    pd->revisions = ar->revisions;
}

static void read_index(struct node *n, h2o_req_t *req, const struct api_request *ar)
{
    uint64_t id = ++n->next_read_id;
    if (raft_read(n->raft, id) != RAFT_OK) {
        reply_fail(n, req, ar->op, API_ERR_NO_LEADER);
        return;
    }
    struct node_pending *pd =
        node_wait_read(n, req, ar->op, ar->key ? ar->key : "", ar->key_len, id);
    pd->revisions = ar->revisions;
}

bool node_client_authorized(struct node *n, h2o_req_t *req)
{
    if (!n->client_token[0])
        return true;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0 && bearer_matches(req->headers.entries[i].value.base,
                                 req->headers.entries[i].value.len, n->client_token))
        return true;
    node_send_error(req, 0, API_ERR_UNAUTHORIZED, NULL);
    return false;
}

int node_on_request(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    if (!node_client_authorized(n, req))
        return 0;
    struct api_request ar;
    char detail[160];
    enum api_error e = parse(n, req, &ar, detail, sizeof detail);
    if (e != API_OK) {
        struct api_reply r;
        node_send_reply(n, req, -1, &r, api_reply_fail(e, detail, &r));
        return 0;
    }
    if (n->stopping || n->failed) {
        reply_fail(n, req, ar.op, API_ERR_UNAVAILABLE);
    } else if (n->n_pending >= n->cfg->max_pending && !ar.stale && node_reclaim_abandoned(n) == 0) {
        shed(n, req);
    } else if (ar.stale && ar.op == API_OP_GET && !ar.revisions) {
        node_answer_get(n, req, ar.key, ar.key_len);
    } else if (ar.stale) {
        answer_parsed_read(n, req, &ar);
    } else if (!redirect_if_not_leader(n, req, &ar)) {
        if (api_op_is_read(ar.op))
            read_index(n, req, &ar);
        else
            propose(n, req, &ar);
    }
    api_request_free(&ar);
    return 0;
}
