/* lincheck_search.c: Wing & Gong's linearizability search with Lowe's memoization, for one
 * register (one key).
 *
 * The history becomes a doubly linked list of invoke ("call") and complete ("return")
 * events ordered by time. Scanning from the head, a call whose op the register accepts in
 * the current state is tentatively linearized: its call and return entries are unlinked
 * (dancing-links style, so undo is O(1)) and pushed on a stack, and the scan restarts at the
 * head. Reaching a return entry means that op's completion came before any order we tried
 * could place it, so the last choice is undone and the scan resumes after it. Success is
 * when every op that has a return entry is linearized; indeterminate (info) ops have no
 * return entry, so they may be placed anywhere after their invoke or left out.
 *
 * Lowe's cache records each (set of linearized ops, register state) explored: reaching the
 * same configuration by another order cannot lead anywhere new. The set is stored exactly in
 * a compact form (lc_key_build) and hashed incrementally (Zobrist: XOR of a random word per
 * op). Pure ops (reads, failed cas) are placed eagerly and never retried alone
 * (lc_backtrack), a partial-order reduction that keeps many concurrent readers cheap. A step
 * budget and a cache memory budget turn exponential cases into LINCHECK_UNKNOWN instead of a
 * hang. The register is the default model; lincheck_model.c supplies one over several keys
 * for parts with multi-key ops, whose states it numbers itself.
 */
#include "lib/lincheck_search.h"

#include <assert.h>
#include <stdlib.h>

bool lincheck_sop_step(const struct lincheck_sop *op, int32_t state, int32_t *next)
{
    switch (op->type) {
    case LINCHECK_GET:
        *next = state;
        return op->res == state;
    case LINCHECK_PUT:
        *next = op->arg;
        return true;
    case LINCHECK_DELETE:
        *next = -1;
        return true;
    case LINCHECK_CAS:
        /* An info cas that is linearized either swapped or failed; both are allowed. */
        if (op->info || op->swapped) {
            *next = state == op->exp ? op->arg : state;
            return op->info || state == op->exp;
        }
        *next = state;
        return state != op->exp;
    case LINCHECK_RANGE:
    case LINCHECK_TXN:
        break; /* multi-key ops run only in a model (lincheck_model.c) */
    }
    return false;
}

struct lc_event {
    int64_t time;
    int is_return;
    int32_t op;
};

static int lc_event_cmp(const void *a, const void *b)
{
    const struct lc_event *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    if (x->is_return != y->is_return)
        return x->is_return - y->is_return; /* invokes first: equal times overlap */
    return (x->op > y->op) - (x->op < y->op);
}

/* The event list: entry 0 is the head, entry m + 1 the tail sentinel. */
struct lc_list {
    int32_t *next, *prev, *op, *match; /* match: call -> its return entry, or -1 */
    int8_t *is_call;
    size_t n_returns;
};

static int lc_list_build(struct lc_list *l, const struct lincheck_sop *ops, size_t n)
{
    struct lc_event *ev = malloc((2 * n + 1) * sizeof *ev);
    size_t m = 0;
    for (size_t i = 0; ev && i < n; i++) {
        ev[m++] = (struct lc_event){ops[i].invoke_us, 0, (int32_t)i};
        if (!ops[i].info)
            ev[m++] = (struct lc_event){ops[i].complete_us, 1, (int32_t)i};
    }
    l->next = malloc((m + 2) * sizeof(int32_t));
    l->prev = malloc((m + 2) * sizeof(int32_t));
    l->op = malloc((m + 2) * sizeof(int32_t));
    l->match = malloc((m + 2) * sizeof(int32_t));
    l->is_call = malloc(m + 2);
    int32_t *call_of = malloc((n + 1) * sizeof *call_of);
    if (ev)
        qsort(ev, m, sizeof *ev, lc_event_cmp);
    if (!ev || !l->next || !l->prev || !l->op || !l->match || !l->is_call || !call_of) {
        free(ev);
        free(call_of);
        return -1;
    }
    l->n_returns = 0;
    for (size_t k = 0; k <= m + 1; k++) {
        l->next[k] = (int32_t)k + 1;
        l->prev[k] = (int32_t)k - 1;
        l->match[k] = -1;
        l->is_call[k] = 0;
        l->op[k] = -1;
    }
    for (size_t k = 0; k < m; k++) {
        int32_t e = (int32_t)k + 1;
        l->op[e] = ev[k].op;
        l->is_call[e] = !ev[k].is_return;
        if (ev[k].is_return) {
            l->match[call_of[ev[k].op]] = e;
            l->n_returns++;
        } else {
            call_of[ev[k].op] = e;
        }
    }
    free(ev);
    free(call_of);
    return 0;
}

