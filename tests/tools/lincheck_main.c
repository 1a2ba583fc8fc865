/* lincheck_main.c: build/lincheck, the command-line front end of tests/lib/lincheck.
 *
 *   build/lincheck [--max-steps N] [--max-memory-mb N] [--quiet] HISTORY_FILE
 *
 * Exit status is the contract cluster tests rely on: 0 linearizable, 1 violation (the
 * explanation goes to stdout), 2 bad input, bad usage, or unknown (search budget exceeded).
 * The history format is documented in tests/lib/lincheck.h.
 */
#include "lib/lincheck.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <time.h>

static int usage(void)
{
    fputs(
        "usage: lincheck [--max-steps N] [--max-memory-mb N] [--quiet] HISTORY_FILE\n"
        "exit: 0 linearizable, 1 violation, 2 bad input or unknown (budget exceeded)\n"
        "format: see tests/lib/lincheck.h\n",
        stderr);
    return 2;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0)
        return -1;
    *out = v;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts))
        return 0;
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    struct lincheck_opts opts = {.explain = stdout};
    const char *path = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        if (strcmp(argv[i], "--max-steps") == 0) {
            if (i + 1 >= argc || parse_u64(argv[++i], &v))
                return usage();
            opts.max_steps_per_key = v;
        } else if (strcmp(argv[i], "--max-memory-mb") == 0) {
            if (i + 1 >= argc || parse_u64(argv[++i], &v) || v > SIZE_MAX / (1024 * 1024))
                return usage();
            opts.max_cache_bytes = (size_t)v * 1024 * 1024;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            quiet = true;
        } else if (argv[i][0] == '-' || path) {
            return usage();
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return usage();
    struct lincheck_history h;
    lincheck_history_init(&h);
    char err[512];
    if (lincheck_history_load(&h, path, err, sizeof err)) {
        fprintf(stderr, "lincheck: %s\n", err);
        lincheck_history_free(&h);
        return 2;
    }
    double t0 = now_ms();
    struct lincheck_report rep;
    enum lincheck_result r = lincheck_check(&h, &opts, &rep);
    double took_ms = now_ms() - t0;
    static const char *const verdicts[] = {"linearizable", "NOT linearizable",
                                           "unknown (budget exceeded)"};
    if (!quiet || r != LINCHECK_LINEARIZABLE)
        printf(
            "%s: %s (%zu ops, %zu keys in %zu parts, %zu of them multi-key, %zu checked "
            "after reduction, %zu violating, %zu unknown, %" PRIu64 " steps, %.1f ms)\n",
            path, verdicts[r], h.n_ops, rep.n_keys, rep.n_parts, rep.n_multi_parts,
            rep.n_ops_checked, rep.n_violations, rep.n_unknown, rep.steps, took_ms);
    lincheck_history_free(&h);
    if (fflush(stdout))
        return 2;
    return r == LINCHECK_LINEARIZABLE ? 0 : r == LINCHECK_VIOLATION ? 1 : 2;
}
