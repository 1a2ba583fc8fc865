/* lincheck_history.c: the history container and its line-based text format (see lincheck.h).
 *
 * Owns parsing, percent-decoding, encoding and the one-line op description used in
 * explanations. It is kept apart from the search (lincheck.c) because cluster tests written
 * in C only need the writer, and because every input error must name its line: the parser
 * validates each field fully so the search can assume a well-formed history.
 */
#include "lib/lincheck.h"
#include "lib/lincheck_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

#define LINCHECK_FIELDS 9

void lincheck_history_init(struct lincheck_history *h)
{
    h->ops = NULL;
    h->n_ops = 0;
    h->cap = 0;
}

static void lincheck_val_release(struct lincheck_val *v)
{
    free((void *)v->data);
    *v = LINCHECK_ABSENT;
}

void lincheck_history_free(struct lincheck_history *h)
{
    for (size_t i = 0; i < h->n_ops; i++) {
        struct lincheck_op *op = &h->ops[i];
        lincheck_val_release(&op->key);
        lincheck_val_release(&op->value);
        lincheck_val_release(&op->expected);
        lincheck_val_release(&op->result);
        lincheck_subs_free(op->subs, op->n_subs);
    }
    free(h->ops);
    lincheck_history_init(h);
}

/* Copies v into *out; the copy is NUL-terminated so keys print easily. */
static int lincheck_val_copy(struct lincheck_val *out, struct lincheck_val v)
{
    if (!v.data) {
        *out = LINCHECK_ABSENT;
        return 0;
    }
    char *p = malloc(v.len + 1);
    if (!p)
        return -1;
    memcpy(p, v.data, v.len);
    p[v.len] = '\0';
    out->data = p;
    out->len = v.len;
    return 0;
}

int lincheck_history_add(struct lincheck_history *h, const struct lincheck_op *op)
{
    if (h->n_ops == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct lincheck_op *ops = realloc(h->ops, cap * sizeof *ops);
        if (!ops)
            return -1;
        h->ops = ops;
        h->cap = cap;
    }
    struct lincheck_op *dst = &h->ops[h->n_ops];
    *dst = *op;
    dst->key = dst->value = dst->expected = dst->result = LINCHECK_ABSENT;
    dst->subs = NULL;
    if (op->outcome == LINCHECK_INFO)
        dst->complete_us = INT64_MAX;
    if (op->n_subs && !(dst->subs = lincheck_subs_copy(op->subs, op->n_subs)))
        return -1;
    if (lincheck_val_copy(&dst->key, op->key) || lincheck_val_copy(&dst->value, op->value) ||
        lincheck_val_copy(&dst->expected, op->expected) ||
        lincheck_val_copy(&dst->result, op->result)) {
        lincheck_val_release(&dst->key);
        lincheck_val_release(&dst->value);
        lincheck_val_release(&dst->expected);
        lincheck_val_release(&dst->result);
        lincheck_subs_free(dst->subs, dst->n_subs);
        return -1;
    }
    h->n_ops++;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes a field in place: "-" is absent, "\"\"" is empty, %XX is one byte. */
int lincheck_decode(char *field, struct lincheck_val *out)
{
    if (strcmp(field, "-") == 0) {
        *out = LINCHECK_ABSENT;
        return 0;
    }
    if (strcmp(field, "\"\"") == 0) {
        field[0] = '\0';
        out->data = field;
        out->len = 0;
        return 0;
    }
    size_t w = 0;
    for (size_t r = 0; field[r]; r++) {
        if (field[r] == '%') {
            int hi = hex_digit(field[r + 1]);
            int lo = hi < 0 ? -1 : hex_digit(field[r + 2]);
            if (lo < 0)
                return -1;
            field[w++] = (char)(hi * 16 + lo);
            r += 2;
        } else if (field[r] == '"' || field[r] == '#') {
            return -1;
        } else {
            field[w++] = field[r];
        }
    }
    field[w] = '\0';
    out->data = field;
    out->len = w;
    return 0;
}

static int lincheck_parse_i64(const char *s, int64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int lincheck_fail(char *err, size_t errlen, int line_no, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "line %d: %s", line_no, msg);
    return -1;
}

/* Splits line (modified in place) into at most max fields; returns the count found. */
static int lincheck_split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '\r' || *p == '\n')
            return n;
        if (n == max)
            return n + 1;
        fields[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int lincheck_parse_type(const char *s, enum lincheck_op_type *t)
{
    static const char *const names[] = {"get", "put", "delete", "cas"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *t = (enum lincheck_op_type)i;
            return 0;
        }
    }
    return -1;
}

