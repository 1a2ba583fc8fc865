/* lincheck_multi.c: range and txn operations in histories, checked through their
 * projection on each key (see lincheck.h).
 *
 * Why a projection and not a multi-key register: the search (lincheck_search.c) is
 * per key, which is what keeps long histories tractable. Projecting an op that
 * touches several keys onto each of them keeps every check sound (a linearizable
 * history has linearizable projections, so any violation reported is real) at the
 * price of not seeing a torn multi-key write. A range is a get of every key it
 * covered; a txn (compare one key's value, then put several) is a cas on the
 * compared key and a put on each other key that is recorded only when the cas
 * swapped (or may have: info).
 */
#include "lib/lincheck.h"
#include "lib/lincheck_int.h"

#include <stdlib.h>

#define LINCHECK_MULTI_MAX 64

int lincheck_history_add_range(struct lincheck_history *h, const struct lincheck_op *base, size_t n,
                               const struct lincheck_val *keys, const struct lincheck_val *vals)
{
    if (base->outcome != LINCHECK_OK)
        return 0; /* a read that failed or whose answer was lost says nothing */
    for (size_t i = 0; i < n; i++) {
        struct lincheck_op op = *base;
        op.type = LINCHECK_GET;
        op.key = keys[i];
        op.value = op.expected = LINCHECK_ABSENT;
        op.result = vals[i];
        if (lincheck_history_add(h, &op) != 0)
            return -1;
    }
    return 0;
}

int lincheck_history_add_txn(struct lincheck_history *h, const struct lincheck_op *base, size_t n,
                             const struct lincheck_val *keys, const struct lincheck_val *vals)
{
    if (n == 0 || base->outcome == LINCHECK_FAIL)
        return 0;
    struct lincheck_op op = *base;
    op.type = LINCHECK_CAS;
    op.key = keys[0];
    op.value = vals[0];
    op.result = LINCHECK_ABSENT;
    if (lincheck_history_add(h, &op) != 0)
        return -1;
    if (base->outcome == LINCHECK_OK && !base->cas_swapped)
        return 0; /* the compare failed: nothing was put */
    for (size_t i = 1; i < n; i++) {
        op = *base;
        op.type = LINCHECK_PUT;
        op.key = keys[i];
        op.value = vals[i];
        op.expected = op.result = LINCHECK_ABSENT;
        if (lincheck_history_add(h, &op) != 0)
            return -1;
    }
    return 0;
}

/* Splits a comma-separated list in place into at most max elements. */
static int split_list(char *field, char **out, int max)
{
    int n = 0;
    for (char *p = field;;) {
        if (n == max)
            return -1;
        out[n++] = p;
        char *comma = strchr(p, ',');
        if (comma == NULL)
            return n;
        *comma = '\0';
        p = comma + 1;
    }
}

static int parse_range(struct lincheck_history *h, struct lincheck_op *base, char **f, int ln,
                       char *err, size_t el)
{
    struct lincheck_val prefix, keys[LINCHECK_MULTI_MAX], vals[LINCHECK_MULTI_MAX];
    char *items[LINCHECK_MULTI_MAX];
    if (lincheck_decode(f[2], &prefix) || !prefix.data)
        return lincheck_fail(err, el, ln, "bad range prefix '%s'", f[2]);
    if (strcmp(f[3], "-") != 0 || strcmp(f[4], "-") != 0)
        return lincheck_fail(err, el, ln, "range takes no value and no expected value");
    if (base->outcome != LINCHECK_OK)
        return 1;
    int n = strcmp(f[8], "\"\"") == 0 ? 0 : split_list(f[8], items, LINCHECK_MULTI_MAX);
    if (n < 0)
        return lincheck_fail(err, el, ln, "range lists over %d keys", LINCHECK_MULTI_MAX);
    for (int i = 0; i < n; i++) {
        char *eq = strchr(items[i], '=');
        if (eq == NULL)
            return lincheck_fail(err, el, ln, "range result element without '='");
        *eq = '\0';
        if (lincheck_decode(items[i], &keys[i]) || !keys[i].data ||
            lincheck_decode(eq + 1, &vals[i]))
            return lincheck_fail(err, el, ln, "bad range result element %d", i);
        if (keys[i].len < prefix.len || memcmp(keys[i].data, prefix.data, prefix.len) != 0)
            return lincheck_fail(err, el, ln, "range result key %d lacks the prefix", i);
    }
    if (lincheck_history_add_range(h, base, (size_t)n, keys, vals))
        return lincheck_fail(err, el, ln, "out of memory");
    return 1;
}

static int parse_txn(struct lincheck_history *h, struct lincheck_op *base, char **f, int ln,
                     char *err, size_t el)
{
    struct lincheck_val keys[LINCHECK_MULTI_MAX], vals[LINCHECK_MULTI_MAX];
    char *ks[LINCHECK_MULTI_MAX], *vs[LINCHECK_MULTI_MAX];
    int nk = split_list(f[2], ks, LINCHECK_MULTI_MAX);
    int nv = split_list(f[3], vs, LINCHECK_MULTI_MAX);
    if (nk < 0 || nk != nv)
        return lincheck_fail(err, el, ln, "txn wants as many values as keys (at most %d)",
                             LINCHECK_MULTI_MAX);
    for (int i = 0; i < nk; i++)
        if (lincheck_decode(ks[i], &keys[i]) || !keys[i].data || lincheck_decode(vs[i], &vals[i]) ||
            !vals[i].data)
            return lincheck_fail(err, el, ln, "bad txn key or value %d", i);
    if (lincheck_decode(f[4], &base->expected))
        return lincheck_fail(err, el, ln, "bad expected field '%s'", f[4]);
    if (base->outcome == LINCHECK_OK) {
        if (strcmp(f[8], "ok") != 0 && strcmp(f[8], "failed") != 0)
            return lincheck_fail(err, el, ln, "txn result must be ok or failed, not '%s'", f[8]);
        base->cas_swapped = strcmp(f[8], "ok") == 0;
    }
    if (lincheck_history_add_txn(h, base, (size_t)nk, keys, vals))
        return lincheck_fail(err, el, ln, "out of memory");
    return 1;
}

int lincheck_parse_multi(struct lincheck_history *h, struct lincheck_op *base, char **f,
                         int line_no, char *err, size_t errlen)
{
    if (strcmp(f[1], "range") == 0)
        return parse_range(h, base, f, line_no, err, errlen);
    return parse_txn(h, base, f, line_no, err, errlen);
}
