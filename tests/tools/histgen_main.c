/* histgen_main.c: build/histgen's command line, endpoint list, threads and history file.
 *
 * Kept apart from the client logic (histgen.c) so the rules for recording an op stay in
 * one short file. The endpoint list is validated here: every URL must be
 * http://127.0.0.1:PORT (or https://, with VESPER_CACERT naming the CA), which is what
 * keeps the tool pointed at loopback only.
 */
#include "tools/histgen.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* Reads the endpoint list: one http(s)://127.0.0.1:PORT per line; anything else is refused. */
static int histgen_load_urls(struct histgen_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "histgen: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        size_t len = strcspn(line, " \t\r\n");
        line[len] = '\0';
        while (len > 0 && line[len - 1] == '/')
            line[--len] = '\0';
        if (len == 0)
            continue;
        const char *prefix =
            strncmp(line, "https:", 6) ? "http://127.0.0.1:" : "https://127.0.0.1:";
        size_t plen = strlen(prefix);
        bool port_ok =
            len > plen && len - plen <= 5 && strspn(line + plen, "0123456789") == len - plen;
        if (strncmp(line, prefix, plen) != 0 || !port_ok) {
            fprintf(stderr, "histgen: %s: '%s' is not http://127.0.0.1:PORT\n", path, line);
            rc = -1;
        } else if (cfg->n_urls == HISTGEN_MAX_ENDPOINTS) {
            fprintf(stderr, "histgen: %s: more than %d endpoints\n", path, HISTGEN_MAX_ENDPOINTS);
            rc = -1;
        } else {
            memcpy(cfg->urls[cfg->n_urls++], line, len + 1); /* len <= 23: checked above */
        }
    }
    if (fclose(f) != 0 || (rc == 0 && cfg->n_urls == 0)) {
        fprintf(stderr, "histgen: %s: no endpoints\n", path);
        rc = -1;
    }
    return rc;
}

static int histgen_usage(void)
{
    fputs(
        "usage: histgen [-c clients] [-d seconds] [-n ops] [-k keys] [-t timeout_ms]\n"
        "               [-o history.txt] [-x|--extended] [-m|--multi] [-s seed] [-p prefix]\n"
        "               IP_LIST_FILE\n",
        stderr);
    return 2;
}

