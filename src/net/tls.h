/* tls.h: the node's OpenSSL contexts, built from certificate files and rebuilt on demand.
 *
 * Two contexts, both loaded from the files named at start-up:
 *   server: what the listener serves. Its certificate is --tls-cert-file (or the peer
 *           certificate when only peer TLS is on). With peer TLS it asks every client for a
 *           certificate and verifies one that is presented against the peer CA (a bad one
 *           fails the handshake); a client without one still connects, and POST /raft then
 *           refuses it (the handshake callback reports who was verified).
 *   client: outgoing https connections (peer RPC and the follower's relay to the leader).
 *           It presents the peer certificate (if any) and verifies the server against the
 *           peer CA, or against the system's default CA paths without peer TLS. h2o checks
 *           the host name of the URL against the certificate's DNS names (IP literals too).
 *
 * tls_reload() re-reads every file and swaps both contexts in one step; on any failure
 * the old ones stay. Connections already open keep the context they started with, so
 * replaced contexts are kept (not freed) until tls_free: a socket still handshaking may
 * refer to one. Every refusal of a certificate, and a certificate of ours that is expired
 * or not yet valid, is reported through the log callback (refusals at most once a second,
 * with a count of the ones left out).
 */
#ifndef VESPER_NET_TLS_H
#define VESPER_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

struct tls;

struct tls_files {
    const char *server_cert, *server_key;       /* served on the listener; NULL = plain */
    const char *peer_ca, *peer_cert, *peer_key; /* mutual TLS between peers; NULL = off */
};

enum tls_severity { TLS_LOG_INFO, TLS_LOG_WARN, TLS_LOG_ERROR };

/* A line to log (no newline). */
typedef void (*tls_log_cb)(void *arg, enum tls_severity severity, const char *line);
/* A server-side handshake finished on sock; peer is true when the client presented a
 * certificate that verified against the peer CA. */
typedef void (*tls_handshake_cb)(void *arg, h2o_socket_t *sock, bool peer);

/* Loads the files (copied names). NULL with one line naming the file and the problem in
 * err (unreadable file, not PEM, key not matching its certificate). */
struct tls *tls_new(const struct tls_files *files, char *err, size_t errlen);
/* Callbacks for the refusal log and server handshakes; set them before serving. */
void tls_set_callbacks(struct tls *t, tls_log_cb log, tls_handshake_cb handshake, void *arg);
/* Re-reads every file. 0 and new contexts, or -1 with the reason in err and the old
 * contexts in place. Also reports our certificates' validity through the log callback. */
int tls_reload(struct tls *t, char *err, size_t errlen);
/* Logs (INFO) our certificates' subjects, serials and expiry, and WARNs about any that
 * is expired or not yet valid. */
void tls_report(struct tls *t);

/* The current contexts; server is NULL without a certificate to serve. */
SSL_CTX *tls_server_ctx(const struct tls *t);
SSL_CTX *tls_client_ctx(const struct tls *t);
bool tls_peer_auth(const struct tls *t); /* peer TLS is on */

void tls_free(struct tls *t);

#endif
