/* test_api_reply.c: the v1 protocol's replies written directly (reply_v1.c)
 * against the bytes json-c writes for the same objects.
 *
 * The reference is built here with json-c alone (objects in the same member
 * order, serialized with the flags reply.c uses), so a change on either side, or
 * a json-c whose escaping differs, fails here: for every byte value alone and
 * between other bytes, for seeded random strings, and for every error name.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lib/test.h"

#define FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

static json_object *str(const char *s, size_t n)
{
    return json_object_new_string_len(s, (int)n);
}

/* {"code":...,["error":...]} as reply.c starts every reply. */
static json_object *head(enum api_error e)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(e == API_OK ? "success" : "fail"));
    if (e != API_OK)
        json_object_object_add(o, "error", json_object_new_string(api_error_str(e)));
    return o;
}

/* The reply equals o serialized by json-c; frees o and the reply. */
static int same_as_json_c(struct api_reply *r, json_object *o, int status)
{
    size_t n;
    const char *want = json_object_to_json_string_length(o, FLAGS, &n);
    int ok = r->body != NULL && r->body_len == n && memcmp(r->body, want, n) == 0 &&
             r->body[n] == '\0' && r->http_status == status;
    if (!ok)
        fprintf(stderr, "want %s\n got %.*s\n", want, (int)r->body_len, r->body);
    json_object_put(o);
    api_reply_free(r);
    return ok;
}

static int value_matches(const char *key, size_t key_len, const char *value, size_t value_len)
{
    struct api_reply r;
    if (api_reply_value(key, key_len, value, value_len, &r) != 0)
        return 0;
    json_object *o = head(API_OK), *pl = json_object_new_object();
    json_object_object_add(pl, "key", str(key, key_len));
    json_object_object_add(pl, "value", str(value, value_len));
    json_object_object_add(o, "payload", pl);
    return same_as_json_c(&r, o, 200);
}

static int fail_matches(enum api_error e, const char *message)
{
    struct api_reply r;
    if (api_reply_fail(e, message, &r) != 0 || r.error != e)
        return 0;
    json_object *o = head(e);
    if (message != NULL && message[0] != '\0')
        json_object_object_add(o, "message", json_object_new_string(message));
    return same_as_json_c(&r, o, api_error_http_status(e));
}

static int redirect_matches(const char *key, size_t key_len, const char *value, size_t value_len,
                            const char *url)
{
    struct api_request req = {.op = API_OP_PUT, .key = (char *)key, .key_len = key_len};
    req.value = (char *)value;
    req.value_len = value_len;
    struct api_reply r;
    if (api_reply_redirect(&req, url, &r) != 0)
        return 0;
    json_object *o = head(API_ERR_NOT_LEADER), *pl = json_object_new_object();
    json_object_object_add(pl, "key", str(key, key_len));
    if (value != NULL)
        json_object_object_add(pl, "value", str(value, value_len));
    json_object_object_add(pl, "message", json_object_new_string(url));
    json_object_object_add(o, "payload", pl);
    return same_as_json_c(&r, o, api_error_http_status(API_ERR_NOT_LEADER));
}

TEST(api_reply_v1_every_byte_as_json_c_writes_it)
{
    for (int c = 0; c < 256; c++) {
        char one = (char)c, mid[3] = {'a', (char)c, 'z'};
        CHECK(value_matches(&one, 1, &one, 1));
        CHECK(value_matches("k", 1, mid, 3));
        CHECK(redirect_matches(mid, 3, &one, 1, "http://n1:5000/"));
        char msg[4] = {'m', (char)(c ? c : 1), '/', '\0'};
        CHECK(fail_matches(API_ERR_BAD_REQUEST, msg));
    }
    CHECK(value_matches("k", 1, "", 0));
    CHECK(redirect_matches("k", 1, NULL, 0, "http://n1:5000"));
}

TEST(api_reply_v1_random_strings_as_json_c_writes_them)
{
    unsigned seed = 20261203;
    char key[64], value[600];
    for (int round = 0; round < 3000; round++) {
        size_t kn = 1 + (size_t)(rand_r(&seed) % (int)sizeof key);
        size_t vn = (size_t)(rand_r(&seed) % (int)sizeof value);
        /* Half the strings mostly printable, half any byte at all. */
        int any = rand_r(&seed) & 1;
        for (size_t i = 0; i < kn; i++)
            key[i] = (char)(any ? rand_r(&seed) : 0x1c + rand_r(&seed) % 0x64);
        for (size_t i = 0; i < vn; i++)
            value[i] = (char)(any ? rand_r(&seed) : 0x1c + rand_r(&seed) % 0x64);
        if (!value_matches(key, kn, value, vn) || !redirect_matches(key, kn, value, vn, "u")) {
            fprintf(stderr, "seed 20261203, round %d\n", round);
            CHECK(0);
        }
    }
}

TEST(api_reply_v1_every_error_as_json_c_writes_it)
{
    for (int e = API_OK; e <= API_ERR_INTERNAL; e++) { /* the table's last */
        CHECK(fail_matches((enum api_error)e, NULL));
        CHECK(fail_matches((enum api_error)e, ""));
        CHECK(fail_matches((enum api_error)e, "a \"quoted\" reason\n"));
    }
    struct api_reply r;
    CHECK(api_reply_success(&r) == 0);
    CHECK(same_as_json_c(&r, head(API_OK), 200));
}