static int histgen_parse_args(struct histgen_config *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {{"clients", required_argument, NULL, 'c'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"ops", required_argument, NULL, 'n'},
                                             {"keys", required_argument, NULL, 'k'},
                                             {"timeout-ms", required_argument, NULL, 't'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"extended", no_argument, NULL, 'x'},
                                             {"prefix", required_argument, NULL, 'p'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"multi", no_argument, NULL, 'm'},
                                             {NULL, 0, NULL, 0}};
    *cfg = (struct histgen_config){.clients = 4,
                                   .keys = 5,
                                   .timeout_ms = 1000,
                                   .duration_s = 10,
                                   .out_path = "history.txt",
                                   .prefix = "key"};
    cfg->seed = (uint64_t)time(NULL) ^ ((uint64_t)histgen_now_us() << 20);
    int ch;
    while ((ch = getopt_long(argc, argv, "c:d:n:k:t:o:xms:p:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            cfg->clients = atoi(optarg);
            break;
        case 'd':
            cfg->duration_s = strtod(optarg, NULL);
            break;
        case 'n':
            cfg->max_ops = atol(optarg);
            break;
        case 'k':
            cfg->keys = atoi(optarg);
            break;
        case 't':
            cfg->timeout_ms = atoi(optarg);
            break;
        case 'o':
            cfg->out_path = optarg;
            break;
        case 'p':
            cfg->prefix = optarg;
            break;
        case 'x':
            cfg->extended = true;
            break;
        case 'm':
            cfg->multi = true;
            break;
        case 's':
            cfg->seed = strtoull(optarg, NULL, 10);
            break;
        default:
            return -1;
        }
    }
    if (optind != argc - 1 || cfg->clients < 1 || cfg->clients > 1024 || cfg->keys < 1 ||
        cfg->keys > 64 || cfg->timeout_ms < 1 || cfg->timeout_ms > 600000 || cfg->max_ops < 0 ||
        !(cfg->duration_s > 0 && cfg->duration_s <= 3600) || strlen(cfg->prefix) > 32 ||
        strspn(cfg->prefix, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            strlen(cfg->prefix))
        return -1;
    return histgen_load_urls(cfg, argv[optind]) == 0 ? 0 : -2;
}

static int histgen_cmp_invoke(const void *a, const void *b)
{
    const struct lincheck_op *x = *(const struct lincheck_op *const *)a;
    const struct lincheck_op *y = *(const struct lincheck_op *const *)b;
    return (x->invoke_us > y->invoke_us) - (x->invoke_us < y->invoke_us);
}

/* Writes every client's ops, ordered by invoke time (easier to read; the checker does not care). */
static int histgen_write_history(const struct histgen_config *cfg, struct histgen_client *cl)
{
    size_t n = 0, j = 0;
    for (int i = 0; i < cfg->clients; i++)
        n += cl[i].hist.n_ops;
    const struct lincheck_op **all = malloc((n ? n : 1) * sizeof *all);
    FILE *f = all ? fopen(cfg->out_path, "w") : NULL;
    if (!f) {
        fprintf(stderr, "histgen: %s: %s\n", cfg->out_path, strerror(errno));
        free(all);
        return -1;
    }
    for (int i = 0; i < cfg->clients; i++)
        for (size_t k = 0; k < cl[i].hist.n_ops; k++)
            all[j++] = &cl[i].hist.ops[k];
    qsort(all, n, sizeof *all, histgen_cmp_invoke);
    int rc =
        fprintf(f,
                "# histgen clients=%d keys=%d prefix=%s timeout_ms=%d extended=%d seed=%" PRIu64
                " endpoints=%d\n",
                cfg->clients, cfg->keys, cfg->prefix, cfg->timeout_ms, cfg->extended, cfg->seed,
                cfg->n_urls) < 0;
    for (size_t k = 0; k < n && !rc; k++)
        rc = lincheck_op_write(f, all[k]);
    rc |= fclose(f) != 0;
    free(all);
    if (rc)
        fprintf(stderr, "histgen: writing %s failed\n", cfg->out_path);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    static struct histgen_config cfg;
    int prc = histgen_parse_args(&cfg, argc, argv);
    if (prc)
        return prc == -1 ? histgen_usage() : 2;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 2;
    struct histgen_client *cl = calloc((size_t)cfg.clients, sizeof *cl);
    pthread_t *tids = calloc((size_t)cfg.clients, sizeof *tids);
    int rc = cl && tids ? 0 : 1, started = 0;
    for (int i = 0; i < cfg.clients && rc == 0; i++)
        rc = histgen_client_init(&cl[i], &cfg, i) ? 1 : 0;
    int64_t t0 = histgen_now_us();
    cfg.run_deadline_us = t0 + (int64_t)(cfg.duration_s * 1e6);
    for (int i = 0; i < cfg.clients && rc == 0; i++, started++)
        rc = pthread_create(&tids[i], NULL, histgen_client_main, &cl[i]) ? 1 : 0;
    for (int i = 0; i < started; i++)
        rc |= pthread_join(tids[i], NULL) ? 1 : 0;
    double secs = (double)(histgen_now_us() - t0) / 1e6;
    long ok = 0, fail = 0, info = 0;
    for (int i = 0; cl && i < cfg.clients; i++) {
        ok += cl[i].ok, fail += cl[i].fail, info += cl[i].info;
        rc |= cl[i].error ? 1 : 0;
    }
    if (rc)
        fprintf(stderr, "histgen: setup or memory failure\n");
    if (cl && histgen_write_history(&cfg, cl) != 0)
        rc = 1;
    printf("histgen: ops=%ld ok=%ld fail=%ld info=%ld secs=%.2f ops/s=%.0f seed=%" PRIu64
           " history=%s\n",
           ok + fail + info, ok, fail, info, secs, (double)(ok + fail + info) / secs, cfg.seed,
           cfg.out_path);
    for (int i = 0; cl && i < cfg.clients; i++)
        histgen_client_free(&cl[i]);
    free(cl);
    free(tids);
    curl_global_cleanup();
    return rc;
}
