/* test_lincheck_random.c: generated histories for the checker, and the build/lincheck CLI.
 *
 * A generator simulates clients against a real sequential store: every op gets a random
 * interval [invoke, complete] and a linearization point inside it, and the ops are applied
 * to the store in linearization-point order to produce their results. Such a history is
 * linearizable by construction, so the checker must accept it; corrupting one read must
 * usually be flagged (not always: the corrupt value may still be explainable by a write that
 * overlaps the read). All seeds are fixed so the suite is deterministic.
 */
#include "lib/lincheck.h"
#include "lib/test.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t gen_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint64_t gen_below(uint64_t *s, uint64_t n)
{
    return gen_next(s) % n;
}

struct gen_op {
    struct lincheck_op op;
    int64_t lin_us;
    bool takes_effect; /* false for fail ops and some info writes */
    char key[16], value[16], expected[16];
};

struct gen_params {
    int n_clients, n_ops, n_keys, n_values;
    int info_pct, fail_pct, cas_pct;
};

static int gen_cmp_lin(const void *a, const void *b)
{
    const struct gen_op *x = a, *y = b;
    return (x->lin_us > y->lin_us) - (x->lin_us < y->lin_us);
}

static void gen_pick_op(struct gen_op *g, const struct gen_params *p, uint64_t *s)
{
    uint64_t roll = gen_below(s, 100);
    g->op.type = roll < 40                          ? LINCHECK_GET
                 : roll < 75                        ? LINCHECK_PUT
                 : roll < 75 + (uint64_t)p->cas_pct ? LINCHECK_CAS
                                                    : LINCHECK_DELETE;
    snprintf(g->key, sizeof g->key, "k%d", (int)gen_below(s, (uint64_t)p->n_keys));
    snprintf(g->value, sizeof g->value, "v%d", (int)gen_below(s, (uint64_t)p->n_values));
    snprintf(g->expected, sizeof g->expected, "v%d", (int)gen_below(s, (uint64_t)p->n_values));
    uint64_t fate = gen_below(s, 100);
    g->op.outcome = fate < (uint64_t)p->info_pct                   ? LINCHECK_INFO
                    : fate < (uint64_t)(p->info_pct + p->fail_pct) ? LINCHECK_FAIL
                                                                   : LINCHECK_OK;
    g->takes_effect =
        g->op.outcome == LINCHECK_OK || (g->op.outcome == LINCHECK_INFO && gen_below(s, 2));
}

/* Fills ops[0..p->n_ops) with a linearizable history over n_keys registers. */
static void gen_history(struct gen_op *ops, const struct gen_params *p, uint64_t seed)
{
    uint64_t s = seed * 2654435761u + 1;
    int64_t *clock = calloc((size_t)p->n_clients, sizeof *clock);
    for (int i = 0; i < p->n_ops; i++) {
        struct gen_op *g = &ops[i];
        memset(g, 0, sizeof *g);
        int c = (int)gen_below(&s, (uint64_t)p->n_clients);
        g->op.proc = (uint64_t)c;
        gen_pick_op(g, p, &s);
        clock[c] += 1 + (int64_t)gen_below(&s, 20);
        g->op.invoke_us = clock[c];
        g->lin_us = g->op.invoke_us + (int64_t)gen_below(&s, 30);
        g->op.complete_us = g->lin_us + (int64_t)gen_below(&s, 30);
        clock[c] = g->op.complete_us;
    }
    free(clock);
    /* Apply in linearization order to a store of n_keys registers. */
    qsort(ops, (size_t)p->n_ops, sizeof *ops, gen_cmp_lin);
    int state[64]; /* value index per key, -1 absent */
    for (int k = 0; k < p->n_keys; k++)
        state[k] = -1;
    for (int i = 0; i < p->n_ops; i++) {
        struct gen_op *g = &ops[i];
        int k = atoi(g->key + 1), v = atoi(g->value + 1), e = atoi(g->expected + 1);
        g->op.key = LINCHECK_STR(g->key);
        if (g->op.type == LINCHECK_PUT || g->op.type == LINCHECK_CAS)
            g->op.value = LINCHECK_STR(g->value);
        if (g->op.type == LINCHECK_CAS)
            g->op.expected = LINCHECK_STR(g->expected);
        if (g->op.type == LINCHECK_GET && g->op.outcome == LINCHECK_OK) {
            snprintf(g->value, sizeof g->value, "v%d", state[k]);
            g->op.result = state[k] < 0 ? LINCHECK_ABSENT : LINCHECK_STR(g->value);
        }
        if (!g->takes_effect)
            continue;
        if (g->op.type == LINCHECK_PUT)
            state[k] = v;
        else if (g->op.type == LINCHECK_DELETE)
            state[k] = -1;
        else if (g->op.type == LINCHECK_CAS) {
            g->op.cas_swapped = state[k] == e;
            if (g->op.cas_swapped)
                state[k] = v;
        }
    }
}

