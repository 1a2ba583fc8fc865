/* test_api_request.c: /request parsing (every error case) and exact reply bytes. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lib/test.h"

static const struct api_limits limits = {.max_key_bytes = 1024, .max_value_bytes = 1 << 20};

static enum api_error parse(const char *method, const char *body, struct api_request *r)
{
    char detail[160];
    enum api_error e = api_parse_request(method, strlen(method), body, strlen(body), &limits, r,
                                         detail, sizeof detail);
    if (e != API_OK && detail[0] == '\0')
        return API_ERR_INTERNAL; /* every failure must explain itself */
    return e;
}

TEST(api_parse_v1_get_and_put)
{
    struct api_request r;
    CHECK(parse("GET", "{\"type\": \"get\", \"payload\": {\"key\": \"name\"}}", &r) == API_OK);
    CHECK(r.op == API_OP_GET && r.key_len == 4 && strcmp(r.key, "name") == 0);
    CHECK(r.value == NULL && !r.stale && !r.has_session);
    api_request_free(&r);
    CHECK(parse("PUT",
                "{\"type\":\"put\",\"payload\":{\"key\":\"name\",\"value\":\"Leslie Lamport\"}}",
                &r) == API_OK);
    CHECK(r.op == API_OP_PUT && strcmp(r.value, "Leslie Lamport") == 0 && r.value_len == 14);
    struct kv_cmd c;
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_PUT && c.value_len == 14);
    api_request_free(&r);
}

TEST(api_parse_extensions)
{
    struct api_request r;
    CHECK(parse("POST",
                "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"expected\":\"a\",\"value\":\"b\"},"
                "\"client_id\":18446744073709551615,\"seq\":3}",
                &r) == API_OK);
    CHECK(r.op == API_OP_CAS && strcmp(r.expected, "a") == 0 && strcmp(r.value, "b") == 0);
    CHECK(r.has_session && r.client_id == UINT64_MAX && r.seq == 3 && !r.expect_absent);
    api_request_free(&r);
    CHECK(parse("PUT",
                "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"expected\":null,\"value\":\"\","
                "\"client_id\":5,\"seq\":1}}",
                &r) == API_OK);
    CHECK(r.expect_absent && r.expected == NULL && r.value_len == 0 && r.client_id == 5);
    struct kv_cmd c;
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_CAS && c.expect_absent);
    api_request_free(&r);
    CHECK(parse("GET", "{\"payload\":{\"key\":\"k\",\"consistency\":\"stale\"}}", &r) == API_OK);
    CHECK(r.op == API_OP_GET && r.stale);
    CHECK(api_request_to_cmd(&r, &c) == -1);
    api_request_free(&r);
    CHECK(parse("DELETE", "{\"payload\":{\"key\":\"k\"}}", &r) == API_OK && r.op == API_OP_DELETE);
    api_request_free(&r);
    CHECK(parse("PUT", "{\"type\":\"delete\",\"payload\":{\"key\":\"k\"}} \r\n", &r) == API_OK);
    api_request_free(&r);
    CHECK(parse("PUT", "{\"payload\":{\"key\":\"a\\u0000b\",\"value\":\"v\"}}", &r) == API_OK);
    CHECK(r.op == API_OP_PUT && r.key_len == 3 && r.key[1] == '\0');
    api_request_free(&r);
    CHECK(parse("GET", "{\"payload\":{\"key\":\"k\",\"consistency\":\"linearizable\"}}", &r) ==
          API_OK);
    CHECK(!r.stale);
    api_request_free(&r);
}

