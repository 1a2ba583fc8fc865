/* api.c: parsing of /request bodies and building of replies (see api.h).
 *
 * This is the trust boundary for client input, so every field is checked for
 * presence, JSON type and size before anything is copied, and every failure
 * names the field. json-c does the JSON; the reply builders use it too (for
 * string escaping) with insertion order and the plain, slash-preserving
 * serializer so the v1 protocol's replies come out byte for byte.
 */
#include "api/api.h"
#include "api/validate.h"

#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *api_error_str(enum api_error e)
{
    switch (e) {
#define API_ERROR_STR(name, str, status) \
    case name:                           \
        return str;
        API_ERROR_TABLE(API_ERROR_STR)
#undef API_ERROR_STR
    }
    return "internal";
}

int api_error_http_status(enum api_error e)
{
    switch (e) {
#define API_ERROR_STATUS(name, str, status) \
    case name:                              \
        return status;
        API_ERROR_TABLE(API_ERROR_STATUS)
#undef API_ERROR_STATUS
    }
    return 500;
}

enum api_error api_error_from_kv(enum kv_status st)
{
    switch (st) {
    case KV_OK:
        return API_OK;
    case KV_NOT_FOUND:
        return API_ERR_NOT_FOUND;
    case KV_CAS_MISMATCH:
        return API_ERR_CAS_FAILED;
    case KV_STALE_SEQ:
        return API_ERR_STALE_SEQ;
    case KV_SESSION_EXPIRED:
        return API_ERR_SESSION_EXPIRED;
    case KV_BAD_COMMAND:
    case KV_ALREADY_APPLIED:
        break;
    }
    return API_ERR_INTERNAL;
}

/* ---- parsing ---- */

struct parse {
    const struct api_limits *limits;
    struct api_request *req;
    char *detail;
    size_t detail_len;
};

__attribute__((format(printf, 3, 4))) static enum api_error perr(struct parse *p, enum api_error e,
                                                                 const char *fmt, ...)
{
    if (p->detail != NULL && p->detail_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->detail, p->detail_len, fmt, ap);
        va_end(ap);
    }
    return e;
}

static char *dup_bytes(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Copies the string field name of obj into *dst. Absent: 1 (nothing set).
 * Present: 0, or an error for a non-string / oversize value. */
static int get_string(struct parse *p, json_object *obj, const char *name, size_t max, char **dst,
                      size_t *len, enum api_error *err)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, name, &v))
        return 1;
    if (!json_object_is_type(v, json_type_string)) {
        *err = perr(p, API_ERR_BAD_REQUEST, "payload.%s must be a string", name);
        return -1;
    }
    size_t n = (size_t)json_object_get_string_len(v);
    if (n > max) {
        *err = perr(p, API_ERR_TOO_LARGE, "payload.%s is %zu bytes (limit %zu)", name, n, max);
        return -1;
    }
    *dst = dup_bytes(json_object_get_string(v), n);
    if (*dst == NULL) {
        *err = perr(p, API_ERR_INTERNAL, "out of memory");
        return -1;
    }
    *len = n;
    return 0;
}

/* Field name from the top level, else from payload; NULL when in neither. */
static json_object *get_opt(json_object *top, json_object *payload, const char *name)
{
    json_object *v;
    if (json_object_object_get_ex(top, name, &v))
        return v;
    if (json_object_object_get_ex(payload, name, &v))
        return v;
    return NULL;
}

static int get_u64(json_object *v, uint64_t *out)
{
    if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
        return -1;
    *out = json_object_get_uint64(v);
    return 0;
}

