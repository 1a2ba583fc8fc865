/* client.c: the /request endpoint (the seed's protocol, extended) and the table
 * of client requests waiting on the log or on a ReadIndex round.
 *
 * A write is answered only after its entry is committed on a synced majority and
 * applied here; the answer is the state machine's own result. Writes wait in log
 * order and reads in read-id order, so completion pops from the head of a list.
 * If the entry that lands at a write's index has another term, the write was
 * lost to a leader change and is answered "not_leader": it definitely did not
 * apply. A write still waiting at its deadline is answered "timeout": its fate is
 * unknown, and a retry with the same client_id/seq is safe.
 */
#include "node/node.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "http/api.h"
#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "net/bearer.h"
#include "util/log.h"

#define REQUEST_TIMEOUT_MS 3000

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

static void send_reply(struct node *n, h2o_req_t *req, int op, struct api_reply *r, int rv)
{
    if (rv != 0) {
        static const char oom[] = "{\"code\":\"fail\",\"error\":\"internal\"}";
        node_send_json(req, 500, oom, sizeof oom - 1);
        return;
    }
    int outcome = r->http_status != 200 ? 2 : strstr(r->body, "\"success\"") ? 0 : 1;
    if (op >= 0 && op <= NODE_OP_ADMIN)
        n->m.requests[op][outcome]++;
    struct timeval now;
    gettimeofday(&now, NULL);
    const struct timeval *t0 = &req->timestamps.request_begin_at;
    metrics_observe(&n->m.request,
                    (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_usec - t0->tv_usec) / 1e6);
    node_send_json(req, r->http_status, r->body, r->body_len);
    api_reply_free(r);
}

static void reply_fail(struct node *n, h2o_req_t *req, int op, enum api_error e)
{
    struct api_reply r;
    send_reply(n, req, op, &r, api_reply_fail(e, NULL, &r));
}

/* ===== Pending table ===== */

static void pending_dispose(void *p)
{
    struct node_pending *pd = p;
    if (h2o_linklist_is_linked(&pd->link)) {
        h2o_linklist_unlink(&pd->link);
        pd->node->n_pending--;
    }
}

static struct node_pending *pending_new(struct node *n, h2o_req_t *req, int op, const char *key,
                                        size_t key_len, h2o_linklist_t *list)
{
    struct node_pending *pd = h2o_mem_alloc_shared(&req->pool, sizeof *pd, pending_dispose);
    memset(pd, 0, sizeof *pd);
    pd->req = req;
    pd->node = n;
    pd->op = (uint8_t)op;
    pd->deadline_ms = node_now_ms(n) + REQUEST_TIMEOUT_MS;
    pd->key = h2o_mem_alloc_pool(&req->pool, key_len + 1);
    memcpy(pd->key, key, key_len);
    pd->key[key_len] = '\0';
    pd->key_len = key_len;
    h2o_linklist_insert(list, &pd->link);
    n->n_pending++;
    return pd;
}

void node_wait_applied(struct node *n, h2o_req_t *req, raft_index index, raft_term term)
{
    struct node_pending *pd = pending_new(n, req, NODE_OP_ADMIN, "", 0, &n->writes);
    pd->id = index;
    pd->term = term;
}

static int reply_admin_done(struct api_reply *r, raft_index index)
{
    char body[64];
    int len = snprintf(body, sizeof body, "{\"code\":\"success\",\"index\":%llu}",
                       (unsigned long long)index);
    r->http_status = 200;
    r->body = strdup(body);
    r->body_len = (size_t)len;
    return r->body ? 0 : -1;
}

static struct node_pending *pending_head(h2o_linklist_t *list)
{
    if (h2o_linklist_is_empty(list))
        return NULL;
    return H2O_STRUCT_FROM_MEMBER(struct node_pending, link, list->next);
}

static h2o_req_t *pending_take(struct node_pending *pd)
{
    h2o_linklist_unlink(&pd->link);
    pd->node->n_pending--;
    h2o_req_t *req = pd->req;
    pd->req = NULL;
    return req;
}

void node_complete_write(struct node *n, const struct raft_entry *e, const void *result)
{
    const struct kv_result *res = result;
    struct node_pending *pd;
    while ((pd = pending_head(&n->writes)) && pd->id <= e->index) {
        h2o_req_t *req = pending_take(pd);
        struct api_reply r;
        int rv;
        if (pd->id < e->index || pd->term != e->term) {
            rv = api_reply_fail(API_ERR_NOT_LEADER, NULL, &r); /* its entry was replaced */
            n->m.proposals_failed++;
        } else if (pd->op == NODE_OP_ADMIN) {
            rv = reply_admin_done(&r, e->index);
        } else if (res->status == KV_CAS_MISMATCH) {
            rv = api_reply_cas_failed(pd->key, pd->key_len, (const char *)res->current,
                                      res->current_len, res->has_current, &r);
        } else if (res->status == KV_OK) {
            rv = api_reply_success(&r);
        } else {
            rv = api_reply_fail(api_error_from_kv(res->status), NULL, &r);
        }
        send_reply(n, req, pd->op, &r, rv);
    }
}

static void answer_get(struct node *n, h2o_req_t *req, const char *key, size_t key_len)
{
    const struct kv_rec *rec = kv_get(n->kv, key, key_len);
    struct api_reply r;
    int rv =
        rec ? api_reply_value(key, key_len, (const char *)kv_rec_value(rec), rec->value_len, &r)
            : api_reply_fail(API_ERR_NOT_FOUND, NULL, &r);
    send_reply(n, req, API_OP_GET, &r, rv);
}

