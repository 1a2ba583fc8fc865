/* cluster_tool.c: build/cluster-tool, the C helper of the cluster suite (tests/cluster/run.sh).
 *
 *   cluster-tool write IP_LIST PREFIX THREADS SECONDS COUNT OUT
 *       THREADS clients PUT unique keys PREFIX-T-I (value v-T-I) until SECONDS pass, COUNT
 *       writes were started (0 = no limit) or SIGTERM; every op goes to OUT as a lincheck
 *       history line. Unique keys make "every acknowledged write survives" a direct check.
 *   cluster-tool verify IP_LIST HISTORY [STALE_URL]
 *       every ok put of HISTORY (unique keys) must read back with its value: linearizable
 *       reads through the cluster, or stale reads served by STALE_URL alone.
 *   cluster-tool finalread IP_LIST HISTORY PREFIX NKEYS
 *       appends linearizable reads of PREFIX0..PREFIX<NKEYS-1> to HISTORY (histgen's keys),
 *       so the checker also judges the state the cluster ends in.
 *   cluster-tool states IP_LIST [NODE...]
 *       one line per node (default all): "id role leader term commit applied last snapshot"
 *       from its /status, "-" for what it does not say; the suite's poll loops call it often,
 *       so it is C rather than a python process per poll.
 *   cluster-tool failover IP_LIST NODE PID SIGNAL KEY
 *       sends SIGNAL (KILL or STOP) to PID, the process of node NODE, then writes KEY through
 *       the other nodes until one write succeeds; prints the time from signal to that ack.
 *   cluster-tool members IP_LIST [NODE...]
 *       one line per node: "id voters=A,B,.. learners=C,.." from its /status ("id -" when it
 *       does not answer); states and members live in tool_status.c.
 *   cluster-tool casrun IP_LIST KEY CLIENT_ID SECONDS LOSE_EVERY
 *       one exactly-once client runs the CAS chain KEY: absent->1->2->.. for SECONDS, killing
 *       the reply of every LOSE_EVERY-th first attempt (0 = none); see tool_casrun.c.
 *
 * Times are CLOCK_MONOTONIC microseconds, the time base histgen records, so histories from
 * both tools can be merged. Writes use vclient's exactly-once sessions, so its retries are
 * safe; any write without a success answer is recorded as info (it may have applied).
 */
#include "cluster_tool.h"
#include "vclient.h"
#include "lib/lincheck.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

char tool_urls[TOOL_MAX_NODES][128];
const char *tool_eps[TOOL_MAX_NODES];
size_t tool_n_eps;
static atomic_bool tool_stop;
static atomic_long tool_started;

int64_t tool_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

size_t tool_collect(char *data, size_t size, size_t nmemb, void *arg)
{
    struct tool_buf *b = arg;
    size_t n = size * nmemb;
    if (n >= sizeof b->data - b->len)
        return 0; /* a reply this large is not one we know how to read */
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

/* Loads the ip_list into tool_urls; node `skip` (or -1) is left out of tool_eps. */
static int tool_load_urls(const char *path, int skip)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cluster-tool: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    int n = 0;
    while (n < TOOL_MAX_NODES && fgets(line, sizeof line, f)) {
        line[strcspn(line, " \t\r\n")] = '\0';
        if (line[0] == '\0' || strlen(line) >= sizeof tool_urls[0])
            continue;
        memcpy(tool_urls[n], line, strlen(line) + 1);
        if (n != skip)
            tool_eps[tool_n_eps++] = tool_urls[n];
        n++;
    }
    if (fclose(f) != 0 || tool_n_eps == 0) {
        fprintf(stderr, "cluster-tool: %s: no endpoints\n", path);
        return -1;
    }
    return 0;
}

static struct vclient *tool_client(const char *const *eps, size_t n, long timeout_ms,
                                   long attempt_ms)
{
    struct vclient_opts o = {.endpoints = eps,
                             .n_endpoints = n,
                             .timeout_ms = timeout_ms,
                             .attempt_timeout_ms = attempt_ms};
    return vclient_new(&o);
}

struct tool_writer {
    pthread_t thread;
    int id;
    const char *prefix;
    int64_t deadline_us;
    long count;
    struct lincheck_history hist;
    int error;
};

