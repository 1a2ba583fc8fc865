/* pending.c: the table of client requests waiting on the log or on a ReadIndex
 * round, and every answer given from it (the rule is spelled out atop request.c).
 *
 * Writes wait sorted by (index, term), reads by read id. A write list is not
 * in proposal order by nature: a deposed leader keeps its waiting writes, and
 * if it leads again after its log was cut back, new proposals reuse indexes
 * below the old ones. Keeping the list sorted (insertion scans back from the
 * tail, O(1) in the common case) lets completion pop from the head and match
 * each waiter against the entry that applied at its own index.
 *
 * Every record lives in its request's memory pool; the pool's dispose hook
 * unlinks it, so a request that disappears (an HTTP/2 stream reset, a closed
 * connection) never leaves a dangling pointer or a held slot behind. HTTP/1 in
 * h2o 2.2.5 does not read a connection while its request is being processed,
 * so a hung-up HTTP/1 client is only noticed by looking: when the table is
 * full, node_reclaim_abandoned peeks at each waiting HTTP/1 socket. A client
 * that only shut down its sending side looks the same and gets "timeout" then:
 * still true, if less useful, and only ever under that pressure.
 */
#include "node/node.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "api/api.h"
#include "kv/kv.h"

#define REQUEST_TIMEOUT_MS 3000

static void pending_dispose(void *p)
{
    struct node_pending *pd = p;
    if (h2o_linklist_is_linked(&pd->link)) {
        h2o_linklist_unlink(&pd->link);
        pd->node->n_pending--;
    }
}

static struct node_pending *pd_of(h2o_linklist_t *l)
{
    return H2O_STRUCT_FROM_MEMBER(struct node_pending, link, l);
}

static struct node_pending *pending_new(struct node *n, h2o_req_t *req, int op, const char *key,
                                        size_t key_len)
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
    return pd;
}

/* Links a write at its place in (index, term) order. */
static void insert_write(struct node *n, struct node_pending *pd)
{
    h2o_linklist_t *at = n->writes.prev;
    while (at != &n->writes) {
        const struct node_pending *o = pd_of(at);
        if (o->id < pd->id || (o->id == pd->id && o->term <= pd->term))
            break;
        at = at->prev;
    }
    h2o_linklist_insert(at->next, &pd->link);
    n->n_pending++;
}

struct node_pending *node_wait_write(struct node *n, h2o_req_t *req, int op, const char *key,
                                     size_t key_len, raft_index index, raft_term term)
{
    struct node_pending *pd = pending_new(n, req, op, key, key_len);
    pd->id = index;
    pd->term = term;
    insert_write(n, pd);
    return pd;
}

void node_wait_applied(struct node *n, h2o_req_t *req, raft_index index, raft_term term)
{
    node_wait_write(n, req, NODE_OP_ADMIN, "", 0, index, term);
}

struct node_pending *node_wait_read(struct node *n, h2o_req_t *req, int op, const char *key,
                                    size_t key_len, uint64_t read_id)
{
    struct node_pending *pd = pending_new(n, req, op, key, key_len);
    pd->id = read_id; /* read ids only grow: the tail is its place */
    h2o_linklist_insert(&n->reads, &pd->link);
    n->n_pending++;
    return pd;
}

/* A backup (GET /admin/snapshot) waits for its ReadIndex round like a get; its
 * key is empty and its op NODE_OP_ADMIN, which tells node_complete_read apart. */
void node_wait_backup(struct node *n, h2o_req_t *req, uint64_t read_id)
{
    struct node_pending *pd = pending_new(n, req, NODE_OP_ADMIN, "", 0);
    pd->id = read_id;
    h2o_linklist_insert(&n->reads, &pd->link);
    n->n_pending++;
}

static struct node_pending *pending_head(h2o_linklist_t *list)
{
    return h2o_linklist_is_empty(list) ? NULL : pd_of(list->next);
}

static h2o_req_t *pending_take(struct node_pending *pd)
{
    h2o_linklist_unlink(&pd->link);
    pd->node->n_pending--;
    h2o_req_t *req = pd->req;
    pd->req = NULL;
    return req;
}

/* The answer of a write whose entry (pd->id, pd->term) met entry e. */
static int write_answer(struct node *n, const struct node_pending *pd, const struct raft_entry *e,
                        const struct kv_result *res, struct api_reply *r)
{
    if (pd->id < e->index) {
        /* Its index was never applied here one by one: a snapshot covered it.
         * The entry may well be in that snapshot: outcome unknown. */
        n->m.proposals_failed++;
        return api_reply_fail(API_ERR_TIMEOUT, "entry covered by a snapshot", r);
    }
    if (pd->term != e->term) {
        /* Another entry applied at its index: it provably never will. */
        n->m.proposals_failed++;
        return api_reply_fail(API_ERR_NOT_LEADER, NULL, r);
    }
    if (pd->op == NODE_OP_ADMIN)
        return api_reply_success_index(e->index, r);
    if (res->status == KV_CAS_MISMATCH)
        return api_reply_cas_failed(pd->key, pd->key_len, (const char *)res->current,
                                    res->current_len, res->has_current, r);
    if (res->status == KV_OK && pd->op == API_OP_TXN)
        return api_reply_txn(res, r);
    if (res->status == KV_OK && (pd->op == API_OP_LEASE_GRANT || pd->op == API_OP_LEASE_KEEPALIVE))
        return api_reply_lease(res, r);
    if (res->status == KV_OK && pd->op == API_OP_LEASE_REVOKE)
        return api_reply_success_revision(res->revision, r);
    if (res->status == KV_LEASE_NOT_FOUND)
        return api_reply_fail(API_ERR_LEASE_NOT_FOUND,
                              pd->op == API_OP_LEASE_REVOKE || pd->op == API_OP_LEASE_KEEPALIVE
                                  ? "no lease of that id (expired or revoked)"
                                  : "no lease of that id: nothing written",
                              r);
    if (res->status == KV_OK)
        return pd->revisions ? api_reply_success_revision(res->revision, r) : api_reply_success(r);
    return api_reply_fail(api_error_from_kv(res->status), NULL, r);
}