TEST(api_parse_bad_request_cases)
{
    static const struct {
        const char *method, *body;
        enum api_error want;
    } cases[] = {
        {"GET", "", API_ERR_BAD_REQUEST},
        {"GET", "not json", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}", API_ERR_BAD_REQUEST}, /* cut */
        {"GET", "{\"payload\":{\"key\":\"k\"}} x", API_ERR_BAD_REQUEST}, /* trailing */
        {"GET", "[1,2]", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"get\"}", API_ERR_BAD_REQUEST}, /* no payload */
        {"GET", "{\"type\":\"get\",\"payload\":\"k\"}", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"get\",\"payload\":{}}", API_ERR_BAD_REQUEST}, /* no key */
        {"GET", "{\"type\":\"get\",\"payload\":{\"key\":\"\"}}", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"get\",\"payload\":{\"key\":7}}", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"get\",\"payload\":{\"key\":null}}", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":5,\"payload\":{\"key\":\"k\"}}", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"scan\",\"payload\":{\"key\":\"k\"}}", API_ERR_BAD_REQUEST},
        {"GET", "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\"}}",
         API_ERR_BAD_REQUEST},                                          /* GET must not write */
        {"POST", "{\"payload\":{\"key\":\"k\"}}", API_ERR_BAD_REQUEST}, /* POST needs type */
        {"PUT", "{\"type\":\"put\",\"payload\":{\"key\":\"k\"}}", API_ERR_BAD_REQUEST},
        {"PUT", "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":1}}", API_ERR_BAD_REQUEST},
        {"PUT", "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":null}}",
         API_ERR_BAD_REQUEST},
        {"PUT", "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"value\":\"v\"}}",
         API_ERR_BAD_REQUEST}, /* expected missing */
        {"PUT", "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"expected\":\"a\"}}",
         API_ERR_BAD_REQUEST}, /* new value missing */
        {"PUT", "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"expected\":1,\"value\":\"v\"}}",
         API_ERR_BAD_REQUEST},
        {"PUT", "{\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":1}",
         API_ERR_BAD_REQUEST}, /* seq missing */
        {"PUT", "{\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":-1,\"seq\":1}",
         API_ERR_BAD_REQUEST},
        {"PUT", "{\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":1,\"seq\":0}",
         API_ERR_BAD_REQUEST},
        {"PUT", "{\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":1.5,\"seq\":1}",
         API_ERR_BAD_REQUEST},
        {"PUT", "{\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":\"1\",\"seq\":1}",
         API_ERR_BAD_REQUEST},
        {"GET", "{\"payload\":{\"key\":\"k\",\"consistency\":\"eventual\"}}", API_ERR_BAD_REQUEST},
        {"GET", "{\"payload\":{\"key\":\"k\",\"consistency\":1}}", API_ERR_BAD_REQUEST},
        {"PUT", "{\"payload\":{\"key\":\"k\",\"value\":\"v\",\"consistency\":\"stale\"}}",
         API_ERR_BAD_REQUEST},
        {"PATCH", "{\"payload\":{\"key\":\"k\"}}", API_ERR_BAD_METHOD},
        {"get", "{\"payload\":{\"key\":\"k\"}}", API_ERR_BAD_METHOD},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_request r;
        enum api_error e = parse(cases[i].method, cases[i].body, &r);
        if (e != cases[i].want)
            fprintf(stderr, "  case %zu: %s %s -> %s\n", i, cases[i].method, cases[i].body,
                    api_error_str(e));
        CHECK(e == cases[i].want);
        CHECK(r.key == NULL && r.value == NULL && r.expected == NULL);
    }
}

TEST(api_parse_size_limits)
{
    size_t big = 1024 + 1;
    char *body = malloc(big + 64);
    CHECK(body != NULL);
    int n = sprintf(body, "{\"payload\":{\"key\":\"");
    memset(body + n, 'k', big);
    strcpy(body + n + big, "\"}}");
    struct api_request r;
    CHECK(parse("GET", body, &r) == API_ERR_TOO_LARGE);
    body[n + big - 1] = '"'; /* exactly 1024 bytes of key: fine */
    strcpy(body + n + big, "}}");
    CHECK(parse("GET", body, &r) == API_OK && r.key_len == 1024);
    api_request_free(&r);
    free(body);
    size_t vbig = (1 << 20) + 1;
    body = malloc(vbig + 128);
    CHECK(body != NULL);
    n = sprintf(body, "{\"payload\":{\"key\":\"k\",\"value\":\"");
    memset(body + n, 'v', vbig);
    strcpy(body + n + vbig, "\"}}");
    CHECK(parse("PUT", body, &r) == API_ERR_TOO_LARGE);
    n = sprintf(body,
                "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"value\":\"v\",\"expected\":\"");
    memset(body + n, 'e', vbig);
    strcpy(body + n + vbig, "\"}}");
    CHECK(parse("PUT", body, &r) == API_ERR_TOO_LARGE);
    free(body);
    /* A body beyond any legal request is refused before parsing. */
    struct api_limits tiny = {.max_key_bytes = 4, .max_value_bytes = 4};
    char huge[70000];
    memset(huge, ' ', sizeof huge);
    CHECK(api_parse_request("PUT", 3, huge, sizeof huge, &tiny, &r, NULL, 0) == API_ERR_TOO_LARGE);
    CHECK(api_error_http_status(API_ERR_TOO_LARGE) == 413);
}

