/* test_api_fast.c: the direct parser of the common request bodies
 * (src/api/parse_fast.c) against the json-c parser it stands in for.
 *
 * The property everywhere: when api_parse_fast takes a body, api_parse_request_json
 * accepts it too and fills an equal request, field by field. Here: the shapes the
 * direct path exists for (the wrk benchmark's, the vesper client's own bodies
 * built by client/vwire.c, spacing as json.dumps writes it) must be taken, and
 * every single-byte edit of such bodies keeps the property.
 * test_api_fast_random.c generates bodies at random.
 */
#include "unit/test_api_fast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/vwire.h"
#include "api/api_int.h"
#include "lib/api_equal.h"
#include "lib/test.h"

static const struct api_limits normal = {.max_key_bytes = 1024, .max_value_bytes = 1 << 20};
static const struct api_limits tiny = {.max_key_bytes = 8, .max_value_bytes = 16};

void api_fast_print_body(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)body[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
}

int api_fast_check(const char *method, const char *body, size_t len,
                   const struct api_limits *limits, struct api_request *out)
{
    struct api_request fast, slow, zero;
    memset(&zero, 0, sizeof zero);
    if (!api_parse_fast(method, strlen(method), body, len, limits, &fast)) {
        if (out != NULL)
            *out = zero;
        if (memcmp(&fast, &zero, sizeof fast) == 0)
            return 0;
        fprintf(stderr, "  declined but left the request filled: %s ", method);
        api_fast_print_body(body, len);
        return -1;
    }
    char detail[160];
    enum api_error e = api_parse_request_json(method, strlen(method), body, len, limits, &slow,
                                              detail, sizeof detail);
    bool same = e == API_OK && api_request_equal(&fast, &slow);
    if (!same) {
        fprintf(stderr, "  direct path took what json-c %s (%s), limits {%zu,%zu}: %s ",
                e == API_OK ? "reads differently" : api_error_str(e), e == API_OK ? "" : detail,
                limits->max_key_bytes, limits->max_value_bytes, method);
        api_fast_print_body(body, len);
    }
    api_request_free(&slow);
    if (same && out != NULL)
        *out = fast;
    else
        api_request_free(&fast);
    return same ? 1 : -1;
}

static int check_str(const char *method, const char *body, struct api_request *out)
{
    return api_fast_check(method, body, strlen(body), &normal, out);
}

TEST(api_fast_takes_the_common_shapes)
{
    static const struct {
        const char *method, *body;
        enum api_op op;
    } cases[] = {
        {"GET", "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}}", API_OP_GET},
        /* Python's json.dumps spacing */
        {"PUT", "{\"type\": \"put\", \"payload\": {\"key\": \"k\", \"value\": \"v\"}}", API_OP_PUT},
        {"POST", "{\"type\": \"delete\", \"payload\": {\"key\": \"k\"}}", API_OP_DELETE},
        {"GET", "{\"payload\":{\"key\":\"k\"},\"type\":\"get\"}", API_OP_GET},
        {"GET", "{\"payload\":{\"key\":\"k\"}}", API_OP_GET},
        {"PUT", "{\"payload\":{\"value\":\"v\",\"key\":\"k\"}}", API_OP_PUT},
        {"DELETE", "{\"payload\":{\"key\":\"k\"}}", API_OP_DELETE},
        {"PUT", "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}}", API_OP_GET},
        {"DELETE", "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"\"}}", API_OP_PUT},
        {"PUT",
         "\r\n\t {\n\t\"type\" :\r\"put\" ,\"payload\"\n:{ \"key\":\"k\",\"value\":\"v\" } }\n",
         API_OP_PUT},
        /* A get or delete ignores its value, even one json-c would refuse to store. */
        {"GET", "{\"type\":\"get\",\"payload\":{\"key\":\"k\",\"value\":\"\xff\"}}", API_OP_GET},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct api_request r;
        int rc = check_str(cases[i].method, cases[i].body, &r);
        if (rc != 1)
            fprintf(stderr, "  case %zu not taken\n", i);
        CHECK(rc == 1);
        CHECK(r.op == cases[i].op && r.key_len == 1 && strcmp(r.key, "k") == 0);
        CHECK((r.value != NULL) == (r.op == API_OP_PUT) && !r.has_session);
        api_request_free(&r);
    }
}

TEST(api_fast_escapes_sessions_and_bytes)
{
    struct api_request r;
    CHECK(
        check_str("PUT",
                  "{\"type\":\"put\",\"payload\":{\"key\":\"a\\\"b\\\\c\\/d\",\"value\":"
                  "\"\\b\\f\\n\\r\\t\xc3\xa9\xf0\x9f\x98\x80\"},\"client_id\":18446744073709551615,"
                  "\"seq\":9223372036854775808}",
                  &r) == 1);
    CHECK(r.key_len == 7 && memcmp(r.key, "a\"b\\c/d", 8) == 0);
    CHECK(r.value_len == 11 && memcmp(r.value, "\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80", 12) == 0);
    CHECK(r.has_session && r.client_id == UINT64_MAX && r.seq == (1ull << 63));
    api_request_free(&r);
    CHECK(check_str("POST",
                    "{\"payload\":{\"seq\":1,\"key\":\"k\",\"client_id\":0},\"type\":\"delete\"}",
                    &r) == 1);
    CHECK(r.op == API_OP_DELETE && r.has_session && r.client_id == 0 && r.seq == 1);
    api_request_free(&r);
    CHECK(check_str("PUT",
                    "{\"client_id\":5,\"payload\":{\"key\":\"k\",\"value\":\"v\",\"seq\":2}}",
                    &r) == 1);
    CHECK(r.has_session && r.client_id == 5 && r.seq == 2);
    api_request_free(&r);
}

