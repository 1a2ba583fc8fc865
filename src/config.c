/* config.c: vesperd's configuration: defaults, then VESPER_* environment, then the command
 * line, then ip_list.txt, then the values derived from our own line and cross-checks.
 *
 * Options live in one table (name, type, field, range, help) so the parser, the environment
 * lookup and --help cannot drift apart. Every failure produces exactly one line naming the
 * source of the bad value (the option, the variable, or FILE:LINE of ip_list.txt), because an
 * operator reading container logs should not have to guess which of three inputs is wrong.
 * The struct holds fixed-size arrays so a parse allocates nothing and needs no cleanup.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum config_kind { KIND_STR, KIND_U32, KIND_U64, KIND_BOOL, KIND_LEVEL, KIND_LISTEN, KIND_URL };

struct config_opt {
    const char *name;
    enum config_kind kind;
    size_t offset, size;
    uint64_t min, max;
    bool mode; /* a mode switch: command line only */
    const char *arg, *def, *help;
};

#define FIELD(f) offsetof(struct vesper_config, f), sizeof(((struct vesper_config *)0)->f)
#define MIB      (1024ull * 1024)

static const struct config_opt config_opts[] = {
    {"data-dir", KIND_STR, FIELD(data_dir), 0, 0, false, "DIR", "./data/<id>",
     "write-ahead log, hard state and snapshots"},
    {"election-timeout-ms", KIND_U32, FIELD(election_timeout_ms), 10, 600000, false, "MS", "500",
     "base election timeout (randomized in [T, 2T)); >= 5 heartbeats"},
    {"heartbeat-ms", KIND_U32, FIELD(heartbeat_ms), 1, 60000, false, "MS", "50",
     "leader heartbeat interval"},
    {"tick-ms", KIND_U32, FIELD(tick_ms), 1, 10000, false, "MS", "10",
     "core clock tick; the two intervals above must be multiples of it"},
    {"snapshot-entries", KIND_U64, FIELD(snapshot_entries), 1, 1000000000, false, "N", "100000",
     "snapshot after this many applied entries"},
    {"snapshot-bytes", KIND_U64, FIELD(snapshot_bytes), 4096, 1ull << 40, false, "N", "67108864",
     "... or sooner, to keep the log between snapshots under about this many bytes"},
    {"snapshot-fork-bytes", KIND_U64, FIELD(snapshot_fork_bytes), 0, 1ull << 40, false, "N",
     "16777216", "a state this big or bigger is written by a forked child; 0 = always"},
    {"sync-inline", KIND_BOOL, FIELD(sync_inline), 0, 0, false, NULL, "false",
     "the leader fdatasyncs on the event loop, not on the sync thread beside it"},
    {"max-key-bytes", KIND_U32, FIELD(max_key_bytes), 1, 65536, false, "N", "1024",
     "longest key accepted"},
    {"max-value-bytes", KIND_U32, FIELD(max_value_bytes), 1, 16 * MIB, false, "N", "1048576",
     "longest value accepted"},
    {"max-body-bytes", KIND_U32, FIELD(max_body_bytes), 1024, 32 * MIB, false, "N", "4194304",
     "largest request body (<= 32 MiB, h2o spools more to /tmp)"},
    {"max-connections", KIND_U32, FIELD(max_connections), 1, 1000000, false, "N", "4096",
     "client and peer connections beyond this are closed at accept"},
    {"max-pending", KIND_U32, FIELD(max_pending), 1, 10000000, false, "N", "10000",
     "requests waiting on the log; beyond it: 503 with Retry-After"},
    {"watch-history-events", KIND_U32, FIELD(watch_history_events), 1, 100000000, false, "N",
     "10000", "recent changes kept for watches to resume from"},
    {"watch-history-bytes", KIND_U64, FIELD(watch_history_bytes), 4096, 1ull << 40, false, "N",
     "16777216", "... and at most this many bytes of them"},
    {"watch-max-lag", KIND_U32, FIELD(watch_max_lag), 1, 100000000, false, "N", "1000",
     "revisions a live watcher may fall behind before it is closed (slow_consumer)"},
    {"idle-timeout-ms", KIND_U32, FIELD(idle_timeout_ms), 100, 3600000, false, "MS", "10000",
     "close connections idle or slow to send a request for this long"},
    {"log-level", KIND_LEVEL, FIELD(log_level), 0, 0, false, "LEVEL", "info",
     "debug | info | warn | error"},
    {"log-json", KIND_BOOL, FIELD(log_json), 0, 0, false, NULL, "false",
     "log one JSON object a line"},
    {"listen", KIND_LISTEN, 0, 0, 0, 0, false, "ADDR:PORT", "0.0.0.0:<own port>",
     "address to bind (containers: all interfaces)"},
    {"advertise-url", KIND_URL, FIELD(advertise_url), 0, 0, false, "URL", "own ip_list URL",
     "client-facing URL other nodes redirect clients to"},
    {"forward", KIND_BOOL, FIELD(forward), 0, 0, false, NULL, "false",
     "followers forward client requests to the leader instead of redirecting"},
    {"forward-max-conns", KIND_U32, FIELD(forward_max_conns), 1, 4096, false, "N", "32",
     "connections a follower opens to the leader for forwarded requests"},
    {"forward-queue", KIND_U32, FIELD(forward_queue), 0, 1000000, false, "N", "1024",
     "forwarded requests waiting for a connection; beyond it: 503 with Retry-After"},
    {"max-peer-connections", KIND_U32, FIELD(max_peer_connections), 1, 100000, false, "N", "64",
     "connections carrying POST /raft, counted apart from --max-connections"},
    {"join", KIND_BOOL, FIELD(join), 0, 0, false, NULL, "false",
     "start as a non-member awaiting addition to the cluster"},
    {"cluster-secret-file", KIND_STR, FIELD(cluster_secret_file), 0, 0, false, "FILE", "none",
     "shared secret authenticating peer traffic"},
    {"client-token-file", KIND_STR, FIELD(client_token_file), 0, 0, false, "FILE", "none",
     "bearer token clients must send on /request and /admin (or VESPER_CLIENT_TOKEN)"},
    {"cluster-token", KIND_STR, FIELD(cluster_token), 0, 0, false, "TOKEN", "vesper",
     "mixed into the cluster id a new data directory gets (peers of another id are refused)"},
    {"tls-cert-file", KIND_STR, FIELD(tls_cert_file), 0, 0, false, "FILE", "none",
     "PEM certificate chain served on the client port (HTTPS); needs --tls-key-file"},
    {"tls-key-file", KIND_STR, FIELD(tls_key_file), 0, 0, false, "FILE", "none",
     "PEM private key of --tls-cert-file"},
    {"peer-ca-file", KIND_STR, FIELD(peer_ca_file), 0, 0, false, "FILE", "none",
     "mutual TLS between peers: CA that signs every node's certificates"},
    {"peer-cert-file", KIND_STR, FIELD(peer_cert_file), 0, 0, false, "FILE", "none",
     "certificate this node presents to peers (signed by --peer-ca-file)"},
    {"peer-key-file", KIND_STR, FIELD(peer_key_file), 0, 0, false, "FILE", "none",
     "private key of --peer-cert-file; certificate files are re-read on SIGHUP"},
    {"check-data", KIND_STR, FIELD(check_data_dir), 0, 0, true, "DIR", NULL,
     "mode: verify a data directory offline and exit"},
    {"restore", KIND_STR, FIELD(restore_file), 0, 0, true, "FILE", NULL,
     "mode: with <id> <ip_list_file>: make the data directory of a new cluster's node from a "
     "backup, then exit"},
    {"probe", KIND_URL, FIELD(probe_url), 0, 0, true, "URL", NULL,
     "mode: GET URL/health, exit 0 if it answers 200 (container HEALTHCHECK)"},
};