static int reply_is(const struct api_reply *r, int status, const char *body)
{
    int ok = r->http_status == status && r->body_len == strlen(body) && strcmp(r->body, body) == 0;
    if (!ok)
        fprintf(stderr, "  got %d %s\n  want %d %s\n", r->http_status, r->body, status, body);
    return ok;
}

TEST(api_reply_v1_bytes)
{
    struct api_reply r;
    CHECK(api_reply_success(&r) == 0);
    CHECK(reply_is(&r, 200, "{\"code\":\"success\"}"));
    api_reply_free(&r);
    CHECK(api_reply_value("k", 1, "v", 1, &r) == 0);
    CHECK(reply_is(&r, 200, "{\"code\":\"success\",\"payload\":{\"key\":\"k\",\"value\":\"v\"}}"));
    api_reply_free(&r);
    CHECK(api_reply_value("name", 4, "Leslie Lamport", 14, &r) == 0);
    CHECK(reply_is(
        &r, 200,
        "{\"code\":\"success\",\"payload\":{\"key\":\"name\",\"value\":\"Leslie Lamport\"}}"));
    api_reply_free(&r);
}

TEST(api_reply_fails)
{
    struct api_reply r;
    CHECK(api_reply_fail(API_ERR_NOT_FOUND, NULL, &r) == 0);
    CHECK(reply_is(&r, 200, "{\"code\":\"fail\",\"error\":\"not_found\"}"));
    api_reply_free(&r);
    CHECK(api_reply_fail(API_ERR_NO_LEADER, "", &r) == 0);
    CHECK(reply_is(&r, 200, "{\"code\":\"fail\",\"error\":\"no_leader\"}"));
    api_reply_free(&r);
    CHECK(api_reply_fail(API_ERR_BAD_REQUEST, "payload.key missing", &r) == 0);
    CHECK(reply_is(
        &r, 400,
        "{\"code\":\"fail\",\"error\":\"bad_request\",\"message\":\"payload.key missing\"}"));
    api_reply_free(&r);
    CHECK(api_reply_fail(API_ERR_BAD_METHOD, NULL, &r) == 0 && r.http_status == 405);
    api_reply_free(&r);
    CHECK(api_reply_cas_failed("k", 1, "cur", 3, true, &r) == 0);
    CHECK(reply_is(&r, 200,
                   "{\"code\":\"fail\",\"error\":\"cas_failed\",\"payload\":{\"key\":\"k\","
                   "\"value\":\"cur\"}}"));
    api_reply_free(&r);
    CHECK(api_reply_cas_failed("k", 1, NULL, 0, false, &r) == 0);
    CHECK(reply_is(&r, 200,
                   "{\"code\":\"fail\",\"error\":\"cas_failed\",\"payload\":{\"key\":\"k\"}}"));
    api_reply_free(&r);
    CHECK(api_error_from_kv(KV_NOT_FOUND) == API_ERR_NOT_FOUND);
    CHECK(api_error_from_kv(KV_STALE_SEQ) == API_ERR_STALE_SEQ);
    CHECK(api_error_from_kv(KV_BAD_COMMAND) == API_ERR_INTERNAL);
}

TEST(api_reply_redirect_and_escaping)
{
    struct api_request req;
    CHECK(parse("PUT", "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\"}}", &req) ==
          API_OK);
    struct api_reply r;
    CHECK(api_reply_redirect(&req, "http://127.0.0.1:5001", &r) == 0);
    CHECK(reply_is(
        &r, 200,
        "{\"code\":\"fail\",\"error\":\"not_leader\",\"payload\":{\"key\":\"k\",\"value\":\"v\","
        "\"message\":\"http://127.0.0.1:5001\"}}"));
    api_reply_free(&r);
    api_request_free(&req);
    CHECK(parse("GET", "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}}", &req) == API_OK);
    CHECK(api_reply_redirect(&req, "http://h:1", &r) == 0);
    CHECK(reply_is(&r, 200,
                   "{\"code\":\"fail\",\"error\":\"not_leader\",\"payload\":{\"key\":\"k\","
                   "\"message\":\"http://h:1\"}}"));
    api_reply_free(&r);
    api_request_free(&req);
    CHECK(api_reply_value("a\"b\0c", 5, "line\n\\/", 7, &r) == 0);
    CHECK(reply_is(&r, 200,
                   "{\"code\":\"success\",\"payload\":{\"key\":\"a\\\"b\\u0000c\",\"value\":"
                   "\"line\\n\\\\/\"}}"));
    api_reply_free(&r);
}

