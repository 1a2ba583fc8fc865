/* test_lincheck_atomic_brute.c: differential test of the multi-key checker against a
 * brute-force oracle.
 *
 * Tiny random histories over two keys mix single-key gets, puts, deletes and cas with
 * ranges over both keys and txns (a compare or none, then and else branches of puts,
 * deletes and gets). The oracle tries every order straight from the definition: real-time
 * order respected, each op one atomic step on the pair of values, info ops optional and
 * free in their branch and reads, fail ops absent. It shares nothing with the checker (no
 * event list, cache, pure-op pruning, dropping of unobserved info writes or partitioning).
 */
#include "lib/lincheck.h"
#include "lib/test.h"

#include <stdlib.h>

#define AB_MAX_OPS  6
#define AB_MAX_SUBS 5

static const char *const ab_keys[] = {"x", "y"};
static const char *const ab_vals[] = {"a", "b"};

struct ab_op {
    struct lincheck_op op;
    struct lincheck_sub subs[AB_MAX_SUBS];
};

static int ab_val(struct lincheck_val v)
{
    return v.data ? v.data[0] - 'a' : -1;
}

static int ab_key(struct lincheck_val k)
{
    return k.data[0] - 'x';
}

/* Runs a range or txn on st (two values); false when a completed op could not. */
static bool ab_multi(const struct lincheck_op *op, int *st)
{
    bool info = op->outcome == LINCHECK_INFO, held = true;
    for (size_t i = 0; i < op->n_cmp; i++) {
        int v = st[ab_key(op->subs[i].key)], want = ab_val(op->subs[i].value);
        held = held && (op->subs[i].type == LINCHECK_SUB_EQ ? v == want : v != -1 && v != want);
    }
    if (!info && held != op->cas_swapped)
        return false;
    size_t from = held ? op->n_cmp : op->n_cmp + op->n_then;
    size_t to = held ? op->n_cmp + op->n_then : op->n_subs;
    for (size_t i = from; i < to; i++) {
        const struct lincheck_sub *s = &op->subs[i];
        int k = ab_key(s->key);
        if (s->type == LINCHECK_SUB_PUT)
            st[k] = ab_val(s->value);
        else if (s->type == LINCHECK_SUB_DELETE)
            st[k] = -1;
        else if (!info && s->has_result && st[k] != ab_val(s->value))
            return false;
    }
    return true;
}

static bool ab_step(const struct lincheck_op *op, int *st)
{
    if (op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN)
        return ab_multi(op, st);
    bool info = op->outcome == LINCHECK_INFO;
    int k = ab_key(op->key), arg = ab_val(op->value), exp = ab_val(op->expected);
    switch (op->type) {
    case LINCHECK_GET:
        return info || ab_val(op->result) == st[k];
    case LINCHECK_PUT:
        st[k] = arg;
        return true;
    case LINCHECK_DELETE:
        st[k] = -1;
        return true;
    case LINCHECK_CAS: {
        bool match = st[k] == exp;
        if (match && (info || op->cas_swapped))
            st[k] = arg;
        return info || op->cas_swapped == match;
    }
    default:
        return false;
    }
}

static bool ab_search(const struct lincheck_op *const *ops, int n, bool *placed, const int *st)
{
    bool done = true;
    for (int i = 0; i < n; i++)
        done = done && (placed[i] || ops[i]->outcome != LINCHECK_OK);
    if (done)
        return true;
    for (int i = 0; i < n; i++) {
        if (placed[i])
            continue;
        bool blocked = false; /* an unplaced op that completed before i was invoked */
        for (int j = 0; j < n && !blocked; j++)
            blocked = j != i && !placed[j] && ops[j]->complete_us < ops[i]->invoke_us;
        int next[2] = {st[0], st[1]};
        if (blocked || !ab_step(ops[i], next))
            continue;
        placed[i] = true;
        bool ok = ab_search(ops, n, placed, next);
        placed[i] = false;
        if (ok)
            return true;
    }
    return false;
}

static uint64_t ab_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static struct lincheck_val ab_rand_val(uint64_t *s, bool absent_ok)
{
    uint64_t r = ab_rand(s) % (absent_ok ? 3 : 2);
    return r == 2 ? LINCHECK_ABSENT : LINCHECK_STR(ab_vals[r]);
}

