/* lincheck.c: lincheck_check: partitions a history into independent parts, reduces each
 * single-key part to the compact form the search needs, runs the search, and explains what
 * it found; parts tied by multi-key ops go to lincheck_part.c.
 *
 * Linearizability is compositional (Herlihy & Wing): a history is linearizable when each of
 * its parts over disjoint sets of keys is (P-compositionality), so the keys are split into
 * the smallest sets no op crosses: union-find over the keys each op touches (a range or a
 * txn ties its keys together). A part of one key without multi-key ops is a register,
 * checked here as before; this is what keeps long histories cheap. Before searching, ops that
 * cannot change the verdict are dropped: fail ops (they did not happen), info gets (they constrain
 * nothing), and info writes whose written value no completed op ever observes, provided no cas
 * failed on that key. Such a write, if it happened, left a value nobody read or compared against,
 * so the next op that matters after it is a write that overwrites it; leaving it out changes
 * no outcome. This matters because every kept info op multiplies the search space.
 */
#include "lib/lincheck.h"
#include "lib/lincheck_model.h"

#include <inttypes.h>
#include <stdlib.h>

/* One key an op touches; part: the rank of the op's part (lincheck_check). */
struct lc_keyref {
    struct lincheck_val key;
    size_t idx;
    size_t part;
};

int lc_val_cmp(const struct lincheck_val *a, const struct lincheck_val *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->data, b->data, n) : 0;
    if (c)
        return c;
    return (a->len > b->len) - (a->len < b->len);
}

static int lc_keyref_cmp(const void *a, const void *b)
{
    const struct lc_keyref *x = a, *y = b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    int c = lc_val_cmp(&x->key, &y->key);
    if (c)
        return c;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

static uint64_t lc_fnv(struct lincheck_val v)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < v.len; i++)
        h = (h ^ (unsigned char)v.data[i]) * 1099511628211ull;
    return h;
}

int32_t lc_intern_id(struct lc_intern *t, const struct lincheck_val *v)
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

int lc_intern_init(struct lc_intern *t, size_t max_vals)
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

void lc_intern_free(struct lc_intern *t)
{
    free(t->vals);
    free(t->slots);
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
    /* An info cas that swapped needed its expected value there: it observes it too (had it
     * failed, it did nothing and any order may leave it out). */
    for (size_t i = 0; i < m; i++)
        if (out[i].info && out[i].type == LINCHECK_CAS)
            observed[out[i].exp + 1] = true;
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
        verdict = lincheck_search(ops, m, NULL, &lim, &r);
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
    lc_intern_free(&t);
    free(ops);
    free(observed);
    return verdict;
}

static size_t lc_find(size_t *parent, size_t i)
{
    while (parent[i] != i)
        i = parent[i] = parent[parent[i]];
    return i;
}

static bool lc_multi(const struct lincheck_op *op)
{
    return op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN;
}

/* One key ref per key an op touches (a multi-key op: one per sub), or NULL. */
static struct lc_keyref *lc_refs(const struct lincheck_history *h, size_t *n_refs)
{
    size_t n = 0;
    for (size_t i = 0; i < h->n_ops; i++)
        n += lc_multi(&h->ops[i]) ? h->ops[i].n_subs : 1;
    struct lc_keyref *refs = malloc((n + 1) * sizeof *refs);
    if (!refs)
        return NULL;
    n = 0;
    for (size_t i = 0; i < h->n_ops; i++) {
        const struct lincheck_op *op = &h->ops[i];
        if (!lc_multi(op))
            refs[n++] = (struct lc_keyref){op->key, i, 0};
        for (size_t j = 0; lc_multi(op) && j < op->n_subs; j++)
            refs[n++] = (struct lc_keyref){op->subs[j].key, i, 0};
    }
    *n_refs = n;
    return refs;
}

