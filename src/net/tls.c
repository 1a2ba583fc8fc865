/* tls.c: building the server and client contexts from certificate files, swapping them on
 * reload, and reporting our certificates' validity (see tls.h). The callbacks OpenSSL
 * runs during handshakes (certificate refusals, verified peers) are in tls_verify.c.
 */
#include "net/tls.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "net/tls_int.h"

static const unsigned char session_context[] = "vesper";

static int tls_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tls_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The first OpenSSL error in the queue as text ("no start line"), and the queue cleared. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, len, "%s", reason ? reason : "unknown error");
    ERR_clear_error();
    return buf;
}

static int readable(const char *what, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return tls_errf(err, errlen, "%s %s: cannot read: %s", what, path, strerror(errno));
    fclose(f);
    return 0;
}

/* Loads a certificate chain and its key into ctx and checks that they belong together. */
static int load_pair(SSL_CTX *ctx, const char *cert, const char *key, const char *what, char *err,
                     size_t errlen)
{
    char why[160];
    if (readable(what, cert, err, errlen) || readable("key of", key, err, errlen))
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        return tls_errf(err, errlen, "%s %s: not a PEM certificate (%s)", what, cert,
                        ssl_reason(why, sizeof why));
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        /* OpenSSL compares the key with the certificate while loading it. */
        bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        ssl_reason(why, sizeof why);
        return mismatch ? tls_errf(err, errlen, "key %s does not match certificate %s", key, cert)
                        : tls_errf(err, errlen, "key %s: not a PEM private key (%s)", key, why);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tls_errf(err, errlen, "key %s does not match certificate %s (%s)", key, cert,
                        ssl_reason(why, sizeof why));
    return 0;
}

static int load_ca(SSL_CTX *ctx, const char *ca, char *err, size_t errlen)
{
    char why[160];
    if (readable("CA", ca, err, errlen))
        return -1;
    if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        return tls_errf(err, errlen, "CA %s: no PEM certificate (%s)", ca,
                        ssl_reason(why, sizeof why));
    return 0;
}

static SSL_CTX *new_ctx(struct tls *t, const SSL_METHOD *method)
{
    SSL_CTX *ctx = SSL_CTX_new(method);
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_app_data(ctx, t);
    return ctx;
}

