/* lincheck_multi.c: range and txn operations in histories (see lincheck.h): their parts
 * (struct lincheck_sub), how a history copies and frees them, and their lines in the
 * history format (parsing, writing, describing).
 *
 * A multi-key op is kept whole, never split into per-key ops: the checker (lincheck.c,
 * lincheck_model.c) needs all its keys together to see it take effect at one point. A
 * range is a list of gets; a txn is compares, a then branch and an else branch. The txn
 * shorthand of older histories (compare one key, put several) becomes the same form.
 */
#include "lib/lincheck.h"
#include "lib/lincheck_int.h"

#include <inttypes.h>
#include <stdlib.h>

#define LINCHECK_MULTI_MAX 64

void lincheck_subs_free(struct lincheck_sub *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((void *)subs[i].key.data);
        free((void *)subs[i].value.data);
    }
    free(subs);
}

static int sub_val_copy(struct lincheck_val *out, struct lincheck_val v)
{
    *out = LINCHECK_ABSENT;
    if (!v.data)
        return 0;
    char *p = malloc(v.len + 1);
    if (!p)
        return -1;
    memcpy(p, v.data, v.len);
    p[v.len] = '\0';
    *out = (struct lincheck_val){p, v.len};
    return 0;
}

struct lincheck_sub *lincheck_subs_copy(const struct lincheck_sub *subs, size_t n)
{
    struct lincheck_sub *c = calloc(n ? n : 1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        c[i].type = subs[i].type;
        c[i].has_result = subs[i].has_result;
        if (sub_val_copy(&c[i].key, subs[i].key) || sub_val_copy(&c[i].value, subs[i].value)) {
            lincheck_subs_free(c, i + 1);
            return NULL;
        }
    }
    return c;
}

int lincheck_history_add_range(struct lincheck_history *h, const struct lincheck_op *base, size_t n,
                               const struct lincheck_val *keys, const struct lincheck_val *vals)
{
    if (base->outcome != LINCHECK_OK)
        return 0; /* a read that failed or whose answer was lost says nothing */
    struct lincheck_sub *subs = calloc(n ? n : 1, sizeof *subs);
    if (!subs)
        return -1;
    for (size_t i = 0; i < n; i++)
        subs[i] = (struct lincheck_sub){LINCHECK_SUB_GET, keys[i], vals[i], true};
    struct lincheck_op op = *base;
    op.type = LINCHECK_RANGE;
    /* The prefix written with the range: base->key when every key has it, else the keys'
     * longest common prefix (a recorder may give the key it drew, not the prefix). */
    for (size_t i = 0; i < n && op.key.data; i++)
        if (keys[i].len < op.key.len || memcmp(keys[i].data, op.key.data, op.key.len) != 0)
            op.key = (struct lincheck_val){keys[0].data, keys[0].len};
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        while (l < op.key.len && l < keys[i].len && op.key.data[l] == keys[i].data[l])
            l++;
        op.key.len = l;
    }
    if (!op.key.data)
        op.key = (struct lincheck_val){"", 0};
    op.value = op.expected = op.result = LINCHECK_ABSENT;
    op.cas_swapped = true;
    op.subs = subs;
    op.n_subs = op.n_then = n;
    op.n_cmp = 0;
    int rc = lincheck_history_add(h, &op);
    free(subs);
    return rc;
}

int lincheck_history_add_txn(struct lincheck_history *h, const struct lincheck_op *base, size_t n,
                             const struct lincheck_val *keys, const struct lincheck_val *vals)
{
    if (n == 0 || base->outcome == LINCHECK_FAIL)
        return 0;
    struct lincheck_sub *subs = calloc(n + 1, sizeof *subs);
    if (!subs)
        return -1;
    subs[0] = (struct lincheck_sub){LINCHECK_SUB_EQ, keys[0], base->expected, false};
    for (size_t i = 0; i < n; i++)
        subs[i + 1] = (struct lincheck_sub){LINCHECK_SUB_PUT, keys[i], vals[i], false};
    struct lincheck_op op = *base;
    op.type = LINCHECK_TXN;
    op.key = keys[0];
    op.value = op.expected = op.result = LINCHECK_ABSENT;
    op.subs = subs;
    op.n_subs = n + 1;
    op.n_cmp = 1;
    op.n_then = n;
    int rc = lincheck_history_add(h, &op);
    free(subs);
    return rc;
}