#define N_OPTS (sizeof config_opts / sizeof config_opts[0])

static int config_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int config_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return 2;
}

const char *config_log_level_name(enum config_log_level level)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    return names[level];
}

/* VESPER_ELECTION_TIMEOUT_MS for election-timeout-ms. */
static void config_env_name(const struct config_opt *o, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "VESPER_");
    for (const char *p = o->name; *p && n + 1 < outlen; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static int config_parse_uint(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* "host:port", "[v6]:port" or ":port" (all interfaces). */
static int config_parse_listen(struct vesper_config *c, const char *v)
{
    const char *colon = strrchr(v, ':');
    uint64_t port;
    if (!colon || config_parse_uint(colon + 1, &port) || port == 0 || port > 65535)
        return -1;
    const char *host = v;
    size_t len = (size_t)(colon - v);
    if (len >= 2 && v[0] == '[' && v[len - 1] == ']') {
        host++;
        len -= 2;
    } else if (memchr(v, ':', len)) {
        return -1; /* a bare IPv6 address needs brackets */
    }
    if (len >= sizeof c->listen_host)
        return -1;
    if (len == 0)
        strcpy(c->listen_host, "0.0.0.0");
    else
        snprintf(c->listen_host, sizeof c->listen_host, "%.*s", (int)len, host);
    c->listen_port = (uint16_t)port;
    return 0;
}

static int config_parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes")) {
        *out = true;
        return 0;
    }
    if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no")) {
        *out = false;
        return 0;
    }
    return -1;
}

