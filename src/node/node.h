/* node.h: the shell of vesperd: one h2o event loop that owns the Raft core, the
 * storage, the peer transport, the key-value state machine and the client
 * requests waiting on them.
 *
 * Everything runs on the loop thread. Events (client requests, peer messages,
 * ticks) only feed the core; node_process_ready() runs once after every loop
 * iteration and hands over to the replica's Ready loop (src/replica), the single
 * place where the ordering rules live:
 * persist -> send -> sync -> send acknowledgements -> apply -> answer -> advance.
 * Because it runs once per iteration, every proposal gathered in an iteration
 * shares one log write, one fdatasync and one AppendEntries per follower.
 */
#ifndef VESPER_NODE_NODE_H
#define VESPER_NODE_NODE_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>

#include <h2o.h>

#include "config.h"
#include "node/metrics.h"
#include "raft/raft.h"
#include "replica/replica.h"

/* What /status and /metrics (vesper_build_info) report as this build's version. */
#define VESPER_VERSION      "0.1.0"
#define NODE_CLUSTER_ID_LEN 16 /* hex digits */

struct storage;
struct transport;
struct tls;
struct kv;

/* A client request waiting for its entry to apply or its read to be released.
 * It lives in the request's memory pool; the pool's dispose hook unlinks it, so
 * a client that hangs up never leaves a dangling pointer behind (h2o 2.2.5). */
struct node_pending {
    h2o_linklist_t link;
    h2o_req_t *req; /* NULL once answered */
    struct node *node;
    uint64_t id;          /* write: log index; read: read id */
    raft_term term;       /* write: term of the proposal */
    uint64_t deadline_ms; /* answered "timeout" after this */
    uint8_t op;           /* enum api_op */
    bool revisions;       /* the request asked for revisions ("revisions":true) */
    char *key;            /* copy in the request pool (reads and CAS replies) */
    size_t key_len;
};

struct node_metrics {
    uint64_t leader_changes;
    uint64_t elections_started;
    uint64_t proposals;
    uint64_t proposals_failed;
    uint64_t applied_entries;
    uint64_t snapshots_taken;
    uint64_t snapshots_installed;
    uint64_t snapshot_us_total;
    uint64_t conns_refused;
    uint64_t accept_batch_max; /* most connections accepted in one readiness event */
    uint64_t peer_msgs_rejected;
    uint64_t requests_shed;
    struct metrics_hist fsync;
    struct metrics_hist request;
    uint64_t requests[12][3]; /* [api_op or NODE_OP_ADMIN][0 ok, 1 fail, 2 error] */
};

struct node {
    const struct vesper_config *cfg;
    struct replica rep; /* core, storage, state machine and the Ready loop */
    /* Shortcuts to rep.raft, rep.st, rep.kv, kept in step by replica_ops.c (a reload
     * replaces the core and the storage). */
    struct raft *raft;
    struct storage *st;
    struct kv *kv;
    struct transport *tp;
    struct tls *tls; /* OpenSSL contexts (node/tls_setup.c) */

    h2o_globalconf_t h2o_cfg;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_socket_t *listener;
    h2o_socket_t *sync_watch; /* the sync thread's eventfd (a dup), or NULL */
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick_entry;

    h2o_linklist_t writes;  /* struct node_pending, by (log index, term) */
    h2o_linklist_t reads;   /* struct node_pending, by read id */
    h2o_linklist_t backups; /* backups whose read round is done (id: the read index) */
    uint64_t next_read_id;
    uint32_t n_pending;            /* entries in writes + reads */
    uint64_t reclaim_checked_ms;   /* last scan for hung-up clients */
    uint32_t n_conns;              /* accepted connections open */
    uint32_t n_peer_conns;         /* ... of them in the peer reserve (see listener.c) */
    h2o_linklist_t reserved_conns; /* struct conn_slot in the peer reserve */
    h2o_linklist_t watchers;       /* struct node_watcher (watch.h) */
    uint32_t n_watchers;

