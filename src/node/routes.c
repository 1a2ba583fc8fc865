/* routes.c: every HTTP endpoint vesperd serves, registered in one place, and the
 * JSON 404 for any other path.
 *
 *   /request                      request.c  the client API (GET and POST)
 *   /watch                        watch.c    streams of changes (GET)
 *   /health /ready /status /noop  status.c   liveness, readiness, state
 *   /admin/transfer /admin/members admin.c   leadership and membership changes
 *   /admin/snapshot               backup.c   a backup file, streamed (vesper snapshot save)
 *   /metrics                      metrics.c  Prometheus text
 *   /ui                           console.c  the cluster console (one HTML page)
 *   /raft                         src/net    peer batches (the transport's own handler)
 *   /                             here       404 {"code":"fail","error":"not_found"}
 *
 * h2o takes the first registered path that is a prefix of the request's, so the
 * catch-all "/" comes last. Every endpoint but /raft goes through node_handler_add:
 * reserved peer connections are kept off it (listener.c) and its body is held to
 * --max-body-bytes. The endpoints the console polls from other nodes' pages are
 * added with node_console_handler_add, which answers their CORS preflight.
 */
#include "node/node.h"

#include "api/api.h"
#include "net/transport.h"

/* h2o's body limit is sized for peer batches (node.c); every endpoint registered here
 * serves clients and keeps --max-body-bytes, answering as h2o does past its own limit. */
static int on_req_within_body_limit(h2o_handler_t *self, h2o_req_t *req)
{
    struct node_handler *h = (struct node_handler *)self;
    if (req->entity.base != NULL && req->entity.len > h->node->cfg->max_body_bytes) {
        node_send_error(req, 0, API_ERR_TOO_LARGE, NULL);
        return 0;
    }
    if (h->console && node_console_cors(h->node, req))
        return 0;
    return h->fn(self, req);
}

static struct node_handler *handler_add(struct node *n, h2o_hostconf_t *host, const char *path,
                                        int (*fn)(h2o_handler_t *, h2o_req_t *))
{
    h2o_pathconf_t *pc = h2o_config_register_path(host, path, 0);
    node_gate_add(n, pc);
    struct node_handler *h = (void *)h2o_create_handler(pc, sizeof *h);
    h->super.on_req = on_req_within_body_limit;
    h->node = n;
    h->fn = fn;
    h->console = false;
    return h;
}

void node_handler_add(struct node *n, h2o_hostconf_t *host, const char *path,
                      int (*fn)(h2o_handler_t *, h2o_req_t *))
{
    handler_add(n, host, path, fn);
}

void node_console_handler_add(struct node *n, h2o_hostconf_t *host, const char *path,
                              int (*fn)(h2o_handler_t *, h2o_req_t *))
{
    handler_add(n, host, path, fn)->console = true;
}

static int on_unknown_path(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    node_send_error(req, 404, API_ERR_NOT_FOUND, "unknown path");
    return 0;
}

int node_routes_register(struct node *n, h2o_hostconf_t *host)
{
    node_handler_add(n, host, "/request", node_on_request);
    node_handler_add(n, host, "/watch", node_on_watch);
    node_console_handler_add(n, host, "/health", node_on_health);
    node_console_handler_add(n, host, "/ready", node_on_ready);
    node_console_handler_add(n, host, "/status", node_on_status);
    node_handler_add(n, host, "/noop", node_on_noop);
    node_handler_add(n, host, "/admin/transfer", node_on_transfer);
    node_handler_add(n, host, "/admin/members", node_on_members);
    node_handler_add(n, host, "/admin/snapshot", node_on_snapshot);
    node_console_handler_add(n, host, "/metrics", node_on_metrics);
    node_handler_add(n, host, "/ui", node_on_console);
    if (transport_register(n->tp, host) != RAFT_OK)
        return -1;
    node_handler_add(n, host, "/", on_unknown_path); /* last: every path starts with "/" */
    return 0;
}