static void ab_gen_multi(uint64_t *s, struct ab_op *a)
{
    struct lincheck_op *op = &a->op;
    op->type = ab_rand(s) % 3 ? LINCHECK_TXN : LINCHECK_RANGE;
    op->cas_swapped = op->type == LINCHECK_RANGE || ab_rand(s) % 2;
    size_t n = 0;
    if (op->type == LINCHECK_RANGE) {
        for (int k = 0; k < 2; k++)
            a->subs[n++] = (struct lincheck_sub){LINCHECK_SUB_GET, LINCHECK_STR(ab_keys[k]),
                                                 ab_rand_val(s, true), true};
        op->n_then = 2;
    } else {
        op->n_cmp = ab_rand(s) % 2;
        for (size_t i = 0; i < op->n_cmp; i++)
            a->subs[n++] = (struct lincheck_sub){ab_rand(s) % 3 ? LINCHECK_SUB_EQ : LINCHECK_SUB_NE,
                                                 LINCHECK_STR(ab_keys[ab_rand(s) % 2]),
                                                 ab_rand_val(s, true), false};
        size_t branch[2] = {1 + ab_rand(s) % 2, op->n_cmp ? ab_rand(s) % 2 : 0};
        for (int b = 0; b < 2; b++)
            for (size_t i = 0; i < branch[b]; i++) {
                struct lincheck_sub *u = &a->subs[n++];
                u->type = (enum lincheck_sub_type)(LINCHECK_SUB_PUT + ab_rand(s) % 3);
                u->key = LINCHECK_STR(ab_keys[ab_rand(s) % 2]);
                u->has_result = u->type == LINCHECK_SUB_GET;
                u->value = u->type == LINCHECK_SUB_DELETE ? LINCHECK_ABSENT
                                                          : ab_rand_val(s, u->has_result);
            }
        op->n_then = branch[0];
    }
    op->key = a->subs[0].key;
    op->subs = a->subs;
    op->n_subs = n;
}

/* A random history of up to AB_MAX_OPS ops over x and y; returns the count. */
static int ab_generate(uint64_t seed, struct ab_op *ops)
{
    uint64_t s = seed;
    int n = 1 + (int)(ab_rand(&s) % AB_MAX_OPS);
    for (int i = 0; i < n; i++) {
        struct ab_op *a = &ops[i];
        memset(a, 0, sizeof *a);
        struct lincheck_op *op = &a->op;
        op->proc = (uint64_t)i;
        if (ab_rand(&s) % 2) {
            ab_gen_multi(&s, a);
        } else {
            op->key = LINCHECK_STR(ab_keys[ab_rand(&s) % 2]);
            op->type = (enum lincheck_op_type)(ab_rand(&s) % 4);
            if (op->type == LINCHECK_PUT || op->type == LINCHECK_CAS)
                op->value = ab_rand_val(&s, false);
            if (op->type == LINCHECK_CAS)
                op->expected = ab_rand_val(&s, true);
            if (op->type == LINCHECK_GET)
                op->result = ab_rand_val(&s, true);
            op->cas_swapped = ab_rand(&s) % 2;
        }
        op->invoke_us = (int64_t)(ab_rand(&s) % 12);
        op->complete_us = op->invoke_us + (int64_t)(ab_rand(&s) % 8);
        uint64_t fate = ab_rand(&s) % 20;
        op->outcome = fate < 4 ? LINCHECK_INFO : fate < 5 ? LINCHECK_FAIL : LINCHECK_OK;
        if (op->outcome == LINCHECK_INFO)
            op->complete_us = INT64_MAX;
    }
    return n;
}

TEST(lincheck_atomic_agrees_with_brute_force)
{
    int linearizable = 0, violations = 0, disagreements = 0;
    for (uint64_t seed = 1; seed <= 20000 && disagreements < 3; seed++) {
        struct ab_op ops[AB_MAX_OPS];
        const struct lincheck_op *live[AB_MAX_OPS];
        int n = ab_generate(seed, ops), n_live = 0;
        struct lincheck_history h;
        lincheck_history_init(&h);
        for (int i = 0; i < n; i++) {
            CHECK(lincheck_history_add(&h, &ops[i].op) == 0);
            if (ops[i].op.outcome != LINCHECK_FAIL)
                live[n_live++] = &ops[i].op;
        }
        bool placed[AB_MAX_OPS] = {false};
        bool want = ab_search(live, n_live, placed, (const int[2]){-1, -1});
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
    CHECK(linearizable > 3000 && violations > 3000);
}
