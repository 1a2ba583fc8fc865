/* lincheck.c: lincheck_check: partitions a history by key, reduces each partition to the
 * compact form the search needs, runs the search, and explains what it found.
 *
 * Linearizability is compositional (Herlihy & Wing), so each key can be checked alone; this
 * is what keeps multi-key histories cheap. Before searching, ops that cannot change the
 * verdict are dropped: fail ops (they did not happen), info gets (they constrain nothing),
 * and info writes whose written value no completed op ever observes, provided no cas failed
 * on that key. Such a write, if it happened, left a value nobody read or compared against,
 * so the next op that matters after it is a write that overwrites it; leaving it out changes
 * no outcome. This matters because every kept info op multiplies the search space.
 */
#include "lib/lincheck.h"
#include "lib/lincheck_search.h"

#include <inttypes.h>
#include <stdlib.h>

struct lc_keyref {
    struct lincheck_val key;
    size_t idx;
};

static int lc_keyref_cmp(const void *a, const void *b)
{
    const struct lc_keyref *x = a, *y = b;
    size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = memcmp(x->key.data, y->key.data, n);
    if (c)
        return c;
    if (x->key.len != y->key.len)
        return x->key.len < y->key.len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Interning table: value bytes -> small id, per partition. */
struct lc_intern {
    const struct lincheck_val **vals; /* id -> value */
    size_t n;
    int32_t *slots; /* -1 empty, else id */
    size_t n_slots;
};

static uint64_t lc_fnv(struct lincheck_val v)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < v.len; i++)
        h = (h ^ (unsigned char)v.data[i]) * 1099511628211ull;
    return h;
}

/* Returns the id of v (-1 for absent), adding it if new. Capacity is fixed at init. */
static int32_t lc_intern_id(struct lc_intern *t, const struct lincheck_val *v)
{
    if (!v->data)
        return -1;
    size_t s = lc_fnv(*v) & (t->n_slots - 1);
    for (; t->slots[s] >= 0; s = (s + 1) & (t->n_slots - 1)) {
        const struct lincheck_val *w = t->vals[t->slots[s]];
        if (w->len == v->len && memcmp(w->data, v->data, v->len) == 0)
            return t->slots[s];
    }
    t->vals[t->n] = v;
    t->slots[s] = (int32_t)t->n;
    return (int32_t)t->n++;
}

static int lc_intern_init(struct lc_intern *t, size_t max_vals)
{
    t->n = 0;
    t->n_slots = 16;
    while (t->n_slots < 2 * max_vals + 2)
        t->n_slots *= 2;
    t->vals = malloc((max_vals + 1) * sizeof *t->vals);
    t->slots = malloc(t->n_slots * sizeof *t->slots);
    if (!t->vals || !t->slots)
        return -1;
    memset(t->slots, 0xff, t->n_slots * sizeof *t->slots);
    return 0;
}

static int lc_sop_cmp(const void *a, const void *b)
{
    const struct lincheck_sop *x = a, *y = b;
    if (x->invoke_us != y->invoke_us)
        return x->invoke_us < y->invoke_us ? -1 : 1;
    return (x->src > y->src) - (x->src < y->src);
}

/* Builds the compact ops of one partition (refs[0..n) share a key); returns the count kept. */
static size_t lc_prepare(const struct lincheck_history *h, const struct lc_keyref *refs, size_t n,
                         struct lc_intern *t, struct lincheck_sop *out, bool *observed)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const struct lincheck_op *op = &h->ops[refs[i].idx];
        if (op->outcome == LINCHECK_FAIL ||
            (op->outcome == LINCHECK_INFO && op->type == LINCHECK_GET))
            continue;
        out[m++] = (struct lincheck_sop){
            .type = op->type,
            .info = op->outcome == LINCHECK_INFO,
            .swapped = op->cas_swapped,
            .arg = lc_intern_id(t, &op->value),
            .exp = lc_intern_id(t, &op->expected),
            .res = lc_intern_id(t, &op->result),
            .invoke_us = op->invoke_us,
            .complete_us = op->complete_us,
            .src = refs[i].idx,
        };
    }
    /* observed[id + 1]: some completed op requires the register to hold id (-1 = absent). */
    bool any_failed_cas = false;
    memset(observed, 0, (t->n + 1) * sizeof *observed);
    for (size_t i = 0; i < m; i++) {
        if (out[i].info)
            continue;
        if (out[i].type == LINCHECK_GET)
            observed[out[i].res + 1] = true;
        else if (out[i].type == LINCHECK_CAS && out[i].swapped)
            observed[out[i].exp + 1] = true;
        else if (out[i].type == LINCHECK_CAS)
            any_failed_cas = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        int32_t writes = out[i].type == LINCHECK_DELETE ? -1 : out[i].arg;
        if (any_failed_cas || !out[i].info || observed[writes + 1])
            out[kept++] = out[i];
    }
    /* The search numbers ops in invoke order (lincheck_search.h). */
    qsort(out, kept, sizeof *out, lc_sop_cmp);
    return kept;
}