static enum api_error parse_options(struct parse *p, json_object *top, json_object *payload)
{
    struct api_request *r = p->req;
    json_object *cid = get_opt(top, payload, "client_id");
    json_object *seq = get_opt(top, payload, "seq");
    if ((cid == NULL) != (seq == NULL))
        return perr(p, API_ERR_BAD_REQUEST, "client_id and seq go together");
    if (cid != NULL) {
        if (get_u64(cid, &r->client_id) != 0)
            return perr(p, API_ERR_BAD_REQUEST, "client_id must be an unsigned integer");
        if (get_u64(seq, &r->seq) != 0 || r->seq == 0)
            return perr(p, API_ERR_BAD_REQUEST, "seq must be an integer >= 1");
        r->has_session = true;
    }
    json_object *cons = get_opt(top, payload, "consistency");
    if (cons != NULL) {
        const char *s =
            json_object_is_type(cons, json_type_string) ? json_object_get_string(cons) : "";
        if (strcmp(s, "stale") == 0)
            r->stale = true;
        else if (strcmp(s, "linearizable") != 0)
            return perr(p, API_ERR_BAD_REQUEST,
                        "consistency must be \"stale\" or \"linearizable\"");
    }
    return API_OK;
}

/* Default type per method; NULL: type required. Sets *only_get for GET. */
static int method_default(const char *m, size_t n, const char **type, bool *only_get)
{
    *only_get = false;
    *type = NULL;
    if (n == 3 && memcmp(m, "GET", 3) == 0) {
        *type = "get";
        *only_get = true;
    } else if (n == 3 && memcmp(m, "PUT", 3) == 0) {
        *type = "put";
    } else if (n == 6 && memcmp(m, "DELETE", 6) == 0) {
        *type = "delete";
    } else if (!(n == 4 && memcmp(m, "POST", 4) == 0)) {
        return -1;
    }
    return 0;
}

static enum api_error parse_type(struct parse *p, json_object *top, const char *method,
                                 size_t method_len)
{
    const char *type;
    bool only_get;
    if (method_default(method, method_len, &type, &only_get) != 0)
        return perr(p, API_ERR_BAD_METHOD, "method %.*s not allowed", (int)(method_len & 0xff),
                    method);
    json_object *t;
    if (json_object_object_get_ex(top, "type", &t)) {
        if (!json_object_is_type(t, json_type_string))
            return perr(p, API_ERR_BAD_REQUEST, "type must be a string");
        type = json_object_get_string(t);
    } else if (type == NULL) {
        return perr(p, API_ERR_BAD_REQUEST, "type missing");
    }
    static const struct {
        const char *name;
        enum api_op op;
    } types[] = {
        {"get", API_OP_GET}, {"put", API_OP_PUT}, {"delete", API_OP_DELETE}, {"cas", API_OP_CAS}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(type, types[i].name) != 0)
            continue;
        if (only_get && types[i].op != API_OP_GET)
            return perr(p, API_ERR_BAD_REQUEST, "type %s needs PUT or POST, not GET", type);
        p->req->op = types[i].op;
        return API_OK;
    }
    return perr(p, API_ERR_BAD_REQUEST, "unknown type \"%.32s\"", type);
}

static enum api_error parse_fields(struct parse *p, json_object *payload)
{
    struct api_request *r = p->req;
    enum api_error err = API_OK;
    int rc = get_string(p, payload, "key", p->limits->max_key_bytes, &r->key, &r->key_len, &err);
    if (rc < 0)
        return err;
    if (rc > 0 || r->key_len == 0)
        return perr(p, API_ERR_BAD_REQUEST, "payload.key missing or empty");
    if (r->op == API_OP_PUT || r->op == API_OP_CAS) {
        rc = get_string(p, payload, "value", p->limits->max_value_bytes, &r->value, &r->value_len,
                        &err);
        if (rc < 0)
            return err;
        if (rc > 0)
            return perr(p, API_ERR_BAD_REQUEST, "payload.value missing");
    }
    if (r->op == API_OP_CAS) {
        json_object *e;
        if (!json_object_object_get_ex(payload, "expected", &e))
            return perr(p, API_ERR_BAD_REQUEST, "payload.expected missing (string, or null)");
        if (e == NULL) { /* JSON null: the key must be absent */
            r->expect_absent = true;
        } else if (get_string(p, payload, "expected", p->limits->max_value_bytes, &r->expected,
                              &r->expected_len, &err) != 0) {
            return err;
        }
    }
    if (r->stale && r->op != API_OP_GET)
        return perr(p, API_ERR_BAD_REQUEST, "consistency applies to get only");
    return API_OK;
}

