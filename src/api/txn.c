/* txn.c: the txn request type: its payload and its reply (see api.h, kv_txn.h).
 *
 *   {"type":"txn","payload":{
 *     "compare":[{"key":K,"target":"value"|"version"|"create_revision"|
 *                 "mod_revision"|"exists","op":"="|"!="|"<"|">","value":X}],
 *     "success":[{"op":"put","key":K,"value":V[,"lease":N]},{"op":"delete","key":K},
 *                {"op":"get","key":K}],
 *     "failure":[...]}}
 * X is a string for target value, a non-negative integer for the numeric
 * targets, true or false for exists (whose op is = or !=). op defaults to "=".
 * Each list is optional and holds at most KV_TXN_MAX entries; keys follow the
 * limits of single-key requests, and the keys and values of one transaction
 * together may not exceed what one put may carry (max key + max value bytes),
 * and the encoded transaction may not exceed max key + 2 x max value bytes (the
 * largest log entry a CAS makes), so a transaction is never a bigger log entry
 * than the entries the node's peer batches are sized for.
 *
 * The payload is encoded straight into the command body (kv_txn_encode) while
 * the parsed JSON is still alive; the request keeps only that body.
 */
#include "api/api.h"
#include "api/api_int.h"
#include "api/validate.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv_lease.h"
#include "kv/kv_txn.h"

struct txn_parse {
    struct parse *p;
    struct kv_txn *t;
    size_t bytes; /* keys and values so far */
};

/* A string member of item that must be there (or may not, when optional). */
static int item_string(struct txn_parse *tp, json_object *item, const char *where, const char *name,
                       bool optional, const uint8_t **s, size_t *len, enum api_error *err)
{
    json_object *v;
    *s = NULL;
    *len = 0;
    if (!json_object_object_get_ex(item, name, &v)) {
        if (optional)
            return 0;
        *err = perr(tp->p, API_ERR_BAD_REQUEST, "%s.%s missing", where, name);
        return -1;
    }
    if (!json_object_is_type(v, json_type_string)) {
        *err = perr(tp->p, API_ERR_BAD_REQUEST, "%s.%s must be a string", where, name);
        return -1;
    }
    *s = (const uint8_t *)json_object_get_string(v);
    *len = (size_t)json_object_get_string_len(v);
    if (!validate_utf8((const char *)*s, *len)) {
        *err = perr(tp->p, API_ERR_BAD_REQUEST, "%s.%s must be valid UTF-8", where, name);
        return -1;
    }
    tp->bytes += *len;
    const struct api_limits *l = tp->p->limits;
    if (tp->bytes > l->max_key_bytes + l->max_value_bytes) {
        *err = perr(tp->p, API_ERR_TOO_LARGE, "transaction over %zu bytes of keys and values",
                    l->max_key_bytes + l->max_value_bytes);
        return -1;
    }
    return 0;
}

static int item_key(struct txn_parse *tp, json_object *item, const char *where, const uint8_t **k,
                    size_t *len, enum api_error *err)
{
    if (item_string(tp, item, where, "key", false, k, len, err) != 0)
        return -1;
    if (*len == 0 || *len > tp->p->limits->max_key_bytes) {
        *err = perr(tp->p, *len ? API_ERR_TOO_LARGE : API_ERR_BAD_REQUEST,
                    "%s.key empty or over %zu bytes", where, tp->p->limits->max_key_bytes);
        return -1;
    }
    return 0;
}

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return i + 1;
    return 0;
}