static int lincheck_parse_outcome(const char *s, enum lincheck_outcome *o)
{
    static const char *const names[] = {"ok", "fail", "info"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            *o = (enum lincheck_outcome)i;
            return 0;
        }
    }
    return -1;
}

/* Checks the fields that depend on the op type; f holds the split fields. */
static int lincheck_parse_args(struct lincheck_op *op, char **f, int ln, char *err, size_t el)
{
    if (lincheck_decode(f[2], &op->key) || !op->key.data)
        return lincheck_fail(err, el, ln, "bad key field '%s'", f[2]);
    if (lincheck_decode(f[3], &op->value))
        return lincheck_fail(err, el, ln, "bad value field '%s'", f[3]);
    if (lincheck_decode(f[4], &op->expected))
        return lincheck_fail(err, el, ln, "bad expected field '%s'", f[4]);
    bool wants_value = op->type == LINCHECK_PUT || op->type == LINCHECK_CAS;
    if (wants_value != (op->value.data != NULL))
        return lincheck_fail(err, el, ln, "%s takes %s value", f[1], wants_value ? "a" : "no");
    if (op->type != LINCHECK_CAS && op->expected.data)
        return lincheck_fail(err, el, ln, "%s takes no expected value", f[1]);
    if (op->outcome != LINCHECK_OK)
        return 0; /* the result of fail and info ops is unknown and ignored */
    if (op->type == LINCHECK_GET) {
        if (lincheck_decode(f[8], &op->result))
            return lincheck_fail(err, el, ln, "bad result field '%s'", f[8]);
    } else if (op->type == LINCHECK_CAS) {
        if (strcmp(f[8], "ok") != 0 && strcmp(f[8], "failed") != 0)
            return lincheck_fail(err, el, ln, "cas result must be ok or failed, not '%s'", f[8]);
        op->cas_swapped = strcmp(f[8], "ok") == 0;
    }
    return 0;
}

/* Parses the fields of one op (f holds the 9 split fields) and appends it. */
static int lincheck_parse_fields(struct lincheck_history *h, char **f, int line_no, char *err,
                                 size_t errlen)
{
    struct lincheck_op op = {.line = line_no};
    int64_t proc;
    if (lincheck_parse_i64(f[0], &proc))
        return lincheck_fail(err, errlen, line_no, "bad process id '%s'", f[0]);
    op.proc = (uint64_t)proc;
    bool multi =
        strcmp(f[1], "range") == 0 || strcmp(f[1], "txn") == 0 || strcmp(f[1], "mtxn") == 0;
    if (!multi && lincheck_parse_type(f[1], &op.type))
        return lincheck_fail(err, errlen, line_no, "unknown op '%s'", f[1]);
    if (lincheck_parse_outcome(f[7], &op.outcome))
        return lincheck_fail(err, errlen, line_no, "unknown outcome '%s'", f[7]);
    if (lincheck_parse_i64(f[5], &op.invoke_us))
        return lincheck_fail(err, errlen, line_no, "bad invoke time '%s'", f[5]);
    if (op.outcome == LINCHECK_INFO) {
        op.complete_us = INT64_MAX;
    } else if (lincheck_parse_i64(f[6], &op.complete_us)) {
        return lincheck_fail(err, errlen, line_no, "bad complete time '%s'", f[6]);
    } else if (op.complete_us < op.invoke_us) {
        return lincheck_fail(err, errlen, line_no, "completes before it is invoked");
    }
    if (multi)
        return lincheck_parse_multi(h, &op, f, line_no, err, errlen);
    if (lincheck_parse_args(&op, f, line_no, err, errlen))
        return -1;
    if (lincheck_history_add(h, &op))
        return lincheck_fail(err, errlen, line_no, "out of memory");
    return 1;
}

int lincheck_history_parse_line(struct lincheck_history *h, const char *line, int line_no,
                                char *err, size_t errlen)
{
    /* A copy on the heap: values may be megabytes once percent-encoded. */
    char *buf = strdup(line);
    if (!buf)
        return lincheck_fail(err, errlen, line_no, "out of memory");
    char *f[LINCHECK_FIELDS];
    int n = lincheck_split(buf, f, LINCHECK_FIELDS), rc = 0;
    if (n == LINCHECK_FIELDS && f[0][0] != '#')
        rc = lincheck_parse_fields(h, f, line_no, err, errlen);
    else if (n != 0 && f[0][0] != '#')
        rc = lincheck_fail(err, errlen, line_no, "expected 9 fields, found %s",
                           n > LINCHECK_FIELDS ? "more" : "fewer");
    free(buf);
    return rc;
}

