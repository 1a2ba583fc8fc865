/* config_tls.c: how the TLS options combine with each other and with the URLs of
 * ip_list.txt. Only the combinations are checked here (the parser stays free of OpenSSL);
 * src/net/tls.c reads the files at start-up and refuses unreadable or mismatched ones.
 *
 * The rules, each failure one line naming the options involved:
 *   - --tls-cert-file and --tls-key-file come together;
 *   - peer TLS is --peer-ca-file, --peer-cert-file and --peer-key-file together;
 *   - a node that serves TLS (either of the above) must be an https:// line of ip_list.txt,
 *     and an https:// line for this node needs a certificate to serve (peers and clients
 *     share the port, so the scheme of our own line is the scheme of the port);
 *   - with peer TLS every line of ip_list.txt is https://: a plain peer could not present
 *     or verify a certificate.
 * Without --tls-cert-file, a node with peer TLS serves its peer certificate on the port.
 */
#include "config.h"

#include <stdarg.h>

static int tls_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int tls_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 2;
}

static bool peer_tls(const struct vesper_config *c)
{
    return c->peer_ca_file[0] || c->peer_cert_file[0] || c->peer_key_file[0];
}

bool config_serves_tls(const struct vesper_config *c)
{
    return c->tls_cert_file[0] || peer_tls(c);
}

int config_check_tls(const struct vesper_config *c, char *err, size_t errlen)
{
    if (!c->tls_cert_file[0] != !c->tls_key_file[0])
        return tls_err(err, errlen, "%s given without %s (a certificate needs its key)",
                       c->tls_cert_file[0] ? "--tls-cert-file" : "--tls-key-file",
                       c->tls_cert_file[0] ? "--tls-key-file" : "--tls-cert-file");
    if (peer_tls(c) && !(c->peer_ca_file[0] && c->peer_cert_file[0] && c->peer_key_file[0]))
        return tls_err(err, errlen,
                       "peer TLS needs all of --peer-ca-file, --peer-cert-file and "
                       "--peer-key-file (missing %s)",
                       !c->peer_ca_file[0]     ? "--peer-ca-file"
                       : !c->peer_cert_file[0] ? "--peer-cert-file"
                                               : "--peer-key-file");
    const struct config_url *own = &c->nodes[c->id];
    if (config_serves_tls(c) && !own->https)
        return tls_err(err, errlen,
                       "%s serves HTTPS but this node's line %d of %s is %s (write https://)",
                       c->tls_cert_file[0] ? "--tls-cert-file" : "peer TLS", c->id + 1,
                       c->ip_list_path, own->text);
    if (own->https && !config_serves_tls(c))
        return tls_err(err, errlen,
                       "%s:%d: %s is https:// but no certificate is configured "
                       "(--tls-cert-file and --tls-key-file)",
                       c->ip_list_path, c->id + 1, own->text);
    if (peer_tls(c))
        for (int k = 0; k < c->n_nodes; k++)
            if (!c->nodes[k].https)
                return tls_err(err, errlen,
                               "%s:%d: %s: with peer TLS every node's URL must be https://",
                               c->ip_list_path, k + 1, c->nodes[k].text);
    return 0;
}
