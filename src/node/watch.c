/* watch.c: GET /watch?prefix=P|key=K[&from=REV]: checks the query, answers
 * "compacted" when the history window no longer reaches back to `from`, and
 * otherwise starts the chunked response the watcher streams on (watch_send.c).
 *
 * Any node serves watches, the leader or a follower: events come from the
 * apply, which every replica runs over the same log, so a revision names the
 * same change on every node. A follower's stream may simply lag the leader's.
 * `from` absent means "from the next change": the cursor starts after the
 * revision this node has applied.
 */
#include "node/node.h"
#include "node/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "kv/kv.h"
#include "kv/kv_range.h"

struct watch_query {
    char *key, *prefix; /* decoded, in the request pool; at most one set */
    size_t key_len, prefix_len;
    bool has_from;
    uint64_t from;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) ('+' is a space) into the pool; -1 on a bad escape. */
static int decode(h2o_mem_pool_t *pool, const char *s, size_t n, char **out, size_t *out_len)
{
    char *d = h2o_mem_alloc_pool(pool, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            d[k++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            d[k++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    d[k] = '\0';
    *out = d;
    *out_len = k;
    return 0;
}

static const char *parse_param(h2o_req_t *req, struct watch_query *q, const char *name, size_t nl,
                               const char *val, size_t vl)
{
    char *v;
    size_t len;
    if (decode(&req->pool, val, vl, &v, &len) != 0)
        return "bad percent-escape in the query";
    if (nl == 3 && memcmp(name, "key", 3) == 0) {
        if (len == 0)
            return "key must not be empty";
        q->key = v, q->key_len = len;
    } else if (nl == 6 && memcmp(name, "prefix", 6) == 0) {
        q->prefix = v, q->prefix_len = len;
    } else if (nl == 4 && memcmp(name, "from", 4) == 0) {
        char *endp;
        errno = 0;
        unsigned long long f = strtoull(v, &endp, 10);
        if (len == 0 || *endp != '\0' || errno != 0 || f == 0 || v[0] == '-')
            return "from must be a revision >= 1";
        q->has_from = true;
        q->from = f;
    } else {
        return "unknown query parameter (key, prefix, from)";
    }
    return NULL;
}

static const char *parse_query(h2o_req_t *req, struct watch_query *q)
{
    memset(q, 0, sizeof *q);
    if (req->query_at == SIZE_MAX)
        return "prefix or key missing";
    const char *p = req->path.base + req->query_at + 1;
    const char *end = req->path.base + req->path.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq == NULL)
            return "query parameters are name=value";
        const char *why = parse_param(req, q, p, (size_t)(eq - p), eq + 1, (size_t)(stop - eq - 1));
        if (why != NULL)
            return why;
        p = stop + 1;
    }
    if ((q->key == NULL) == (q->prefix == NULL))
        return "exactly one of prefix and key";
    return NULL;
}

static void send_compacted(h2o_req_t *req, uint64_t oldest)
{
    char body[96];
    int len =
        snprintf(body, sizeof body, "{\"code\":\"fail\",\"error\":\"compacted\",\"oldest\":%llu}",
                 (unsigned long long)oldest);
    req->res.status = 410;
    req->res.reason = "Gone";
    req->res.content_length = (size_t)len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, (size_t)len);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct node_watcher *w = (struct node_watcher *)gen;
    w->sending = false;
    node_watch_pump_one(w);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct node_watcher *w = (struct node_watcher *)gen;
    w->req = NULL;
}

static void watcher_dispose(void *p)
{
    struct node_watcher *w = p;
    if (h2o_linklist_is_linked(&w->link)) {
        h2o_linklist_unlink(&w->link);
        w->node->n_watchers--;
    }
    free(w->buf);
}

/* The range the watcher follows: [key, key + "\0") or [prefix, its successor). */
static void set_range(h2o_req_t *req, struct node_watcher *w, const struct watch_query *q)
{
    if (q->key != NULL) {
        w->start = q->key, w->start_len = q->key_len;
        w->end = h2o_mem_alloc_pool(&req->pool, q->key_len + 1);
        memcpy(w->end, q->key, q->key_len);
        w->end[q->key_len] = '\0';
        w->end_len = q->key_len + 1;
        return;
    }
    w->start = q->prefix, w->start_len = q->prefix_len;
    w->end = h2o_mem_alloc_pool(&req->pool, q->prefix_len + 1);
    w->end_len = kv_prefix_end(q->prefix, q->prefix_len, (uint8_t *)w->end);
    if (w->end_len == 0)
        w->end = NULL; /* every key from the prefix on */
}

int node_on_watch(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    if (!node_client_authorized(n, req))
        return 0;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        node_send_error(req, 405, API_ERR_BAD_METHOD, "GET /watch");
        return 0;
    }
    struct watch_query q;
    const char *why = parse_query(req, &q);
    if (why != NULL) {
        node_send_error(req, 400, API_ERR_BAD_REQUEST, why);
        return 0;
    }
    if (n->stopping || n->failed) {
        node_send_error(req, 503, API_ERR_UNAVAILABLE, NULL);
        return 0;
    }
    uint64_t rev = kv_revision(n->kv);
    if (q.has_from && q.from < kv_hist_oldest(n->kv)) {
        send_compacted(req, kv_hist_oldest(n->kv));
        return 0;
    }
    struct node_watcher *w = h2o_mem_alloc_shared(&req->pool, sizeof *w, watcher_dispose);
    memset(w, 0, sizeof *w);
    w->gen.proceed = on_proceed;
    w->gen.stop = on_stop;
    w->req = req;
    w->node = n;
    set_range(req, w, &q);
    w->next_rev = q.has_from ? q.from : rev + 1;
    w->last_sent_ms = 0; /* a first progress line at once: the client sees the stream open */
    h2o_linklist_insert(&n->watchers, &w->link);
    n->n_watchers++;
    ssize_t accept = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    w->sse = accept >= 0 && h2o_strstr(req->headers.entries[accept].value.base,
                                       req->headers.entries[accept].value.len,
                                       H2O_STRLIT("text/event-stream")) != SIZE_MAX;
    req->res.status = 200;
    req->res.reason = "OK";
    if (w->sse)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/event-stream"));
    else
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/x-ndjson"));
    h2o_start_response(req, &w->gen);
    node_watch_pump_one(w);
    return 0;
}
