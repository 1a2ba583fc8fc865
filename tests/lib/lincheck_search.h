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
    bool info;    /* indeterminate: optional, no return event */
    bool swapped; /* cas ok: swapped (true) or failed (false) */
    int32_t arg;  /* put/cas: value id written */
    int32_t exp;  /* cas: expected value id, -1 = absent */
    int32_t res;  /* get ok: value id read, -1 = absent */
    int64_t invoke_us;
    int64_t complete_us;
    size_t src; /* index of the op in the history, for explanations */
};

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

/* Searches for a linearization of ops[0..n), which must be sorted by invoke_us (ops are
 * numbered in invoke order; the compact memo keys depend on it). Returns res->result. */
enum lincheck_result lincheck_search(const struct lincheck_sop *ops, size_t n,
                                     const struct lincheck_search_limits *lim,
                                     struct lincheck_search_result *res);

#endif
