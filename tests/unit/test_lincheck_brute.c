/* test_lincheck_brute.c: differential test of the checker against a brute-force oracle.
 *
 * The oracle tries every order of the ops of a tiny random history straight from the
 * definition (real-time order respected, sequential register semantics, info ops optional,
 * fail ops absent), with none of the checker's machinery: no event list, no cache, no
 * pruning of pure ops, no dropping of unobserved info writes. Random results make roughly
 * half the histories violations, so both verdicts are exercised; any disagreement prints
 * the history.
 */
#include "lib/lincheck.h"
#include "lib/test.h"

#include <stdlib.h>

#define BRUTE_MAX_OPS 7

static const char *const brute_vals[] = {"a", "b", "c"};

static int brute_val_id(struct lincheck_val v)
{
    return v.data ? v.data[0] - 'a' : -1;
}

/* Can op i run in state, and what follows? info gets and info cas accept any state. */
static bool brute_step(const struct lincheck_op *op, int state, int *next)
{
    int arg = brute_val_id(op->value), exp = brute_val_id(op->expected);
    bool info = op->outcome == LINCHECK_INFO;
    *next = state;
    switch (op->type) {
    case LINCHECK_GET:
        return info || brute_val_id(op->result) == state;
    case LINCHECK_PUT:
        *next = arg;
        return true;
    case LINCHECK_DELETE:
        *next = -1;
        return true;
    case LINCHECK_CAS:
        if (state == exp && (info || op->cas_swapped))
            *next = arg;
        return info || op->cas_swapped == (state == exp);
    case LINCHECK_RANGE:
    case LINCHECK_TXN:
        break; /* not generated here: test_lincheck_atomic.c has their oracle */
    }
    return false;
}

static bool brute_search(const struct lincheck_op *ops, int n, bool *placed, int state)
{
    bool all_required = true;
    for (int i = 0; i < n; i++)
        if (!placed[i] && ops[i].outcome == LINCHECK_OK)
            all_required = false;
    if (all_required)
        return true;
    for (int i = 0; i < n; i++) {
        if (placed[i])
            continue;
        bool blocked = false; /* an unplaced op that completed before i was invoked */
        for (int j = 0; j < n && !blocked; j++)
            blocked = j != i && !placed[j] && ops[j].complete_us < ops[i].invoke_us;
        int next;
        if (blocked || !brute_step(&ops[i], state, &next))
            continue;
        placed[i] = true;
        bool ok = brute_search(ops, n, placed, next);
        placed[i] = false;
        if (ok)
            return true;
    }
    return false;
}

static uint64_t brute_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* A random tiny history over one key; fail ops are generated but left out of ops_live. */
static int brute_generate(uint64_t seed, struct lincheck_op *ops, struct lincheck_op *live,
                          int *n_live)
{
    uint64_t s = seed;
    int n = 1 + (int)(brute_rand(&s) % BRUTE_MAX_OPS);
    *n_live = 0;
    for (int i = 0; i < n; i++) {
        struct lincheck_op *op = &ops[i];
        memset(op, 0, sizeof *op);
        op->proc = (uint64_t)i;
        op->key = LINCHECK_STR("k");
        op->type = (enum lincheck_op_type)(brute_rand(&s) % 4);
        if (op->type == LINCHECK_PUT || op->type == LINCHECK_CAS)
            op->value = LINCHECK_STR(brute_vals[brute_rand(&s) % 3]);
        if (op->type == LINCHECK_CAS && brute_rand(&s) % 4)
            op->expected = LINCHECK_STR(brute_vals[brute_rand(&s) % 3]);
        uint64_t r = brute_rand(&s) % 4;
        if (op->type == LINCHECK_GET && r)
            op->result = LINCHECK_STR(brute_vals[r - 1]);
        op->cas_swapped = brute_rand(&s) % 2;
        op->invoke_us = (int64_t)(brute_rand(&s) % 16);
        op->complete_us = op->invoke_us + (int64_t)(brute_rand(&s) % 9);
        uint64_t fate = brute_rand(&s) % 20;
        op->outcome = fate < 3 ? LINCHECK_INFO : fate < 5 ? LINCHECK_FAIL : LINCHECK_OK;
        if (op->outcome == LINCHECK_INFO)
            op->complete_us = INT64_MAX;
        if (op->outcome != LINCHECK_FAIL)
            live[(*n_live)++] = *op;
    }
    return n;
}

TEST(lincheck_agrees_with_brute_force)
{
    int linearizable = 0, violations = 0, disagreements = 0;
    for (uint64_t seed = 1; seed <= 6000 && disagreements < 3; seed++) {
        struct lincheck_op ops[BRUTE_MAX_OPS], live[BRUTE_MAX_OPS];
        int n_live, n = brute_generate(seed, ops, live, &n_live);
        bool placed[BRUTE_MAX_OPS] = {false};
        bool want = brute_search(live, n_live, placed, -1);
        struct lincheck_history h;
        lincheck_history_init(&h);
        for (int i = 0; i < n; i++)
            CHECK(lincheck_history_add(&h, &ops[i]) == 0);
        enum lincheck_result got = lincheck_check(&h, NULL, NULL);
        if (got != (want ? LINCHECK_LINEARIZABLE : LINCHECK_VIOLATION)) {
            fprintf(stderr, "  seed %llu: oracle says %s, checker %d:\n", (unsigned long long)seed,
                    want ? "linearizable" : "violation", (int)got);
            for (size_t i = 0; i < h.n_ops; i++)
                lincheck_op_write(stderr, &h.ops[i]);
            disagreements++;
        }
        lincheck_history_free(&h);
        linearizable += want;
        violations += !want;
    }
    fprintf(stderr, "  oracle: %d linearizable, %d violations\n", linearizable, violations);
    CHECK_EQ_U64(disagreements, 0);
    CHECK(linearizable > 1000 && violations > 1000);
}