static enum api_error parse_json(struct parse *p, const char *body, size_t body_len,
                                 json_object **out)
{
    /* JSON escapes can make each byte of key or value 6 bytes long. */
    size_t cap = 6 * (p->limits->max_key_bytes + 2 * p->limits->max_value_bytes) + 65536;
    if (body_len > cap || body_len > INT_MAX)
        return perr(p, API_ERR_TOO_LARGE, "body of %zu bytes", body_len);
    if (body_len == 0)
        return perr(p, API_ERR_BAD_REQUEST, "empty body");
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return perr(p, API_ERR_INTERNAL, "out of memory");
    json_object *obj = json_tokener_parse_ex(tok, body, (int)body_len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (obj == NULL || jerr != json_tokener_success) {
        json_object_put(obj);
        if (jerr == json_tokener_continue)
            return perr(p, API_ERR_BAD_REQUEST, "body is not JSON: incomplete");
        return perr(p, API_ERR_BAD_REQUEST, "body is not JSON: %s", json_tokener_error_desc(jerr));
    }
    for (; used < body_len; used++) {
        char c = body[used];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            json_object_put(obj);
            return perr(p, API_ERR_BAD_REQUEST, "trailing bytes after the JSON body");
        }
    }
    *out = obj;
    return API_OK;
}

enum api_error api_parse_request(const char *method, size_t method_len, const char *body,
                                 size_t body_len, const struct api_limits *limits,
                                 struct api_request *out, char *detail, size_t detail_len)
{
    struct parse p = {limits, out, detail, detail_len};
    memset(out, 0, sizeof *out);
    if (detail != NULL && detail_len > 0)
        detail[0] = '\0';
    json_object *top = NULL, *payload;
    if (body != NULL && !validate_integers_fit(body, body_len))
        return perr(&p, API_ERR_BAD_REQUEST, "integer out of range (64-bit unsigned)");
    enum api_error err = parse_json(&p, body, body_len, &top);
    if (err != API_OK)
        return err;
    if (!json_object_is_type(top, json_type_object))
        err = perr(&p, API_ERR_BAD_REQUEST, "body must be a JSON object");
    else if (!json_object_object_get_ex(top, "payload", &payload) ||
             !json_object_is_type(payload, json_type_object))
        err = perr(&p, API_ERR_BAD_REQUEST, "payload missing or not an object");
    if (err == API_OK)
        err = parse_type(&p, top, method, method_len);
    if (err == API_OK)
        err = parse_options(&p, top, payload);
    if (err == API_OK)
        err = parse_fields(&p, payload);
    if (err == API_OK && (!validate_utf8(out->key, out->key_len) ||
                          (out->value && !validate_utf8(out->value, out->value_len)) ||
                          (out->expected && !validate_utf8(out->expected, out->expected_len))))
        err = perr(&p, API_ERR_BAD_REQUEST, "key and values must be valid UTF-8");
    json_object_put(top);
    if (err != API_OK)
        api_request_free(out);
    return err;
}

void api_request_free(struct api_request *r)
{
    free(r->key);
    free(r->value);
    free(r->expected);
    memset(r, 0, sizeof *r);
}

int api_request_to_cmd(const struct api_request *r, struct kv_cmd *cmd)
{
    static const uint8_t ops[] = {
        [API_OP_PUT] = KV_OP_PUT, [API_OP_DELETE] = KV_OP_DELETE, [API_OP_CAS] = KV_OP_CAS};
    memset(cmd, 0, sizeof *cmd);
    if (r->op == API_OP_GET)
        return -1;
    cmd->op = ops[r->op];
    cmd->has_session = r->has_session;
    cmd->client_id = r->client_id;
    cmd->seq = r->seq;
    cmd->key = (const uint8_t *)r->key;
    cmd->key_len = r->key_len;
    cmd->value = (const uint8_t *)r->value;
    cmd->value_len = r->value_len;
    cmd->expect_absent = r->expect_absent;
    cmd->expected = (const uint8_t *)r->expected;
    cmd->expected_len = r->expected_len;
    return 0;
}

/* ---- replies ---- */

/* Builds objects without checking each step; one NULL anywhere makes the whole
 * reply fail (json-c add functions accept a NULL value, so we track it). */
struct jb {
    int failed;
};