static void lc_explain(FILE *f, const struct lincheck_history *h, const struct lincheck_sop *ops,
                       size_t n, const struct lc_intern *t, const struct lincheck_search_result *r)
{
    const struct lincheck_op *blocked = &h->ops[ops[r->blocked].src];
    fputs("key ", f);
    lincheck_val_write(f, blocked->key);
    fprintf(f, ": NOT linearizable (%zu ops checked)\n  no valid order places: ", n);
    lincheck_op_describe(f, blocked);
    fputs("  register there holds: ", f);
    lincheck_val_write(f, r->state >= 0 ? *t->vals[r->state] : LINCHECK_ABSENT);
    fprintf(f, " (deepest order tried linearized %zu ops)\n", r->depth);
    const struct lincheck_sop *b = &ops[r->blocked];
    if (b->type == LINCHECK_GET && b->res >= 0) {
        bool written = false;
        for (size_t i = 0; i < n && !written; i++)
            written = (ops[i].type == LINCHECK_PUT || ops[i].type == LINCHECK_CAS) &&
                      ops[i].arg == b->res;
        if (!written)
            fputs("  the value read is never written to this key\n", f);
    }
    if (r->n_tail)
        fputs("  last ops linearized before it (most recent first):\n", f);
    for (int i = 0; i < r->n_tail; i++) {
        fputs("    ", f);
        lincheck_op_describe(f, &h->ops[ops[r->tail[i]].src]);
    }
    if (r->n_cands)
        fputs("  ops still pending then, none of which fit first either:\n", f);
    for (int i = 0; i < r->n_cands; i++) {
        fputs("    ", f);
        lincheck_op_describe(f, &h->ops[ops[r->cands[i]].src]);
    }
}

/* Checks one partition; returns its verdict and adds to the report. */
static enum lincheck_result lc_check_key(const struct lincheck_history *h,
                                         const struct lc_keyref *refs, size_t n,
                                         const struct lincheck_opts *o, struct lincheck_report *rep)
{
    struct lc_intern t;
    struct lincheck_sop *ops = malloc((n + 1) * sizeof *ops);
    bool *observed = malloc((3 * n + 2) * sizeof *observed);
    enum lincheck_result verdict = LINCHECK_UNKNOWN;
    struct lincheck_search_result r = {0};
    if (lc_intern_init(&t, 3 * n) == 0 && ops && observed) {
        size_t m = lc_prepare(h, refs, n, &t, ops, observed);
        struct lincheck_search_limits lim = {
            o->max_steps_per_key ? o->max_steps_per_key : LINCHECK_DEFAULT_MAX_STEPS,
            o->max_cache_bytes ? o->max_cache_bytes : LINCHECK_DEFAULT_MAX_CACHE_BYTES};
        verdict = lincheck_search(ops, m, &lim, &r);
        rep->n_ops_checked += m;
        rep->steps += r.steps;
        rep->cache_entries += r.cache_entries;
        if (verdict == LINCHECK_VIOLATION && o->explain)
            lc_explain(o->explain, h, ops, m, &t, &r);
    } else {
        r.out_of_memory = true;
    }
    if (verdict == LINCHECK_UNKNOWN && o->explain) {
        fputs("key ", o->explain);
        lincheck_val_write(o->explain, h->ops[refs[0].idx].key);
        fprintf(o->explain, ": unknown (%s exceeded after %" PRIu64 " steps, %zu cache entries)\n",
                r.out_of_memory ? "memory budget" : "step budget", r.steps, r.cache_entries);
    }
    free(t.vals);
    free(t.slots);
    free(ops);
    free(observed);
    return verdict;
}

enum lincheck_result lincheck_check(const struct lincheck_history *h,
                                    const struct lincheck_opts *opts,
                                    struct lincheck_report *report)
{
    struct lincheck_opts o = opts ? *opts : (struct lincheck_opts){0};
    struct lincheck_report rep = {0};
    struct lc_keyref *refs = malloc((h->n_ops + 1) * sizeof *refs);
    if (!refs) {
        if (report)
            *report = (struct lincheck_report){.n_unknown = 1};
        return LINCHECK_UNKNOWN;
    }
    for (size_t i = 0; i < h->n_ops; i++)
        refs[i] = (struct lc_keyref){h->ops[i].key, i};
    qsort(refs, h->n_ops, sizeof *refs, lc_keyref_cmp);
    for (size_t start = 0, end; start < h->n_ops; start = end) {
        for (end = start + 1; end < h->n_ops; end++) {
            const struct lincheck_val *a = &refs[start].key, *b = &refs[end].key;
            if (a->len != b->len || memcmp(a->data, b->data, a->len) != 0)
                break;
        }
        enum lincheck_result v = lc_check_key(h, refs + start, end - start, &o, &rep);
        rep.n_keys++;
        rep.n_violations += v == LINCHECK_VIOLATION;
        rep.n_unknown += v == LINCHECK_UNKNOWN;
    }
    free(refs);
    if (report)
        *report = rep;
    if (rep.n_violations)
        return LINCHECK_VIOLATION;
    return rep.n_unknown ? LINCHECK_UNKNOWN : LINCHECK_LINEARIZABLE;
}
