/* reply.c: building /request reply bodies with json-c (see api.h): the
 * replies with revisions, indexes and a CAS's current value, and the helpers
 * range.c, txn.c and lease.c build theirs with. The v1 protocol's own replies
 * (success, value, failure, redirect) are written directly, reply_v1.c.
 *
 * json-c does the string escaping; objects keep insertion order and go out
 * through the plain, slash-preserving serializer, so both files write the same
 * bytes for the same fields. Extra fields (revisions) appear only in replies to
 * the new request types or to requests that ask for them (api.h).
 */
#include "api/api.h"
#include "api/api_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

json_object *jb_str(struct jb *b, const char *s, size_t n)
{
    json_object *o = n <= INT_MAX ? json_object_new_string_len(s, (int)n) : NULL;
    if (o == NULL)
        b->failed = 1;
    return o;
}

void jb_add(struct jb *b, json_object *obj, const char *k, json_object *v)
{
    if (obj == NULL || v == NULL || json_object_object_add(obj, k, v) != 0) {
        json_object_put(v);
        b->failed = 1;
    }
}

json_object *jb_obj(struct jb *b)
{
    json_object *o = json_object_new_object();
    if (o == NULL)
        b->failed = 1;
    return o;
}

json_object *reply_head(struct jb *b, enum api_error e)
{
    json_object *o = jb_obj(b);
    jb_add(b, o, "code", jb_str(b, e == API_OK ? "success" : "fail", e == API_OK ? 7 : 4));
    if (e != API_OK)
        jb_add(b, o, "error", jb_str(b, api_error_str(e), strlen(api_error_str(e))));
    return o;
}

int finish(struct jb *b, json_object *o, enum api_error e, struct api_reply *out)
{
    memset(out, 0, sizeof *out);
    if (!b->failed) {
        size_t n;
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        out->body = s ? api_dup_bytes(s, n) : NULL;
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

json_object *key_value(struct jb *b, const char *key, size_t key_len, const char *value,
                       size_t value_len, bool has_value)
{
    json_object *pl = jb_obj(b);
    jb_add(b, pl, "key", jb_str(b, key, key_len));
    if (has_value)
        jb_add(b, pl, "value", jb_str(b, value, value_len));
    return pl;
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

json_object *jb_u64(struct jb *b, uint64_t v)
{
    json_object *o = v <= INT64_MAX ? json_object_new_int64((int64_t)v) : NULL;
    if (o == NULL)
        b->failed = 1;
    return o;
}

json_object *jb_bool(struct jb *b, bool v)
{
    json_object *o = json_object_new_boolean(v);
    if (o == NULL)
        b->failed = 1;
    return o;
}

json_object *jb_arr(struct jb *b)
{
    json_object *o = json_object_new_array();
    if (o == NULL)
        b->failed = 1;
    return o;
}

void jb_push(struct jb *b, json_object *arr, json_object *v)
{
    if (arr == NULL || v == NULL || json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        b->failed = 1;
    }
}

void jb_revisions(struct jb *b, json_object *obj, const struct kv_rec *r)
{
    jb_add(b, obj, "create_revision", jb_u64(b, r->create_revision));
    jb_add(b, obj, "mod_revision", jb_u64(b, r->mod_revision));
    jb_add(b, obj, "version", jb_u64(b, r->version));
    if (r->lease != 0)
        jb_add(b, obj, "lease", jb_u64(b, r->lease));
}

int api_reply_record(const struct kv_rec *r, uint64_t revision, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = key_value(&b, (const char *)kv_rec_key(r), r->key_len,
                                (const char *)kv_rec_value(r), r->value_len, true);
    jb_revisions(&b, pl, r);
    jb_add(&b, pl, "revision", jb_u64(&b, revision));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}

int api_reply_success_revision(uint64_t revision, struct api_reply *out)
{
    struct jb b = {0};
    json_object *o = reply_head(&b, API_OK);
    json_object *pl = jb_obj(&b);
    jb_add(&b, pl, "revision", jb_u64(&b, revision));
    jb_add(&b, o, "payload", pl);
    return finish(&b, o, API_OK, out);
}