/* Stores v into the option's field; src names the origin in messages ("--x" or "VESPER_X"). */
static int config_set(struct vesper_config *c, const struct config_opt *o, const char *v,
                      const char *src, char *err, size_t errlen)
{
    char *field = (char *)c + o->offset;
    uint64_t n;
    char why[160];
    switch (o->kind) {
    case KIND_STR:
        if (!*v || strlen(v) >= o->size)
            return config_err(err, errlen, "%s: %s path", src, *v ? "too long a" : "empty");
        memcpy(field, v, strlen(v) + 1);
        return 0;
    case KIND_U32:
    case KIND_U64:
        if (config_parse_uint(v, &n))
            return config_err(err, errlen, "%s: '%s' is not a number", src, v);
        if (n < o->min || n > o->max)
            return config_err(err, errlen, "%s: %s out of range %" PRIu64 "..%" PRIu64, src, v,
                              o->min, o->max);
        if (o->kind == KIND_U32)
            *(uint32_t *)(void *)field = (uint32_t)n;
        else
            *(uint64_t *)(void *)field = n;
        return 0;
    case KIND_BOOL:
        if (config_parse_bool(v, (bool *)field))
            return config_err(err, errlen, "%s: '%s' is not true or false", src, v);
        return 0;
    case KIND_LEVEL:
        for (int l = CONFIG_LOG_DEBUG; l <= CONFIG_LOG_ERROR; l++) {
            if (!strcmp(v, config_log_level_name((enum config_log_level)l))) {
                c->log_level = (enum config_log_level)l;
                return 0;
            }
        }
        return config_err(err, errlen, "%s: '%s' is not debug, info, warn or error", src, v);
    case KIND_LISTEN:
        if (config_parse_listen(c, v))
            return config_err(err, errlen, "%s: '%s' is not ADDR:PORT (port 1..65535)", src, v);
        return 0;
    case KIND_URL:
        if (config_url_parse(v, (struct config_url *)(void *)field, why, sizeof why))
            return config_err(err, errlen, "%s: malformed URL '%s': %s", src, v, why);
        return 0;
    }
    return config_err(err, errlen, "%s: unsupported option kind", src);
}

static const char *config_env_get(char **envp, const char *name)
{
    size_t len = strlen(name);
    for (char **e = envp; e && *e; e++)
        if (!strncmp(*e, name, len) && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Applies VESPER_* variables; an empty value counts as unset (compose files write X=). */
static int config_apply_env(struct vesper_config *c, char **envp, bool *set, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[64];
        config_env_name(&config_opts[i], name, sizeof name);
        const char *v = config_env_get(envp, name);
        if (config_opts[i].mode || !v || !*v)
            continue;
        if (config_set(c, &config_opts[i], v, name, err, errlen))
            return 2;
        set[i] = true;
    }
    return 0;
}

static const struct config_opt *config_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(config_opts[i].name) == len && !strncmp(config_opts[i].name, name, len))
            return &config_opts[i];
    return NULL;
}

