/* tls_setup.c: the node's TLS: certificates from the configuration into the listener, the
 * peer transport and the relay to the leader; SIGHUP re-reads them; POST /raft is refused
 * on connections without a verified peer certificate when peer TLS is on.
 *
 * Peers and clients share one port, so the listener asks every client for a certificate
 * and admits those without one (curl, browsers, load balancers): a certificate that is
 * presented must verify against the peer CA or the handshake fails (and is logged), and
 * only connections that presented a verified one may POST /raft (403 otherwise). The
 * cluster secret, if set, is checked as well.
 *
 * Rotation: SIGHUP only sets a flag; the next tick rebuilds the contexts from the same
 * files and hands the new ones out. Connections already open (pooled peer connections
 * included) keep the certificates they started with until they close; a reload that fails
 * (unreadable file, key not matching) keeps the old certificates and logs why.
 */
#include "node/node.h"

#include <signal.h>
#include <string.h>

#include "net/tls.h"
#include "net/transport.h"
#include "util/logging.h"

static volatile sig_atomic_t reload_signal;

static void on_sighup(int sig)
{
    (void)sig;
    reload_signal = 1;
}

static void on_tls_log(void *arg, enum tls_severity severity, const char *line)
{
    (void)arg;
    if (severity == TLS_LOG_ERROR)
        log_error("%s", line);
    else if (severity == TLS_LOG_WARN)
        log_warn("%s", line);
    else
        log_info("%s", line);
}

static void on_handshake(void *arg, h2o_socket_t *sock, bool peer)
{
    (void)arg;
    node_conn_set_peer(sock, peer);
}

static bool peer_check(void *arg, h2o_req_t *req)
{
    struct node *n = arg;
    if (!tls_peer_auth(n->tls) || node_conn_is_peer(req->conn))
        return true;
    static uint64_t logged_ms;
    uint64_t now = node_now_ms(n);
    if (now - logged_ms >= 1000 || logged_ms == 0) {
        logged_ms = now;
        char addr[NI_MAXHOST] = "?";
        struct sockaddr_storage sa;
        socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&sa);
        if (len == 0 || h2o_socket_getnumerichost((struct sockaddr *)&sa, len, addr) == SIZE_MAX)
            strcpy(addr, "?");
        log_warn("TLS: POST /raft from %s refused: no verified peer certificate", addr);
    }
    return false;
}

/* Hands the current contexts to everything that opens or accepts TLS connections. */
static void apply(struct node *n)
{
    n->accept_ctx.ssl_ctx = tls_server_ctx(n->tls);
    transport_set_ssl_ctx(n->tp, tls_client_ctx(n->tls));
    node_forward_set_ssl_ctx(n, tls_client_ctx(n->tls));
}

int node_tls_setup(struct node *n, char *err, size_t errlen)
{
    const struct vesper_config *c = n->cfg;
    if (!(n->tls = tls_new(&(struct tls_files){.server_cert = c->tls_cert_file,
                                               .server_key = c->tls_key_file,
                                               .peer_ca = c->peer_ca_file,
                                               .peer_cert = c->peer_cert_file,
                                               .peer_key = c->peer_key_file},
                           err, errlen)))
        return -1;
    tls_set_callbacks(n->tls, on_tls_log, on_handshake, n);
    tls_report(n->tls);
    if (config_serves_tls(c))
        log_info("TLS: serving HTTPS%s",
                 tls_peer_auth(n->tls) ? "; POST /raft needs a verified peer certificate" : "");
    struct sigaction sa = {.sa_handler = on_sighup};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
    return 0;
}

int node_tls_check(const struct vesper_config *c, char *err, size_t errlen)
{
    struct tls_files files = {
        .server_cert = c->tls_cert_file,
        .server_key = c->tls_key_file,
        .peer_ca = c->peer_ca_file,
        .peer_cert = c->peer_cert_file,
        .peer_key = c->peer_key_file,
    };
    struct tls *t = tls_new(&files, err, errlen);
    tls_free(t);
    return t ? 0 : -1;
}

/* After the transport and the h2o context exist. */
void node_tls_start(struct node *n)
{
    transport_set_peer_check(n->tp, peer_check);
    apply(n);
}

void node_tls_poll(struct node *n)
{
    if (!reload_signal)
        return;
    reload_signal = 0;
    char err[512];
    if (tls_reload(n->tls, err, sizeof err) != 0) {
        log_error("TLS: SIGHUP: certificates not reloaded, keeping the old ones: %s", err);
        return;
    }
    apply(n);
    log_info("TLS: SIGHUP: certificates reloaded; new connections use them");
    tls_report(n->tls);
}