static int gen_check(struct gen_op *ops, int n, struct lincheck_report *rep)
{
    struct lincheck_history h;
    lincheck_history_init(&h);
    for (int i = 0; i < n; i++)
        if (lincheck_history_add(&h, &ops[i].op))
            return -1;
    int r = (int)lincheck_check(&h, NULL, rep);
    lincheck_history_free(&h);
    return r;
}

/* Changes one completed read to a value it did not see; returns 0 if there is none. */
static int gen_corrupt_one_read(struct gen_op *ops, int n, int n_values, uint64_t *s)
{
    for (int tries = 0; tries < 1000; tries++) {
        struct gen_op *g = &ops[gen_below(s, (uint64_t)n)];
        if (g->op.type != LINCHECK_GET || g->op.outcome != LINCHECK_OK)
            continue;
        int old = g->op.result.data ? atoi(g->op.result.data + 1) : -1;
        int v = (old + 1 + (int)gen_below(s, (uint64_t)n_values)) % (n_values + 1) - 1;
        if (v == old)
            continue;
        snprintf(g->value, sizeof g->value, "v%d", v);
        g->op.result = v < 0 ? LINCHECK_ABSENT : LINCHECK_STR(g->value);
        return 1;
    }
    return 0;
}

TEST(lincheck_random_histories_are_linearizable)
{
    struct gen_params p = {5, 400, 3, 4, 3, 3, 10};
    struct gen_op *ops = malloc(sizeof *ops * (size_t)p.n_ops);
    CHECK(ops);
    int bad = 0;
    for (uint64_t seed = 1; seed <= 200 && !bad; seed++) {
        gen_history(ops, &p, seed);
        if (gen_check(ops, p.n_ops, NULL) != LINCHECK_LINEARIZABLE) {
            fprintf(stderr, "  seed %llu: not accepted\n", (unsigned long long)seed);
            bad = 1;
        }
    }
    free(ops);
    CHECK(!bad);
}

TEST(lincheck_random_corrupt_read_is_usually_flagged)
{
    struct gen_params p = {5, 300, 2, 50, 0, 3, 10};
    struct gen_op *ops = malloc(sizeof *ops * (size_t)p.n_ops);
    CHECK(ops);
    int flagged = 0, runs = 0, unknown = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        uint64_t s = seed + 77;
        gen_history(ops, &p, seed);
        if (!gen_corrupt_one_read(ops, p.n_ops, p.n_values, &s))
            continue;
        int r = gen_check(ops, p.n_ops, NULL);
        runs++;
        flagged += r == LINCHECK_VIOLATION;
        unknown += r == LINCHECK_UNKNOWN;
    }
    free(ops);
    fprintf(stderr, "  corrupted reads flagged: %d of %d\n", flagged, runs);
    CHECK(runs >= 150);
    CHECK(unknown == 0);
    CHECK(flagged * 10 >= runs * 8);
}

TEST(lincheck_random_5000_ops_one_key)
{
    struct gen_params p = {5, 5000, 1, 1000, 1, 2, 10};
    struct gen_op *ops = malloc(sizeof *ops * (size_t)p.n_ops);
    CHECK(ops);
    gen_history(ops, &p, 4242);
    struct lincheck_report rep;
    int r = gen_check(ops, p.n_ops, &rep);
    free(ops);
    CHECK(r == LINCHECK_LINEARIZABLE);
    CHECK(rep.steps < 1000000);
}

/* Runs build/lincheck on text; returns its exit status or -1. */
static int run_cli(const char *dir, const char *text, const char *extra)
{
    char path[256], cmd[512];
    snprintf(path, sizeof path, "%s/history.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    if (fclose(f))
        return -1;
    snprintf(cmd, sizeof cmd, "build/lincheck %s %s >/dev/null", extra, path);
    int st = system(cmd);
    unlink(path);
    return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(lincheck_cli_exit_codes)
{
    char dir[] = "/tmp/lincheck-XXXXXX";
    CHECK(mkdtemp(dir));
    int ok =
        run_cli(dir, "1 put k a - 0 10 ok -\n2 get k - - 20 30 ok a\n", "") == 0 &&
        run_cli(dir, "1 put k a - 0 10 ok -\n2 get k - - 20 30 ok b\n", "") == 1 &&
        run_cli(dir, "1 put k a - 0 10 ok\n", "2>/dev/null") == 2 &&
        run_cli(dir, "1 put k a - 0 10 ok -\n2 get k - - 20 30 ok a\n", "--max-steps 1") == 2 &&
        run_cli(dir, "", "--bogus 2>/dev/null") == 2;
    CHECK(rmdir(dir) == 0);
    CHECK(ok);
}
