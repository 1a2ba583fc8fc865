/* lincheck_search.h: the search engine behind lincheck_check, for one key (internal).
 *
 * Operates on a compact form of one partition: values are interned to small integers
 * (-1 = absent) so the register state is one int32 and comparing states is exact. The caller
 * (lincheck.c) has already dropped ops that cannot matter (fail ops, info gets, info writes
 * whose value nothing observes). Ownership: lincheck_search only reads ops.
 */
#ifndef VESPER_TESTS_LIB_LINCHECK_SEARCH_H
#define VESPER_TESTS_LIB_LINCHECK_SEARCH_H

#include "lib/lincheck.h"

struct lincheck_sop {
    enum lincheck_op_type type;
    bool readonly; /* range, txn: completed, and the branch that ran writes nothing */
    int32_t slot;  /* single-key op in a multi-key part: its key's index in the part */
    bool info;     /* indeterminate: optional, no return event */
    bool swapped;  /* cas ok: swapped (true) or failed (false) */
    int32_t arg;   /* put/cas: value id written; range, txn: the model's op number */
    int32_t exp;   /* cas: expected value id, -1 = absent */
    int32_t res;   /* get ok: value id read, -1 = absent */
    int64_t invoke_us;
    int64_t complete_us;
    size_t src; /* index of the op in the history, for explanations */
};

/* The memo cache of the search (lincheck_cache.c): sets of linearized ops with a state. */
struct lc_cache {
    uint32_t *slots; /* 0 = empty, else entry number + 1 */
    size_t n_slots;
    uint64_t *hashes;
    int32_t *states;
    size_t *offs; /* entry -> arena offset of its key; key[0] is the key's length */
    uint32_t *arena;
    size_t arena_len, arena_cap;
    size_t n, cap;
    size_t max_bytes;
};

/* Returns 1 if (key, state) was new and is now recorded, 0 if seen, -1 over budget. */
int lc_cache_insert(struct lc_cache *c, uint64_t set_hash, int32_t state, const uint32_t *key);
void lc_cache_free(struct lc_cache *c);

struct lincheck_search_limits {
    uint64_t max_steps;
    size_t max_cache_bytes;
};

#define LINCHECK_EVIDENCE_OPS 6

struct lincheck_search_result {
    enum lincheck_result result;
    uint64_t steps;
    size_t cache_entries;
    bool out_of_memory; /* UNKNOWN because memory (not steps) ran out */
    /* For VIOLATION: the deepest dead end of the search. blocked is the op whose completion
     * could not be reached; state the register then; tail the last ops linearized before it
     * (most recent first); cands other ops pending at that point. Indexes into ops. */
    int32_t blocked;
    int32_t state;
    size_t depth;
    int32_t tail[LINCHECK_EVIDENCE_OPS];
    int n_tail;
    int32_t cands[LINCHECK_EVIDENCE_OPS];
    int n_cands;
};

/* Sequential specification of the register: can op run in state, and what state follows? */
bool lincheck_sop_step(const struct lincheck_sop *op, int32_t state, int32_t *next);

/* Another sequential specification (lincheck_model.c: several keys, multi-key ops), whose
 * states are numbered by the model. step: 1 with *next when op can run in state, 0 when
 * it cannot, -1 when the model ran out of memory. The search only calls it. */
struct lincheck_model {
    int (*step)(void *ctx, const struct lincheck_sop *op, int32_t state, int32_t *next);
    void *ctx;
    int32_t initial;
};

/* Searches for a linearization of ops[0..n), which must be sorted by invoke_us (ops are
 * numbered in invoke order; the compact memo keys depend on it), against model (NULL: one
 * register starting absent, lincheck_sop_step). Returns res->result. */
enum lincheck_result lincheck_search(const struct lincheck_sop *ops, size_t n,
                                     const struct lincheck_model *model,
                                     const struct lincheck_search_limits *lim,
                                     struct lincheck_search_result *res);

#endif
