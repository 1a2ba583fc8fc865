/* reply_v1.c: the v1 protocol's replies, written straight into their buffer
 * (see api.h): success, a key's value, a failure with its reason, and a
 * follower's redirect.
 *
 * These are the replies of nearly every request, and building them as json-c
 * objects cost more than the rest of a GET's own work: an object with its hash
 * table per level, a string object per field, a print buffer, then a copy. Here
 * each reply is measured first, allocated once, and written in place; a plain
 * success needs no allocation at all.
 *
 * The bytes are exactly the ones json-c writes for the same object with
 * JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE (the other replies,
 * reply.c, still come from json-c, and clients compare bodies byte for byte):
 * members in insertion order, no spaces, and in strings the escapes \" \\ \b \f
 * \n \r \t, \u00xx (lower-case hex) for the other bytes below 0x20, every other
 * byte as it is, '/' included. tests/unit/test_api_reply.c checks this against
 * json-c itself, for every byte value and random strings.
 */
#include "api/api.h"
#include "api/api_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes each byte takes beyond its own one when escaped: \uXXXX for control
 * bytes, a two-byte escape for the five with a letter and for '"' and '\\'. */
static const unsigned char escape_extra[256] = {
    5,         5,         5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* \b \t \n, \f \r */
    5,         5,         5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* the rest below 0x20 */
    ['"'] = 1, ['\\'] = 1};

/* Length of s as a JSON string, quotes included; SIZE_MAX when too long to hold. */
static size_t quoted_len(const char *s, size_t n)
{
    if (n > SIZE_MAX / 8)
        return SIZE_MAX;
    size_t len = n + 2;
    for (size_t i = 0; i < n; i++)
        len += escape_extra[(unsigned char)s[i]];
    return len;
}

static char *put_raw(char *d, const char *s, size_t n)
{
    memcpy(d, s, n);
    return d + n;
}

static char *put_quoted(char *d, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *d++ = '"';
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (escape_extra[c] == 0)
            continue;
        d = put_raw(d, s + from, i - from);
        from = i + 1;
        *d++ = '\\';
        switch (c) {
        case '\b':
            *d++ = 'b';
            break;
        case '\f':
            *d++ = 'f';
            break;
        case '\n':
            *d++ = 'n';
            break;
        case '\r':
            *d++ = 'r';
            break;
        case '\t':
            *d++ = 't';
            break;
        case '"':
        case '\\':
            *d++ = (char)c;
            break;
        default:
            d = put_raw(d, "u00", 3);
            *d++ = hex[c >> 4];
            *d++ = hex[c & 0xf];
        }
    }
    d = put_raw(d, s + from, n - from);
    *d++ = '"';
    return d;
}

/* A reply being written: the lengths are summed first (size), then the buffer is
 * allocated once and filled (at). */
struct v1 {
    size_t size;
    char *buf, *at;
};

static void add_raw(struct v1 *w, const char *s)
{
    size_t n = strlen(s);
    if (w->buf == NULL)
        w->size = w->size > SIZE_MAX - n ? SIZE_MAX : w->size + n;
    else
        w->at = put_raw(w->at, s, n);
}

static void add_str(struct v1 *w, const char *s, size_t n)
{
    if (w->buf == NULL) {
        size_t q = quoted_len(s, n);
        w->size = q == SIZE_MAX || w->size > SIZE_MAX - q ? SIZE_MAX : w->size + q;
    } else {
        w->at = put_quoted(w->at, s, n);
    }
}

/* {"code":"success" or {"code":"fail","error":"<e>" */
static void add_head(struct v1 *w, enum api_error e)
{
    if (e == API_OK) {
        add_raw(w, "{\"code\":\"success\"");
        return;
    }
    add_raw(w, "{\"code\":\"fail\",\"error\":");
    const char *name = api_error_str(e);
    add_str(w, name, strlen(name));
}

/* Allocates the measured reply; -1 when it cannot. */
static int begin_writing(struct v1 *w)
{
    if (w->size == SIZE_MAX || (w->buf = malloc(w->size + 1)) == NULL)
        return -1;
    w->at = w->buf;
    return 0;
}

/* Allocation failed: nothing to free, as api.h promises. */
static int nothing(struct api_reply *out)
{
    memset(out, 0, sizeof *out);
    return -1;
}

static int done(struct v1 *w, enum api_error e, struct api_reply *out)
{
    memset(out, 0, sizeof *out);
    *w->at = '\0';
    out->body = w->buf;
    out->body_len = (size_t)(w->at - w->buf);
    out->http_status = api_error_http_status(e);
    out->error = e;
    return 0;
}

int api_reply_success(struct api_reply *out)
{
    static char body[] = "{\"code\":\"success\"}";
    memset(out, 0, sizeof *out);
    out->http_status = api_error_http_status(API_OK);
    out->error = API_OK;
    out->body = body;
    out->body_len = sizeof body - 1;
    out->body_static = true;
    return 0;
}

static void write_value(struct v1 *w, const char *key, size_t key_len, const char *value,
                        size_t value_len)
{
    add_head(w, API_OK);
    add_raw(w, ",\"payload\":{\"key\":");
    add_str(w, key, key_len);
    add_raw(w, ",\"value\":");
    add_str(w, value, value_len);
    add_raw(w, "}}");
}

int api_reply_value(const char *key, size_t key_len, const char *value, size_t value_len,
                    struct api_reply *out)
{
    struct v1 w = {0};
    write_value(&w, key, key_len, value, value_len);
    if (begin_writing(&w) != 0)
        return nothing(out);
    write_value(&w, key, key_len, value, value_len);
    return done(&w, API_OK, out);
}

static void write_fail(struct v1 *w, enum api_error e, const char *message)
{
    add_head(w, e);
    if (message != NULL && message[0] != '\0') {
        add_raw(w, ",\"message\":");
        add_str(w, message, strlen(message));
    }
    add_raw(w, "}");
}

int api_reply_fail(enum api_error e, const char *message, struct api_reply *out)
{
    struct v1 w = {0};
    write_fail(&w, e, message);
    if (begin_writing(&w) != 0)
        return nothing(out);
    write_fail(&w, e, message);
    return done(&w, e, out);
}

static void write_redirect(struct v1 *w, const struct api_request *req, const char *leader_url)
{
    add_head(w, API_ERR_NOT_LEADER);
    add_raw(w, ",\"payload\":{\"key\":");
    add_str(w, req->key ? req->key : "", req->key_len);
    if (req->value != NULL) {
        add_raw(w, ",\"value\":");
        add_str(w, req->value, req->value_len);
    }
    add_raw(w, ",\"message\":");
    add_str(w, leader_url, strlen(leader_url));
    add_raw(w, "}}");
}

int api_reply_redirect(const struct api_request *req, const char *leader_url, struct api_reply *out)
{
    struct v1 w = {0};
    write_redirect(&w, req, leader_url);
    if (begin_writing(&w) != 0)
        return nothing(out);
    write_redirect(&w, req, leader_url);
    return done(&w, API_ERR_NOT_LEADER, out);
}