static SSL_CTX *build_server(struct tls *t, char *err, size_t errlen)
{
    const struct tls_files *f = &t->files;
    const char *cert = f->server_cert ? f->server_cert : f->peer_cert;
    const char *key = f->server_cert ? f->server_key : f->peer_key;
    if (!cert)
        return NULL;
    SSL_CTX *ctx = new_ctx(t, TLS_server_method());
    if (!ctx) {
        tls_errf(err, errlen, "TLS: cannot create a server context");
        return NULL;
    }
    if (load_pair(ctx, cert, key, "certificate", err, errlen))
        goto fail;
    /* Resumed sessions keep their verified peer; OpenSSL needs a context id for that. */
    SSL_CTX_set_session_id_context(ctx, session_context, sizeof session_context - 1);
    if (f->peer_ca) {
        if (load_ca(ctx, f->peer_ca, err, errlen))
            goto fail;
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(f->peer_ca);
        if (names)
            SSL_CTX_set_client_CA_list(ctx, names);
        /* Ask, verify what is presented, admit clients without one (POST /raft refuses). */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
        SSL_CTX_set_info_callback(ctx, tls_info_cb);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static SSL_CTX *build_client(struct tls *t, char *err, size_t errlen)
{
    const struct tls_files *f = &t->files;
    SSL_CTX *ctx = new_ctx(t, TLS_client_method());
    if (!ctx) {
        tls_errf(err, errlen, "TLS: cannot create a client context");
        return NULL;
    }
    if (f->peer_ca ? load_ca(ctx, f->peer_ca, err, errlen)
                   : (SSL_CTX_set_default_verify_paths(ctx) != 1 &&
                      tls_errf(err, errlen, "TLS: cannot load the default CA paths")))
        goto fail;
    if (f->peer_cert && load_pair(ctx, f->peer_cert, f->peer_key, "peer certificate", err, errlen))
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, tls_verify_cb);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s || !*s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

struct tls *tls_new(const struct tls_files *files, char *err, size_t errlen)
{
    struct tls *t = calloc(1, sizeof *t);
    if (!t) {
        tls_errf(err, errlen, "TLS: out of memory");
        return NULL;
    }
    bool oom = false;
    t->files.server_cert = dup_or_null(files->server_cert, &oom);
    t->files.server_key = dup_or_null(files->server_key, &oom);
    t->files.peer_ca = dup_or_null(files->peer_ca, &oom);
    t->files.peer_cert = dup_or_null(files->peer_cert, &oom);
    t->files.peer_key = dup_or_null(files->peer_key, &oom);
    if (oom || tls_reload(t, err, errlen) != 0) {
        if (oom)
            tls_errf(err, errlen, "TLS: out of memory");
        tls_free(t);
        return NULL;
    }
    return t;
}

void tls_set_callbacks(struct tls *t, tls_log_cb log, tls_handshake_cb handshake, void *arg)
{
    t->log = log;
    t->handshake = handshake;
    t->arg = arg;
}

int tls_reload(struct tls *t, char *err, size_t errlen)
{
    bool serve = t->files.server_cert || t->files.peer_cert;
    SSL_CTX *server = serve ? build_server(t, err, errlen) : NULL;
    if (serve && !server)
        return -1;
    SSL_CTX *client = build_client(t, err, errlen);
    if (!client) {
        SSL_CTX_free(server);
        return -1;
    }
    /* Keep the replaced contexts: a connection still handshaking may use them. */
    SSL_CTX *old[2] = {t->server, t->client};
    for (int i = 0; i < 2; i++) {
        if (!old[i])
            continue;
        SSL_CTX **grown = realloc(t->retired, (t->n_retired + 1) * sizeof *grown);
        if (!grown)
            break; /* the old context leaks: harmless, and better than a dangling one */
        t->retired = grown;
        t->retired[t->n_retired++] = old[i];
    }
    t->server = server;
    t->client = client;
    t->generation++;
    return 0;
}

/* "CN=node0, serial 1A2B, valid until Jan  1 00:00:00 2030 GMT"; sets *expired. */
static void describe(X509 *x, char *out, size_t len, int *state)
{
    char subject[256] = "?", serial[80] = "?", until[64] = "?";
    X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof subject);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(serial, sizeof serial, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    tls_asn1_time(X509_get0_notAfter(x), until, sizeof until);
    *state = X509_cmp_current_time(X509_get0_notAfter(x)) < 0    ? 1
             : X509_cmp_current_time(X509_get0_notBefore(x)) > 0 ? -1
                                                                 : 0;
    snprintf(out, len, "%s, serial %s, valid until %s", subject, serial, until);
}

static void report_ctx(struct tls *t, SSL_CTX *ctx, const char *role, const char *file)
{
    X509 *x = ctx ? SSL_CTX_get0_certificate(ctx) : NULL;
    if (!x)
        return;
    char what[512], line[700];
    int state;
    describe(x, what, sizeof what, &state);
    if (state > 0)
        snprintf(line, sizeof line,
                 "TLS: %s certificate %s has EXPIRED (%s): peers and clients will refuse it", role,
                 file, what);
    else if (state < 0)
        snprintf(line, sizeof line, "TLS: %s certificate %s is not valid yet (%s)", role, file,
                 what);
    else
        snprintf(line, sizeof line, "TLS: %s certificate %s: %s", role, file, what);
    if (t->log)
        t->log(t->arg, state ? TLS_LOG_WARN : TLS_LOG_INFO, line);
}

void tls_report(struct tls *t)
{
    const struct tls_files *f = &t->files;
    report_ctx(t, t->server, "served", f->server_cert ? f->server_cert : f->peer_cert);
    if (f->peer_cert)
        report_ctx(t, t->client, "peer", f->peer_cert);
}

SSL_CTX *tls_server_ctx(const struct tls *t)
{
    return t->server;
}

SSL_CTX *tls_client_ctx(const struct tls *t)
{
    return t->client;
}

bool tls_peer_auth(const struct tls *t)
{
    return t->files.peer_ca != NULL;
}

void tls_free(struct tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->server);
    SSL_CTX_free(t->client);
    for (size_t i = 0; i < t->n_retired; i++)
        SSL_CTX_free(t->retired[i]);
    free(t->retired);
    free((char *)t->files.server_cert);
    free((char *)t->files.server_key);
    free((char *)t->files.peer_ca);
    free((char *)t->files.peer_cert);
    free((char *)t->files.peer_key);
    free(t);
}
