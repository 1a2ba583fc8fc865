/* tls_verify.c: what runs inside OpenSSL's handshakes (see tls.h): a refused certificate
 * becomes one log line naming the remote address, the reason ("certificate has expired",
 * "unable to get local issuer certificate") and the certificate; a finished server
 * handshake tells the node whether the client proved to be a peer.
 *
 * h2o gives each TLS socket a BIO whose data is the h2o_socket_t; that is how a callback
 * that only sees the SSL object finds the socket (and so the remote address).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "net/tls_int.h"

void tls_asn1_time(const ASN1_TIME *tm, char *out, size_t len)
{
    snprintf(out, len, "?");
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (ASN1_TIME_print(b, tm) == 1) {
        int n = BIO_read(b, out, (int)len - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

static h2o_socket_t *socket_of(const SSL *ssl)
{
    BIO *bio = SSL_get_rbio(ssl);
    return bio ? BIO_get_data(bio) : NULL;
}

static void remote_of(const SSL *ssl, char *out, size_t len)
{
    h2o_socket_t *sock = socket_of(ssl);
    struct sockaddr_storage sa;
    socklen_t salen = sock ? h2o_socket_getpeername(sock, (struct sockaddr *)&sa) : 0;
    char host[NI_MAXHOST];
    int32_t port = salen ? h2o_socket_getport((struct sockaddr *)&sa) : -1;
    if (salen == 0 || h2o_socket_getnumerichost((struct sockaddr *)&sa, salen, host) == SIZE_MAX)
        snprintf(out, len, "unknown address");
    else
        snprintf(out, len, "%s:%d", host, (int)port);
}

int tls_verify_cb(int ok, X509_STORE_CTX *store)
{
    if (ok)
        return 1;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls *t = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
    if (!t || !t->log)
        return 0;
    time_t now = time(NULL);
    if (now == t->refused_logged_at) {
        t->refused_unlogged++;
        return 0;
    }
    int code = X509_STORE_CTX_get_error(store);
    X509 *x = X509_STORE_CTX_get_current_cert(store);
    char subject[256] = "?", until[64] = "?", remote[NI_MAXHOST + 16], more[64] = "", line[1600];
    if (x) {
        X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
        tls_asn1_time(X509_get0_notAfter(x), until, sizeof until);
    }
    remote_of(ssl, remote, sizeof remote);
    if (t->refused_unlogged)
        snprintf(more, sizeof more, " (%u more refused in the last seconds)", t->refused_unlogged);
    snprintf(line, sizeof line,
             "TLS: refused the certificate of %s %s: %s (subject %s, valid until %s)%s",
             SSL_is_server(ssl) ? "client" : "server", remote, X509_verify_cert_error_string(code),
             subject, until, more);
    t->refused_logged_at = now;
    t->refused_unlogged = 0;
    t->log(t->arg, TLS_LOG_WARN, line);
    return 0;
}

void tls_info_cb(const SSL *ssl, int where, int ret)
{
    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_DONE) || !SSL_is_server((SSL *)ssl))
        return;
    struct tls *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    h2o_socket_t *sock = socket_of(ssl);
    if (!t || !t->handshake || !sock)
        return;
    bool peer = SSL_get0_peer_certificate(ssl) != NULL && SSL_get_verify_result(ssl) == X509_V_OK;
    t->handshake(t->arg, sock, peer);
}