static void *tool_writer_main(void *arg)
{
    struct tool_writer *w = arg;
    struct vclient *c = tool_client(tool_eps, tool_n_eps, 3000, 1000);
    if (!c) {
        w->error = 1;
        return NULL;
    }
    for (long i = 0; !atomic_load(&tool_stop) && tool_now_us() < w->deadline_us; i++) {
        if (w->count > 0 && atomic_fetch_add(&tool_started, 1) >= w->count)
            break;
        char key[96], value[64];
        snprintf(key, sizeof key, "%s-%d-%ld", w->prefix, w->id, i);
        snprintf(value, sizeof value, "v-%d-%ld", w->id, i);
        struct vclient_req req = {.op = VCLIENT_PUT,
                                  .key = key,
                                  .key_len = strlen(key),
                                  .value = value,
                                  .value_len = strlen(value)};
        struct vclient_resp resp;
        struct lincheck_op op = {.proc = (uint64_t)w->id,
                                 .type = LINCHECK_PUT,
                                 .key = LINCHECK_STR(key),
                                 .value = LINCHECK_STR(value),
                                 .invoke_us = tool_now_us()};
        enum vclient_status st = vclient_do(c, &req, &resp);
        op.complete_us = tool_now_us();
        op.outcome = st == VCLIENT_SUCCESS ? LINCHECK_OK : LINCHECK_INFO;
        if (op.outcome == LINCHECK_INFO)
            op.complete_us = INT64_MAX;
        vclient_resp_free(&resp);
        if (lincheck_history_add(&w->hist, &op) != 0) {
            w->error = 1;
            break;
        }
    }
    vclient_free(c);
    return NULL;
}

static void tool_on_term(int sig)
{
    (void)sig;
    atomic_store(&tool_stop, true);
}

static int tool_write(char **argv)
{
    int threads = atoi(argv[2]);
    double secs = atof(argv[3]);
    long count = atol(argv[4]);
    if (threads < 1 || threads > 32 || secs <= 0) {
        fprintf(stderr, "cluster-tool write: bad THREADS or SECONDS\n");
        return 2;
    }
    FILE *out = fopen(argv[5], "w");
    if (!out) {
        fprintf(stderr, "cluster-tool: %s: %s\n", argv[5], strerror(errno));
        return 2;
    }
    if (signal(SIGTERM, tool_on_term) == SIG_ERR || signal(SIGINT, tool_on_term) == SIG_ERR)
        return 2;
    struct tool_writer w[32];
    int64_t deadline = tool_now_us() + (int64_t)(secs * 1e6);
    int rc = 0, started = 0;
    for (int i = 0; i < threads; i++) {
        w[i] = (struct tool_writer){
            .id = i, .prefix = argv[1], .deadline_us = deadline, .count = count};
        lincheck_history_init(&w[i].hist);
        if (pthread_create(&w[i].thread, NULL, tool_writer_main, &w[i]) != 0)
            break;
        started++;
    }
    long ok = 0, info = 0;
    for (int i = 0; i < started; i++) {
        if (pthread_join(w[i].thread, NULL) != 0 || w[i].error)
            rc = 2;
        for (size_t j = 0; j < w[i].hist.n_ops; j++) {
            const struct lincheck_op *op = &w[i].hist.ops[j];
            if (lincheck_op_write(out, op) != 0)
                rc = 2;
            if (op->outcome == LINCHECK_OK)
                ok++;
            else
                info++;
        }
        lincheck_history_free(&w[i].hist);
    }
    if (fclose(out) != 0 || started != threads)
        rc = 2;
    printf("cluster-tool write: ok=%ld info=%ld\n", ok, info);
    return rc;
}

/* Reads every acknowledged put back; returns 0 when all match. */
static int tool_verify(const char *history, const char *stale_url)
{
    struct lincheck_history h;
    char err[256];
    lincheck_history_init(&h);
    if (lincheck_history_load(&h, history, err, sizeof err) != 0) {
        fprintf(stderr, "cluster-tool verify: %s\n", err);
        return 2;
    }
    const char *one[1] = {stale_url};
    struct vclient *c =
        stale_url ? tool_client(one, 1, 2000, 1000) : tool_client(tool_eps, tool_n_eps, 5000, 1000);
    if (!c) {
        lincheck_history_free(&h);
        return 2;
    }
    long checked = 0, bad = 0;
    for (size_t i = 0; i < h.n_ops; i++) {
        const struct lincheck_op *op = &h.ops[i];
        if (op->type != LINCHECK_PUT || op->outcome != LINCHECK_OK)
            continue;
        struct vclient_req req = {.op = VCLIENT_GET,
                                  .key = op->key.data,
                                  .key_len = op->key.len,
                                  .stale = stale_url != NULL};
        struct vclient_resp resp;
        enum vclient_status st = vclient_do(c, &req, &resp);
        bool same = st == VCLIENT_SUCCESS && resp.has_value && resp.value_len == op->value.len &&
                    memcmp(resp.value, op->value.data, op->value.len) == 0;
        if (!same && ++bad <= 10)
            printf("  acknowledged put %.*s=%.*s reads back as: %s\n", (int)op->key.len,
                   op->key.data, (int)op->value.len, op->value.data,
                   resp.body ? resp.body : resp.error);
        checked++;
        vclient_resp_free(&resp);
    }
    printf("cluster-tool verify: %ld acknowledged puts checked, %ld missing or wrong (%s%s)\n",
           checked, bad, stale_url ? "stale reads at " : "linearizable reads",
           stale_url ? stale_url : "");
    vclient_free(c);
    lincheck_history_free(&h);
    return bad == 0 ? 0 : 1;
}