/* Walks argv: options (--name value, --name=value, bare booleans) and up to 2 positionals. */
static int config_apply_argv(struct vesper_config *c, int argc, char **argv, bool *set,
                             const char **pos, int *n_pos, char *err, size_t errlen)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] != '-' || !a[2]) {
            if (!options_done && !strcmp(a, "--")) {
                options_done = true;
                continue;
            }
            if (*n_pos == 2)
                return config_err(err, errlen, "unexpected argument '%s' (see --help)", a);
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const struct config_opt *o = config_find(a + 2, len);
        if (!o)
            return config_err(err, errlen, "unknown option '%.*s' (see --help)", (int)len + 2, a);
        char src[64];
        snprintf(src, sizeof src, "--%s", o->name);
        const char *v = eq ? eq + 1 : NULL;
        if (!v && o->kind == KIND_BOOL)
            v = "true";
        if (!v && i + 1 >= argc)
            return config_err(err, errlen, "%s needs a value (%s)", src, o->arg);
        if (!v)
            v = argv[++i];
        if (config_set(c, o, v, src, err, errlen))
            return 2;
        set[o - config_opts] = true;
    }
    return 0;
}

static bool config_host_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '.' || ch == '-' || ch == '_';
}

/* Parses the host ("name", "1.2.3.4" or "[v6]") at *p; advances *p past it. */
static int config_url_host(const char **p, struct config_url *out, char *err, size_t errlen)
{
    const char *s = *p, *end;
    if (*s == '[') {
        end = strchr(s, ']');
        if (!end || end == s + 1 ||
            strspn(s + 1, "0123456789abcdefABCDEF:.") != (size_t)(end - s - 1))
            return config_err(err, errlen, "bad IPv6 address in brackets"), -1;
        s++;
        *p = end + 1;
    } else {
        end = s;
        while (config_host_char(*end))
            end++;
        if (*end == '@')
            return config_err(err, errlen, "user info is not allowed"), -1;
        if (*end && *end != ':' && *end != '/')
            return config_err(err, errlen, "bad character '%c' in host", *end), -1;
        *p = end;
    }
    if (end == s)
        return config_err(err, errlen, "missing host"), -1;
    snprintf(out->host, sizeof out->host, "%.*s", (int)(end - s), s);
    return 0;
}

int config_url_parse(const char *text, struct config_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strlen(text) >= sizeof out->text)
        return config_err(err, errlen, "longer than %d bytes", CONFIG_URL_MAX - 1), -1;
    strcpy(out->text, text);
    const char *p = text;
    if (!strncasecmp(p, "http://", 7)) {
        p += 7;
    } else if (!strncasecmp(p, "https://", 8)) {
        out->https = true;
        p += 8;
    } else {
        return config_err(err, errlen, "scheme must be http:// or https://"), -1;
    }
    if (config_url_host(&p, out, err, errlen))
        return -1;
    if (*p != ':' || !isdigit((unsigned char)p[1]))
        return config_err(err, errlen, "missing port (write %s://host:port)",
                          out->https ? "https" : "http"),
               -1;
    char *end;
    errno = 0;
    unsigned long port = strtoul(p + 1, &end, 10);
    if (errno || port == 0 || port > 65535)
        return config_err(err, errlen, "port %.*s out of range 1..65535", (int)(end - p - 1),
                          p + 1),
               -1;
    out->port = (uint16_t)port;
    if (*end && strcmp(end, "/") != 0)
        return config_err(err, errlen, "unexpected '%s' after the port (no path, query or user)",
                          end),
               -1;
    return 0;
}

