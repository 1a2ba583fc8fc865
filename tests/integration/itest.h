/* itest.h: the containerised failover suite's view of the cluster (itest_cluster.c), its
 * recorded client load (itest_load.c) and the scenarios (itest_scen.c), driven by
 * itest_main.c. It runs inside the compose network (so vesper<i> resolve) with the Docker
 * socket mounted; see tests/integration/README.md for the scenarios and what they check.
 *
 * A node cut off from the cluster network ("raft") is attached to the suite's private
 * "ctl" network instead, so the suite can still ask it for /status and send it writes
 * while no peer can reach it: that is how "the minority cannot commit" is observed.
 *
 * Ownership: the cluster owns its Docker and libcurl handles; the load owns its threads,
 * clients and their histories until itest_load_stop hands the merged history out.
 */
#ifndef VESPER_TESTS_INTEGRATION_ITEST_H
#define VESPER_TESTS_INTEGRATION_ITEST_H

#include "integration/docker_api.h"
#include "lib/lincheck.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define ITEST_MAX_NODES   9
#define ITEST_MAX_CLIENTS 8

struct itest_node {
    char service[32];      /* compose service = host name in ip_list ("vesper2") */
    char url[96];          /* http://vesper2:5000 (or https://) */
    char ctl_url[96];      /* http://<ip on ctl>:5000 while isolated; with https, the service
                              name, resolved to that ip (ctl_resolve) so the certificate fits */
    char ctl_resolve[128]; /* "vesper2:5000:<ip>" while isolated over https, else "" */
    char cid[DOCKER_ID_MAX];
    int port;
    bool isolated;
    bool https;
};

struct itest_cluster {
    struct docker docker;
    CURL *http;
    int n;
    struct itest_node nodes[ITEST_MAX_NODES];
    char project[96];
    char raft_net[160];
    char ctl_net[160];
    char self[96]; /* this container's id (HOSTNAME) */
};

struct itest_status {
    char role[16];
    uint64_t term;
    int leader; /* -1: none known */
    uint64_t commit, applied;
};

/* An answer to one raw /request (no redirects followed, no retries). */
struct itest_reply {
    bool answered; /* a JSON reply with "code" came back */
    bool success;
    char error[48];
    bool has_value;
    char value[128];
};

int64_t itest_now_us(void);
void itest_sleep_ms(long ms);

/* Reads the ip_list, finds this container's compose project, the node containers and the
 * two networks. 0, or -1 with a message on stderr. */
int itest_cluster_init(struct itest_cluster *c, const char *ip_list_path);
void itest_cluster_free(struct itest_cluster *c);

/* GET /status of node i (through ctl while it is isolated). 0, or -1 if unreachable. */
int itest_status(struct itest_cluster *c, int i, struct itest_status *st);

/* Polls until some node outside skip_mask (bit i = node i) reports itself leader and that
 * leader is not `not_this` (-1: any). Returns its id (and *st), or -1 at the timeout. */
int itest_wait_leader(struct itest_cluster *c, unsigned skip_mask, int not_this, long timeout_ms,
                      struct itest_status *st);

/* Waits until node i has applied index >= target. 0, or -1 at the timeout. */
int itest_wait_applied(struct itest_cluster *c, int i, uint64_t target, long timeout_ms);

/* Waits for a leader and for every node to have applied the leader's commit index. */
int itest_settle(struct itest_cluster *c, long timeout_ms);

/* Moves node i from raft to ctl (isolate) and back (heal). 0 or -1. */
int itest_isolate(struct itest_cluster *c, int i);
int itest_heal(struct itest_cluster *c, int i);

/* Container operations by node id (stop/start/restart/pause/unpause). 0 or -1. */
int itest_op(struct itest_cluster *c, int i, const char *op);

/* One raw request: GET (get) or PUT (put) to base_url/request. 0 when sent, -1 if not. */
int itest_raw(struct itest_cluster *c, const char *base_url, const char *key, const char *value,
              long timeout_ms, struct itest_reply *r);

/* ---- the recorded load (itest_load.c) ---- */

struct vclient;

/* A vclient over every node (2 s per request, 500 ms per attempt); NULL on ENOMEM. */
struct vclient *itest_vclient(struct itest_cluster *c, uint64_t client_id);

