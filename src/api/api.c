/* api.c: parsing of /request bodies (see api.h); the range and txn payloads are
 * range.c and txn.c, the replies reply.c.
 *
 * This is the trust boundary for client input, so every field is checked for
 * presence, JSON type and size before anything is copied, and every failure
 * names the field. json-c does the JSON. The common get, put and delete bodies
 * take a direct path first (parse_fast.c), which hands everything else here.
 */
#include "api/api.h"
#include "api/api_int.h"
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
    case KV_LEASE_NOT_FOUND:
        return API_ERR_LEASE_NOT_FOUND;
    case KV_LEASE_EXISTS:
        return API_ERR_LEASE_EXISTS;
    case KV_BAD_COMMAND:
    case KV_ALREADY_APPLIED:
        break;
    }
    return API_ERR_INTERNAL;
}

/* ---- parsing ---- */

enum api_error perr(struct parse *p, enum api_error e, const char *fmt, ...)
{
    if (p->detail != NULL && p->detail_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->detail, p->detail_len, fmt, ap);
        va_end(ap);
    }
    return e;
}

char *api_dup_bytes(const char *s, size_t n)
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
int get_string(struct parse *p, json_object *obj, const char *name, size_t max, char **dst,
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
    *dst = api_dup_bytes(json_object_get_string(v), n);
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

int get_u64(json_object *v, uint64_t *out)
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
    json_object *revs = get_opt(top, payload, "revisions");
    if (revs != NULL) {
        if (!json_object_is_type(revs, json_type_boolean))
            return perr(p, API_ERR_BAD_REQUEST, "revisions must be true or false");
        r->revisions = json_object_get_boolean(revs);
    }
    return API_OK;
}

int api_method_default(const char *m, size_t n, const char **type, bool *only_get)
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
    if (api_method_default(method, method_len, &type, &only_get) != 0)
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
    } types[] = {{"get", API_OP_GET},
                 {"put", API_OP_PUT},
                 {"delete", API_OP_DELETE},
                 {"cas", API_OP_CAS},
                 {"range", API_OP_RANGE},
                 {"txn", API_OP_TXN},
                 {"lease_grant", API_OP_LEASE_GRANT},
                 {"lease_revoke", API_OP_LEASE_REVOKE},
                 {"lease_keepalive", API_OP_LEASE_KEEPALIVE},
                 {"lease_list", API_OP_LEASE_LIST},
                 {"lease_info", API_OP_LEASE_INFO}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (strcmp(type, types[i].name) != 0)
            continue;
        if (only_get && !api_op_is_read(types[i].op))
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
    if (r->stale && r->op != API_OP_GET && r->op != API_OP_RANGE)
        return perr(p, API_ERR_BAD_REQUEST, "consistency applies to get and range only");
    if (r->op == API_OP_RANGE)
        return api_parse_range(p, payload);
    if (r->op == API_OP_TXN)
        return api_parse_txn(p, payload);
    if (r->op >= API_OP_LEASE_GRANT)
        return api_parse_lease(p, payload);
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
    if (r->op == API_OP_PUT || r->op == API_OP_CAS)
        return api_parse_lease_of_put(p, payload);
    return API_OK;
}

size_t api_body_cap(const struct api_limits *limits)
{
    /* JSON escapes can make each byte of key or value 6 bytes long. */
    return 6 * (limits->max_key_bytes + 2 * limits->max_value_bytes) + 65536;
}

static enum api_error parse_json(struct parse *p, const char *body, size_t body_len,
                                 json_object **out)
{
    if (body_len > api_body_cap(p->limits) || body_len > INT_MAX)
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
    if (api_parse_fast(method, method_len, body, body_len, limits, out)) {
        if (detail != NULL && detail_len > 0)
            detail[0] = '\0';
        return API_OK;
    }
    return api_parse_request_json(method, method_len, body, body_len, limits, out, detail,
                                  detail_len);
}

enum api_error api_parse_request_json(const char *method, size_t method_len, const char *body,
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
    if (err == API_OK && ((out->key && !validate_utf8(out->key, out->key_len)) ||
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
    free(r->start);
    free(r->end);
    free(r->after);
    free(r->txn);
    memset(r, 0, sizeof *r);
}

int api_request_to_cmd(const struct api_request *r, struct kv_cmd *cmd)
{
    static const uint8_t ops[] = {
        [API_OP_PUT] = KV_OP_PUT, [API_OP_DELETE] = KV_OP_DELETE, [API_OP_CAS] = KV_OP_CAS};
    memset(cmd, 0, sizeof *cmd);
    if (api_op_is_read(r->op))
        return -1;
    cmd->has_session = r->has_session;
    cmd->client_id = r->client_id;
    cmd->seq = r->seq;
    if (r->op == API_OP_TXN) {
        cmd->op = KV_OP_TXN;
        cmd->txn = r->txn;
        cmd->txn_len = r->txn_len;
        return 0;
    }
    if (r->op >= API_OP_LEASE_GRANT)
        return api_lease_to_cmd(r, cmd);
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
    cmd->lease = r->lease;
    return 0;
}