static const char *member_str(json_object *item, const char *name, const char *dflt)
{
    json_object *v;
    if (!json_object_object_get_ex(item, name, &v))
        return dflt;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static enum api_error parse_operand(struct txn_parse *tp, json_object *item, struct kv_txn_cmp *c)
{
    enum api_error err = API_OK;
    json_object *v;
    if (c->target == KV_TXN_VALUE) {
        if (item_string(tp, item, "compare", "value", false, &c->value, &c->value_len, &err) != 0)
            return err;
        if (c->value_len > tp->p->limits->max_value_bytes)
            return perr(tp->p, API_ERR_TOO_LARGE, "compare.value over the value limit");
        return API_OK;
    }
    if (!json_object_object_get_ex(item, "value", &v))
        return perr(tp->p, API_ERR_BAD_REQUEST, "compare.value missing");
    if (c->target == KV_TXN_EXISTS) {
        if (!json_object_is_type(v, json_type_boolean))
            return perr(tp->p, API_ERR_BAD_REQUEST, "compare.value of exists must be a boolean");
        c->number = json_object_get_boolean(v) ? 1 : 0;
        if (c->op != KV_TXN_EQ && c->op != KV_TXN_NE)
            return perr(tp->p, API_ERR_BAD_REQUEST, "compare on exists takes = or !=");
        return API_OK;
    }
    if (get_u64(v, &c->number) != 0)
        return perr(tp->p, API_ERR_BAD_REQUEST, "compare.value must be an unsigned integer");
    return API_OK;
}

static enum api_error parse_compare(struct txn_parse *tp, json_object *item, struct kv_txn_cmp *c)
{
    static const char *const targets[] = {"value", "version", "create_revision", "mod_revision",
                                          "exists"};
    static const char *const ops[] = {"=", "!=", "<", ">"};
    enum api_error err = API_OK;
    memset(c, 0, sizeof *c);
    if (item_key(tp, item, "compare", &c->key, &c->key_len, &err) != 0)
        return err;
    c->target = (uint8_t)lookup(targets, 5, member_str(item, "target", ""));
    if (c->target == 0)
        return perr(tp->p, API_ERR_BAD_REQUEST,
                    "compare.target must be value, version, create_revision, mod_revision or "
                    "exists");
    c->op = (uint8_t)lookup(ops, 4, member_str(item, "op", "="));
    if (c->op == 0)
        return perr(tp->p, API_ERR_BAD_REQUEST, "compare.op must be =, !=, < or >");
    return parse_operand(tp, item, c);
}

static enum api_error parse_op(struct txn_parse *tp, json_object *item, struct kv_txn_op *o)
{
    static const char *const kinds[] = {"put", "delete", "get"};
    enum api_error err = API_OK;
    memset(o, 0, sizeof *o);
    o->kind = (uint8_t)lookup(kinds, 3, member_str(item, "op", ""));
    if (o->kind == 0)
        return perr(tp->p, API_ERR_BAD_REQUEST, "operation op must be put, delete or get");
    if (item_key(tp, item, "operation", &o->key, &o->key_len, &err) != 0)
        return err;
    bool is_put = o->kind == KV_TXN_PUT;
    if (item_string(tp, item, "operation", "value", !is_put, &o->value, &o->value_len, &err) != 0)
        return err;
    if (!is_put && o->value != NULL)
        return perr(tp->p, API_ERR_BAD_REQUEST, "only a put takes a value");
    if (o->value_len > tp->p->limits->max_value_bytes)
        return perr(tp->p, API_ERR_TOO_LARGE, "operation value over the value limit");
    json_object *lease;
    if (json_object_object_get_ex(item, "lease", &lease) &&
        (!is_put || get_u64(lease, &o->lease) != 0 || o->lease > KV_LEASE_MAX_ID))
        return perr(tp->p, API_ERR_BAD_REQUEST,
                    "operation lease: a lease id (0 to 2^63-1), and on a put only");
    return API_OK;
}

/* The list payload.name: each item an object, at most KV_TXN_MAX. */
static enum api_error parse_list(struct txn_parse *tp, json_object *payload, const char *name,
                                 int branch)
{
    json_object *arr;
    if (!json_object_object_get_ex(payload, name, &arr))
        return API_OK;
    if (!json_object_is_type(arr, json_type_array))
        return perr(tp->p, API_ERR_BAD_REQUEST, "payload.%s must be an array", name);
    size_t n = json_object_array_length(arr);
    if (n > KV_TXN_MAX)
        return perr(tp->p, API_ERR_BAD_REQUEST, "payload.%s has %zu entries (limit %d)", name, n,
                    KV_TXN_MAX);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(item, json_type_object))
            return perr(tp->p, API_ERR_BAD_REQUEST, "payload.%s[%zu] must be an object", name, i);
        enum api_error err = branch < 0 ? parse_compare(tp, item, &tp->t->cmp[i])
                                        : parse_op(tp, item, &tp->t->ops[branch][i]);
        if (err != API_OK)
            return err;
    }
    if (branch < 0)
        tp->t->n_cmp = n;
    else
        tp->t->n_ops[branch] = n;
    return API_OK;
}

