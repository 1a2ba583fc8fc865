/* parse_fast.c: a direct parser for the request bodies nearly every client sends
 * (get, put, delete of one key, perhaps with an exactly-once session), so that
 * such a request costs one pass over its bytes instead of a json-c tree, whose
 * tokener, hash tables and allocations are the largest share of the
 * instructions vesperd spends on a GET.
 *
 * It takes exactly this shape and declines everything else:
 *   ws { members } ws    members in any order, each name at most once
 *     top level:  "type": "get"|"put"|"delete"  (absent: the method's default),
 *                 "payload": {...}, "client_id": N, "seq": N
 *     payload:    "key": S, "value": S, "client_id": N, "seq": N
 *   ws   only space, tab, CR and LF
 *   S    a string without raw bytes below 0x20 and without \u escapes
 *        (\" \\ \/ \b \f \n \r \t are decoded; bytes >= 0x80 pass through)
 *   N    decimal digits, no sign, fraction, exponent or leading zero, < 2^64
 *   names without escapes; client_id and seq not both at the top and in payload
 *
 * Outside this shape real clients rarely go, and json-c's lenient reading has
 * its quirks there (of duplicate names the last wins, a raw NUL in a string ends
 * its input, "007" is 7), so matching it would cost more care than it saves.
 *
 * A body it declines goes to the json-c parser (api.c), which decides everything
 * else, every error and its detail included: this file reports no errors. So it
 * takes a body only when api.c would accept it too (method, type, limits, key
 * non-empty, value for a put, session, UTF-8), and then fills the request exactly
 * as api.c does. tests/unit/test_api_fast*.c and tests/fuzz/fuzz_api.c check
 * that differentially: whatever this file takes, api_parse_request_json must
 * accept with an equal result.
 */
#include "api/api.h"
#include "api/api_int.h"
#include "api/validate.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A string token: its bytes between the quotes, and its length once decoded. */
struct fstr {
    const char *raw;
    size_t raw_len;
    size_t len;
    bool escaped; /* holds a backslash */
    bool seen;
};

struct fnum {
    uint64_t v;
    bool seen;
};

/* The members a body named, top level and payload. */
struct fbody {
    struct fstr type, key, value;
    struct fnum cid, seq, pl_cid, pl_seq;
    bool payload;
};

struct fscan {
    const char *p, *end;
};

static void skip_ws(struct fscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
        s->p++;
}

/* Skips whitespace, then consumes c if it is next. */
static bool eat(struct fscan *s, char c)
{
    skip_ws(s);
    if (s->p == s->end || *s->p != c)
        return false;
    s->p++;
    return true;
}

/* The byte an escape letter stands for; -1 for one this file leaves to json-c. */
static int unescape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

static bool scan_string(struct fscan *s, struct fstr *out)
{
    if (!eat(s, '"'))
        return false;
    const char *start = s->p;
    size_t len = 0;
    bool escaped = false;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p++;
        if (c == '"') {
            out->raw = start;
            out->raw_len = (size_t)(s->p - 1 - start);
            out->len = len;
            out->escaped = escaped;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (s->p == s->end || unescape(*s->p) < 0)
                return false;
            s->p++;
            escaped = true;
        }
        len++;
    }
    return false;
}

static bool scan_u64(struct fscan *s, struct fnum *out)
{
    skip_ws(s);
    const char *digits = s->p;
    uint64_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        unsigned d = (unsigned)(*s->p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s->p++;
    }
    size_t n = (size_t)(s->p - digits);
    if (n == 0 || (n > 1 && digits[0] == '0'))
        return false;
    /* What follows must be ',' or '}' (scan_object checks), so "1.5", "1e3"
     * and "1x" are declined there. */
    out->v = v;
    return true;
}

static bool once_str(struct fscan *s, struct fstr *f)
{
    if (f->seen)
        return false;
    f->seen = true;
    return scan_string(s, f);
}

static bool once_num(struct fscan *s, struct fnum *f)
{
    if (f->seen)
        return false;
    f->seen = true;
    return scan_u64(s, f);
}

static bool name_is(const struct fstr *name, const char *want)
{
    size_t n = strlen(want);
    return name->raw_len == n && memcmp(name->raw, want, n) == 0;
}

typedef bool (*member_fn)(struct fscan *s, const struct fstr *name, struct fbody *b);

/* { "name": value, ... } with fn reading each value. */
static bool scan_object(struct fscan *s, member_fn fn, struct fbody *b)
{
    if (!eat(s, '{'))
        return false;
    if (eat(s, '}'))
        return true;
    do {
        struct fstr name = {0};
        if (!scan_string(s, &name) || name.escaped || !eat(s, ':') || !fn(s, &name, b))
            return false;
    } while (eat(s, ','));
    return eat(s, '}');
}

