/* lincheck_model.h: the checker's internal pieces shared by lincheck.c (partitioning, the
 * single-register parts) and lincheck_model.c (parts with several keys or multi-key ops).
 *
 * Ownership: an interning table points at the history's values (it copies nothing), so it
 * lives no longer than the history; lc_intern_free releases only its own arrays.
 */
#ifndef VESPER_TESTS_LIB_LINCHECK_MODEL_H
#define VESPER_TESTS_LIB_LINCHECK_MODEL_H

#include "lib/lincheck.h"
#include "lib/lincheck_search.h"

/* Interning table of one part: value bytes -> small id (absent is -1). */
struct lc_intern {
    const struct lincheck_val **vals; /* id -> value */
    size_t n;
    int32_t *slots; /* -1 empty, else id */
    size_t n_slots;
};

/* Room for max_vals distinct values (the capacity is fixed). 0, or -1 without memory. */
int lc_intern_init(struct lc_intern *t, size_t max_vals);
/* The id of *v (-1 for absent), adding it if new. */
int32_t lc_intern_id(struct lc_intern *t, const struct lincheck_val *v);
void lc_intern_free(struct lc_intern *t);

/* Byte order of two present values (memcmp, then the shorter first). */
int lc_val_cmp(const struct lincheck_val *a, const struct lincheck_val *b);

/* The sequential specification of a part with several keys (lincheck_model.c): the state
 * is one value id per key (slot), numbered by interning the vectors; state 0 is every key
 * absent. A multi-key op (sop type RANGE or TXN, sop arg = its index in mops) is a run of
 * subs: compares, then branch, else branch, with slots and interned values. */
struct lc_msub {
    enum lincheck_sub_type type;
    int32_t slot;
    int32_t val; /* compare operand, value put, value read (-1 absent) */
    bool has_result;
};

struct lc_mop {
    size_t first; /* index of its first sub */
    size_t n_cmp, n_then, n_else;
};

struct lc_model {
    size_t nk;
    struct lc_mop *mops;
    size_t n_mops;
    struct lc_msub *subs;
    size_t n_subs;
    int32_t *vecs;    /* state s: vecs[s * nk .. s * nk + nk) */
    uint64_t *hashes; /* per state */
    size_t n_states, cap_states;
    uint32_t *slots; /* 0 empty, else state + 1 */
    size_t n_slots;
    int32_t *scratch;
    size_t max_bytes;
};

/* Room for max_mops ops with max_subs subs in all over nk keys; states grow up to
 * max_bytes. 0, or -1 without memory. */
int lc_model_init(struct lc_model *m, size_t nk, size_t max_mops, size_t max_subs,
                  size_t max_bytes);
/* The struct lincheck_model step: see lincheck_search.h. ctx is the struct lc_model. */
int lc_model_step(void *ctx, const struct lincheck_sop *op, int32_t state, int32_t *next);
/* The value ids of state (nk of them); valid until the next step. */
const int32_t *lc_model_state(const struct lc_model *m, int32_t state);
void lc_model_free(struct lc_model *m);

/* Checks one part: ops[0..n) are indexes into h (ascending), keys[0..nk) the distinct keys
 * they touch, ascending in lc_val_cmp order. Every multi-key op takes effect atomically at
 * one point. Explains a violation or an unknown on o->explain; adds to *rep. */
enum lincheck_result lc_check_part(const struct lincheck_history *h, const size_t *ops, size_t n,
                                   const struct lincheck_val *keys, size_t nk,
                                   const struct lincheck_opts *o, struct lincheck_report *rep);

#endif
