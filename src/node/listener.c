/* listener.c: the client and peer listener: binding, accepting in batches, and
 * the connection limits.
 *
 * Peers and clients share the listener, so client connections must not be able
 * to lock peers out: past --max-connections, up to --max-peer-connections more
 * are accepted into a reserve that serves POST /raft only; any other request on
 * a reserved connection gets 503 and the connection closes. (Which kind a
 * connection is shows only at its first request; idle connections in the reserve
 * last until the idle timeout like any other.)
 */
#include "node/node.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/logging.h"

#define ACCEPT_BATCH 64

struct conn_slot {
    h2o_linklist_t link; /* in node.reserved_conns when reserved */
    struct node *node;
    bool peer; /* TLS: the client presented a certificate signed by the peer CA */
};

static void on_conn_close(void *data)
{
    struct conn_slot *slot = data;
    struct node *n = slot->node;
    if (h2o_linklist_is_linked(&slot->link)) {
        h2o_linklist_unlink(&slot->link);
        n->n_peer_conns--;
    } else {
        n->n_conns--;
    }
    free(slot);
}

/* A connection's slot, found through its socket (with TLS, h2o makes the HTTP/1
 * connection only once the handshake is done). */
static struct conn_slot *slot_of_socket(h2o_socket_t *sock)
{
    return sock && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

static struct conn_slot *slot_of_conn(h2o_conn_t *conn)
{
    return conn->callbacks->get_socket ? slot_of_socket(conn->callbacks->get_socket(conn)) : NULL;
}

void node_conn_set_peer(h2o_socket_t *sock, bool peer)
{
    struct conn_slot *slot = slot_of_socket(sock);
    if (slot)
        slot->peer = peer;
}

bool node_conn_is_peer(h2o_conn_t *conn)
{
    struct conn_slot *slot = slot_of_conn(conn);
    return slot && slot->peer;
}

/* Runs before every endpoint except /raft: a request on a reserved connection is
 * turned away. -1 hands the request on to the endpoint. */
static int on_gate(h2o_handler_t *self, h2o_req_t *req)
{
    struct node *n = NODE_OF(self);
    struct conn_slot *slot;
    if (h2o_linklist_is_empty(&n->reserved_conns) || !(slot = slot_of_conn(req->conn)) ||
        !h2o_linklist_is_linked(&slot->link))
        return -1;
    static const char body[] =
        "{\"code\":\"fail\",\"error\":\"unavailable\",\"message\":"
        "\"too many connections\"}";
    n->m.conns_refused++;
    req->http1_is_persistent = 0;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    node_send_json(req, 503, body, sizeof body - 1);
    return 0;
}

void node_gate_add(struct node *n, h2o_pathconf_t *pc)
{
    struct node_handler *h = (void *)h2o_create_handler(pc, sizeof *h);
    h->super.on_req = on_gate;
    h->node = n;
}

/* Accepts every waiting connection, up to ACCEPT_BATCH a turn: one a turn would
 * let a burst of connections wait behind many loop turns (and their fsyncs).
 * Past both limits a connection is closed at once: a flood of idle sockets must
 * not exhaust descriptors the peers and the WAL need. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct node *n = listener->data;
    if (err)
        return;
    for (uint64_t k = 0; k < ACCEPT_BATCH; k++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (!sock)
            return;
        if (k + 1 > n->m.accept_batch_max)
            n->m.accept_batch_max = k + 1;
        bool reserve = n->n_conns >= n->cfg->max_connections;
        struct conn_slot *slot = NULL;
        if ((reserve && n->n_peer_conns >= n->cfg->max_peer_connections) ||
            !(slot = calloc(1, sizeof *slot))) {
            n->m.conns_refused++;
            h2o_socket_close(sock);
            continue;
        }
        slot->node = n;
        if (reserve) {
            n->n_peer_conns++;
            h2o_linklist_insert(&n->reserved_conns, &slot->link);
        } else {
            n->n_conns++;
        }
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = slot;
        h2o_accept(&n->accept_ctx, sock);
    }
}

int node_open_listener(struct node *n)
{
    char port[8];
    snprintf(port, sizeof port, "%u", n->cfg->listen_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    int gai = getaddrinfo(n->cfg->listen_host, port, &hints, &res);
    if (gai) {
        log_error("listen %s:%s: %s", n->cfg->listen_host, port, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        log_error("listen %s:%s: %s", n->cfg->listen_host, port, strerror(errno));
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(res);
    n->listener = h2o_evloop_socket_create(n->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    n->listener->data = n;
    h2o_socket_read_start(n->listener, on_accept);
    log_info("serving on %s:%s as %s", n->cfg->listen_host, port, n->cfg->advertise_url.text);
    return 0;
}