void node_complete_read(struct node *n, const struct raft_read_result *rr)
{
    struct node_pending *pd;
    while ((pd = pending_head(&n->reads)) && pd->id <= rr->read_id) {
        h2o_req_t *req = pending_take(pd);
        if (pd->id == rr->read_id && rr->ok)
            answer_get(n, req, pd->key, pd->key_len);
        else
            reply_fail(n, req, API_OP_GET, API_ERR_NOT_LEADER);
    }
}

static void expire_list(struct node *n, h2o_linklist_t *list, uint64_t now, bool all)
{
    struct node_pending *pd;
    while ((pd = pending_head(list)) && (all || pd->deadline_ms <= now)) {
        h2o_req_t *req = pending_take(pd);
        reply_fail(n, req, pd->op, all ? API_ERR_UNAVAILABLE : API_ERR_TIMEOUT);
    }
}

/* A deposed leader's waiting writes may still commit under the next leader, so
 * they keep waiting, but only about an election timeout: a leader that was
 * removed, or whose entries were lost, would otherwise hold its clients for the
 * whole request timeout. Their answer is then "timeout" (unknown outcome). */
void node_leadership_lost(struct node *n)
{
    uint64_t soon = node_now_ms(n) + n->cfg->election_timeout_ms;
    for (h2o_linklist_t *l = n->writes.next; l != &n->writes; l = l->next) {
        struct node_pending *pd = H2O_STRUCT_FROM_MEMBER(struct node_pending, link, l);
        if (pd->deadline_ms > soon)
            pd->deadline_ms = soon;
    }
}

void node_fail_pending(struct node *n, const char *message)
{
    h2o_linklist_t *lists[] = {&n->writes, &n->reads};
    for (int k = 0; k < 2; k++) {
        struct node_pending *pd;
        while ((pd = pending_head(lists[k]))) {
            h2o_req_t *req = pending_take(pd);
            struct api_reply r;
            send_reply(n, req, pd->op, &r, api_reply_fail(API_ERR_UNAVAILABLE, message, &r));
        }
    }
}

void node_expire_pending(struct node *n, bool all)
{
    uint64_t now = node_now_ms(n);
    expire_list(n, &n->writes, now, all);
    expire_list(n, &n->reads, now, all);
}

/* ===== The handler ===== */

/* Back-pressure: beyond --max-pending the client is told to come back later
 * rather than queued without bound. */
static void shed(struct node *n, h2o_req_t *req)
{
    static const char body[] =
        "{\"code\":\"fail\",\"error\":\"unavailable\",\"message\":\"too many pending requests\"}";
    n->m.requests_shed++;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    node_send_json(req, 503, body, sizeof body - 1);
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
        send_reply(n, req, ar->op, &r, api_reply_fail(API_ERR_NO_LEADER, NULL, &r));
    else
        send_reply(n, req, ar->op, &r, api_reply_redirect(ar, node_client_url(n, leader), &r));
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
    struct node_pending *pd = pending_new(n, req, ar->op, ar->key, ar->key_len, &n->writes);
    pd->id = index;
    pd->term = term;
}

static void read_index(struct node *n, h2o_req_t *req, const struct api_request *ar)
{
    uint64_t id = ++n->next_read_id;
    if (raft_read(n->raft, id) != RAFT_OK) {
        reply_fail(n, req, ar->op, API_ERR_NO_LEADER);
        return;
    }
    struct node_pending *pd = pending_new(n, req, ar->op, ar->key, ar->key_len, &n->reads);
    pd->id = id;
}

bool node_client_authorized(struct node *n, h2o_req_t *req)
{
    if (!n->client_token[0])
        return true;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i >= 0 && bearer_matches(req->headers.entries[i].value.base,
                                 req->headers.entries[i].value.len, n->client_token))
        return true;
    static const char body[] = "{\"code\":\"fail\",\"error\":\"unauthorized\"}";
    node_send_json(req, 401, body, sizeof body - 1);
    return false;
}

static int on_request(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    if (!node_client_authorized(n, req))
        return 0;
    struct api_limits lim = {.max_key_bytes = n->cfg->max_key_bytes,
                             .max_value_bytes = n->cfg->max_value_bytes};
    struct api_request ar;
    char detail[160];
    enum api_error e =
        api_parse_request(req->method.base, req->method.len, req->entity.base,
                          req->entity.base ? req->entity.len : 0, &lim, &ar, detail, sizeof detail);
    if (e != API_OK) {
        struct api_reply r;
        send_reply(n, req, -1, &r, api_reply_fail(e, detail, &r));
        return 0;
    }
    if (n->stopping || n->failed) {
        reply_fail(n, req, ar.op, API_ERR_UNAVAILABLE);
    } else if (n->n_pending >= n->cfg->max_pending && !(ar.op == API_OP_GET && ar.stale)) {
        shed(n, req);
    } else if (ar.op == API_OP_GET && ar.stale) {
        answer_get(n, req, ar.key, ar.key_len);
    } else if (!redirect_if_not_leader(n, req, &ar)) {
        if (ar.op == API_OP_GET)
            read_index(n, req, &ar);
        else
            propose(n, req, &ar);
    }
    api_request_free(&ar);
    return 0;
}

int node_client_register(struct node *n, h2o_hostconf_t *host)
{
    node_handler_add(n, host, "/request", on_request);
    h2o_linklist_init_anchor(&n->writes);
    h2o_linklist_init_anchor(&n->reads);
    return 0;
}
