/* range.c: the range request type: its payload and its reply (see api.h).
 *
 * A prefix is turned into [prefix, successor of prefix) at parse time, so the
 * state machine only ever sees start, end and after (kv_range.h). A reply is
 * bounded twice: by the request's limit (at most API_RANGE_MAX_LIMIT keys) and
 * by API_RANGE_MAX_BYTES of keys and values, whichever comes first, but always
 * holds at least one key so that paging with "after" makes progress. "more"
 * says whether keys are left after this page for either reason; "count" is the
 * number of keys in the range after "after" (this page and the rest), which
 * costs one step per index leaf, not per key.
 */
#include "api/api.h"
#include "api/api_int.h"
#include "api/validate.h"

#include <stdlib.h>
#include <string.h>

#include "kv/kv_range.h"

static enum api_error get_bool(struct parse *p, json_object *payload, const char *name, bool *out)
{
    json_object *v;
    if (!json_object_object_get_ex(payload, name, &v))
        return API_OK;
    if (!json_object_is_type(v, json_type_boolean))
        return perr(p, API_ERR_BAD_REQUEST, "payload.%s must be true or false", name);
    *out = json_object_get_boolean(v);
    return API_OK;
}

/* An optional string bound of at most max_key_bytes into *dst (NULL: absent). */
static enum api_error get_bound(struct parse *p, json_object *payload, const char *name, char **dst,
                                size_t *len)
{
    enum api_error err = API_OK;
    int rc = get_string(p, payload, name, p->limits->max_key_bytes, dst, len, &err);
    if (rc < 0)
        return err;
    if (rc == 0 && !validate_utf8(*dst, *len))
        return perr(p, API_ERR_BAD_REQUEST, "payload.%s must be valid UTF-8", name);
    return API_OK;
}

static enum api_error prefix_bounds(struct parse *p, char *prefix, size_t len)
{
    struct api_request *r = p->req;
    r->start = prefix;
    r->start_len = len;
    uint8_t *end = malloc(len + 1);
    if (end == NULL)
        return perr(p, API_ERR_INTERNAL, "out of memory");
    r->end_len = kv_prefix_end(prefix, len, end);
    if (r->end_len == 0)
        free(end); /* every key from the prefix on */
    else
        r->end = (char *)end;
    return API_OK;
}

static enum api_error parse_limit(struct parse *p, json_object *payload)
{
    json_object *v;
    p->req->limit = API_RANGE_DEFAULT_LIMIT;
    if (!json_object_object_get_ex(payload, "limit", &v))
        return API_OK;
    if (get_u64(v, &p->req->limit) != 0 || p->req->limit == 0 ||
        p->req->limit > API_RANGE_MAX_LIMIT)
        return perr(p, API_ERR_BAD_REQUEST, "payload.limit must be an integer 1..%u",
                    API_RANGE_MAX_LIMIT);
    return API_OK;
}

enum api_error api_parse_range(struct parse *p, json_object *payload)
{
    struct api_request *r = p->req;
    char *prefix = NULL;
    size_t prefix_len = 0;
    enum api_error err = get_bound(p, payload, "prefix", &prefix, &prefix_len);
    if (err == API_OK)
        err = get_bound(p, payload, "start", &r->start, &r->start_len);
    if (err == API_OK)
        err = get_bound(p, payload, "end", &r->end, &r->end_len);
    if (err == API_OK && prefix != NULL && (r->start != NULL || r->end != NULL))
        err = perr(p, API_ERR_BAD_REQUEST, "payload.prefix excludes start and end");
    else if (err == API_OK && prefix == NULL && r->start == NULL)
        err = perr(p, API_ERR_BAD_REQUEST, "payload.prefix or payload.start missing");
    else if (err == API_OK && prefix != NULL)
        err = prefix_bounds(p, prefix, prefix_len), prefix = NULL;
    free(prefix);
    if (err == API_OK)
        err = get_bound(p, payload, "after", &r->after, &r->after_len);
    if (err == API_OK)
        err = parse_limit(p, payload);
    if (err == API_OK)
        err = get_bool(p, payload, "keys_only", &r->keys_only);
    if (err == API_OK)
        err = get_bool(p, payload, "count_only", &r->count_only);
    return err;
}

static json_object *kv_item(struct jb *b, const struct kv_rec *rec, bool keys_only)
{
    json_object *o = key_value(b, (const char *)kv_rec_key(rec), rec->key_len,
                               (const char *)kv_rec_value(rec), rec->value_len, !keys_only);
    jb_revisions(b, o, rec);
    return o;
}

int api_reply_range(const struct kv *kv, const struct api_request *req, struct api_reply *out)
{
    struct kv_range_bounds bounds = {req->start,   req->start_len, req->end,
                                     req->end_len, req->after,     req->after_len};
    struct kv_range it;
    kv_range_open(kv, &bounds, &it);
    uint64_t count = kv_range_left(kv, &it);
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = jb_obj(&b);
    uint64_t taken = 0;
    if (!req->count_only) {
        json_object *kvs = jb_arr(&b);
        size_t bytes = 0;
        const struct kv_rec *rec;
        while (taken < req->limit && !b.failed && (taken == 0 || bytes < API_RANGE_MAX_BYTES) &&
               (rec = kv_range_next(kv, &it)) != NULL) {
            bytes += rec->key_len + (req->keys_only ? 0 : rec->value_len);
            jb_push(&b, kvs, kv_item(&b, rec, req->keys_only));
            taken++;
        }
        jb_add(&b, pl, "kvs", kvs);
    }
    jb_add(&b, pl, "count", jb_u64(&b, count));
    jb_add(&b, pl, "more", jb_bool(&b, !req->count_only && taken < count));
    jb_add(&b, pl, "revision", jb_u64(&b, kv_revision(kv)));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}
