/* console.c: the cluster console and what lets it poll every node.
 *
 *   GET /ui    one self-contained HTML page (src/ui/console.html, embedded at build
 *              time as console_html.h by mk/90-vesperd.mk): it fetches /status,
 *              /metrics and /health from every member about once a second
 *   CORS       /status, /metrics, /health and /ready (node_console_handler_add)
 *              answer the page's cross-origin reads and preflights
 *
 * The page is loaded from one node and reads the others directly, so it keeps
 * working when that node dies. Those reads are cross-origin (another port or host),
 * so the polled endpoints name the page's origin in Access-Control-Allow-Origin.
 * Only origins on the hosts of the cluster's own nodes are named (the hosts of their
 * advertised client URLs, ip_list lines and member addresses, any port): a page on any
 * other site cannot read a node through a browser that can reach it. Only GET is
 * allowed, the only header a page may add is Authorization (the client token, held by
 * the page; never a cookie), and Access-Control-Allow-Credentials is never sent.
 *
 * /ui is served without the client token: it holds no data, only the script that
 * asks for it.
 */
#include "node/node.h"

#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "console_html.h" /* generated: static const unsigned char console_html[] */

#define CORS_MAX_AGE_S "600"

static bool is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* The host of a URL or origin ("scheme://host[:port][/...]", host possibly "[v6]"):
 * its start and length, or false. */
static bool host_of(const char *s, size_t len, const char **host, size_t *host_len)
{
    const char *p = s ? memmem(s, len, "://", 3) : NULL;
    if (!p)
        return false;
    p += 3;
    const char *end = s + len, *q = p;
    if (q < end && *q == '[') {
        while (q < end && *q != ']')
            q++;
        if (q < end)
            q++;
    } else {
        while (q < end && *q != ':' && *q != '/')
            q++;
    }
    *host = p;
    *host_len = (size_t)(q - p);
    return *host_len > 0;
}

static bool same_host(const char *url, const char *h, size_t h_len)
{
    const char *uh;
    size_t uh_len;
    return url && host_of(url, strlen(url), &uh, &uh_len) && uh_len == h_len &&
           strncasecmp(uh, h, h_len) == 0;
}

/* A page served from a host that runs or names a cluster node: this node's advertised
 * URL, a line of its ip_list, a member's address or client URL. Any port: in the compose
 * cluster the nodes share the host, and a follower knows the other followers' advertised
 * URLs only by their ip_list names (peers announce theirs to the leader). */
static bool origin_allowed(struct node *n, const char *o, size_t len)
{
    const char *h;
    size_t h_len;
    if (!host_of(o, len, &h, &h_len))
        return false;
    /* An origin ends with its host or ":port". */
    const char *rest = h + h_len, *end = o + len;
    if (rest < end && (*rest != ':' || rest + 1 == end ||
                       strspn(rest + 1, "0123456789") != (size_t)(end - rest - 1)))
        return false;
    if (same_host(n->cfg->advertise_url.text, h, h_len))
        return true;
    for (int k = 0; k < n->cfg->n_nodes; k++)
        if (same_host(n->cfg->nodes[k].text, h, h_len))
            return true;
    const struct raft_conf *c = raft_current_conf(n->raft);
    for (uint32_t k = 0; k < c->n; k++)
        if (same_host(c->m[k].addr, h, h_len) ||
            same_host(node_client_url(n, c->m[k].id), h, h_len))
            return true;
    return false;
}

static void add_header(h2o_req_t *req, const char *name, const char *value, size_t len)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, value, len);
}

bool node_console_cors(struct node *n, h2o_req_t *req)
{
    bool preflight = is_method(req, "OPTIONS");
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
    char origin[CONFIG_URL_MAX];
    size_t len = i >= 0 ? req->headers.entries[i].value.len : 0;
    bool allowed = i >= 0 && len > 0 && len < sizeof origin;
    if (allowed) {
        memcpy(origin, req->headers.entries[i].value.base, len);
        origin[len] = '\0';
        allowed = memchr(origin, '\0', len) == NULL && origin_allowed(n, origin, len);
    }
    /* The answer depends on Origin: caches must not hand one origin's to another. */
    add_header(req, "vary", H2O_STRLIT("Origin"));
    if (allowed)
        add_header(req, "access-control-allow-origin", req->headers.entries[i].value.base, len);
    if (!preflight)
        return false;
    if (allowed) {
        add_header(req, "access-control-allow-methods", H2O_STRLIT("GET"));
        add_header(req, "access-control-allow-headers", H2O_STRLIT("Authorization"));
        add_header(req, "access-control-max-age", H2O_STRLIT(CORS_MAX_AGE_S));
    }
    /* A refused origin gets the same empty answer without the allow headers: the
     * browser then refuses the request itself. */
    req->res.status = 204;
    req->res.reason = "No Content";
    req->res.content_length = 0;
    h2o_send_inline(req, "", 0);
    return true;
}

int node_on_console(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/ui")) &&
        !h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/ui/"))) {
        node_send_error(req, 404, API_ERR_NOT_FOUND, "unknown path");
        return 0;
    }
    if (!is_method(req, "GET") && !is_method(req, "HEAD")) {
        add_header(req, "allow", H2O_STRLIT("GET, HEAD"));
        node_send_error(req, 405, API_ERR_BAD_METHOD, "use GET");
        return 0;
    }
    /* The page fetches nothing but the nodes' JSON and text endpoints: no script,
     * style, font or image from anywhere else, and it may not be framed. */
    add_header(req, "content-security-policy",
               H2O_STRLIT("default-src 'none'; script-src 'unsafe-inline'; "
                          "style-src 'unsafe-inline'; img-src data:; connect-src http: https:; "
                          "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"));
    add_header(req, "x-content-type-options", H2O_STRLIT("nosniff"));
    add_header(req, "referrer-policy", H2O_STRLIT("no-referrer"));
    add_header(req, "cache-control", H2O_STRLIT("no-cache"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/html; charset=utf-8"));
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = sizeof console_html;
    h2o_send_inline(req, (const char *)console_html, sizeof console_html);
    return 0;
}
