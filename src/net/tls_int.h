/* tls_int.h: the state behind struct tls, shared by tls.c (contexts, files, reload) and
 * tls_verify.c (the callbacks OpenSSL runs during handshakes). Not for other modules. */
#ifndef VESPER_NET_TLS_INT_H
#define VESPER_NET_TLS_INT_H

#include <time.h>

#include "net/tls.h"

struct tls {
    struct tls_files files; /* owned copies of the names */
    SSL_CTX *server;        /* NULL when nothing is served over TLS */
    SSL_CTX *client;
    SSL_CTX **retired; /* replaced by a reload, freed by tls_free */
    size_t n_retired;
    unsigned generation; /* reloads that succeeded, the first load included */
    tls_log_cb log;
    tls_handshake_cb handshake;
    void *arg;
    time_t refused_logged_at; /* refusal lines: at most one a second */
    unsigned refused_unlogged;
};

/* SSL_CTX_set_verify callback of both contexts: logs a refused certificate. */
int tls_verify_cb(int ok, X509_STORE_CTX *store);
/* SSL_CTX_set_info_callback of the server context with peer TLS: reports handshakes. */
void tls_info_cb(const SSL *ssl, int where, int ret);
/* "Jan  1 00:00:00 2030 GMT". */
void tls_asn1_time(const ASN1_TIME *tm, char *out, size_t len);

#endif
