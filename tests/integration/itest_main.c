/* itest_main.c: build/vesper-itest, the driver of the containerised failover suite.
 *
 *   vesper-itest IP_LIST_FILE        (inside the compose network; see README.md here)
 *
 * Sets up the cluster view, starts the watchers and the recorded load, runs the
 * scenarios, then checks that every acknowledged write is still readable, that every
 * watcher's stream is the committed history of its range, and that the whole history
 * (load plus probes) is linearizable. Prints one PASS/FAIL line per check and closes with
 * "N passed, N failed"; exit status 1 when anything failed. With VESPER_ITEST_OUT set it
 * also leaves summary.txt and history.txt there (build/itest on the host).
 * A watchdog ends the run after ITEST_WATCHDOG_S seconds whatever happens.
 */
#include "integration/itest.h"
#include "integration/itest_watch.h"

#include "client/vclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ITEST_CLIENTS    3
#define ITEST_WATCHDOG_S 480

static FILE *itest_open_out(const char *name)
{
    const char *dir = getenv("VESPER_ITEST_OUT");
    char path[512];
    if (dir == NULL || dir[0] == '\0')
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        perror(path);
    return f;
}

/* Writes the merged history (if asked) and checks it. */
static void itest_check_history(struct itest_ctx *x, const struct lincheck_history *h)
{
    FILE *f = itest_open_out("history.txt");
    for (size_t i = 0; f && i < h->n_ops; i++) {
        if (lincheck_op_write(f, &h->ops[i]) != 0)
            break;
    }
    if (f && fclose(f) != 0)
        perror("history.txt");
    struct lincheck_opts opts = {.explain = stdout};
    struct lincheck_report rep = {0};
    int64_t t0 = itest_now_us();
    enum lincheck_result res = lincheck_check(h, &opts, &rep);
    itest_result(x, "linearizable", res == LINCHECK_LINEARIZABLE,
                 "%zu ops over %zu keys (%zu checked), %zu violations, %zu unknown; %lld ms",
                 h->n_ops, rep.n_keys, rep.n_ops_checked, rep.n_violations, rep.n_unknown,
                 (long long)((itest_now_us() - t0) / 1000));
}

static int itest_run(struct itest_ctx *x, struct itest_cluster *c, struct itest_load *load)
{
    if (itest_wait_leader(c, 0, -1, 60000, NULL) < 0) {
        itest_result(x, "setup", false, "no leader within 60 s");
        return -1;
    }
    static struct itest_watch_set watch;
    if (itest_watch_start(&watch, c) != 0) {
        itest_result(x, "setup", false, "cannot start the watchers");
        return -1;
    }
    x->watch = &watch;
    if (itest_load_start(load, c, ITEST_CLIENTS) != 0) {
        itest_result(x, "setup", false, "cannot start the client load");
        return -1;
    }
    itest_scenarios(x);
    long checked = 0;
    long bad = itest_load_stop(load, &x->probes, &checked);
    itest_result(x, "acknowledged-writes-intact", bad == 0,
                 "%ld acknowledged unique-key writes read back, %ld missing or wrong (%ld "
                 "writes acknowledged, %ld with unknown outcome)",
                 checked, bad, atomic_load(&load->writes_ok), atomic_load(&load->writes_unknown));
    itest_watch_check(x, &watch, &x->probes);
    itest_check_history(x, &x->probes);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: vesper-itest IP_LIST_FILE\n");
        return 2;
    }
    alarm(ITEST_WATCHDOG_S); /* the default action ends the process: bounded run time */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    static struct itest_cluster cluster;
    static struct itest_load load;
    struct itest_ctx x = {.c = &cluster, .load = &load, .stopped = -1};
    lincheck_history_init(&x.probes);
    x.summary = itest_open_out("summary.txt");
    if (itest_cluster_init(&cluster, argv[1]) != 0 || (x.vc = itest_vclient(&cluster, 0)) == NULL)
        itest_result(&x, "setup", false, "cannot find the cluster (see above)");
    else
        itest_run(&x, &cluster, &load);
    printf("%d passed, %d failed\n", x.passed, x.failed);
    if (x.summary) {
        fprintf(x.summary, "%d passed, %d failed\n", x.passed, x.failed);
        fclose(x.summary);
    }
    if (x.vc)
        vclient_free(x.vc);
    lincheck_history_free(&x.probes);
    itest_cluster_free(&cluster);
    curl_global_cleanup();
    return x.failed ? 1 : 0;
}