    struct {
        raft_id id;
        char url[CONFIG_URL_MAX];
    } client_urls[RAFT_MAX_MEMBERS]; /* advertised client URLs peers announced */
    uint32_t n_client_urls;
    struct {
        raft_id id;
        bool down;
        uint64_t ok, errors;
    } peer_health[RAFT_MAX_MEMBERS]; /* for peer up/down log lines */
    uint32_t n_peer_health;
    uint32_t ticks;
    struct {
        pid_t pid; /* the forked snapshot writer; 0: none running */
        int pipe;  /* its report: the file size, written when it succeeded */
        struct replica_snap_job job;
    } snap_child; /* snapfork.c */
    struct {
        bool running; /* a decode thread was started and not yet joined */
        atomic_bool done;
        pthread_t thread;
        int efd;
        h2o_socket_t *watch;                  /* owns efd */
    } install;                                /* install_thread.c */
    char secret[256];                         /* cluster secret; "" = none */
    char client_token[256];                   /* client API bearer token; "" = none */
    char cluster_id[NODE_CLUSTER_ID_LEN + 1]; /* cluster_id.c; sent to and required of peers */

    raft_id last_leader;
    raft_term last_term;
    enum raft_role last_role;
    uint64_t started_ms;
    bool stopping;
    bool failed; /* fail stop in progress: serve nothing, answer "unavailable" */
    uint64_t stop_deadline_ms;
    struct node_metrics m;
};

extern volatile sig_atomic_t node_stop_signal;

/* Runs the node until SIGTERM/SIGINT (exit status 0) or a fatal error (1). */
int node_run(const struct vesper_config *cfg);

/* node.c */
uint64_t node_now_ms(struct node *n);
_Noreturn void node_fatal(const char *what, const char *detail);
_Noreturn void node_fail_stop(struct node *n, const char *what, const char *detail);
const char *node_client_url(struct node *n, raft_id id);

/* peers.c: the transport (0, or -1 with the reason logged), the peer list kept in
 * step with the configuration (after every Ready loop run), peer up/down log lines
 * (every few ticks). */
int node_start_transport(struct node *n);
void node_sync_peers(struct node *n);
void node_watch_peers(struct node *n);

/* listener.c */
/* Binds --listen and starts accepting on n's loop; -1 (logged) on failure. */
int node_open_listener(struct node *n);
/* Adds the handler that keeps reserved (peer) connections off an endpoint; first
 * on every pathconf but /raft. */
void node_gate_add(struct node *n, h2o_pathconf_t *pc);

/* TLS: the socket's client proved to be a peer (listener.c, from the handshake). */
void node_conn_set_peer(h2o_socket_t *sock, bool peer);
bool node_conn_is_peer(h2o_conn_t *conn);

/* tls_setup.c */
/* Loads the configuration's certificates once, as a start-up check (main, before
 * logging starts); -1 with one line naming the file and the problem in err. */
int node_tls_check(const struct vesper_config *cfg, char *err, size_t errlen);
/* Loads the certificates of the configuration; -1 with the reason in err. */
int node_tls_setup(struct node *n, char *err, size_t errlen);
/* Installs the contexts into the listener, transport and relays (after setup_http). */
void node_tls_start(struct node *n);
/* Applies a SIGHUP: re-reads the certificate files (new connections use them). */
void node_tls_poll(struct node *n);

/* snapfork.c: snapshots written by a forked child while the loop goes on.
 * node_snapshot_background is the replica's snapshot_background operation;
 * node_snapshot_poll (every tick) adopts a finished one; node_snapshot_abandon
 * (at stop) kills a running writer. */
bool node_snapshot_background(void *arg);
void node_snapshot_poll(struct node *n);
void node_snapshot_abandon(struct node *n);

/* install_thread.c: the replica's restore_background, restore_join and
 * release_state operations: an installed snapshot decoded on a thread while the
 * loop goes on, and a replaced state freed on another. */
bool node_install_background(void *arg);
void node_install_join(void *arg);
void node_release_state(void *arg, struct kv *old);

/* boot.c */
/* Opens the storage, loads the newest snapshot and the log after it, and starts
 * the core; -1 (logged) on failure. */
int node_open_state(struct node *n);
/* vesperd --check-data DIR: storage_check's report on stdout; its exit status. */
int node_check_data(const char *dir);

/* cluster_id.c */
/* The id a new data directory gets from the ip_list and --cluster-token; a restore
 * also passes the backup's checksum. */
