/* lincheck_part.c: lc_check_part, the check of one part of a history whose keys are tied
 * together by multi-key ops (ranges, txns), against the model of lincheck_model.c.
 *
 * It builds the compact ops the search takes (values interned, keys numbered by slot, each
 * multi-key op one op with its subs in the model), drops the indeterminate single-key
 * writes that cannot change the verdict, runs the search (lincheck_search.c) with the
 * model and explains a violation with the state of every key at the deepest dead end.
 *
 * Dropping an info write w of value a to key k is safe when no completed op observes a on
 * k and k holds nothing that a compare could be failed by (lincheck.c gives the reasoning
 * for one register; here the observers and the failures also come from multi-key ops):
 *   observes (k, a): a completed get or range reading a, a cas expecting a (completed and
 *     swapped, or info: had it swapped over w it would need a), a get inside the branch a
 *     completed txn ran, an equality compare of a txn that ran its then branch, or of an
 *     info txn whose else branch writes nothing (failed, it did nothing, so it can be left
 *     out of any order);
 *   makes k sensitive: a completed cas that failed, a compare of a txn that ran its else
 *     branch or of an info txn whose else branch writes, a not-equal compare on k.
 * Info multi-key ops are always kept.
 */
#include "lib/lincheck_model.h"

#include <inttypes.h>
#include <stdlib.h>

struct lc_part {
    const struct lincheck_history *h;
    const struct lincheck_val *keys;
    size_t nk;
    struct lc_intern t;
    struct lc_model m;
    struct lincheck_sop *ops;
    size_t n;
    uint64_t *seen; /* observed (slot << 32 | value id + 1) */
    size_t n_seen;
    bool *sensitive; /* per slot */
};

static int32_t slot_of(const struct lc_part *p, const struct lincheck_val *key)
{
    size_t lo = 0, hi = p->nk;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (lc_val_cmp(&p->keys[mid], key) <= 0)
            lo = mid;
        else
            hi = mid;
    }
    return (int32_t)lo; /* every key of the part's ops is in keys */
}

static void see(struct lc_part *p, int32_t slot, int32_t val)
{
    p->seen[p->n_seen++] = (uint64_t)(uint32_t)slot << 32 | (uint32_t)(val + 1);
}

static bool seen(const struct lc_part *p, int32_t slot, int32_t val)
{
    uint64_t want = (uint64_t)(uint32_t)slot << 32 | (uint32_t)(val + 1);
    size_t lo = 0, hi = p->n_seen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->seen[mid] < want)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < p->n_seen && p->seen[lo] == want;
}

/* Adds multi-key op op as sop s: its subs go to the model; notes what it observes. */
static void add_mop(struct lc_part *p, const struct lincheck_op *op, struct lincheck_sop *s)
{
    struct lc_mop *mo = &p->m.mops[p->m.n_mops];
    *mo = (struct lc_mop){p->m.n_subs, op->n_cmp, op->n_then, op->n_subs - op->n_cmp - op->n_then};
    size_t taken_from = op->n_cmp + (op->cas_swapped ? 0 : op->n_then);
    size_t taken_to = op->cas_swapped ? op->n_cmp + op->n_then : op->n_subs;
    bool writes_taken = false, else_writes = false;
    for (size_t i = 0; i < op->n_subs; i++) {
        const struct lincheck_sub *u = &op->subs[i];
        struct lc_msub *ms = &p->m.subs[p->m.n_subs++];
        *ms = (struct lc_msub){u->type, slot_of(p, &u->key), lc_intern_id(&p->t, &u->value),
                               u->has_result};
        bool writes = u->type == LINCHECK_SUB_PUT || u->type == LINCHECK_SUB_DELETE;
        bool taken = !s->info && i >= taken_from && i < taken_to;
        writes_taken = writes_taken || (taken && writes);
        else_writes = else_writes || (i >= op->n_cmp + op->n_then && writes);
        if (taken && u->type == LINCHECK_SUB_GET && u->has_result)
            see(p, ms->slot, ms->val);
    }
    for (size_t i = 0; i < op->n_cmp; i++) {
        const struct lc_msub *c = &p->m.subs[mo->first + i];
        bool then_ran = s->info ? !else_writes : s->swapped;
        if (then_ran && c->type == LINCHECK_SUB_EQ)
            see(p, c->slot, c->val);
        else
            p->sensitive[c->slot] = true;
    }
    s->arg = (int32_t)p->m.n_mops++;
    s->readonly = !s->info && !writes_taken;
}

