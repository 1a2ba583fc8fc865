/* itest_load.c: the client load that runs through every scenario and the history it
 * leaves for the linearizability checker (see itest.h).
 *
 * Each client thread owns a vclient over all nodes (the same library as the CLI, so
 * redirects, failover and exactly-once retries are the ones users get) and its own
 * history, so threads share only atomics. Outcomes are recorded conservatively: a write
 * is "ok" only when acknowledged and "info" (may or may not have happened) whenever the
 * client gave up without a definite answer; a read that got no answer is "fail" (a read
 * has no effect, so it is dropped). Shared keys are renamed per scenario ("p3-k1") to keep
 * each key's history, and the checker's search, small; unique keys ("u1-57") are written
 * once each and read back at the end: acknowledged writes must all still be there. One op
 * in ten is a txn over two shared keys or a range over all of them (itest_multi.c).
 */
#include "integration/itest.h"

#include "client/vclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEST_THINK_MS 8

struct itest_client {
    struct itest_load *l;
    int id;
    struct vclient *vc;
    uint64_t rng;
    struct lincheck_history hist;
    long *acked; /* unique key numbers whose put was acknowledged */
    size_t n_acked, cap_acked;
    long next_unique, next_value;
    int last_phase, generation;
    char last[ITEST_SHARED_KEYS][32]; /* last value seen per shared key ("" = none) */
};

static uint64_t itest_rand(struct itest_client *cl)
{
    cl->rng ^= cl->rng << 13; /* xorshift64 */
    cl->rng ^= cl->rng >> 7;
    cl->rng ^= cl->rng << 17;
    return cl->rng;
}

struct vclient *itest_vclient(struct itest_cluster *c, uint64_t client_id)
{
    const char *eps[ITEST_MAX_NODES];
    for (int i = 0; i < c->n; i++)
        eps[i] = c->nodes[i].url;
    struct vclient_opts o = {.endpoints = eps,
                             .n_endpoints = (size_t)c->n,
                             .timeout_ms = 2000,
                             .attempt_timeout_ms = 500,
                             .client_id = client_id};
    return vclient_new(&o);
}

/* Maps a vclient answer to a history outcome (see the comment at the top). */
static void itest_classify(struct lincheck_op *op, const struct vclient_resp *r)
{
    bool ok = r->status == VCLIENT_SUCCESS;
    bool failed = r->status == VCLIENT_FAIL;
    if (op->type == LINCHECK_GET) {
        op->outcome = LINCHECK_FAIL;
        if (ok && r->has_value) {
            op->outcome = LINCHECK_OK;
            op->result = (struct lincheck_val){r->value, r->value_len};
        } else if (failed && strcmp(r->error, "not_found") == 0) {
            op->outcome = LINCHECK_OK;
            op->result = LINCHECK_ABSENT;
        }
    } else if (ok || (op->type == LINCHECK_CAS && failed && strcmp(r->error, "cas_failed") == 0)) {
        op->outcome = LINCHECK_OK;
        op->cas_swapped = ok;
    } else {
        op->outcome = LINCHECK_INFO;
        op->complete_us = INT64_MAX;
    }
}

static void itest_account(struct itest_client *cl, const struct lincheck_op *op);

/* Runs one request, records it in the client's history; returns the outcome. */
static enum lincheck_outcome itest_run_op(struct itest_client *cl, struct lincheck_op *op,
                                          const struct vclient_req *req)
{
    struct vclient_resp r;
    op->proc = (uint64_t)cl->id;
    op->invoke_us = itest_now_us();
    vclient_do(cl->vc, req, &r);
    op->complete_us = itest_now_us();
    itest_classify(op, &r);
    if (lincheck_history_add(&cl->hist, op) != 0)
        abort(); /* out of memory: the run is void anyway */
    itest_account(cl, op);
    vclient_resp_free(&r);
    return op->outcome;
}

/* Counts a recorded op in the load's write statistics. */
static void itest_account(struct itest_client *cl, const struct lincheck_op *op)
{
    struct itest_load *l = cl->l;
    if (op->type != LINCHECK_GET && op->outcome == LINCHECK_OK && op->cas_swapped) {
        atomic_fetch_add(&l->writes_ok, 1);
        long long first = atomic_load(&l->first_write_us);
        while (op->invoke_us >= atomic_load(&l->mark_us) && op->complete_us < first &&
               !atomic_compare_exchange_weak(&l->first_write_us, &first, op->complete_us)) {
        }
    } else if (op->outcome == LINCHECK_INFO) {
        atomic_fetch_add(&l->writes_unknown, 1);
    }
}