/* The admin redirect (no key) escapes whatever the URL holds. */
TEST(api_reply_redirect_url_escapes)
{
    struct api_reply r;
    CHECK(api_reply_redirect_url("http://h:1/\"},\"code\":\"success", &r) == 0);
    CHECK(reply_is(&r, 200,
                   "{\"code\":\"fail\",\"error\":\"not_leader\",\"payload\":{\"message\":"
                   "\"http://h:1/\\\"},\\\"code\\\":\\\"success\"}}"));
    api_reply_free(&r);
}

TEST(api_parse_option_placement)
{
    struct api_request r;
    CHECK(parse("PUT",
                "{\"client_id\":1,\"seq\":2,\"payload\":{\"key\":\"k\",\"value\":\"v\","
                "\"client_id\":9,\"seq\":9}}",
                &r) == API_OK);
    CHECK(r.has_session && r.client_id == 1 && r.seq == 2); /* the top level wins */
    api_request_free(&r);
    CHECK(parse("GET", "{\"consistency\":\"stale\",\"payload\":{\"key\":\"k\"}}", &r) == API_OK);
    CHECK(r.stale);
    api_request_free(&r);
}

/* Mutations of valid bodies (byte flips, truncations) never crash or leak. */
TEST(api_parse_mutations_never_crash)
{
    static const char *seeds[] = {
        "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\"},\"client_id\":1,\"seq\":1}",
        "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"expected\":null,\"value\":\"\\u00e9\"}}",
    };
    uint64_t x = 42;
    for (size_t s = 0; s < 2; s++) {
        size_t len = strlen(seeds[s]);
        char buf[128];
        for (int round = 0; round < 4000; round++) {
            memcpy(buf, seeds[s], len);
            for (int m = 0; m < 1 + round % 3; m++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[x % len] = (char)(x >> 32);
            }
            size_t n = round % 7 == 0 ? (size_t)(x % len) : len;
            struct api_request r;
            if (api_parse_request("PUT", 3, buf, n, &limits, &r, NULL, 0) == API_OK) {
                CHECK(r.key != NULL && r.key_len > 0);
                api_request_free(&r);
            }
        }
    }
}

/* The bodies vesperd's endpoints used to spell out by hand, and the outcome the
 * request metrics count, from the one builder. */
TEST(api_reply_endpoint_errors_and_outcome)
{
    struct api_reply r;
    CHECK(api_reply_fail(API_ERR_UNAUTHORIZED, NULL, &r) == 0);
    CHECK(reply_is(&r, 401, "{\"code\":\"fail\",\"error\":\"unauthorized\"}"));
    CHECK(r.error == API_ERR_UNAUTHORIZED);
    api_reply_free(&r);
    CHECK(api_reply_fail(API_ERR_TOO_LARGE, NULL, &r) == 0);
    CHECK(reply_is(&r, 413, "{\"code\":\"fail\",\"error\":\"too_large\"}"));
    api_reply_free(&r);
    CHECK(api_reply_fail(API_ERR_NOT_FOUND, "unknown path", &r) == 0);
    CHECK(reply_is(&r, 200,
                   "{\"code\":\"fail\",\"error\":\"not_found\",\"message\":\"unknown path\"}"));
    api_reply_free(&r);
    CHECK(api_reply_success_index(42, &r) == 0);
    CHECK(reply_is(&r, 200, "{\"code\":\"success\",\"index\":42}"));
    CHECK(r.error == API_OK);
    api_reply_free(&r);
    /* A key spelled "success" does not make a redirect a success. */
    struct api_request req = {.op = API_OP_GET, .key = "success", .key_len = 7};
    CHECK(api_reply_redirect(&req, "http://n1:5000", &r) == 0);
    CHECK(r.error == API_ERR_NOT_LEADER);
    api_reply_free(&r);
    api_reply_internal(&r);
    CHECK(reply_is(&r, 500, "{\"code\":\"fail\",\"error\":\"internal\"}"));
    api_reply_free(&r);
}