/* Sorts refs by part, then key, then op: ops that share a key are in one part (union-find
 * over ops), and parts are numbered in the order of their smallest key. 0 or -1. */
static int lc_partition(struct lc_keyref *refs, size_t n, size_t n_ops)
{
    size_t *parent = malloc((n_ops + 1) * sizeof *parent);
    size_t *rank = malloc((n_ops + 1) * sizeof *rank);
    if (!parent || !rank) {
        free(parent);
        free(rank);
        return -1;
    }
    for (size_t i = 0; i < n_ops; i++) {
        parent[i] = i;
        rank[i] = SIZE_MAX;
    }
    qsort(refs, n, sizeof *refs, lc_keyref_cmp); /* all parts 0: by key */
    for (size_t i = 1; i < n; i++)
        if (lc_val_cmp(&refs[i - 1].key, &refs[i].key) == 0)
            parent[lc_find(parent, refs[i].idx)] = lc_find(parent, refs[i - 1].idx);
    size_t parts = 0;
    for (size_t i = 0; i < n; i++) {
        size_t root = lc_find(parent, refs[i].idx);
        if (rank[root] == SIZE_MAX)
            rank[root] = parts++;
        refs[i].part = rank[root];
    }
    qsort(refs, n, sizeof *refs, lc_keyref_cmp);
    free(parent);
    free(rank);
    return 0;
}

static int lc_size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* Checks the part refs[0..n) against the multi-key model: its distinct keys, its ops. */
static enum lincheck_result lc_check_multi(const struct lincheck_history *h,
                                           const struct lc_keyref *refs, size_t n,
                                           const struct lincheck_opts *o,
                                           struct lincheck_report *rep)
{
    struct lincheck_val *keys = malloc((n + 1) * sizeof *keys);
    size_t *ops = malloc((n + 1) * sizeof *ops), nk = 0, m = 0;
    enum lincheck_result v = LINCHECK_UNKNOWN;
    if (keys && ops) {
        for (size_t i = 0; i < n; i++) {
            if (i == 0 || lc_val_cmp(&refs[i - 1].key, &refs[i].key) != 0)
                keys[nk++] = refs[i].key;
            ops[m++] = refs[i].idx;
        }
        qsort(ops, m, sizeof *ops, lc_size_cmp);
        size_t u = 0;
        for (size_t i = 0; i < m; i++)
            if (u == 0 || ops[u - 1] != ops[i])
                ops[u++] = ops[i];
        v = lc_check_part(h, ops, u, keys, nk, o, rep);
        rep->n_keys += nk;
        rep->n_multi_parts++;
    }
    free(keys);
    free(ops);
    return v;
}

enum lincheck_result lincheck_check(const struct lincheck_history *h,
                                    const struct lincheck_opts *opts,
                                    struct lincheck_report *report)
{
    struct lincheck_opts o = opts ? *opts : (struct lincheck_opts){0};
    struct lincheck_report rep = {0};
    size_t n = 0;
    struct lc_keyref *refs = lc_refs(h, &n);
    if (!refs || lc_partition(refs, n, h->n_ops)) {
        free(refs);
        if (report)
            *report = (struct lincheck_report){.n_unknown = 1};
        return LINCHECK_UNKNOWN;
    }
    for (size_t start = 0, end; start < n; start = end) {
        bool one_key = true, multi = lc_multi(&h->ops[refs[start].idx]);
        for (end = start + 1; end < n && refs[end].part == refs[start].part; end++) {
            one_key = one_key && lc_val_cmp(&refs[start].key, &refs[end].key) == 0;
            multi = multi || lc_multi(&h->ops[refs[end].idx]);
        }
        enum lincheck_result v;
        if (one_key && !multi) {
            v = lc_check_key(h, refs + start, end - start, &o, &rep);
            rep.n_keys++;
        } else {
            v = lc_check_multi(h, refs + start, end - start, &o, &rep);
        }
        rep.n_parts++;
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