static bool payload_member(struct fscan *s, const struct fstr *name, struct fbody *b)
{
    if (name_is(name, "key"))
        return once_str(s, &b->key);
    if (name_is(name, "value"))
        return once_str(s, &b->value);
    if (name_is(name, "client_id"))
        return once_num(s, &b->pl_cid);
    if (name_is(name, "seq"))
        return once_num(s, &b->pl_seq);
    return false;
}

static bool top_member(struct fscan *s, const struct fstr *name, struct fbody *b)
{
    if (name_is(name, "type"))
        return once_str(s, &b->type);
    if (name_is(name, "client_id"))
        return once_num(s, &b->cid);
    if (name_is(name, "seq"))
        return once_num(s, &b->seq);
    if (name_is(name, "payload") && !b->payload) {
        b->payload = true;
        return scan_object(s, payload_member, b);
    }
    return false;
}

/* The op of a get, put or delete as api.c decides it (the method's default type
 * when the body names none, api_method_default); false for any other type and
 * for what api.c refuses. */
static bool decide_op(const char *m, size_t n, const struct fstr *type, enum api_op *op)
{
    const char *dflt;
    bool only_get;
    if (api_method_default(m, n, &dflt, &only_get) != 0 || (type->seen && type->escaped))
        return false;
    struct fstr named = {.raw = dflt, .raw_len = dflt ? strlen(dflt) : 0};
    if (!type->seen && dflt == NULL)
        return false;
    const struct fstr *t = type->seen ? type : &named;
    if (name_is(t, "get"))
        *op = API_OP_GET;
    else if (name_is(t, "put"))
        *op = API_OP_PUT;
    else if (name_is(t, "delete"))
        *op = API_OP_DELETE;
    else
        return false;
    return !only_get || *op == API_OP_GET;
}

/* client_id and seq as api.c's parse_options reads them. */
static bool decide_session(const struct fbody *b, struct api_request *r)
{
    if ((b->cid.seen && b->pl_cid.seen) || (b->seq.seen && b->pl_seq.seen))
        return false;
    const struct fnum *cid = b->cid.seen ? &b->cid : &b->pl_cid;
    const struct fnum *seq = b->seq.seen ? &b->seq : &b->pl_seq;
    if (cid->seen != seq->seen)
        return false;
    if (cid->seen) {
        if (seq->v == 0)
            return false;
        r->has_session = true;
        r->client_id = cid->v;
        r->seq = seq->v;
    }
    return true;
}

/* The decoded string in a malloc'd buffer with a NUL after it, as api_dup_bytes
 * makes it; NULL on ENOMEM or when the bytes are not UTF-8. */
static char *copy_string(const struct fstr *f)
{
    char *d;
    if (!f->escaped) {
        d = api_dup_bytes(f->raw, f->raw_len);
    } else {
        d = malloc(f->len + 1);
        if (d == NULL)
            return NULL;
        size_t o = 0;
        for (size_t i = 0; i < f->raw_len; i++) {
            char c = f->raw[i];
            d[o++] = c == '\\' ? (char)unescape(f->raw[++i]) : c;
        }
        d[o] = '\0';
    }
    if (d != NULL && !validate_utf8(d, f->len)) {
        free(d);
        return NULL;
    }
    return d;
}

bool api_parse_fast(const char *method, size_t method_len, const char *body, size_t body_len,
                    const struct api_limits *limits, struct api_request *out)
{
    memset(out, 0, sizeof *out);
    if (body == NULL || body_len == 0 || body_len > api_body_cap(limits) || body_len > INT_MAX)
        return false;
    struct fscan s = {body, body + body_len};
    struct fbody b;
    memset(&b, 0, sizeof b);
    if (!scan_object(&s, top_member, &b))
        return false;
    skip_ws(&s);
    struct api_request r;
    memset(&r, 0, sizeof r);
    if (s.p != s.end || !b.payload || !decide_op(method, method_len, &b.type, &r.op))
        return false;
    if (!b.key.seen || b.key.len == 0 || b.key.len > limits->max_key_bytes)
        return false;
    /* A get or delete ignores a "value", as api.c does. */
    bool put = r.op == API_OP_PUT;
    if (put && (!b.value.seen || b.value.len > limits->max_value_bytes))
        return false;
    if (!decide_session(&b, &r))
        return false;
    r.key = copy_string(&b.key);
    if (r.key == NULL)
        return false;
    r.key_len = b.key.len;
    if (put) {
        r.value = copy_string(&b.value);
        if (r.value == NULL) {
            free(r.key);
            return false;
        }
        r.value_len = b.value.len;
    }
    *out = r;
    return true;
}