static void lc_list_free(struct lc_list *l)
{
    free(l->next);
    free(l->prev);
    free(l->op);
    free(l->match);
    free(l->is_call);
}

static void lc_unlink(struct lc_list *l, int32_t e)
{
    l->next[l->prev[e]] = l->next[e];
    l->prev[l->next[e]] = l->prev[e];
}

static void lc_relink(struct lc_list *l, int32_t e)
{
    l->next[l->prev[e]] = e;
    l->prev[l->next[e]] = e;
}

/* Lifting removes an op's call and return; relinking in reverse order restores it. */
static void lc_lift(struct lc_list *l, int32_t call)
{
    lc_unlink(l, call);
    if (l->match[call] >= 0)
        lc_unlink(l, l->match[call]);
}

static void lc_unlift(struct lc_list *l, int32_t call)
{
    if (l->match[call] >= 0)
        lc_relink(l, l->match[call]);
    lc_relink(l, call);
}

struct lc_frame {
    int32_t entry;
    int32_t state;
    int32_t hi; /* highest op index linearized before this frame's op */
};

/* Keeps the deepest dead end as the explanation: a return reached at stack depth sp. */
static void lc_note_dead_end(struct lincheck_search_result *r, const struct lc_list *l,
                             const struct lc_frame *stack, size_t sp, int32_t ret, int32_t st)
{
    if (r->blocked >= 0 && sp <= r->depth)
        return;
    r->blocked = l->op[ret];
    r->state = st;
    r->depth = sp;
    r->n_tail = 0;
    for (size_t i = sp; i > 0 && r->n_tail < LINCHECK_EVIDENCE_OPS; i--)
        r->tail[r->n_tail++] = l->op[stack[i - 1].entry];
    r->n_cands = 0;
    for (int32_t e = l->next[0]; e != ret && r->n_cands < LINCHECK_EVIDENCE_OPS; e = l->next[e])
        if (l->is_call[e] && l->op[e] != r->blocked)
            r->cands[r->n_cands++] = l->op[e];
}

static uint64_t lc_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

struct lc_run {
    const struct lincheck_sop *ops;
    const struct lincheck_model *model; /* NULL: the register */
    struct lc_list list;
    struct lc_cache cache;
    uint64_t *zobrist;
    uint32_t *key; /* scratch for lc_key_build */
    struct lc_frame *stack;
    size_t sp, pending; /* stack depth; return entries still in the list */
    int32_t state;
    int32_t hi; /* highest op index linearized, -1 for none */
    uint64_t set_hash;
};

/* Encodes the linearized set plus op as {length, hi, unlinearized ops below hi...}, which
 * is exact because ops are numbered in invoke order: every op below hi that is not in the
 * set is still pending, and every pending op below hi was invoked before hi, hence before
 * the first pending completion (hi itself was), so the walk from the head finds them all,
 * in index order. The list is short: the concurrency window plus pending info ops. */
static void lc_key_build(struct lc_run *run, int32_t op)
{
    const struct lc_list *l = &run->list;
    int32_t hi = run->hi > op ? run->hi : op;
    uint32_t k = 2;
    for (int32_t c = l->next[0]; l->is_call[c] && l->op[c] < hi; c = l->next[c])
        if (l->op[c] != op)
            run->key[k++] = (uint32_t)l->op[c];
    run->key[0] = k;
    run->key[1] = (uint32_t)hi;
}

/* Pure ops (completed reads, failed cas, read-only ranges and txns) change no state. */
static bool lc_pure(const struct lincheck_sop *op)
{
    if (op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN)
        return op->readonly;
    return !op->info && (op->type == LINCHECK_GET || (op->type == LINCHECK_CAS && !op->swapped));
}

enum { LC_DISABLED, LC_PUSHED, LC_SEEN, LC_NO_MEMORY };

/* Tries to linearize the op of call entry e next. */
static int lc_try(struct lc_run *run, int32_t e)
{
    struct lc_list *l = &run->list;
    int32_t op = l->op[e], next_state;
    int can = run->model ? run->model->step(run->model->ctx, &run->ops[op], run->state, &next_state)
                         : lincheck_sop_step(&run->ops[op], run->state, &next_state);
    if (can <= 0)
        return can < 0 ? LC_NO_MEMORY : LC_DISABLED;
    uint64_t set_hash = run->set_hash ^ run->zobrist[op];
    lc_key_build(run, op);
    int fresh = lc_cache_insert(&run->cache, set_hash, next_state, run->key);
    if (fresh <= 0)
        return fresh < 0 ? LC_NO_MEMORY : LC_SEEN;
    run->stack[run->sp++] = (struct lc_frame){e, run->state, run->hi};
    run->hi = run->hi > op ? run->hi : op;
    run->set_hash = set_hash;
    run->state = next_state;
    lc_lift(l, e);
    run->pending -= l->match[e] >= 0;
    return LC_PUSHED;
}