static void itest_put_unique(struct itest_client *cl)
{
    char key[32], val[32];
    long n = cl->next_unique++;
    snprintf(key, sizeof key, "u%d-%ld", cl->id, n);
    snprintf(val, sizeof val, "v%d-%ld", cl->id, n);
    struct vclient_req req = {.op = VCLIENT_PUT,
                              .key = key,
                              .key_len = strlen(key),
                              .value = val,
                              .value_len = strlen(val)};
    struct lincheck_op op = {.type = LINCHECK_PUT,
                             .key = LINCHECK_STR(key),
                             .value = LINCHECK_STR(val),
                             .expected = LINCHECK_ABSENT,
                             .result = LINCHECK_ABSENT,
                             .cas_swapped = true};
    if (itest_run_op(cl, &op, &req) != LINCHECK_OK)
        return;
    if (cl->n_acked == cl->cap_acked) {
        size_t cap = cl->cap_acked ? 2 * cl->cap_acked : 256;
        long *p = realloc(cl->acked, cap * sizeof *p);
        if (p == NULL)
            abort();
        cl->acked = p;
        cl->cap_acked = cap;
    }
    cl->acked[cl->n_acked++] = n;
}

/* One get, put or cas on a shared key of the current phase. */
static void itest_shared_op(struct itest_client *cl, int phase, unsigned dice)
{
    int k = (int)(itest_rand(cl) % ITEST_SHARED_KEYS);
    char key[32], val[32];
    snprintf(key, sizeof key, "p%d-k%d", phase, k);
    snprintf(val, sizeof val, "c%d-%ld", cl->id, cl->next_value++);
    struct vclient_req req = {.key = key, .key_len = strlen(key)};
    struct lincheck_op op = {.key = LINCHECK_STR(key),
                             .value = LINCHECK_ABSENT,
                             .expected = LINCHECK_ABSENT,
                             .result = LINCHECK_ABSENT};
    if (dice < 50) {
        req.op = VCLIENT_GET;
        op.type = LINCHECK_GET;
    } else {
        req.op = dice < 85 ? VCLIENT_PUT : VCLIENT_CAS;
        op.type = dice < 85 ? LINCHECK_PUT : LINCHECK_CAS;
        req.value = val;
        req.value_len = strlen(val);
        op.value = LINCHECK_STR(val);
        if (op.type == LINCHECK_CAS && cl->last[k][0] != '\0') {
            req.expected = cl->last[k];
            req.expected_len = strlen(cl->last[k]);
            op.expected = LINCHECK_STR(cl->last[k]);
        } else if (op.type == LINCHECK_CAS) {
            req.expect_absent = true;
        }
    }
    enum lincheck_outcome out = itest_run_op(cl, &op, &req);
    /* The history copied every string; remember what this client saw for the next cas. */
    if (out == LINCHECK_OK && op.type != LINCHECK_GET && op.cas_swapped)
        snprintf(cl->last[k], sizeof cl->last[k], "%s", val);
}

/* A txn over two shared keys or a range over all of them (itest_multi.c). */
static void itest_multi_op(struct itest_client *cl, int phase, bool txn)
{
    struct itest_multi m = {.vc = cl->vc,
                            .hist = &cl->hist,
                            .proc = cl->id,
                            .next_value = &cl->next_value,
                            .last = cl->last};
    if (txn) {
        itest_multi_txn(&m, phase, (int)(itest_rand(cl) % ITEST_SHARED_KEYS));
        itest_account(cl, &m.op);
    } else {
        itest_multi_range(&m, phase);
    }
}

static void itest_client_renew(struct itest_client *cl)
{
    int gen = atomic_load(&cl->l->generation);
    if (gen == cl->generation)
        return;
    struct vclient *vc = itest_vclient(cl->l->cluster, 0);
    if (vc == NULL)
        return; /* keep the old one; try again next op */
    vclient_free(cl->vc);
    cl->vc = vc;
    cl->generation = gen;
}

void itest_load_renew(struct itest_load *l)
{
    atomic_fetch_add(&l->generation, 1);
}

static void *itest_client_main(void *arg)
{
    struct itest_client *cl = arg;
    while (!atomic_load(&cl->l->stop)) {
        itest_client_renew(cl);
        int phase = atomic_load(&cl->l->phase);
        if (phase != cl->last_phase) {
            memset(cl->last, 0, sizeof cl->last);
            cl->last_phase = phase;
        }
        unsigned dice = (unsigned)(itest_rand(cl) % 100);
        if (dice < 15)
            itest_put_unique(cl);
        else if (dice < 25)
            itest_multi_op(cl, phase, dice < 20);
        else
            itest_shared_op(cl, phase, dice);
        itest_sleep_ms(ITEST_THINK_MS);
    }
    return NULL;
}

