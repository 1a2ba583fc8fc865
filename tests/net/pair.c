/* pair.c: see pair.h. The server part follows h2o 2.2.5's examples/libh2o/simple.c
 * (evloop branch): our own socket/bind/listen, h2o_evloop_socket_create and
 * h2o_accept, one hostconf "default" with POST /raft from transport_register. */
#include "pair.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct pair_node *n = listener->data;
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL)
        return;
    n->accepted++;
    h2o_accept(&n->accept_ctx, sock);
}

static void on_recv(void *arg, const struct raft_msg *m)
{
    struct pair_node *n = arg;
    if (n->n_recv < PAIR_LOG_MAX) {
        n->recv_from[n->n_recv] = m->from;
        n->recv_seq[n->n_recv] = m->seq;
        uint32_t bytes = 0;
        for (uint32_t e = 0; e < m->n_entries; e++) {
            const struct raft_entry *en = &m->entries[e];
            for (uint32_t i = 0; i < en->len; i++)
                if (en->data[i] != pair_payload_byte(en->index, i))
                    n->recv_payload_ok = false;
            bytes += en->len;
        }
        n->recv_bytes[n->n_recv] = bytes;
    }
    n->n_recv++;
    if (n->on_msg != NULL)
        n->on_msg(n, m);
}

int pair_node_init(struct pair_node *n, h2o_loop_t *loop)
{
    memset(n, 0, sizeof *n);
    n->recv_payload_ok = true;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    n->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0 || bind(n->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(n->fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    n->port = ntohs(sa.sin_port);
    n->loop = loop;
    h2o_config_init(&n->config);
    /* Past 32 MiB h2o spools request bodies to /tmp; cap well below. */
    n->config.max_request_entity_size = 16u << 20;
    return 0;
}

int pair_node_listen(struct pair_node *n)
{
    if (listen(n->fd, 64) != 0)
        return -1;
    n->listener = h2o_evloop_socket_create(n->ctx.loop, n->fd, H2O_SOCKET_FLAG_DONT_READ);
    n->listener->data = n;
    h2o_socket_read_start(n->listener, on_accept);
    return 0;
}

int pair_node_transport(struct pair_node *n, const struct transport_config *cfg,
                        const struct transport_peer *peers, size_t n_peers)
{
    h2o_hostconf_t *host =
        h2o_config_register_host(&n->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    if (transport_new(&n->t, cfg, peers, n_peers, on_recv, n) != RAFT_OK ||
        transport_register(n->t, host) != RAFT_OK)
        return -1;
    h2o_context_init(&n->ctx, n->loop, &n->config);
    n->accept_ctx.ctx = &n->ctx;
    n->accept_ctx.hosts = n->config.hosts;
    transport_start(n->t, &n->ctx);
    return 0;
}

bool pair_run(struct pair_node **nodes, size_t n, h2o_loop_t *loop, bool (*done)(void *), void *arg,
              uint64_t timeout_ms)
{
    uint64_t end = h2o_now(loop) + timeout_ms;
    while (!done(arg) && h2o_now(loop) < end) {
        if (h2o_evloop_run(loop, 10) != 0)
            break;
        for (size_t i = 0; i < n; i++) {
            if (nodes[i]->t != NULL && nodes[i]->before_flush != NULL)
                nodes[i]->before_flush(nodes[i]);
            if (nodes[i]->t != NULL)
                transport_flush(nodes[i]->t);
        }
    }
    return done(arg);
}

bool pair_got(void *arg)
{
    struct pair_want *w = arg;
    return w->n->n_recv >= w->count;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

void pair_dispose(struct pair_node **nodes, size_t n, h2o_loop_t *loop)
{
    for (size_t i = 0; i < n; i++) {
        transport_free(nodes[i]->t);
        nodes[i]->t = NULL;
        if (nodes[i]->listener != NULL)
            h2o_socket_close(nodes[i]->listener);
        else if (nodes[i]->fd >= 0)
            close(nodes[i]->fd);
        nodes[i]->listener = NULL;
        nodes[i]->fd = -1;
    }
    /* Servers notice the closed client sockets and free their connections. */
    pair_run(nodes, n, loop, never, NULL, 50);
    for (size_t i = 0; i < n; i++) {
        h2o_context_dispose(&nodes[i]->ctx);
        h2o_config_dispose(&nodes[i]->config);
    }
}