int lincheck_history_load(struct lincheck_history *h, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    int line_no = 0, rc = 0;
    char msg[256];
    while (getline(&line, &cap, f) >= 0) {
        if (lincheck_history_parse_line(h, line, ++line_no, msg, sizeof msg) < 0) {
            snprintf(err, errlen, "%s: %s", path, msg);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int lincheck_val_write(FILE *out, struct lincheck_val v)
{
    if (!v.data)
        return fputs("-", out) < 0 ? -1 : 0;
    if (v.len == 0)
        return fputs("\"\"", out) < 0 ? -1 : 0;
    if (v.len == 1 && v.data[0] == '-')
        return fputs("%2D", out) < 0 ? -1 : 0;
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.data[i];
        bool plain = c > 0x20 && c < 0x7f && c != '%' && c != '"' && c != '#';
        if ((plain ? fputc(c, out) : fprintf(out, "%%%02X", c)) < 0)
            return -1;
    }
    return 0;
}

static const char *lincheck_type_name(enum lincheck_op_type t)
{
    static const char *const names[] = {"get", "put", "delete", "cas"};
    return names[t];
}

static const char *lincheck_outcome_name(enum lincheck_outcome o)
{
    static const char *const names[] = {"ok", "fail", "info"};
    return names[o];
}

int lincheck_op_write(FILE *out, const struct lincheck_op *op)
{
    if (op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN)
        return lincheck_multi_write(out, op);
    int rc = fprintf(out, "%" PRIu64 " %s ", op->proc, lincheck_type_name(op->type)) < 0;
    rc |= lincheck_val_write(out, op->key) || fputc(' ', out) < 0;
    rc |= lincheck_val_write(out, op->value) || fputc(' ', out) < 0;
    rc |= lincheck_val_write(out, op->expected) || fputc(' ', out) < 0;
    rc |= fprintf(out, "%" PRId64 " ", op->invoke_us) < 0;
    if (op->outcome == LINCHECK_INFO)
        rc |= fputs("- ", out) < 0;
    else
        rc |= fprintf(out, "%" PRId64 " ", op->complete_us) < 0;
    rc |= fprintf(out, "%s ", lincheck_outcome_name(op->outcome)) < 0;
    if (op->outcome == LINCHECK_OK && op->type == LINCHECK_GET)
        rc |= lincheck_val_write(out, op->result);
    else if (op->outcome == LINCHECK_OK && op->type == LINCHECK_CAS)
        rc |= fputs(op->cas_swapped ? "ok" : "failed", out) < 0;
    else
        rc |= fputs("-", out) < 0;
    rc |= fputc('\n', out) < 0;
    return rc ? -1 : 0;
}

void lincheck_op_describe(FILE *out, const struct lincheck_op *op)
{
    if (op->line)
        fprintf(out, "line %d: ", op->line);
    fprintf(out, "proc %" PRIu64 " ", op->proc);
    if (op->type == LINCHECK_RANGE || op->type == LINCHECK_TXN) {
        lincheck_multi_describe(out, op);
    } else {
        fprintf(out, "%s ", lincheck_type_name(op->type));
        lincheck_val_write(out, op->key);
    }
    if (op->type == LINCHECK_CAS) {
        fputs(" ", out);
        lincheck_val_write(out, op->expected);
        fputs(" -> ", out);
        lincheck_val_write(out, op->value);
    } else if (op->type == LINCHECK_PUT) {
        fputs(" = ", out);
        lincheck_val_write(out, op->value);
    }
    if (op->outcome == LINCHECK_OK && op->type == LINCHECK_GET) {
        fputs(" read ", out);
        lincheck_val_write(out, op->result);
    } else if (op->outcome == LINCHECK_OK && op->type == LINCHECK_CAS) {
        fputs(op->cas_swapped ? " swapped" : " failed", out);
    }
    if (op->outcome == LINCHECK_INFO)
        fprintf(out, " [%" PRId64 ", inf) info", op->invoke_us);
    else
        fprintf(out, " [%" PRId64 ", %" PRId64 "] %s", op->invoke_us, op->complete_us,
                lincheck_outcome_name(op->outcome));
    fputc('\n', out);
}
