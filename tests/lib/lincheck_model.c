/* lincheck_model.c: the sequential specification of a store of several keys, for the parts
 * of a history that multi-key ops tie together (lincheck.c partitions, lincheck_part.c
 * prepares and searches).
 *
 * The search (lincheck_search.c) wants a state that is one int32 it can compare and hash,
 * so the state here is a vector of value ids, one per key of the part, interned: equal
 * vectors get one number. That keeps the memo cache exact and small (it stores numbers),
 * at the price of a hash lookup per step that changes a key. A multi-key op is one step:
 * its compares are evaluated on the state, the branch they choose runs in order on a copy
 * (a get sees the earlier puts and deletes of its branch, as in src/kv/kv_txn.h), and the
 * result is the next state; nothing in between is ever visible, which is what makes the
 * check one of atomicity. A completed op must take the branch it reported and read what it
 * reported; an indeterminate (info) op may take either branch and read anything.
 */
#include "lib/lincheck_model.h"

#include <stdlib.h>

static uint64_t vec_hash(const int32_t *v, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)v[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static size_t model_bytes(const struct lc_model *m, size_t cap, size_t n_slots)
{
    return cap * (m->nk * sizeof(int32_t) + sizeof(uint64_t)) + n_slots * sizeof(uint32_t);
}

static int model_grow(struct lc_model *m)
{
    size_t cap = m->cap_states ? 2 * m->cap_states : 256, n_slots = 2 * cap;
    if (model_bytes(m, cap, n_slots) > m->max_bytes)
        return -1;
    int32_t *vecs = realloc(m->vecs, cap * m->nk * sizeof *vecs);
    if (vecs)
        m->vecs = vecs;
    uint64_t *hashes = realloc(m->hashes, cap * sizeof *hashes);
    if (hashes)
        m->hashes = hashes;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!vecs || !hashes || !slots) {
        free(slots);
        return -1;
    }
    for (size_t i = 0; i < m->n_states; i++) {
        size_t s = m->hashes[i] & (n_slots - 1);
        while (slots[s])
            s = (s + 1) & (n_slots - 1);
        slots[s] = (uint32_t)i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->n_slots = n_slots;
    m->cap_states = cap;
    return 0;
}

/* The number of the state holding vec (nk ids), added if new; -1 over budget. */
static int32_t model_intern(struct lc_model *m, const int32_t *vec)
{
    if (m->n_states == m->cap_states && model_grow(m))
        return -1;
    uint64_t h = vec_hash(vec, m->nk);
    size_t s = h & (m->n_slots - 1);
    for (; m->slots[s]; s = (s + 1) & (m->n_slots - 1)) {
        size_t i = m->slots[s] - 1;
        if (m->hashes[i] == h && memcmp(&m->vecs[i * m->nk], vec, m->nk * sizeof *vec) == 0)
            return (int32_t)i;
    }
    memcpy(&m->vecs[m->n_states * m->nk], vec, m->nk * sizeof *vec);
    m->hashes[m->n_states] = h;
    m->slots[s] = (uint32_t)m->n_states + 1;
    return (int32_t)m->n_states++;
}

int lc_model_init(struct lc_model *m, size_t nk, size_t max_mops, size_t max_subs, size_t max_bytes)
{
    memset(m, 0, sizeof *m);
    m->nk = nk;
    m->max_bytes = max_bytes;
    m->mops = malloc((max_mops + 1) * sizeof *m->mops);
    m->subs = malloc((max_subs + 1) * sizeof *m->subs);
    m->scratch = malloc((nk + 1) * sizeof *m->scratch);
    if (!m->mops || !m->subs || !m->scratch)
        return -1;
    for (size_t i = 0; i < nk; i++)
        m->scratch[i] = -1;
    return model_intern(m, m->scratch) == 0 ? 0 : -1; /* state 0: every key absent */
}

void lc_model_free(struct lc_model *m)
{
    free(m->mops);
    free(m->subs);
    free(m->vecs);
    free(m->hashes);
    free(m->slots);
    free(m->scratch);
}

const int32_t *lc_model_state(const struct lc_model *m, int32_t state)
{
    return &m->vecs[(size_t)state * m->nk];
}

static bool cmp_holds(const struct lc_msub *s, const int32_t *vec)
{
    int32_t v = vec[s->slot];
    if (s->type == LINCHECK_SUB_EQ)
        return v == s->val;
    return v != -1 && v != s->val; /* NE: present, and (operand given) another value */
}

/* Runs multi-key op mo on m->scratch (a copy of the state); false when a completed op
 * cannot have run there (other branch, or a get that would read something else). */
static bool run_mop(const struct lc_model *m, const struct lincheck_sop *op, bool *wrote)
{
    const struct lc_mop *mo = &m->mops[op->arg];
    const struct lc_msub *s = &m->subs[mo->first];
    bool held = true;
    for (size_t i = 0; i < mo->n_cmp; i++)
        held = held && cmp_holds(&s[i], m->scratch);
    if (!op->info && held != op->swapped)
        return false;
    size_t from = mo->n_cmp + (held ? 0 : mo->n_then);
    size_t to = held ? mo->n_cmp + mo->n_then : mo->n_cmp + mo->n_then + mo->n_else;
    for (size_t i = from; i < to; i++) {
        switch (s[i].type) {
        case LINCHECK_SUB_GET:
            if (!op->info && s[i].has_result && m->scratch[s[i].slot] != s[i].val)
                return false;
            break;
        case LINCHECK_SUB_PUT:
            m->scratch[s[i].slot] = s[i].val;
            *wrote = true;
            break;
        case LINCHECK_SUB_DELETE:
            m->scratch[s[i].slot] = -1;
            *wrote = true;
            break;
        default:
            break;
        }
    }
    return true;
}

int lc_model_step(void *ctx, const struct lincheck_sop *op, int32_t state, int32_t *next)
{
    struct lc_model *m = ctx;
    /* Copy first: interning may move m->vecs. */
    memcpy(m->scratch, lc_model_state(m, state), m->nk * sizeof *m->scratch);
    bool wrote = false;
    if (op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN) {
        if (!run_mop(m, op, &wrote))
            return 0;
    } else {
        int32_t v = m->scratch[op->slot], nv;
        if (!lincheck_sop_step(op, v, &nv))
            return 0;
        wrote = nv != v;
        m->scratch[op->slot] = nv;
    }
    if (!wrote) {
        *next = state;
        return 1;
    }
    *next = model_intern(m, m->scratch);
    return *next < 0 ? -1 : 1;
}