void node_cluster_id_derive(const struct vesper_config *cfg, const uint32_t *backup_crc,
                            char out[NODE_CLUSTER_ID_LEN + 1]);
/* DIR/CLUSTER_ID, durably (temporary file, fsync, rename, directory fsync). 0 or -1. */
int node_cluster_id_write(const char *dir, const char *id, char *err, size_t errlen);
/* 1 and out set when DIR/CLUSTER_ID exists, 0 when it does not, -1 on a bad file. */
int node_cluster_id_read(const char *dir, char out[NODE_CLUSTER_ID_LEN + 1], char *err,
                         size_t errlen);
/* Start-up: n->cluster_id from the data directory, or derived and written there; left
 * "" for a --join node without one, which adopts the first id a peer sends. */
int node_cluster_id_load(struct node *n);
/* After the transport exists: lets a node without a cluster id adopt one. */
void node_cluster_id_attach(struct node *n);

/* restore.c: vesperd --restore FILE <id> <ip_list>; returns the exit status. */
int node_restore(const struct vesper_config *cfg);

/* replica_ops.c */
extern const struct replica_ops node_replica_ops; /* vesperd's side of the Ready loop */
/* Points n->raft, n->st, n->kv at the replica's (after an open or a reload). */
void node_bind_replica(struct node *n);
/* Watches storage's sync thread from the event loop (again, after a reload). */
void node_sync_watch(struct node *n);
void node_process_ready(struct node *n);

/* routes.c: every endpoint and the 404 fallback; after the transport exists. */
int node_routes_register(struct node *n, h2o_hostconf_t *host);

/* The endpoints, registered by routes.c. */
/* request.c (the answer rules are documented atop it) */
int node_on_request(h2o_handler_t *self, h2o_req_t *req);
struct api_reply;
/* Every JSON reply goes out through one of these three (bodies built by src/api).
 * node_send_api: sends r (rv: its builder's return; on -1 the internal error) with
 * HTTP status `status` (0: r's own) and frees r. */
void node_send_api(h2o_req_t *req, int status, struct api_reply *r, int rv);
/* api_reply_fail(e, message) sent with node_send_api; e is an enum api_error. */
void node_send_error(h2o_req_t *req, int status, int e, const char *message);
/* A /request answer: node_send_api, counted under op (an api op, NODE_OP_ADMIN, or
 * -1 for none) in the request metrics by r->error, and timed. */
void node_send_reply(struct node *n, h2o_req_t *req, int op, struct api_reply *r, int rv);
/* {"code":"fail","error":e[,"message":message]}; e is an enum api_error. */
void node_reply_fail(struct node *n, h2o_req_t *req, int op, int e, const char *message);
/* Answers a get from the local state. */
void node_answer_get(struct node *n, h2o_req_t *req, const char *key, size_t key_len);
/* Answers a read (a get with revisions, a range) from the local state, parsing
 * the request's body again (it was valid when the read began). */
void node_answer_read(struct node *n, h2o_req_t *req);

/* pending.c */
#define NODE_OP_ADMIN 11 /* pending.op of a membership change (api ops are 0..10) */
/* A proposed write (op an api op) waits for entry (index, term) to apply. Returns
 * its record (in the request's pool) for the caller to set options on. */
struct node_pending *node_wait_write(struct node *n, h2o_req_t *req, int op, const char *key,
                                     size_t key_len, raft_index index, raft_term term);
/* Answers req {"code":"success","index":N} once entry (index, term) applies. */
void node_wait_applied(struct node *n, h2o_req_t *req, raft_index index, raft_term term);
/* A backup waits for ReadIndex round read_id, then moves to n->backups. */
void node_wait_backup(struct node *n, h2o_req_t *req, uint64_t read_id);
/* The next backup whose read round is done (NULL: none) and its read index. */
h2o_req_t *node_take_backup(struct node *n, raft_index *read_index);
/* A linearizable read (op API_OP_GET or API_OP_RANGE) waits for ReadIndex round
 * read_id; a plain get is answered from key, anything else by node_answer_read. */
struct node_pending *node_wait_read(struct node *n, h2o_req_t *req, int op, const char *key,
                                    size_t key_len, uint64_t read_id);