static int tool_finalread(const char *history, const char *prefix, int nkeys)
{
    FILE *out = fopen(history, "a");
    struct vclient *c = tool_client(tool_eps, tool_n_eps, 5000, 1000);
    int rc = out && c ? 0 : 2;
    for (int k = 0; rc == 0 && k < nkeys; k++) {
        char key[96];
        snprintf(key, sizeof key, "%s%d", prefix, k);
        struct vclient_req req = {.op = VCLIENT_GET, .key = key, .key_len = strlen(key)};
        struct vclient_resp resp;
        struct lincheck_op op = {.proc = 999,
                                 .type = LINCHECK_GET,
                                 .key = LINCHECK_STR(key),
                                 .invoke_us = tool_now_us()};
        enum vclient_status st = vclient_do(c, &req, &resp);
        op.complete_us = tool_now_us();
        if (st == VCLIENT_SUCCESS && resp.has_value) {
            op.result = (struct lincheck_val){resp.value, resp.value_len};
        } else if (!(st == VCLIENT_FAIL && strcmp(resp.error, "not_found") == 0)) {
            fprintf(stderr, "cluster-tool finalread: %s: %s\n", key, resp.error);
            rc = 1;
        }
        if (rc == 0 && lincheck_op_write(out, &op) != 0)
            rc = 2;
        vclient_resp_free(&resp);
    }
    if (out && fclose(out) != 0)
        rc = 2;
    if (c)
        vclient_free(c);
    return rc;
}

static int tool_failover(pid_t pid, int sig, const char *key)
{
    struct vclient *c = tool_client(tool_eps, tool_n_eps, 400, 150);
    if (!c)
        return 2;
    int64_t t0 = tool_now_us();
    if (kill(pid, sig) != 0) {
        fprintf(stderr, "cluster-tool failover: kill %d: %s\n", (int)pid, strerror(errno));
        vclient_free(c);
        return 2;
    }
    int rc = 1, tries = 0;
    while (rc != 0 && tool_now_us() - t0 < 20 * 1000000) {
        char value[32];
        snprintf(value, sizeof value, "after-%d", ++tries);
        struct vclient_req req = {.op = VCLIENT_PUT,
                                  .key = key,
                                  .key_len = strlen(key),
                                  .value = value,
                                  .value_len = strlen(value)};
        struct vclient_resp resp;
        if (vclient_do(c, &req, &resp) == VCLIENT_SUCCESS) {
            printf("failover_ms=%.0f signal_us=%lld tries=%d url=%s\n",
                   (double)(tool_now_us() - t0) / 1000.0, (long long)t0, tries,
                   resp.url ? resp.url : "?");
            rc = 0;
        }
        vclient_resp_free(&resp);
    }
    if (rc != 0)
        printf("failover_ms=none signal_us=%lld tries=%d (no write succeeded in 20 s)\n",
               (long long)t0, tries);
    vclient_free(c);
    return rc;
}

static int tool_usage(void)
{
    fputs(
        "usage: cluster-tool write IP_LIST PREFIX THREADS SECONDS COUNT OUT\n"
        "       cluster-tool verify IP_LIST HISTORY [STALE_URL]\n"
        "       cluster-tool finalread IP_LIST HISTORY PREFIX NKEYS\n"
        "       cluster-tool states IP_LIST [NODE...]\n"
        "       cluster-tool failover IP_LIST NODE PID KILL|STOP KEY\n"
        "       cluster-tool members IP_LIST [NODE...]\n"
        "       cluster-tool casrun IP_LIST KEY CLIENT_ID SECONDS LOSE_EVERY\n",
        stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return tool_usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *cmd = argv[1];
    bool failover = strcmp(cmd, "failover") == 0;
    if (failover && argc != 7)
        return tool_usage();
    if (tool_load_urls(argv[2], failover ? atoi(argv[3]) : -1) != 0)
        return 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 2;
    int rc;
    if (strcmp(cmd, "write") == 0 && argc == 8)
        rc = tool_write(argv + 2);
    else if (strcmp(cmd, "verify") == 0 && (argc == 4 || argc == 5))
        rc = tool_verify(argv[3], argc == 5 ? argv[4] : NULL);
    else if (strcmp(cmd, "finalread") == 0 && argc == 6)
        rc = tool_finalread(argv[3], argv[4], atoi(argv[5]));
    else if (strcmp(cmd, "states") == 0)
        rc = tool_states(argv + 3, argc - 3);
    else if (strcmp(cmd, "members") == 0)
        rc = tool_members(argv + 3, argc - 3);
    else if (strcmp(cmd, "casrun") == 0 && argc == 7)
        rc = tool_casrun(argv[3], strtoull(argv[4], NULL, 10), atof(argv[5]), atol(argv[6]));
    else if (failover)
        rc = tool_failover((pid_t)atol(argv[4]), strcmp(argv[5], "STOP") == 0 ? SIGSTOP : SIGKILL,
                           argv[6]);
    else
        rc = tool_usage();
    curl_global_cleanup();
    return rc;
}