struct itest_client;

struct itest_load {
    struct itest_cluster *cluster;
    int n_clients;
    struct itest_client *clients[ITEST_MAX_CLIENTS];
    pthread_t threads[ITEST_MAX_CLIENTS];
    bool started[ITEST_MAX_CLIENTS];
    atomic_bool stop;
    atomic_int phase;            /* scenario number: part of the shared keys' names */
    atomic_llong mark_us;        /* itest_load_mark time */
    atomic_llong first_write_us; /* completion of the first write invoked after the mark */
    atomic_long writes_ok, writes_unknown;
    atomic_int generation; /* bumped when containers restart: clients start afresh */
};

/* Starts n_clients threads, each with a vclient over every node, looping over get / put /
 * cas on the current phase's shared keys and put on its own unique keys. 0 or -1. */
int itest_load_start(struct itest_load *l, struct itest_cluster *c, int n_clients);

/* Containers were started again and may hold each other's old addresses, which libcurl
 * (inside vclient) caches with its keep-alive connections, keyed by host name. Each client
 * replaces its vclient before its next op (see tests/integration/README.md). */
void itest_load_renew(struct itest_load *l);

/* From now, remember when the first write invoked after this moment is acknowledged. */
void itest_load_mark(struct itest_load *l);

/* ms from the mark to that acknowledgement, waiting up to timeout_ms; -1 if none came. */
long itest_load_wait_write(struct itest_load *l, long timeout_ms);

/* Stops the threads, appends every recorded op to *h and verifies that every acknowledged
 * unique-key put is still readable with its value. Returns the number of acknowledged
 * puts found missing or wrong (0 is a pass), *checked the number verified, or -1. */
long itest_load_stop(struct itest_load *l, struct lincheck_history *h, long *checked);

/* ---- the load's multi-key ops (itest_multi.c) ---- */

#define ITEST_SHARED_KEYS 6 /* shared keys per phase: "p<phase>-k0" .. */

/* What a client lends its multi-key ops; op is the one just recorded (its outcome, times
 * and cas_swapped: whether the txn's compare held). */
struct itest_multi {
    struct vclient *vc;
    struct lincheck_history *hist;
    int proc;
    long *next_value;
    char (*last)[32]; /* ITEST_SHARED_KEYS: the value last seen per shared key, "" none */
    struct lincheck_op op;
};

/* A txn on shared key k and the next one; a range over all the phase's shared keys. */
void itest_multi_txn(struct itest_multi *m, int phase, int k);
void itest_multi_range(struct itest_multi *m, int phase);

/* ---- the scenarios (itest_scen.c, itest_scen_kill.c, itest_scen_outage.c) ---- */

struct itest_watch_set;

struct itest_ctx {
    struct itest_cluster *c;
    struct itest_load *load;
    struct itest_watch_set *watch;  /* watchers to steer to a failing leader; may be NULL */
    struct vclient *vc;             /* the main thread's own client (probes, checks) */
    struct lincheck_history probes; /* ops the scenarios send themselves (proc 100) */
    int passed, failed;
    int stopped;   /* node stopped by the previous scenario, or -1 */
    FILE *summary; /* may be NULL */
};

/* Prints "PASS name: details" or "FAIL name: details" (also to x->summary); counts it. */
void itest_result(struct itest_ctx *x, const char *name, bool pass, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Runs every scenario in order, each printing its result line. */
void itest_scenarios(struct itest_ctx *x);

/* Functions the scenario files share: the start of a scenario (next load phase, a settled
 * cluster; returns its leader or -1 after a FAIL line), fresh clients after containers
 * started again, and the ms since t_us. */
int itest_scen_begin(struct itest_ctx *x, const char *name, struct itest_status *st);
void itest_scen_renew(struct itest_ctx *x);
long itest_ms_since(int64_t t_us);

/* kill-leader (itest_scen_kill.c): docker kill (SIGKILL) of the leader, a new leader and
 * write, then the old leader started again catches up. */
void itest_scen_kill_leader(struct itest_ctx *x);
/* stop-majority and restart-all (itest_scen_outage.c). */
void itest_scen_stop_majority(struct itest_ctx *x);
void itest_scen_restart_all(struct itest_ctx *x);

#endif