enum api_error api_parse_txn(struct parse *p, json_object *payload)
{
    struct txn_parse tp = {p, calloc(1, sizeof *tp.t), 0};
    if (tp.t == NULL)
        return perr(p, API_ERR_INTERNAL, "out of memory");
    enum api_error err = parse_list(&tp, payload, "compare", -1);
    if (err == API_OK)
        err = parse_list(&tp, payload, "success", 0);
    if (err == API_OK)
        err = parse_list(&tp, payload, "failure", 1);
    size_t n = err == API_OK ? kv_txn_size(tp.t) : 0;
    if (err == API_OK && n > p->limits->max_key_bytes + 2 * p->limits->max_value_bytes)
        err = perr(p, API_ERR_TOO_LARGE, "transaction encodes to %zu bytes (limit %zu)", n,
                   p->limits->max_key_bytes + 2 * p->limits->max_value_bytes);
    if (err == API_OK) {
        p->req->txn = malloc(n);
        if (p->req->txn == NULL || kv_txn_encode(tp.t, p->req->txn, n) != n)
            err = perr(p, API_ERR_INTERNAL, "transaction encoding failed");
        else
            p->req->txn_len = n;
    }
    free(tp.t);
    return err;
}

static json_object *result_item(struct jb *b, const struct kv_txn_result *r)
{
    static const char *const kinds[] = {"", "put", "delete", "get"};
    json_object *o = jb_obj(b);
    jb_add(b, o, "op", jb_str(b, kinds[r->kind], strlen(kinds[r->kind])));
    jb_add(b, o, "key", jb_str(b, (const char *)r->key, r->key_len));
    if (r->kind == KV_TXN_DELETE)
        jb_add(b, o, "deleted", jb_bool(b, r->found));
    if (r->kind != KV_TXN_GET)
        return o;
    jb_add(b, o, "found", jb_bool(b, r->found));
    if (r->found) {
        jb_add(b, o, "value", jb_str(b, (const char *)r->value, r->value_len));
        jb_add(b, o, "create_revision", jb_u64(b, r->create_revision));
        jb_add(b, o, "mod_revision", jb_u64(b, r->mod_revision));
        jb_add(b, o, "version", jb_u64(b, r->version));
    }
    return o;
}

int api_reply_txn(const struct kv_result *res, struct api_reply *out)
{
    struct kv_txn_answer a;
    if (!res->has_current || kv_txn_answer_open(&a, res->current, res->current_len) != 0)
        return api_reply_fail(API_ERR_INTERNAL, "transaction answer unreadable", out);
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = jb_obj(&b);
    jb_add(&b, pl, "succeeded", jb_bool(&b, a.succeeded));
    jb_add(&b, pl, "revision", jb_u64(&b, res->revision));
    json_object *results = jb_arr(&b);
    struct kv_txn_result r;
    for (uint64_t i = 0; i < a.n_results && !b.failed; i++) {
        if (kv_txn_answer_next(&a, &r) != 0)
            b.failed = 1;
        else
            jb_push(&b, results, result_item(&b, &r));
    }
    jb_add(&b, pl, "results", results);
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}
