/* probe.c: the health probe (see probe.h). A blocking socket with a 2 s
 * timeout (TLS over it for https://): the probe is a short-lived process, so
 * simplicity wins. */
#include "node/probe.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static int connect_to(const struct config_url *url)
{
    char port[8];
    snprintf(port, sizeof port, "%u", url->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(url->host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* One request and the start of its answer over TLS: verified against --peer-ca-file (and
 * presenting --peer-cert-file) when given, else unverified: the probe asks whether the
 * node answers, not who it is. */
static ssize_t exchange_tls(int fd, const struct config_url *url, const struct vesper_config *cfg,
                            const char *req, int len, char *buf, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = NULL;
    ssize_t got = -1;
    if (!ctx)
        return -1;
    if (cfg->peer_ca_file[0]) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->peer_ca_file, NULL) != 1) {
            fprintf(stderr, "probe: cannot load CA %s\n", cfg->peer_ca_file);
            goto out;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    }
    if (cfg->peer_cert_file[0] &&
        (SSL_CTX_use_certificate_chain_file(ctx, cfg->peer_cert_file) != 1 ||
         SSL_CTX_use_PrivateKey_file(ctx, cfg->peer_key_file, SSL_FILETYPE_PEM) != 1)) {
        fprintf(stderr, "probe: cannot load %s\n", cfg->peer_cert_file);
        goto out;
    }
    if (!(ssl = SSL_new(ctx)) || SSL_set_fd(ssl, fd) != 1 ||
        SSL_set_tlsext_host_name(ssl, url->host) != 1 ||
        (cfg->peer_ca_file[0] && SSL_set1_host(ssl, url->host) != 1))
        goto out;
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        fprintf(stderr, "probe: TLS handshake with %s failed%s%s\n", url->text,
                v != X509_V_OK ? ": " : "", v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
        goto out;
    }
    if (SSL_write(ssl, req, len) == len) {
        int n = SSL_read(ssl, buf, (int)cap);
        got = n > 0 ? n : 0;
    }
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    return got;
}

int probe_health(const struct config_url *url, const struct vesper_config *cfg)
{
    int fd = connect_to(url);
    if (fd < 0) {
        fprintf(stderr, "probe: cannot connect to %s\n", url->text);
        return 1;
    }
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", url->host);
    char buf[64] = {0};
    ssize_t got = 0;
    if (len > 0 && url->https)
        got = exchange_tls(fd, url, cfg, req, len, buf, sizeof buf - 1);
    else if (len > 0 && write(fd, req, (size_t)len) == len)
        got = read(fd, buf, sizeof buf - 1);
    close(fd);
    bool ok = got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
    if (!ok)
        fprintf(stderr, "probe: %s/health is not healthy\n", url->text);
    return ok ? 0 : 1;
}
