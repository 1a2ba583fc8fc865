/* lease.c: the lease request types of /request and their replies (see api.h).
 *
 *   lease_grant     {"ttl":S[,"id":N]}  -> {"id":N,"ttl":S}   (through the log)
 *   lease_revoke    {"id":N}            -> {"revision":R}     (through the log)
 *   lease_keepalive {"id":N}            -> {"id":N,"ttl":S}   (through the log)
 *   lease_list      {}                  -> {"ids":[N,...],"revision":R}     (a read)
 *   lease_info      {"id":N[,"keys":B]} -> {"id":N,"ttl":S,"remaining":S2
 *                                           [,"keys":[K,...]]}          (a read)
 *
 * S is a whole number of seconds, 1 to KV_LEASE_MAX_TTL; N an id, 1 to 2^63-1
 * (a put's "lease":0 means none, as in etcd). Anything else is bad_request
 * with the field named. The remaining TTL is not part of the replicated state:
 * only the leader's clock knows it (src/replica/replica_lease.c), so lease_info
 * asks the node for it.
 */
#include "api/api.h"
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv_lease.h"

bool api_op_is_read(enum api_op op)
{
    return op == API_OP_GET || op == API_OP_RANGE || op == API_OP_LEASE_LIST ||
           op == API_OP_LEASE_INFO;
}

/* An integer field in [min, max]: 1 absent, 0 set, or the error. */
static int get_bounded(struct parse *p, json_object *payload, const char *name, uint64_t min,
                       uint64_t max, const char *what, uint64_t *out, enum api_error *err)
{
    json_object *v;
    if (!json_object_object_get_ex(payload, name, &v))
        return 1;
    uint64_t x;
    if (get_u64(v, &x) != 0 || x < min || x > max) {
        *err = perr(p, API_ERR_BAD_REQUEST, "payload.%s must be %s, %llu to %llu", name, what,
                    (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = x;
    return 0;
}

enum api_error api_parse_lease_of_put(struct parse *p, json_object *payload)
{
    enum api_error err = API_OK;
    if (get_bounded(p, payload, "lease", 0, KV_LEASE_MAX_ID, "a lease id", &p->req->lease, &err) <
        0)
        return err;
    return API_OK;
}

static enum api_error parse_keys(struct parse *p, json_object *payload)
{
    json_object *v;
    if (!json_object_object_get_ex(payload, "keys", &v))
        return API_OK;
    if (!json_object_is_type(v, json_type_boolean))
        return perr(p, API_ERR_BAD_REQUEST, "payload.keys must be true or false");
    p->req->lease_keys = json_object_get_boolean(v);
    return API_OK;
}

enum api_error api_parse_lease(struct parse *p, json_object *payload)
{
    struct api_request *r = p->req;
    enum api_error err = API_OK;
    if (r->op == API_OP_LEASE_LIST)
        return API_OK;
    int rc = get_bounded(p, payload, "id", 1, KV_LEASE_MAX_ID, "a lease id", &r->lease, &err);
    if (rc < 0)
        return err;
    if (r->op == API_OP_LEASE_GRANT) {
        rc = get_bounded(p, payload, "ttl", 1, KV_LEASE_MAX_TTL, "an integer number of seconds",
                         &r->ttl, &err);
        if (rc < 0)
            return err;
        if (rc > 0)
            return perr(p, API_ERR_BAD_REQUEST, "payload.ttl missing (seconds)");
        return API_OK;
    }
    if (rc > 0)
        return perr(p, API_ERR_BAD_REQUEST, "payload.id missing (a lease id)");
    return r->op == API_OP_LEASE_INFO ? parse_keys(p, payload) : API_OK;
}

int api_lease_to_cmd(const struct api_request *r, struct kv_cmd *cmd)
{
    static const uint8_t ops[] = {[API_OP_LEASE_GRANT] = KV_OP_LEASE_GRANT,
                                  [API_OP_LEASE_REVOKE] = KV_OP_LEASE_REVOKE,
                                  [API_OP_LEASE_KEEPALIVE] = KV_OP_LEASE_KEEPALIVE};
    if (r->op > API_OP_LEASE_KEEPALIVE)
        return -1;
    cmd->op = ops[r->op];
    cmd->lease = r->lease;
    cmd->ttl = r->op == API_OP_LEASE_GRANT ? r->ttl : 0;
    return 0;
}

int api_reply_lease(const struct kv_result *res, struct api_reply *out)
{
    uint64_t id, ttl;
    if (!res->has_current || kv_lease_answer_decode(res->current, res->current_len, &id, &ttl) != 0)
        return api_reply_fail(API_ERR_INTERNAL, "lease answer unreadable", out);
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = jb_obj(&b);
    jb_add(&b, pl, "id", jb_u64(&b, id));
    jb_add(&b, pl, "ttl", jb_u64(&b, ttl));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}

int api_reply_lease_list(const struct kv *kv, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = jb_obj(&b);
    json_object *ids = jb_arr(&b);
    for (size_t i = 0; i < kv_lease_count(kv) && !b.failed; i++)
        jb_push(&b, ids, jb_u64(&b, kv_lease_at(kv, i)->id));
    jb_add(&b, pl, "ids", ids);
    jb_add(&b, pl, "revision", jb_u64(&b, kv_revision(kv)));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}

static void add_keys(struct jb *b, json_object *pl, const struct kv_lease *l)
{
    size_t n;
    const struct kv_lease_key **keys = kv_lease_keys(l, &n);
    if (n > 0 && keys == NULL) {
        b->failed = 1;
        return;
    }
    json_object *arr = jb_arr(b);
    for (size_t i = 0; i < n && !b->failed; i++)
        jb_push(b, arr, jb_str(b, (const char *)keys[i]->p, keys[i]->len));
    free(keys);
    jb_add(b, pl, "keys", arr);
}

int api_reply_lease_info(const struct kv *kv, const struct api_request *req, int64_t remaining_ms,
                         struct api_reply *out)
{
    const struct kv_lease *l = kv_lease_find(kv, req->lease);
    if (l == NULL)
        return api_reply_fail(API_ERR_LEASE_NOT_FOUND, NULL, out);
    /* Whole seconds, rounded up: a lease with 1 ms left still shows 1. */
    uint64_t remaining = remaining_ms < 0 ? l->ttl_s : ((uint64_t)remaining_ms + 999) / 1000;
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = jb_obj(&b);
    jb_add(&b, pl, "id", jb_u64(&b, l->id));
    jb_add(&b, pl, "ttl", jb_u64(&b, l->ttl_s));
    jb_add(&b, pl, "remaining", jb_u64(&b, remaining));
    jb_add(&b, pl, "key_count", jb_u64(&b, l->n_keys));
    if (req->lease_keys)
        add_keys(&b, pl, l);
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}

int api_reply_value_lease(const char *key, size_t key_len, const char *value, size_t value_len,
                          uint64_t lease, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = key_value(&b, key, key_len, value, value_len, true);
    jb_add(&b, pl, "lease", jb_u64(&b, lease));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}