/* What the direct path leaves to json-c: each of these is declined. */
TEST(api_fast_declines_the_rest)
{
    static const char *const bodies[] = {
        "{\"type\":\"get\",\"payload\":{\"key\":\"\\u006b\"}}",
        "{\"type\":\"g\\u0065t\",\"payload\":{\"key\":\"k\"}}",
        "{\"type\":\"get\",\"payload\":{\"k\\u0065y\":\"k\"}}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\",\"key\":\"j\"}}",
        "{\"type\":\"get\",\"type\":\"get\",\"payload\":{\"key\":\"k\"}}",
        "{\"type\":\"put\",\"payload\":{\"key\":\"k\"},\"payload\":{\"value\":\"v\"}}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\",\"consistency\":\"stale\"}}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},\"revisions\":true}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},\"client_id\":1,\"seq\":01}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},\"client_id\":1,\"seq\":1.0}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},\"client_id\":1,\"seq\":0}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},\"client_id\":18446744073709551616,"
        "\"seq\":1}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\",\"seq\":1},\"client_id\":1,\"seq\":1}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"\xc0\x80\"}}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"\x01\"}}",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}} x",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}}\f",
        "{\"type\":\"get\",\"payload\":{\"key\":\"k\"},}",
        "{\"type\":\"put\",\"payload\":{\"key\":\"k\"}}",
        "{\"type\":\"cas\",\"payload\":{\"key\":\"k\",\"value\":\"v\",\"expected\":null}}",
    };
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        for (size_t m = 0; m < 4; m++) {
            int rc = check_str(methods[m], bodies[i], NULL);
            if (rc != 0)
                fprintf(stderr, "  case %zu taken under %s\n", i, methods[m]);
            CHECK(rc == 0);
        }
    }
    CHECK(check_str("POST", "{\"payload\":{\"key\":\"k\"}}", NULL) == 0); /* type needed */
    CHECK(check_str("GET", "{\"type\":\"delete\",\"payload\":{\"key\":\"k\"}}", NULL) == 0);
    CHECK(check_str("PATCH", "{\"type\":\"get\",\"payload\":{\"key\":\"k\"}}", NULL) == 0);
    CHECK(api_fast_check("GET", NULL, 0, &normal, NULL) == 0);
    const char *at_limit = "{\"type\":\"put\",\"payload\":{\"key\":\"12345678\",\"value\":\"v\"}}";
    CHECK(api_fast_check("PUT", at_limit, strlen(at_limit), &tiny, NULL) == 1);
    const char *over = "{\"type\":\"put\",\"payload\":{\"key\":\"123456789\",\"value\":\"v\"}}";
    CHECK(api_fast_check("PUT", over, strlen(over), &tiny, NULL) == 0);
}

/* A body beyond api_body_cap is json-c's too_large, even when the request in it
 * is small: whitespace up to the cap is taken, one byte more is declined. */
TEST(api_fast_body_cap)
{
    size_t cap = api_body_cap(&tiny);
    char *body = malloc(cap + 1);
    CHECK(body != NULL);
    const char *req = "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\"}}";
    size_t n = strlen(req);
    memset(body, ' ', cap + 1);
    memcpy(body + cap / 2, req, n);
    int at_cap = api_fast_check("PUT", body, cap, &tiny, NULL);
    int over = api_fast_check("PUT", body, cap + 1, &tiny, NULL);
    struct api_request r;
    enum api_error e = api_parse_request("PUT", 3, body, cap + 1, &tiny, &r, NULL, 0);
    api_request_free(&r);
    free(body);
    CHECK(at_cap == 1 && over == 0 && e == API_ERR_TOO_LARGE);
}

/* The benchmark's bodies (bench/wrk/kv.lua, modes get, put and mix). */
TEST(api_fast_takes_the_wrk_bodies)
{
    char value[101], body[256];
    for (int i = 0; i < 100; i++)
        value[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i * 7) % 36];
    value[100] = '\0';
    for (int k = 1; k <= 10000; k += 997) {
        struct api_request r;
        snprintf(body, sizeof body, "{\"type\":\"get\",\"payload\":{\"key\":\"k%05d\"}}", k);
        CHECK(check_str("GET", body, &r) == 1 && r.op == API_OP_GET && r.key_len == 6);
        api_request_free(&r);
        snprintf(body, sizeof body,
                 "{\"type\":\"put\",\"payload\":{\"key\":\"k%05d\",\"value\":\"%s\"}}", k, value);
        CHECK(check_str("PUT", body, &r) == 1 && r.value_len == 100);
        CHECK(memcmp(r.value, value, 101) == 0);
        api_request_free(&r);
    }
}