int itest_load_start(struct itest_load *l, struct itest_cluster *c, int n_clients)
{
    memset(l, 0, sizeof *l);
    l->cluster = c;
    atomic_store(&l->first_write_us, INT64_MAX);
    for (int i = 0; i < n_clients && i < ITEST_MAX_CLIENTS; i++) {
        struct itest_client *cl = calloc(1, sizeof *cl);
        if (cl == NULL)
            return -1;
        l->clients[l->n_clients++] = cl;
        cl->l = l;
        cl->id = i + 1;
        cl->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ (uint64_t)itest_now_us();
        lincheck_history_init(&cl->hist);
        cl->vc = itest_vclient(c, 0);
        if (cl->vc == NULL)
            return -1;
        if (pthread_create(&l->threads[i], NULL, itest_client_main, cl) != 0)
            return -1;
        l->started[i] = true;
    }
    return 0;
}

void itest_load_mark(struct itest_load *l)
{
    atomic_store(&l->first_write_us, INT64_MAX);
    atomic_store(&l->mark_us, itest_now_us());
}

long itest_load_wait_write(struct itest_load *l, long timeout_ms)
{
    int64_t mark = atomic_load(&l->mark_us);
    while (itest_now_us() < mark + timeout_ms * 1000) {
        long long first = atomic_load(&l->first_write_us);
        if (first != INT64_MAX)
            return (long)((first - mark) / 1000);
        itest_sleep_ms(10);
    }
    return -1;
}

/* Reads back every acknowledged unique key of cl; returns how many are missing or wrong. */
static long itest_verify_client(struct itest_client *cl, long *checked)
{
    long bad = 0, unanswered = 0;
    itest_client_renew(cl);
    for (size_t i = 0; i < cl->n_acked; i++) {
        if (unanswered >= 10) { /* the cluster is down: count the rest as lost, stay bounded */
            bad += (long)(cl->n_acked - i);
            fprintf(stderr, "itest: client %d: cluster unavailable, %zu reads not attempted\n",
                    cl->id, cl->n_acked - i);
            break;
        }
        char key[32], want[32];
        snprintf(key, sizeof key, "u%d-%ld", cl->id, cl->acked[i]);
        snprintf(want, sizeof want, "v%d-%ld", cl->id, cl->acked[i]);
        struct vclient_req req = {.op = VCLIENT_GET, .key = key, .key_len = strlen(key)};
        struct lincheck_op op = {.type = LINCHECK_GET,
                                 .key = LINCHECK_STR(key),
                                 .value = LINCHECK_ABSENT,
                                 .expected = LINCHECK_ABSENT};
        struct vclient_resp r;
        op.proc = (uint64_t)cl->id;
        op.invoke_us = itest_now_us();
        vclient_do(cl->vc, &req, &r);
        op.complete_us = itest_now_us();
        itest_classify(&op, &r);
        bool good = r.status == VCLIENT_SUCCESS && r.has_value && r.value_len == strlen(want) &&
                    memcmp(r.value, want, r.value_len) == 0;
        unanswered = r.status == VCLIENT_SUCCESS ? 0 : unanswered + 1;
        if (!good && bad++ < 5)
            fprintf(stderr, "itest: acknowledged %s=%s reads back as %s (%s)\n", key, want,
                    r.has_value ? r.value : "nothing", r.error);
        if (lincheck_history_add(&cl->hist, &op) != 0)
            abort();
        vclient_resp_free(&r);
        (*checked)++;
    }
    return bad;
}

long itest_load_stop(struct itest_load *l, struct lincheck_history *h, long *checked)
{
    long bad = 0;
    *checked = 0;
    atomic_store(&l->stop, true);
    for (int i = 0; i < l->n_clients; i++) {
        if (l->started[i] && pthread_join(l->threads[i], NULL) != 0)
            bad = -1;
    }
    for (int i = 0; i < l->n_clients; i++) {
        struct itest_client *cl = l->clients[i];
        if (bad >= 0 && cl->vc)
            bad += itest_verify_client(cl, checked);
        for (size_t j = 0; j < cl->hist.n_ops; j++) {
            if (lincheck_history_add(h, &cl->hist.ops[j]) != 0)
                bad = -1;
        }
        lincheck_history_free(&cl->hist);
        if (cl->vc)
            vclient_free(cl->vc);
        free(cl->acked);
        free(cl);
        l->clients[i] = NULL;
    }
    return bad;
}
