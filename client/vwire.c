/* vwire.c: the client's side of the v1 protocol on the wire (see vwire.h): request
 * URLs, request bodies, and what a reply body says to the retry loop in vclient.c.
 */
#include "vwire.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *vwire_request_url(const char *base)
{
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *scheme = strstr(base, "://") ? "" : "http://";
    const char *suffix = (n >= 8 && memcmp(base + n - 8, "/request", 8) == 0) ? "" : "/request";
    size_t len = strlen(scheme) + n + strlen(suffix) + 1;
    char *url = malloc(len);
    if (url != NULL)
        snprintf(url, len, "%s%.*s%s", scheme, (int)n, base, suffix);
    return url;
}

static json_object *jstr(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}

/* Adds client_id and seq (when seq != 0) to o, serializes it and frees o; NULL when
 * bad or on ENOMEM. */
static char *finish(json_object *o, bool bad, uint64_t client_id, uint64_t seq, size_t *len)
{
    if (!bad && seq != 0) {
        bad = json_object_object_add(o, "client_id", json_object_new_uint64(client_id)) != 0;
        bad = bad || json_object_object_add(o, "seq", json_object_new_uint64(seq)) != 0;
    }
    char *out = NULL;
    if (!bad) {
        const char *s = json_object_to_json_string_length(
            o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
        out = s ? strdup(s) : NULL;
    }
    json_object_put(o);
    return out;
}

char *vwire_body(uint64_t client_id, const struct vclient_req *r, uint64_t seq, size_t *len)
{
    static const char *types[] = {"get", "put", "delete", "cas"};
    json_object *o = json_object_new_object(), *pl = json_object_new_object();
    int bad = o == NULL || pl == NULL;
    bad |= !bad && json_object_object_add(o, "type", json_object_new_string(types[r->op])) != 0;
    bad |= !bad && json_object_object_add(pl, "key", jstr(r->key, r->key_len)) != 0;
    if (r->op == VCLIENT_PUT || r->op == VCLIENT_CAS)
        bad |= !bad && json_object_object_add(pl, "value", jstr(r->value, r->value_len)) != 0;
    if (r->op == VCLIENT_CAS)
        bad |= !bad && json_object_object_add(
                           pl, "expected",
                           r->expect_absent ? NULL : jstr(r->expected, r->expected_len)) != 0;
    if (r->op == VCLIENT_GET && r->stale)
        bad |=
            !bad && json_object_object_add(pl, "consistency", json_object_new_string("stale")) != 0;
    if (r->revisions)
        bad |= !bad && json_object_object_add(o, "revisions", json_object_new_boolean(1)) != 0;
    bad |= !bad && json_object_object_add(o, "payload", pl) != 0;
    if (bad)
        json_object_put(pl);
    return finish(o, bad != 0, client_id, seq, len);
}

char *vwire_json_body(uint64_t client_id, const char *type, json_object *payload, uint64_t seq,
                      size_t *len)
{
    json_object *o = json_object_new_object();
    int bad = o == NULL || json_object_object_add(o, "type", json_object_new_string(type)) != 0 ||
              json_object_object_add(o, "payload", payload) != 0;
    if (bad)
        json_object_put(payload); /* not taken by o */
    return finish(o, bad != 0, client_id, seq, len);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

enum vwire_verdict vwire_judge(struct vclient_resp *resp, char **data, size_t len, long http_status,
                               char **redirect)
{
    json_tokener *tok = json_tokener_new();
    json_object *o = tok ? json_tokener_parse_ex(tok, *data, (int)len) : NULL;
    json_tokener_free(tok);
    json_object *code, *err, *pl, *v;
    if (o == NULL || !json_object_object_get_ex(o, "code", &code) ||
        !json_object_is_type(code, json_type_string)) {
        json_object_put(o);
        return VWIRE_RETRY;
    }
    free(resp->body);
    resp->body = *data;
    resp->body_len = len;
    resp->http_status = http_status;
    *data = NULL;
    free(resp->value);
    resp->value = NULL;
    resp->has_value = false;
    bool success = strcmp(json_object_get_string(code), "success") == 0;
    resp->status = success ? VCLIENT_SUCCESS : VCLIENT_FAIL;
    resp->error[0] = '\0';
    if (json_object_object_get_ex(o, "error", &err) && json_object_is_type(err, json_type_string))
        snprintf(resp->error, sizeof resp->error, "%s", json_object_get_string(err));
    enum vwire_verdict verdict = VWIRE_DONE;
    if (json_object_object_get_ex(o, "payload", &pl) && json_object_is_type(pl, json_type_object)) {
        if (!success && json_object_object_get_ex(pl, "message", &v) &&
            json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0) {
            *redirect = vwire_request_url(json_object_get_string(v));
            verdict = *redirect ? VWIRE_REDIRECT : VWIRE_RETRY;
        } else if (json_object_object_get_ex(pl, "value", &v) &&
                   json_object_is_type(v, json_type_string)) {
            resp->value_len = (size_t)json_object_get_string_len(v);
            resp->value = dup_n(json_object_get_string(v), resp->value_len);
            resp->has_value = resp->value != NULL;
        }
    }
    if (verdict == VWIRE_DONE && !success &&
        (strcmp(resp->error, "no_leader") == 0 || strcmp(resp->error, "timeout") == 0 ||
         strcmp(resp->error, "unavailable") == 0))
        verdict = VWIRE_RETRY;
    json_object_put(o);
    return verdict;
}

size_t vwire_buf_write(char *p, size_t size, size_t nmemb, void *ctx)
{
    struct vwire_buf *b = ctx;
    size_t n = size * nmemb;
    if (b->len + n + 1 > VWIRE_MAX_REPLY_BYTES)
        return 0; /* aborts the transfer */
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return 0;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}