static json_object *jb_str(struct jb *b, const char *s, size_t n)
{
    json_object *o = n <= INT_MAX ? json_object_new_string_len(s, (int)n) : NULL;
    if (o == NULL)
        b->failed = 1;
    return o;
}

static void jb_add(struct jb *b, json_object *obj, const char *k, json_object *v)
{
    if (obj == NULL || v == NULL || json_object_object_add(obj, k, v) != 0) {
        json_object_put(v);
        b->failed = 1;
    }
}

static json_object *jb_obj(struct jb *b)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        b->failed = 1;
    return o;
}

static json_object *reply_head(struct jb *b, enum api_error e)
{
    json_object *o = jb_obj(b);
    jb_add(b, o, "code", jb_str(b, e == API_OK ? "success" : "fail", e == API_OK ? 7 : 4));
    if (e != API_OK)
        jb_add(b, o, "error", jb_str(b, api_error_str(e), strlen(api_error_str(e))));
    return o;
}

static int finish(struct jb *b, json_object *o, enum api_error e, struct api_reply *out)
{
    memset(out, 0, sizeof *out);
    if (!b->failed) {
        size_t n;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        out->body = s ? dup_bytes(s, n) : NULL;
        out->body_len = n;
    }
    json_object_put(o);
    if (out->body == NULL) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->http_status = api_error_http_status(e);
    out->error = e;
    return 0;
}

int api_reply_success(struct api_reply *out)
{
    struct jb b = {0};
    return finish(&b, reply_head(&b, API_OK), API_OK, out);
}

int api_reply_success_index(uint64_t index, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *v = index <= INT64_MAX ? json_object_new_int64((int64_t)index) : NULL;
    if (v == NULL)
        b.failed = 1;
    jb_add(&b, o, "index", v);
    return finish(&b, o, API_OK, out);
}

static json_object *key_value(struct jb *b, const char *key, size_t key_len, const char *value,
                              size_t value_len, bool has_value)
{
    json_object *pl = jb_obj(b);
    jb_add(b, pl, "key", jb_str(b, key, key_len));
    if (has_value)
        jb_add(b, pl, "value", jb_str(b, value, value_len));
    return pl;
}

int api_reply_value(const char *key, size_t key_len, const char *value, size_t value_len,
                    struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    jb_add(&b, o, "payload", key_value(&b, key, key_len, value, value_len, true));
    return finish(&b, o, API_OK, out);
}

int api_reply_fail(enum api_error e, const char *message, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, e);
    if (message != NULL && message[0] != '\0')
        jb_add(&b, o, "message", jb_str(&b, message, strlen(message)));
    return finish(&b, o, e, out);
}

int api_reply_redirect(const struct api_request *req, const char *leader_url, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_ERR_NOT_LEADER);
    json_object *pl = key_value(&b, req->key ? req->key : "", req->key_len, req->value,
                                req->value_len, req->value != NULL);
    jb_add(&b, pl, "message", jb_str(&b, leader_url, strlen(leader_url)));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_ERR_NOT_LEADER, out);
}

int api_reply_redirect_url(const char *leader_url, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_ERR_NOT_LEADER);
    json_object *pl = jb_obj(&b);
    jb_add(&b, pl, "message", jb_str(&b, leader_url, strlen(leader_url)));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_ERR_NOT_LEADER, out);
}

int api_reply_cas_failed(const char *key, size_t key_len, const char *current, size_t current_len,
                         bool has_current, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_ERR_CAS_FAILED);
    jb_add(&b, o, "payload", key_value(&b, key, key_len, current, current_len, has_current));
    return finish(&b, o, API_ERR_CAS_FAILED, out);
}

void api_reply_internal(struct api_reply *out)
{
    static char body[] = "{\"code\":\"fail\",\"error\":\"internal\"}";
    out->http_status = api_error_http_status(API_ERR_INTERNAL);
    out->error = API_ERR_INTERNAL;
    out->body = body;
    out->body_len = sizeof body - 1;
    out->body_static = true;
}

void api_reply_free(struct api_reply *r)
{
    if (!r->body_static)
        free(r->body);
    memset(r, 0, sizeof *r);
}