/* Undoes linearizations until one that leaves alternatives to try: returns the entry to
 * resume scanning at, or -1 when the stack is exhausted (no linearization exists).
 * A pure op is never worth undoing alone: it was chosen because it was enabled before any
 * required op had to complete, so if any order works from the configuration before it, an
 * order that places it first works too (move it to the front: it changes nothing and every
 * op left completes after its invoke). So its failure condemns that earlier configuration. */
static int32_t lc_backtrack(struct lc_run *run)
{
    struct lc_list *l = &run->list;
    while (run->sp > 0) {
        struct lc_frame f = run->stack[--run->sp];
        int32_t undo = l->op[f.entry];
        run->set_hash ^= run->zobrist[undo];
        run->state = f.state;
        run->hi = f.hi;
        lc_unlift(l, f.entry);
        run->pending += l->match[f.entry] >= 0;
        if (!lc_pure(&run->ops[undo]))
            return l->next[f.entry];
    }
    return -1;
}

/* At a new configuration, first place any enabled pure op among those invoked before the
 * first pending completion (see lc_backtrack for why that loses nothing). Returns LC_PUSHED,
 * LC_DISABLED (none enabled), LC_SEEN (the configuration is already known dead) or
 * LC_NO_MEMORY. */
static int lc_pure_phase(struct lc_run *run)
{
    struct lc_list *l = &run->list;
    for (int32_t c = l->next[0]; l->is_call[c]; c = l->next[c]) {
        if (!lc_pure(&run->ops[l->op[c]]))
            continue;
        int r = lc_try(run, c);
        if (r != LC_DISABLED)
            return r;
    }
    return LC_DISABLED;
}

static enum lincheck_result lc_loop(struct lc_run *run, const struct lincheck_search_limits *lim,
                                    struct lincheck_search_result *res)
{
    struct lc_list *l = &run->list;
    int32_t e = -1; /* -1: at a configuration not yet given its pure phase */
    run->state = run->model ? run->model->initial : -1;
    run->hi = -1;
    run->pending = l->n_returns;
    while (run->pending > 0) {
        if (++res->steps > lim->max_steps)
            return LINCHECK_UNKNOWN;
        int r = LC_DISABLED;
        if (e < 0) {
            r = lc_pure_phase(run);
            e = r == LC_DISABLED ? l->next[0] : -1;
        } else if (!l->is_call[e]) {
            lc_note_dead_end(res, l, run->stack, run->sp, e, run->state);
            r = LC_SEEN;
        } else if (!lc_pure(&run->ops[l->op[e]])) {
            r = lc_try(run, e);
            if (r == LC_SEEN)
                r = LC_DISABLED; /* that order was explored before: try the next op */
            e = r == LC_PUSHED ? -1 : l->next[e];
        } else {
            e = l->next[e]; /* pure ops were settled by the pure phase */
        }
        if (r == LC_NO_MEMORY) {
            res->out_of_memory = true;
            return LINCHECK_UNKNOWN;
        }
        if (r == LC_SEEN) {
            e = lc_backtrack(run);
            if (e < 0)
                return LINCHECK_VIOLATION;
        }
    }
    return LINCHECK_LINEARIZABLE;
}

enum lincheck_result lincheck_search(const struct lincheck_sop *ops, size_t n,
                                     const struct lincheck_model *model,
                                     const struct lincheck_search_limits *lim,
                                     struct lincheck_search_result *res)
{
    memset(res, 0, sizeof *res);
    res->blocked = -1;
    for (size_t i = 1; i < n; i++)
        assert(ops[i - 1].invoke_us <= ops[i].invoke_us); /* lc_key_build relies on it */
    struct lc_run run = {.ops = ops, .model = model};
    run.cache.max_bytes = lim->max_cache_bytes;
    run.key = malloc((n + 2) * sizeof *run.key);
    run.zobrist = malloc((n + 1) * sizeof *run.zobrist);
    run.stack = malloc((n + 1) * sizeof *run.stack);
    int built = lc_list_build(&run.list, ops, n);
    if (built || !run.key || !run.zobrist || !run.stack) {
        res->out_of_memory = true;
        res->result = LINCHECK_UNKNOWN;
    } else {
        uint64_t seed = 0x5eed;
        for (size_t i = 0; i < n; i++)
            run.zobrist[i] = lc_splitmix(&seed);
        res->result = lc_loop(&run, lim, res);
    }
    res->cache_entries = run.cache.n;
    lc_list_free(&run.list); /* also after a failed build: free(NULL) is fine */
    lc_cache_free(&run.cache);
    free(run.key);
    free(run.zobrist);
    free(run.stack);
    return res->result;
}