/* True when json-c's serializer writes a \u escape for a byte of s: a control
 * byte without a short escape. */
static bool needs_u_escape(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 && !memchr("\b\f\n\r\t", s[i], 5))
            return true;
    return false;
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The vesper client's bodies (client/vwire.c: json-c's serializer, client_id and
 * seq at the top level on writes) for keys and values of any bytes: the direct
 * path agrees on all, and takes every one json-c accepts unless json-c wrote a
 * \u escape (a control byte), which the direct path leaves to json-c. */
TEST(api_fast_takes_the_client_bodies)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    size_t taken = 0, rounds = 6000;
    for (size_t i = 0; i < rounds; i++) {
        char key[24], value[24];
        size_t key_len = 1 + next(&x) % 12, value_len = next(&x) % 20;
        bool ascii = next(&x) % 2 == 0;
        for (size_t k = 0; k < sizeof key; k++)
            key[k] = ascii ? (char)(0x20 + next(&x) % 0x60) : (char)next(&x);
        for (size_t k = 0; k < sizeof value; k++)
            value[k] = ascii ? (char)(0x20 + next(&x) % 0x60) : (char)next(&x);
        struct vclient_req req = {.op = (enum vclient_op)(i % 3),
                                  .key = key,
                                  .key_len = key_len,
                                  .value = value,
                                  .value_len = value_len};
        uint64_t seq = req.op == VCLIENT_GET ? 0 : 1 + next(&x) % 1000;
        size_t len;
        char *body = vwire_body(next(&x), &req, seq, &len);
        CHECK(body != NULL);
        const char *method = req.op == VCLIENT_GET ? "GET" : "PUT";
        int rc = api_fast_check(method, body, len, &normal, NULL);
        struct api_request r;
        enum api_error e =
            api_parse_request_json(method, strlen(method), body, len, &normal, &r, NULL, 0);
        api_request_free(&r);
        bool escaped_u = needs_u_escape(key, key_len) ||
                         (req.op == VCLIENT_PUT && needs_u_escape(value, value_len));
        if (rc == 0 && e == API_OK && !escaped_u) {
            fprintf(stderr, "  a client body json-c takes was declined: ");
            api_fast_print_body(body, len);
            rc = -1;
        }
        free(body);
        CHECK(rc >= 0);
        taken += (size_t)rc;
    }
    printf("  client bodies: %zu, %zu taken by the direct path\n", rounds, taken);
    CHECK(taken * 3 >= rounds); /* the ASCII half, at least */
}

/* Every body one edit away from a taken one: each byte deleted, replaced by each
 * of the 256 values, or each value inserted before it, under both limits. */
TEST(api_fast_single_edits)
{
    static const struct {
        const char *method, *body;
    } bases[] = {
        {"PUT",
         "{\"type\":\"put\",\"payload\":{\"key\":\"k1\",\"value\":\"v\\n\xc3\xa9\"},"
         "\"client_id\":7,\"seq\":19}"},
        {"GET", " {\"payload\":{\"key\":\"a\\/b\",\"seq\":1,\"client_id\":0},\"type\":\"get\"}"},
    };
    size_t bodies = 0, taken = 0, json_ok = 0;
    char buf[128];
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        const char *base = bases[b].body;
        size_t n = strlen(base);
        for (size_t pos = 0; pos <= n; pos++) {
            for (int edit = 0; edit < 513; edit++) {
                size_t len;
                if (edit == 512 && pos == n)
                    continue;
                memcpy(buf, base, pos);
                if (edit < 256) { /* insert */
                    buf[pos] = (char)edit;
                    memcpy(buf + pos + 1, base + pos, n - pos);
                    len = n + 1;
                } else if (edit < 512) { /* replace */
                    if (pos == n)
                        continue;
                    buf[pos] = (char)(edit - 256);
                    memcpy(buf + pos + 1, base + pos + 1, n - pos - 1);
                    len = n;
                } else { /* delete */
                    memcpy(buf + pos, base + pos + 1, n - pos - 1);
                    len = n - 1;
                }
                for (int lim = 0; lim < 2; lim++) {
                    const struct api_limits *l = lim ? &tiny : &normal;
                    int rc = api_fast_check(bases[b].method, buf, len, l, NULL);
                    CHECK(rc >= 0);
                    taken += (size_t)rc;
                    bodies++;
                    struct api_request r;
                    const char *m = bases[b].method;
                    if (api_parse_request_json(m, strlen(m), buf, len, l, &r, NULL, 0) == API_OK)
                        json_ok++;
                    api_request_free(&r);
                }
            }
        }
    }
    printf("  single edits: %zu bodies; json-c accepted %zu, the direct path took %zu\n", bodies,
           json_ok, taken);
    /* Most edits json-c accepts rename a member (json-c ignores unknown names),
     * put a raw control byte in a string or a leading zero in a number: all left
     * to json-c on purpose. */
    CHECK(taken * 4 >= json_ok);
}