/* Strips surrounding whitespace, including the '\r' of Windows line ends. */
static char *config_strip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int config_add_node(struct vesper_config *c, char *line, int line_no, char *err,
                           size_t errlen)
{
    const char *path = c->ip_list_path;
    char *url = config_strip(line);
    if (!*url)
        return config_err(err, errlen,
                          "%s:%d: blank line (node ids are line numbers; remove blank lines)", path,
                          line_no);
    if (c->n_nodes == CONFIG_MAX_NODES)
        return config_err(err, errlen,
                          "%s:%d: more than %d nodes (a Raft configuration holds at most %d "
                          "members)",
                          path, line_no, CONFIG_MAX_NODES, CONFIG_MAX_NODES);
    struct config_url *u = &c->nodes[c->n_nodes];
    char why[160];
    if (config_url_parse(url, u, why, sizeof why))
        return config_err(err, errlen, "%s:%d: malformed URL '%s': %s", path, line_no, url, why);
    for (int j = 0; j < c->n_nodes; j++)
        if (c->nodes[j].port == u->port && !strcasecmp(c->nodes[j].host, u->host))
            return config_err(err, errlen,
                              "%s:%d: duplicate URL '%s' (same host and port as line %d)", path,
                              line_no, url, j + 1);
    c->n_nodes++;
    return 0;
}

static int config_load_ip_list(struct vesper_config *c, char *err, size_t errlen)
{
    FILE *f = fopen(c->ip_list_path, "r");
    if (!f)
        return config_err(err, errlen, "%s: cannot read: %s", c->ip_list_path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int line_no = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0)
        rc = config_add_node(c, line, ++line_no, err, errlen);
    if (rc == 0 && ferror(f))
        rc = config_err(err, errlen, "%s: cannot read: %s", c->ip_list_path, strerror(errno));
    if (rc == 0 && c->n_nodes == 0)
        rc = config_err(err, errlen, "%s: no nodes (the file is empty)", c->ip_list_path);
    free(line);
    fclose(f);
    return rc;
}

static void config_defaults(struct vesper_config *c)
{
    memset(c, 0, sizeof *c);
    c->mode = CONFIG_MODE_SERVE;
    c->tick_ms = CONFIG_DEFAULT_TICK_MS;
    c->heartbeat_ms = CONFIG_DEFAULT_HEARTBEAT_MS;
    c->election_timeout_ms = CONFIG_DEFAULT_ELECTION_TIMEOUT_MS;
    c->snapshot_entries = CONFIG_DEFAULT_SNAPSHOT_ENTRIES;
    c->snapshot_bytes = CONFIG_DEFAULT_SNAPSHOT_BYTES;
    c->snapshot_fork_bytes = CONFIG_DEFAULT_SNAPSHOT_FORK_BYTES;
    c->max_key_bytes = CONFIG_DEFAULT_MAX_KEY_BYTES;
    c->max_value_bytes = CONFIG_DEFAULT_MAX_VALUE_BYTES;
    c->max_body_bytes = CONFIG_DEFAULT_MAX_BODY_BYTES;
    c->max_connections = 4096;
    c->forward_max_conns = 32;
    c->forward_queue = 1024;
    c->max_peer_connections = 64;
    c->max_pending = 10000;
    c->idle_timeout_ms = 10000;
    c->watch_history_events = 10000;
    c->watch_history_bytes = 16 * MIB;
    c->watch_max_lag = 1000;
    c->log_level = CONFIG_LOG_INFO;
    strcpy(c->cluster_token, "vesper");
}

/* Relations between options, checked once every source has been applied; the size
 * limits are checked and derived in config_limits.c. */
static int config_cross_check(struct vesper_config *c, char *err, size_t errlen)
{
    if (c->heartbeat_ms % c->tick_ms || c->election_timeout_ms % c->tick_ms)
        return config_err(err, errlen,
                          "--heartbeat-ms (%u) and --election-timeout-ms (%u) must be "
                          "multiples of --tick-ms (%u)",
                          c->heartbeat_ms, c->election_timeout_ms, c->tick_ms);
    if (c->election_timeout_ms < 5 * c->heartbeat_ms)
        return config_err(err, errlen,
                          "--election-timeout-ms (%u) must be at least 5 x --heartbeat-ms (%u)",
                          c->election_timeout_ms, c->heartbeat_ms);
    return config_derive_limits(c, err, errlen);
}