/* Splits a comma-separated list in place into at most max elements ("-": none). */
static int split_list(char *field, char **out, int max)
{
    if (strcmp(field, "-") == 0)
        return 0;
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
    struct lincheck_val keys[LINCHECK_MULTI_MAX], vals[LINCHECK_MULTI_MAX];
    char *items[LINCHECK_MULTI_MAX];
    if (lincheck_decode(f[2], &base->key) || !base->key.data)
        return lincheck_fail(err, el, ln, "bad range prefix '%s'", f[2]);
    struct lincheck_val prefix = base->key;
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

static int parse_result(struct lincheck_op *base, const char *r, int ln, char *err, size_t el)
{
    if (base->outcome != LINCHECK_OK)
        return 0;
    if (strcmp(r, "ok") != 0 && strcmp(r, "failed") != 0)
        return lincheck_fail(err, el, ln, "txn result must be ok or failed, not '%s'", r);
    base->cas_swapped = strcmp(r, "ok") == 0;
    return 0;
}

static int parse_txn(struct lincheck_history *h, struct lincheck_op *base, char **f, int ln,
                     char *err, size_t el)
{
    struct lincheck_val keys[LINCHECK_MULTI_MAX], vals[LINCHECK_MULTI_MAX];
    char *ks[LINCHECK_MULTI_MAX], *vs[LINCHECK_MULTI_MAX];
    int nk = split_list(f[2], ks, LINCHECK_MULTI_MAX);
    int nv = split_list(f[3], vs, LINCHECK_MULTI_MAX);
    if (nk <= 0 || nk != nv)
        return lincheck_fail(err, el, ln, "txn wants as many values as keys (1 to %d)",
                             LINCHECK_MULTI_MAX);
    for (int i = 0; i < nk; i++)
        if (lincheck_decode(ks[i], &keys[i]) || !keys[i].data || lincheck_decode(vs[i], &vals[i]) ||
            !vals[i].data)
            return lincheck_fail(err, el, ln, "bad txn key or value %d", i);
    if (lincheck_decode(f[4], &base->expected))
        return lincheck_fail(err, el, ln, "bad expected field '%s'", f[4]);
    if (parse_result(base, f[8], ln, err, el))
        return -1;
    if (lincheck_history_add_txn(h, base, (size_t)nk, keys, vals))
        return lincheck_fail(err, el, ln, "out of memory");
    return 1;
}

/* Parses one element "X:KEY[=VALUE]" of an mtxn list into *s; allowed: the letters that
 * may appear in this list. 0, or -1 when malformed. */
static int parse_sub(char *item, const char *allowed, struct lincheck_sub *s)
{
    static const char letters[] = "enpdg"; /* in enum lincheck_sub_type order */
    const char *l = strchr(letters, item[0]);
    if (item[0] == '\0' || !l || !strchr(allowed, item[0]) || item[1] != ':')
        return -1;
    s->type = (enum lincheck_sub_type)(l - letters);
    char *eq = strchr(item + 2, '=');
    if (eq)
        *eq = '\0';
    bool wants_value = s->type != LINCHECK_SUB_DELETE && s->type != LINCHECK_SUB_GET;
    if ((wants_value && !eq) || (s->type == LINCHECK_SUB_DELETE && eq))
        return -1;
    s->has_result = s->type == LINCHECK_SUB_GET && eq;
    s->value = LINCHECK_ABSENT;
    if (lincheck_decode(item + 2, &s->key) || !s->key.data ||
        (eq && lincheck_decode(eq + 1, &s->value)))
        return -1;
    return s->type == LINCHECK_SUB_PUT && !s->value.data ? -1 : 0;
}

static int parse_mtxn(struct lincheck_history *h, struct lincheck_op *base, char **f, int ln,
                      char *err, size_t el)
{
    struct lincheck_sub subs[3 * LINCHECK_MULTI_MAX];
    static const char *const allowed[] = {"en", "pdg", "pdg"};
    size_t n = 0, counts[3];
    for (int part = 0; part < 3; part++) {
        char *items[LINCHECK_MULTI_MAX];
        int k = split_list(f[2 + part], items, LINCHECK_MULTI_MAX);
        if (k < 0)
            return lincheck_fail(err, el, ln, "mtxn list over %d elements", LINCHECK_MULTI_MAX);
        for (int i = 0; i < k; i++)
            if (parse_sub(items[i], allowed[part], &subs[n++]))
                return lincheck_fail(err, el, ln, "bad mtxn element %d of field %d", i, 3 + part);
        counts[part] = (size_t)k;
    }
    if (n == 0)
        return lincheck_fail(err, el, ln, "mtxn without compares or ops");
    if (parse_result(base, f[8], ln, err, el))
        return -1;
    if (base->outcome == LINCHECK_FAIL)
        return 1;
    base->type = LINCHECK_TXN;
    base->key = subs[0].key;
    base->subs = subs;
    base->n_subs = n;
    base->n_cmp = counts[0];
    base->n_then = counts[1];
    if (lincheck_history_add(h, base))
        return lincheck_fail(err, el, ln, "out of memory");
    return 1;
}

int lincheck_parse_multi(struct lincheck_history *h, struct lincheck_op *base, char **f,
                         int line_no, char *err, size_t errlen)
{
    if (strcmp(f[1], "range") == 0)
        return parse_range(h, base, f, line_no, err, errlen);
    if (strcmp(f[1], "mtxn") == 0)
        return parse_mtxn(h, base, f, line_no, err, errlen);
    return parse_txn(h, base, f, line_no, err, errlen);
}

/* Writes subs[0..n) as one list field ("-" when empty); range: "k=v" elements. */
static int write_subs(FILE *out, const struct lincheck_sub *subs, size_t n, bool range)
{
    static const char letters[] = "enpdg";
    int rc = n == 0 ? fputs("-", out) < 0 : 0;
    for (size_t i = 0; i < n; i++) {
        const struct lincheck_sub *s = &subs[i];
        if (i)
            rc |= fputc(',', out) < 0;
        if (!range)
            rc |= fprintf(out, "%c:", letters[s->type]) < 0;
        /* ',' and '=' inside an element are escaped, as the list format asks. */
        for (int part = 0; part < 2; part++) {
            struct lincheck_val v = part ? s->value : s->key;
            if (part &&
                (s->type == LINCHECK_SUB_DELETE || (s->type == LINCHECK_SUB_GET && !s->has_result)))
                break;
            if (part)
                rc |= fputc('=', out) < 0;
            if (!v.data || v.len == 0 || (v.len == 1 && v.data[0] == '-')) {
                rc |= lincheck_val_write(out, v);
                continue;
            }
            for (size_t b = 0; b < v.len; b++) {
                char c = v.data[b];
                if (c == ',' || c == '=')
                    rc |= fprintf(out, "%%%02X", (unsigned char)c) < 0;
                else
                    rc |= lincheck_val_write(out, (struct lincheck_val){&v.data[b], 1});
            }
        }
    }
    return rc ? -1 : 0;
}

int lincheck_multi_write(FILE *out, const struct lincheck_op *op)
{
    static const char *const outcomes[] = {"ok", "fail", "info"};
    const struct lincheck_sub *s = op->subs;
    size_t n_else = op->n_subs - op->n_cmp - op->n_then;
    int rc = fprintf(out, "%" PRIu64 " %s ", op->proc,
                     op->type == LINCHECK_RANGE ? "range" : "mtxn") < 0;
    if (op->type == LINCHECK_RANGE) {
        rc |= lincheck_val_write(out, op->key) || fputs(" - - ", out) < 0;
    } else {
        rc |= write_subs(out, s, op->n_cmp, false) || fputc(' ', out) < 0;
        rc |= write_subs(out, s + op->n_cmp, op->n_then, false) || fputc(' ', out) < 0;
        rc |= write_subs(out, s + op->n_cmp + op->n_then, n_else, false) || fputc(' ', out) < 0;
    }
    rc |= fprintf(out, "%" PRId64 " ", op->invoke_us) < 0;
    if (op->outcome == LINCHECK_INFO)
        rc |= fputs("- ", out) < 0;
    else
        rc |= fprintf(out, "%" PRId64 " ", op->complete_us) < 0;
    rc |= fprintf(out, "%s ", outcomes[op->outcome]) < 0;
    if (op->outcome != LINCHECK_OK)
        rc |= fputs("-", out) < 0;
    else if (op->type == LINCHECK_RANGE)
        rc |= op->n_subs ? write_subs(out, s, op->n_subs, true) : fputs("\"\"", out) < 0;
    else
        rc |= fputs(op->cas_swapped ? "ok" : "failed", out) < 0;
    rc |= fputc('\n', out) < 0;
    return rc ? -1 : 0;
}

void lincheck_multi_describe(FILE *out, const struct lincheck_op *op)
{
    static const char *const names[] = {"==", "!=", "put", "delete", "get"};
    fputs(op->type == LINCHECK_RANGE ? "range {" : "txn {", out);
    for (size_t i = 0; i < op->n_subs; i++) {
        const struct lincheck_sub *s = &op->subs[i];
        if (op->type == LINCHECK_TXN && (i == op->n_cmp || i == op->n_cmp + op->n_then))
            fputs(i == op->n_cmp ? " then" : " else", out);
        fprintf(out, "%s", i == 0 || i == op->n_cmp || i == op->n_cmp + op->n_then ? " " : ", ");
        if (s->type == LINCHECK_SUB_EQ || s->type == LINCHECK_SUB_NE) {
            lincheck_val_write(out, s->key);
            fprintf(out, " %s ", names[s->type]);
            lincheck_val_write(out, s->value);
            continue;
        }
        fprintf(out, "%s ", names[s->type]);
        lincheck_val_write(out, s->key);
        if (s->type == LINCHECK_SUB_PUT || s->has_result) {
            fputs(s->type == LINCHECK_SUB_PUT ? " = " : " read ", out);
            lincheck_val_write(out, s->value);
        }
    }
    fputs(" }", out);
    if (op->type == LINCHECK_TXN && op->outcome == LINCHECK_OK)
        fputs(op->cas_swapped ? " then ran" : " else ran", out);
}