static void add_op(struct lc_part *p, size_t idx)
{
    const struct lincheck_op *op = &p->h->ops[idx];
    if (op->outcome == LINCHECK_FAIL || (op->outcome == LINCHECK_INFO && op->type == LINCHECK_GET))
        return;
    struct lincheck_sop *s = &p->ops[p->n++];
    *s = (struct lincheck_sop){.type = op->type,
                               .info = op->outcome == LINCHECK_INFO,
                               .swapped = op->cas_swapped,
                               .invoke_us = op->invoke_us,
                               .complete_us = op->complete_us,
                               .src = idx};
    if (op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN) {
        add_mop(p, op, s);
        return;
    }
    s->slot = slot_of(p, &op->key);
    s->arg = lc_intern_id(&p->t, &op->value);
    s->exp = lc_intern_id(&p->t, &op->expected);
    s->res = lc_intern_id(&p->t, &op->result);
    if (!s->info && s->type == LINCHECK_GET)
        see(p, s->slot, s->res);
    else if (s->type == LINCHECK_CAS && (s->info || s->swapped))
        see(p, s->slot, s->exp);
    else if (s->type == LINCHECK_CAS)
        p->sensitive[s->slot] = true;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int sop_cmp(const void *a, const void *b)
{
    const struct lincheck_sop *x = a, *y = b;
    if (x->invoke_us != y->invoke_us)
        return x->invoke_us < y->invoke_us ? -1 : 1;
    return (x->src > y->src) - (x->src < y->src);
}

/* Drops the info single-key writes nobody can tell apart from not happening (see top). */
static void drop_unobserved(struct lc_part *p)
{
    qsort(p->seen, p->n_seen, sizeof *p->seen, u64_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct lincheck_sop *s = &p->ops[i];
        bool single = s->type != LINCHECK_RANGE && s->type != LINCHECK_TXN;
        int32_t writes = s->type == LINCHECK_DELETE ? -1 : s->arg;
        if (!single || !s->info || s->type == LINCHECK_GET || p->sensitive[s->slot] ||
            seen(p, s->slot, writes))
            p->ops[kept++] = *s;
    }
    p->n = kept;
    qsort(p->ops, p->n, sizeof *p->ops, sop_cmp); /* the search wants invoke order */
}

static void explain(FILE *f, const struct lc_part *p, const struct lincheck_search_result *r)
{
    fputs("keys {", f);
    for (size_t i = 0; i < p->nk && i < 8; i++) {
        fputs(i ? ", " : "", f);
        lincheck_val_write(f, p->keys[i]);
    }
    fprintf(f,
            "%s}: NOT linearizable: no atomic order (%zu ops checked)\n  no valid order places: ",
            p->nk > 8 ? ", ..." : "", p->n);
    lincheck_op_describe(f, &p->h->ops[p->ops[r->blocked].src]);
    fputs("  the keys there hold:", f);
    const int32_t *vec = lc_model_state(&p->m, r->state);
    for (size_t i = 0; i < p->nk && i < 16; i++) {
        fputs(" ", f);
        lincheck_val_write(f, p->keys[i]);
        fputs("=", f);
        lincheck_val_write(f, vec[i] >= 0 ? *p->t.vals[vec[i]] : LINCHECK_ABSENT);
    }
    fprintf(f, "%s (deepest order tried linearized %zu ops)\n", p->nk > 16 ? " ..." : "", r->depth);
    if (r->n_tail)
        fputs("  last ops linearized before it (most recent first):\n", f);
    for (int i = 0; i < r->n_tail; i++) {
        fputs("    ", f);
        lincheck_op_describe(f, &p->h->ops[p->ops[r->tail[i]].src]);
    }
    if (r->n_cands)
        fputs("  ops still pending then, none of which fit first either:\n", f);
    for (int i = 0; i < r->n_cands; i++) {
        fputs("    ", f);
        lincheck_op_describe(f, &p->h->ops[p->ops[r->cands[i]].src]);
    }
}

static int part_init(struct lc_part *p, const size_t *ops, size_t n, size_t max_bytes)
{
    size_t n_subs = 0;
    for (size_t i = 0; i < n; i++)
        n_subs += p->h->ops[ops[i]].n_subs;
    p->ops = malloc((n + 1) * sizeof *p->ops);
    p->seen = malloc((n + n_subs + 1) * sizeof *p->seen);
    p->sensitive = calloc(p->nk + 1, sizeof *p->sensitive);
    if (lc_intern_init(&p->t, 3 * n + n_subs) || !p->ops || !p->seen || !p->sensitive)
        return -1;
    return lc_model_init(&p->m, p->nk, n, n_subs, max_bytes);
}

enum lincheck_result lc_check_part(const struct lincheck_history *h, const size_t *ops, size_t n,
                                   const struct lincheck_val *keys, size_t nk,
                                   const struct lincheck_opts *o, struct lincheck_report *rep)
{
    struct lc_part p = {.h = h, .keys = keys, .nk = nk};
    size_t max_bytes = o->max_cache_bytes ? o->max_cache_bytes : LINCHECK_DEFAULT_MAX_CACHE_BYTES;
    enum lincheck_result verdict = LINCHECK_UNKNOWN;
    struct lincheck_search_result r = {0};
    if (part_init(&p, ops, n, max_bytes) == 0) {
        for (size_t i = 0; i < n; i++)
            add_op(&p, ops[i]);
        drop_unobserved(&p);
        struct lincheck_model model = {lc_model_step, &p.m, 0};
        struct lincheck_search_limits lim = {
            o->max_steps_per_key ? o->max_steps_per_key : LINCHECK_DEFAULT_MAX_STEPS, max_bytes};
        verdict = lincheck_search(p.ops, p.n, &model, &lim, &r);
        rep->n_ops_checked += p.n;
        rep->steps += r.steps;
        rep->cache_entries += r.cache_entries;
        if (verdict == LINCHECK_VIOLATION && o->explain)
            explain(o->explain, &p, &r);
    } else {
        r.out_of_memory = true;
    }
    if (verdict == LINCHECK_UNKNOWN && o->explain) {
        fputs("keys from ", o->explain);
        lincheck_val_write(o->explain, keys[0]);
        fprintf(o->explain,
                " (%zu keys): unknown (%s exceeded after %" PRIu64 " steps, %zu cache entries)\n",
                nk, r.out_of_memory ? "memory budget" : "step budget", r.steps, r.cache_entries);
    }
    lc_intern_free(&p.t);
    lc_model_free(&p.m);
    free(p.ops);
    free(p.seen);
    free(p.sensitive);
    return verdict;
}