struct kv_result;
/* Answers the writes waiting up to entry e, which applied with result (the state
 * machine's answer; all zero for an entry that is not a KV command). */
void node_complete_write(struct node *n, const struct raft_entry *e,
                         const struct kv_result *result);
void node_complete_read(struct node *n, const struct raft_read_result *rr);
/* Answers what passed its deadline; with all, everything (the node stops). */
void node_expire_pending(struct node *n, bool all);
void node_leadership_lost(struct node *n);
/* Answers every waiting request, with message if not NULL: writes "timeout"
 * (they may still commit elsewhere), reads "unavailable". */
void node_fail_pending(struct node *n, const char *message);
/* Answers waiting requests whose HTTP/1 client hung up ("timeout"), freeing
 * their slots; scans at most once per tick. Returns how many. */
uint32_t node_reclaim_abandoned(struct node *n);

/* forward.c */
bool node_forward_wanted(struct node *n, h2o_req_t *req);
/* Relays req to the leader and its answer back (or answers 503 when the relay
 * queue is full); -1 if the leader is unknown. */
int node_forward(struct node *n, h2o_req_t *req, raft_id leader);
/* Relays whose client is still waiting for the leader's answer. */
uint32_t node_forward_in_flight(void);
/* Client TLS context for relays to an https:// leader (new connections). */
void node_forward_set_ssl_ctx(struct node *n, SSL_CTX *ctx);

/* watch.c: GET /watch (see watch.h). */
int node_on_watch(h2o_handler_t *self, h2o_req_t *req);
/* watch_send.c: gives every watcher its new events or progress; once per loop
 * iteration, after the ready. */
void node_watch_pump(struct node *n);

/* metrics.c */
int node_on_metrics(h2o_handler_t *self, h2o_req_t *req);

/* console.c: GET /ui (the page) and the CORS answers of the endpoints it polls. */
int node_on_console(h2o_handler_t *self, h2o_req_t *req);
/* For a console endpoint: answers an OPTIONS preflight (true: answered) or adds the
 * CORS headers of a cross-origin GET to req's response (false: go on). */
bool node_console_cors(struct node *n, h2o_req_t *req);

/* admin.c */
int node_on_transfer(h2o_handler_t *self, h2o_req_t *req);
int node_on_members(h2o_handler_t *self, h2o_req_t *req);
/* True (and the v1 redirect or no_leader sent) when this node does not lead. */
bool node_admin_not_leader(struct node *n, h2o_req_t *req);

/* backup.c: GET /admin/snapshot streams a backup file (src/util/backup_file.h). */
int node_on_snapshot(h2o_handler_t *self, h2o_req_t *req);
/* Starts the streams of the backups whose read round is done (after the loop). */
void node_backups_start(struct node *n);

/* status.c */
int node_on_health(h2o_handler_t *self, h2o_req_t *req);
int node_on_ready(h2o_handler_t *self, h2o_req_t *req);
int node_on_status(h2o_handler_t *self, h2o_req_t *req);
int node_on_noop(h2o_handler_t *self, h2o_req_t *req);

/* False (and a 401 answer sent) when a client token is set and req lacks it. */
bool node_client_authorized(struct node *n, h2o_req_t *req);

/* Every vesperd endpoint is an h2o handler that knows its node. */
struct node_handler {
    h2o_handler_t super;
    struct node *node;
    int (*fn)(h2o_handler_t *self, h2o_req_t *req); /* called within --max-body-bytes */
    bool console; /* read by the console from other nodes' pages: CORS (console.c) */
};
/* Registers fn for path (before h2o_context_init); h2o matches paths in order. */
void node_handler_add(struct node *n, h2o_hostconf_t *host, const char *path,
                      int (*fn)(h2o_handler_t *, h2o_req_t *));
/* node_handler_add for a GET endpoint the console polls across origins (console.c). */
void node_console_handler_add(struct node *n, h2o_hostconf_t *host, const char *path,
                              int (*fn)(h2o_handler_t *, h2o_req_t *));
#define NODE_OF(self) (((struct node_handler *)(self))->node)

/* Replies with a JSON body (copied) and closes the request's pending record. */
void node_send_json(h2o_req_t *req, int status, const char *body, size_t len);

#endif
