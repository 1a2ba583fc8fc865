/* config.h: vesperd's command line, environment and ip_list.txt, parsed into one struct.
 *
 *   vesperd <id> <ip_list_file> [options]      serve as node <id> of the cluster
 *   vesperd --check-data DIR                   offline verifier of a data directory
 *   vesperd --restore FILE <id> <ip_list_file> new cluster's data directory from a backup
 *   vesperd --probe URL                        health probe: GET URL/health, 0 if 200
 *   vesperd --help
 *
 * ip_list.txt (as in the original project of the v1 protocol): one URL per line,
 * http://host:port or https://host:port, node id = line index from 0, majority =
 * lines / 2 + 1. Blank lines are an error (they would shift every id after them);
 * surrounding whitespace and a Windows '\r' are stripped; the final newline is
 * optional.
 *
 * Every option can also come from the environment as VESPER_<NAME> (--election-timeout-ms ->
 * VESPER_ELECTION_TIMEOUT_MS), for containers; the command line beats the environment,
 * which beats the defaults. The mode switches (--check-data, --probe, --help) are command
 * line only: an environment variable that silently turned every vesperd of a container into
 * a probe would be a trap.
 *
 * Timing defaults: etcd ships 100 ms heartbeat / 1000 ms election timeout for WAN-ish
 * deployments. We target failover under 1 s median on a LAN or one host, so the defaults
 * are a 10 ms tick, 50 ms heartbeat, 500 ms election timeout (the core randomizes it in
 * [T, 2T), so the first follower times out ~600 ms after the leader dies with 4 followers).
 * As in etcd, the election timeout must be at least 5 heartbeats.
 *
 * config_parse is pure apart from reading the ip_list file; it allocates nothing, so a
 * struct vesper_config needs no cleanup.
 */
#ifndef VESPER_CONFIG_H
#define VESPER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Every node of ip_list.txt is a member of the Raft configuration the node boots with, and
 * its URL is that member's address: the Raft limits are the only limits, so a file the
 * core cannot hold is refused here rather than cut short or overflowed at start-up. The
 * same URL bound applies to --advertise-url, to the client URLs peers announce and to the
 * transport's peers. (src/node/boot.c checks the two equalities at compile time.) */
#define CONFIG_MAX_NODES 16  /* = RAFT_MAX_MEMBERS */
#define CONFIG_URL_MAX   128 /* = RAFT_ADDR_MAX, NUL included */
#define CONFIG_HOST_MAX  256
#define CONFIG_PATH_MAX  1024

enum config_mode {
    CONFIG_MODE_SERVE,
    CONFIG_MODE_CHECK_DATA,
    CONFIG_MODE_PROBE,
    CONFIG_MODE_RESTORE
};

enum config_log_level { CONFIG_LOG_DEBUG, CONFIG_LOG_INFO, CONFIG_LOG_WARN, CONFIG_LOG_ERROR };

/* One parsed URL: scheme://host:port with an optional trailing '/'. */
struct config_url {
    char text[CONFIG_URL_MAX]; /* as written, surrounding whitespace stripped */
    bool https;
    char host[CONFIG_HOST_MAX]; /* IPv6 literals without the brackets */
    uint16_t port;
};

struct vesper_config {
    enum config_mode mode;

    /* Serve mode: the cluster. */
    int id;
    char ip_list_path[CONFIG_PATH_MAX];
    struct config_url nodes[CONFIG_MAX_NODES];
    int n_nodes;
    int majority; /* n_nodes / 2 + 1 */

    char data_dir[CONFIG_PATH_MAX]; /* default ./data/<id> */
    uint32_t tick_ms;
    uint32_t heartbeat_ms;
    uint32_t election_timeout_ms;
    uint64_t snapshot_entries;    /* snapshot after this many applied entries */
    uint64_t snapshot_bytes;      /* ... or this many log bytes, whichever first */
    uint64_t snapshot_fork_bytes; /* key and value bytes from which a forked child writes
                                     snapshots (node/snapfork.c); 0 = always */
    bool sync_inline;             /* no sync thread: every fdatasync on the loop */
    uint32_t max_key_bytes;
    uint32_t max_value_bytes;
    uint32_t max_body_bytes;
    uint32_t max_connections;      /* accepted connections at once */
    uint32_t max_pending;          /* requests waiting on the log or a read round */
    uint32_t idle_timeout_ms;      /* h2o http1 request timeout: idle and slow clients */
    uint32_t watch_history_events; /* watch history window (src/kv/kv_hist.h) ... */
    uint64_t watch_history_bytes;  /* ... in events and bytes */
    uint32_t watch_max_lag;        /* revisions a live watcher may lag (node/watch.c) */
    enum config_log_level log_level;
    bool log_json;
    char listen_host[CONFIG_HOST_MAX];         /* default 0.0.0.0 */
    uint16_t listen_port;                      /* default: own URL's port */
    struct config_url advertise_url;           /* default: own URL */
    bool forward;                              /* followers forward to the leader, not redirect */
    uint32_t forward_max_conns;                /* relay connections to the leader at once */
    uint32_t forward_queue;                    /* relays waiting for one of those */
    uint32_t max_peer_connections;             /* POST /raft connections, apart from the above */
    bool join;                                 /* start as a non-member awaiting addition */
    char cluster_secret_file[CONFIG_PATH_MAX]; /* "" = none */
    char client_token_file[CONFIG_PATH_MAX];   /* "" = none */
    char cluster_token[256]; /* mixed into the cluster id derived at first start */