void node_complete_write(struct node *n, const struct raft_entry *e, const struct kv_result *result)
{
    struct node_pending *pd;
    while ((pd = pending_head(&n->writes)) && pd->id <= e->index) {
        h2o_req_t *req = pending_take(pd);
        struct api_reply r;
        int rv = write_answer(n, pd, e, result, &r);
        node_send_reply(n, req, pd->op, &r, rv);
    }
}

void node_complete_read(struct node *n, const struct raft_read_result *rr)
{
    struct node_pending *pd;
    while ((pd = pending_head(&n->reads)) && pd->id <= rr->read_id) {
        if (pd->id == rr->read_id && rr->ok && pd->op == NODE_OP_ADMIN) {
            /* A backup: it needs a snapshot, which may not be taken inside the
             * Ready loop; node_take_backup hands it on once the loop is done. */
            h2o_linklist_unlink(&pd->link);
            pd->id = rr->index;
            h2o_linklist_insert(&n->backups, &pd->link);
            continue;
        }
        h2o_req_t *req = pending_take(pd);
        if (pd->id == rr->read_id && rr->ok && pd->op == API_OP_GET && !pd->revisions)
            node_answer_get(n, req, pd->key, pd->key_len);
        else if (pd->id == rr->read_id && rr->ok)
            node_answer_read(n, req);
        else
            node_reply_fail(n, req, pd->op, API_ERR_NOT_LEADER, NULL); /* a read did nothing */
    }
}

h2o_req_t *node_take_backup(struct node *n, raft_index *read_index)
{
    struct node_pending *pd = pending_head(&n->backups);
    if (pd == NULL)
        return NULL;
    *read_index = pd->id;
    return pending_take(pd);
}

/* Answers a request that stops waiting before its outcome is known: a write
 * (or membership change) may still commit, so it is "timeout"; a read has no
 * effect, so read_error (timeout or unavailable) is true either way. */
static void give_up(struct node *n, struct node_pending *pd, bool is_read,
                    enum api_error read_error, const char *message)
{
    h2o_req_t *req = pending_take(pd);
    node_reply_fail(n, req, pd->op, is_read ? read_error : API_ERR_TIMEOUT, message);
}

static void expire_list(struct node *n, h2o_linklist_t *list, bool is_read, uint64_t now)
{
    h2o_linklist_t *l = list->next;
    while (l != list) {
        struct node_pending *pd = pd_of(l);
        l = l->next; /* deadlines are not sorted once leadership was lost */
        if (pd->deadline_ms <= now)
            give_up(n, pd, is_read, API_ERR_TIMEOUT, NULL);
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
        struct node_pending *pd = pd_of(l);
        if (pd->deadline_ms > soon)
            pd->deadline_ms = soon;
    }
}

void node_fail_pending(struct node *n, const char *message)
{
    struct node_pending *pd;
    while ((pd = pending_head(&n->writes)))
        give_up(n, pd, false, API_ERR_UNAVAILABLE, message);
    while ((pd = pending_head(&n->reads)))
        give_up(n, pd, true, API_ERR_UNAVAILABLE, message);
}

void node_expire_pending(struct node *n, bool all)
{
    if (all) {
        node_fail_pending(n, NULL);
        return;
    }
    uint64_t now = node_now_ms(n);
    expire_list(n, &n->writes, false, now);
    expire_list(n, &n->reads, true, now);
}

/* ===== Hung-up HTTP/1 clients ===== */

/* The head of h2o 2.2.5's private HTTP/1 connection (lib/http1.c): the public
 * connection, then its socket, whose data points back at the connection. */
struct http1_conn_head {
    h2o_conn_t super;
    h2o_socket_t *sock;
};

/* True when req is an HTTP/1 request whose client closed or reset its side. A
 * peeked byte (a pipelined request) or nothing to read means it is still there. */
static bool http1_client_gone(h2o_req_t *req)
{
    if (req->version >= 0x200 || req->conn == NULL)
        return false;
    const struct http1_conn_head *c = (const struct http1_conn_head *)req->conn;
    if (c->sock == NULL || c->sock->data != req->conn)
        return false;
    int fd = h2o_socket_get_fd(c->sock);
    char b;
    if (fd < 0)
        return false;
    ssize_t got = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static uint32_t reclaim_list(struct node *n, h2o_linklist_t *list, bool is_read)
{
    uint32_t freed = 0;
    h2o_linklist_t *l = list->next;
    while (l != list) {
        struct node_pending *pd = pd_of(l);
        l = l->next;
        if (!http1_client_gone(pd->req))
            continue;
        /* The answer (outcome unknown) goes nowhere; sending it is what makes
         * h2o notice the closed connection and free it with the slot. */
        give_up(n, pd, is_read, API_ERR_TIMEOUT, "client gone");
        freed++;
    }
    return freed;
}

uint32_t node_reclaim_abandoned(struct node *n)
{
    uint64_t now = node_now_ms(n);
    if (n->reclaim_checked_ms != 0 && now - n->reclaim_checked_ms < n->cfg->tick_ms)
        return 0; /* once per tick at most: a full table is scanned in one go */
    n->reclaim_checked_ms = now;
    return reclaim_list(n, &n->writes, false) + reclaim_list(n, &n->reads, true);
}