/* Serve mode: <id> <ip_list_file>, then what depends on our own line. */
static int config_serve(struct vesper_config *c, const char **pos, int n_pos, const bool *set,
                        char *err, size_t errlen)
{
    if (n_pos < 2)
        return config_err(err, errlen,
                          "missing %s (usage: vesperd <id> <ip_list_file> "
                          "[options]; see --help)",
                          n_pos == 0 ? "<id> and <ip_list_file>" : "<ip_list_file>");
    uint64_t id;
    if (config_parse_uint(pos[0], &id) || id > INT32_MAX)
        return config_err(err, errlen, "id '%s' is not a number", pos[0]);
    if (strlen(pos[1]) >= sizeof c->ip_list_path)
        return config_err(err, errlen, "ip_list path too long");
    strcpy(c->ip_list_path, pos[1]);
    if (config_load_ip_list(c, err, errlen))
        return 2;
    if (id >= (uint64_t)c->n_nodes)
        return config_err(err, errlen, "id %s out of range: %s has %d node%s (ids 0..%d)", pos[0],
                          c->ip_list_path, c->n_nodes, c->n_nodes == 1 ? "" : "s", c->n_nodes - 1);
    c->id = (int)id;
    c->majority = c->n_nodes / 2 + 1;
    const struct config_url *own = &c->nodes[c->id];
    size_t i_data = (size_t)(config_find("data-dir", 8) - config_opts);
    size_t i_listen = (size_t)(config_find("listen", 6) - config_opts);
    size_t i_adv = (size_t)(config_find("advertise-url", 13) - config_opts);
    if (!set[i_data])
        snprintf(c->data_dir, sizeof c->data_dir, "./data/%d", c->id);
    if (!set[i_listen]) {
        strcpy(c->listen_host, "0.0.0.0");
        c->listen_port = own->port;
    }
    if (!set[i_adv])
        c->advertise_url = *own;
    if (config_check_tls(c, err, errlen))
        return 2;
    return config_cross_check(c, err, errlen);
}

int config_parse(int argc, char **argv, char **envp, struct vesper_config *out, char *err,
                 size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            config_usage(stdout);
            return 1;
        }
    }
    bool set[N_OPTS] = {false};
    const char *pos[2];
    int n_pos = 0;
    config_defaults(out);
    if (config_apply_env(out, envp, set, err, errlen) ||
        config_apply_argv(out, argc, argv, set, pos, &n_pos, err, errlen))
        return 2;
    bool check = set[config_find("check-data", 10) - config_opts];
    bool probe = set[config_find("probe", 5) - config_opts];
    if (check && probe)
        return config_err(err, errlen, "--check-data and --probe cannot be combined");
    if ((check || probe) && set[config_find("restore", 7) - config_opts])
        return config_err(err, errlen, "--restore cannot be combined with %s",
                          check ? "--check-data" : "--probe");
    if ((check || probe) && n_pos)
        return config_err(err, errlen, "%s takes no <id> <ip_list_file>",
                          check ? "--check-data" : "--probe");
    if (check || probe) {
        out->mode = check ? CONFIG_MODE_CHECK_DATA : CONFIG_MODE_PROBE;
        return 0;
    }
    int rv = config_serve(out, pos, n_pos, set, err, errlen);
    if (rv == 0 && set[config_find("restore", 7) - config_opts])
        out->mode = CONFIG_MODE_RESTORE;
    return rv;
}

void config_usage(FILE *out)
{
    fputs(
        "usage: vesperd <id> <ip_list_file> [options]\n"
        "       vesperd --restore FILE <id> <ip_list_file> [--data-dir DIR] [--cluster-token T]\n"
        "       vesperd --check-data DIR\n"
        "       vesperd --probe URL\n"
        "\n"
        "ip_list_file: one URL (http://host:port or https://host:port) a line; node id =\n"
        "line index from 0; majority = lines / 2 + 1; no blank lines.\n"
        "\n"
        "options (each also read from VESPER_<NAME> unless marked; the command line wins):\n",
        out);
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct config_opt *o = &config_opts[i];
        char flag[64], env[64];
        snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        config_env_name(o, env, sizeof env);
        fprintf(out, "  %-28s %s\n", flag, o->help);
        if (o->mode)
            fprintf(out, "  %-28s (command line only)\n", "");
        else
            fprintf(out, "  %-28s default %s; env %s\n", "", o->def, env);
    }
    fputs(
        "  --help                       this text\n"
        "\n"
        "exit status: 0 clean shutdown, 2 bad configuration (one line on stderr)\n",
        out);
}