    /* TLS (config_tls.c checks how these combine; src/net/tls.c loads the files). */
    char tls_cert_file[CONFIG_PATH_MAX];  /* served on the listener; "" = plain HTTP */
    char tls_key_file[CONFIG_PATH_MAX];   /* its private key */
    char peer_ca_file[CONFIG_PATH_MAX];   /* mutual TLS between peers: the trusted CA */
    char peer_cert_file[CONFIG_PATH_MAX]; /* ... this node's peer certificate */
    char peer_key_file[CONFIG_PATH_MAX];  /* ... and its private key */

    /* Derived from the limits above by config_derive_limits (not options). */
    uint32_t max_entry_bytes;    /* largest log entry a client request can produce */
    uint32_t peer_batch_bytes;   /* transport batch cap = largest POST /raft body accepted */
    uint32_t http_body_bytes;    /* h2o's request body limit: the larger of the two bodies */
    uint32_t peer_io_timeout_ms; /* per peer request step; longer for batches past 8 MiB */

    /* Other modes. */
    char check_data_dir[CONFIG_PATH_MAX];
    char restore_file[CONFIG_PATH_MAX]; /* restore mode: the backup; serve fields say where */
    struct config_url probe_url;
};

#define CONFIG_DEFAULT_TICK_MS             10
#define CONFIG_DEFAULT_HEARTBEAT_MS        50
#define CONFIG_DEFAULT_ELECTION_TIMEOUT_MS 500
#define CONFIG_DEFAULT_SNAPSHOT_ENTRIES    100000
#define CONFIG_DEFAULT_SNAPSHOT_BYTES      (64u * 1024 * 1024)
#define CONFIG_DEFAULT_SNAPSHOT_FORK_BYTES (16u * 1024 * 1024)
#define CONFIG_DEFAULT_MAX_KEY_BYTES       1024
#define CONFIG_DEFAULT_MAX_VALUE_BYTES     (1024 * 1024)
#define CONFIG_DEFAULT_MAX_BODY_BYTES      (4 * 1024 * 1024)
/* h2o spools large request bodies to a file under /tmp: keep every body, client or peer,
 * at most this big. */
#define CONFIG_MAX_BODY_BYTES_LIMIT        (32 * 1024 * 1024)

/* Size limits, derived so that they cannot contradict each other (config_limits.c):
 *
 *   entry  = min(max-key + 2 x max-value, max-body) + CONFIG_ENTRY_OVERHEAD_BYTES
 *            (a CAS carries key, expected and new value; every byte of them came out of
 *            one request body, and JSON decoding never makes a string longer)
 *   batch  = max(CONFIG_PEER_BATCH_MIN_BYTES,
 *                entry + CONFIG_APPEND_OVERHEAD_BYTES + CONFIG_BATCH_SLACK_BYTES)
 *   h2o    = max(max-body, batch)        (/request and /admin still answer 413 past max-body)
 *
 * so the largest entry always fits an APPEND, the APPEND always fits a batch with room for
 * the heartbeats and answers queued beside it, and the batch always fits the receiver's
 * body limit. A configuration whose batch would pass CONFIG_MAX_BODY_BYTES_LIMIT is refused
 * at start-up. Every node of a cluster must use the same key, value and body limits. */
#define CONFIG_ENTRY_OVERHEAD_BYTES  64  /* kv command: version, op, flags, session, lengths */
#define CONFIG_APPEND_OVERHEAD_BYTES 256 /* batch and message framing around one entry */
#define CONFIG_BATCH_SLACK_BYTES     (2u * 1024 * 1024)
#define CONFIG_PEER_BATCH_MIN_BYTES  (8u * 1024 * 1024)
/* A peer request must be written and answered within the transport's I/O timeout: 1 s
 * (near the election timeout, so a healed peer is retried promptly), plus 1 s for every
 * MiB of batch cap above CONFIG_PEER_BATCH_MIN_BYTES, so that a batch carrying a large
 * entry is not cut off and resent forever by a busy receiver. */
#define CONFIG_PEER_IO_TIMEOUT_MS    1000

/* Parses argv (argv[0] is the program name) and envp (NULL-terminated "NAME=value" strings,
 * may be NULL) into *out. Returns 0 on success; 1 when --help was given (usage is printed to
 * stdout); 2 on bad input, with one line (no newline) naming the problem in err. */
int config_parse(int argc, char **argv, char **envp, struct vesper_config *out, char *err,
                 size_t errlen);

/* Parses one URL; returns 0, or -1 with the reason ("port 70000 out of range 1..65535")
 * in err. */
int config_url_parse(const char *text, struct config_url *out, char *err, size_t errlen);

/* Checks the size limits against each other and fills the derived fields (see above).
 * Returns 0, or 2 with one line naming the problem in err. Called by config_parse. */
int config_derive_limits(struct vesper_config *c, char *err, size_t errlen);

/* Checks how the TLS options combine with each other and with the URLs (config_tls.c).
 * Returns 0, or 2 with one line naming the problem in err. Called by config_parse. */
int config_check_tls(const struct vesper_config *c, char *err, size_t errlen);

/* True when this node serves HTTPS on its listener (--tls-cert-file or peer TLS). */
bool config_serves_tls(const struct vesper_config *c);

/* Writes the --help text. */
void config_usage(FILE *out);

const char *config_log_level_name(enum config_log_level level);

#endif
