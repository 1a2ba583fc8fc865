/* test_api_range_txn.c: the range and txn request types and the revisions
 * option: parsing (every error case names itself), and exact reply bytes built
 * from a real state machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "kv/kv_cmd.h"
#include "kv/kv_txn.h"
#include "lib/test.h"

static const struct api_limits limits = {.max_key_bytes = 16, .max_value_bytes = 64};

static enum api_error parse(const char *method, const char *body, struct api_request *r)
{
    char detail[160];
    enum api_error e = api_parse_request(method, strlen(method), body, strlen(body), &limits, r,
                                         detail, sizeof detail);
    if (e != API_OK && detail[0] == '\0')
        return API_ERR_INTERNAL;
    return e;
}

static int body_is(struct api_reply *r, const char *want)
{
    int ok = r->http_status == 200 && r->body_len == strlen(want) &&
             memcmp(r->body, want, r->body_len) == 0;
    if (!ok)
        fprintf(stderr, "  got  %.*s\n  want %s\n", (int)r->body_len, r->body, want);
    api_reply_free(r);
    return ok;
}

/* Applies a request's write through the real command path. */
static void apply(struct kv *kv, const char *body, struct kv_result *res)
{
    struct api_request r;
    struct kv_cmd c;
    uint8_t *buf;
    size_t len;
    if (parse("POST", body, &r) != API_OK || api_request_to_cmd(&r, &c) != 0 ||
        kv_cmd_encode_alloc(&c, &buf, &len) != 0)
        abort();
    kv_apply(kv, kv->applied_index + 1, 1, buf, len, res);
    free(buf);
    api_request_free(&r);
}

TEST(api_parse_range_bounds)
{
    struct api_request r;
    CHECK(parse("GET", "{\"type\":\"range\",\"payload\":{\"prefix\":\"ab\"}}", &r) == API_OK);
    CHECK(r.op == API_OP_RANGE && r.start_len == 2 && memcmp(r.start, "ab", 2) == 0);
    CHECK(r.end_len == 2 && memcmp(r.end, "ac", 2) == 0 && r.limit == API_RANGE_DEFAULT_LIMIT);
    api_request_free(&r);
    CHECK(parse("POST",
                "{\"type\":\"range\",\"payload\":{\"start\":\"a\",\"end\":\"b\",\"limit\":5,"
                "\"after\":\"a1\",\"keys_only\":true},\"consistency\":\"stale\"}",
                &r) == API_OK);
    CHECK(r.limit == 5 && r.keys_only && !r.count_only && r.stale && r.after_len == 2);
    struct kv_cmd c;
    CHECK(api_request_to_cmd(&r, &c) == -1); /* a read */
    api_request_free(&r);
    CHECK(parse("POST", "{\"type\":\"range\",\"payload\":{\"prefix\":\"\"}}", &r) == API_OK);
    CHECK(r.start != NULL && r.start_len == 0 && r.end == NULL); /* every key */
    api_request_free(&r);
    const char *bad[] = {
        "{\"type\":\"range\",\"payload\":{}}",
        "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"start\":\"a\"}}",
        "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"limit\":0}}",
        "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"limit\":10001}}",
        "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"limit\":\"5\"}}",
        "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"keys_only\":1}}",
        "{\"type\":\"range\",\"payload\":{\"start\":7}}",
        "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\"},\"revisions\":\"yes\"}",
        "{\"type\":\"put\",\"payload\":{\"key\":\"a\",\"value\":\"b\"},\"consistency\":\"stale\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(parse("POST", bad[i], &r) == API_ERR_BAD_REQUEST);
        CHECK(r.start == NULL && r.txn == NULL);
    }
    CHECK(parse("POST", "{\"type\":\"range\",\"payload\":{\"prefix\":\"01234567890123456\"}}",
                &r) == API_ERR_TOO_LARGE);
}

TEST(api_parse_txn_fields_and_limits)
{
    struct api_request r;
    CHECK(parse("POST",
                "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":\"value\","
                "\"value\":\"1\"},{\"key\":\"b\",\"target\":\"exists\",\"op\":\"!=\",\"value\":"
                "true},{\"key\":\"c\",\"target\":\"mod_revision\",\"op\":\"<\",\"value\":9}],"
                "\"success\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"2\"},{\"op\":\"get\","
                "\"key\":\"a\"}],\"failure\":[{\"op\":\"delete\",\"key\":\"a\"}]},"
                "\"client_id\":4,\"seq\":2}",
                &r) == API_OK);
    CHECK(r.op == API_OP_TXN && r.txn != NULL && r.has_session);
    static struct kv_txn t;
    CHECK(kv_txn_decode(r.txn, r.txn_len, &t) == 0);
    CHECK(t.n_cmp == 3 && t.n_ops[0] == 2 && t.n_ops[1] == 1);
    CHECK(t.cmp[1].target == KV_TXN_EXISTS && t.cmp[1].op == KV_TXN_NE && t.cmp[1].number == 1);
    CHECK(t.cmp[2].target == KV_TXN_MOD && t.cmp[2].op == KV_TXN_LT && t.cmp[2].number == 9);
    struct kv_cmd c;
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_TXN && c.txn_len == r.txn_len);
    api_request_free(&r);
    CHECK(parse("POST", "{\"type\":\"txn\",\"payload\":{}}", &r) == API_OK); /* empty: no-op */
    api_request_free(&r);
    const char *bad[] = {
        "{\"type\":\"txn\",\"payload\":{\"compare\":{}}}",
        "{\"type\":\"txn\",\"payload\":{\"compare\":[1]}}",
        "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":\"size\",\"value\":"
        "1}]}}",
        "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":\"exists\",\"op\":"
        "\"<\","
        "\"value\":true}]}}",
        "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":\"version\","
        "\"value\":-1}]}}",
        "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":\"value\",\"op\":\"~"
        "\","
        "\"value\":\"x\"}]}}",
        "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"\",\"target\":\"version\","
        "\"value\":1}]}}",
        "{\"type\":\"txn\",\"payload\":{\"success\":[{\"op\":\"put\",\"key\":\"a\"}]}}",
        "{\"type\":\"txn\",\"payload\":{\"success\":[{\"op\":\"get\",\"key\":\"a\",\"value\":\"v\"}"
        "]}}",
        "{\"type\":\"txn\",\"payload\":{\"success\":[{\"op\":\"range\",\"key\":\"a\"}]}}",
        "{\"type\":\"txn\",\"payload\":{\"failure\":[{\"key\":\"a\"}]}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(parse("POST", bad[i], &r) == API_ERR_BAD_REQUEST);
        CHECK(r.txn == NULL);
    }
    CHECK(parse("GET", "{\"type\":\"txn\",\"payload\":{}}", &r) == API_ERR_BAD_REQUEST);
    /* 65 operations: over the limit. */
    char body[4096];
    int n = snprintf(body, sizeof body, "{\"type\":\"txn\",\"payload\":{\"success\":[");
    for (int i = 0; i <= KV_TXN_MAX; i++)
        n += snprintf(body + n, sizeof body - (size_t)n, "%s{\"op\":\"get\",\"key\":\"k\"}",
                      i ? "," : "");
    snprintf(body + n, sizeof body - (size_t)n, "]}}");
    CHECK(parse("POST", body, &r) == API_ERR_BAD_REQUEST);
    /* Keys and values together over max key + max value bytes (80). */
    n = snprintf(body, sizeof body, "{\"type\":\"txn\",\"payload\":{\"success\":[");
    for (int i = 0; i < 3; i++)
        n += snprintf(body + n, sizeof body - (size_t)n,
                      "%s{\"op\":\"put\",\"key\":\"k\",\"value\":\"%040d\"}", i ? "," : "", i);
    snprintf(body + n, sizeof body - (size_t)n, "]}}");
    CHECK(parse("POST", body, &r) == API_ERR_TOO_LARGE);
}

TEST(api_reply_revisions_option)
{
    struct api_request r;
    CHECK(parse("GET", "{\"type\":\"get\",\"payload\":{\"key\":\"a\"},\"revisions\":true}", &r) ==
          API_OK);
    CHECK(r.revisions);
    api_request_free(&r);
    struct kv *kv = kv_new(0);
    struct kv_result res;
    apply(kv, "{\"type\":\"put\",\"payload\":{\"key\":\"a\",\"value\":\"1\"}}", &res);
    apply(kv, "{\"type\":\"put\",\"payload\":{\"key\":\"a\",\"value\":\"2\"}}", &res);
    struct api_reply out;
    CHECK(api_reply_record(kv_get(kv, "a", 1), kv_revision(kv), &out) == 0);
    CHECK(body_is(&out,
                  "{\"code\":\"success\",\"payload\":{\"key\":\"a\",\"value\":\"2\","
                  "\"create_revision\":1,\"mod_revision\":2,\"version\":2,\"revision\":2}}"));
    CHECK(api_reply_success_revision(res.revision, &out) == 0);
    CHECK(body_is(&out, "{\"code\":\"success\",\"payload\":{\"revision\":2}}"));
    kv_free(kv);
}

TEST(api_reply_range_pages)
{
    struct kv *kv = kv_new(0);
    struct kv_result res;
    const char *keys[] = {"b", "a2", "a1", "a3", "c"};
    for (int i = 0; i < 5; i++) {
        char body[128];
        snprintf(body, sizeof body,
                 "{\"type\":\"put\",\"payload\":{\"key\":\"%s\",\"value\":\"v%d\"}}", keys[i], i);
        apply(kv, body, &res);
    }
    struct api_request r;
    struct api_reply out;
    CHECK(parse("POST", "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"limit\":2}}", &r) ==
          API_OK);
    CHECK(api_reply_range(kv, &r, &out) == 0);
    CHECK(body_is(&out,
                  "{\"code\":\"success\",\"payload\":{\"kvs\":[{\"key\":\"a1\",\"value\":\"v2\","
                  "\"create_revision\":3,\"mod_revision\":3,\"version\":1},{\"key\":\"a2\","
                  "\"value\":\"v1\",\"create_revision\":2,\"mod_revision\":2,\"version\":1}],"
                  "\"count\":3,\"more\":true,\"revision\":5}}"));
    api_request_free(&r);
    CHECK(parse("POST",
                "{\"type\":\"range\",\"payload\":{\"prefix\":\"a\",\"limit\":2,\"after\":\"a2\","
                "\"keys_only\":true}}",
                &r) == API_OK);
    CHECK(api_reply_range(kv, &r, &out) == 0);
    CHECK(body_is(&out,
                  "{\"code\":\"success\",\"payload\":{\"kvs\":[{\"key\":\"a3\","
                  "\"create_revision\":4,\"mod_revision\":4,\"version\":1}],\"count\":1,"
                  "\"more\":false,\"revision\":5}}"));
    api_request_free(&r);
    CHECK(parse("POST",
                "{\"type\":\"range\",\"payload\":{\"start\":\"a3\",\"end\":\"c\","
                "\"count_only\":true}}",
                &r) == API_OK);
    CHECK(api_reply_range(kv, &r, &out) == 0);
    CHECK(body_is(&out,
                  "{\"code\":\"success\",\"payload\":{\"count\":2,\"more\":false,"
                  "\"revision\":5}}"));
    api_request_free(&r);
    kv_free(kv);
}

TEST(api_reply_txn_results)
{
    struct kv *kv = kv_new(0);
    struct kv_result res;
    apply(kv, "{\"type\":\"put\",\"payload\":{\"key\":\"a\",\"value\":\"1\"}}", &res);
    const char *txn =
        "{\"type\":\"txn\",\"payload\":{\"compare\":[{\"key\":\"a\",\"target\":"
        "\"version\",\"value\":1}],\"success\":[{\"op\":\"put\",\"key\":\"b\","
        "\"value\":\"x\"},{\"op\":\"delete\",\"key\":\"zz\"},{\"op\":\"get\",\"key\":"
        "\"b\"}],\"failure\":[{\"op\":\"get\",\"key\":\"nope\"}]}}";
    apply(kv, txn, &res);
    struct api_reply out;
    CHECK(api_reply_txn(&res, &out) == 0);
    CHECK(body_is(&out,
                  "{\"code\":\"success\",\"payload\":{\"succeeded\":true,\"revision\":2,"
                  "\"results\":[{\"op\":\"put\",\"key\":\"b\"},{\"op\":\"delete\",\"key\":"
                  "\"zz\",\"deleted\":false},{\"op\":\"get\",\"key\":\"b\",\"found\":true,"
                  "\"value\":\"x\",\"create_revision\":2,\"mod_revision\":2,\"version\":1}]}}"));
    apply(kv, "{\"type\":\"put\",\"payload\":{\"key\":\"a\",\"value\":\"2\"}}", &res);
    apply(kv, txn, &res); /* version is 2 now: the failure branch */
    CHECK(api_reply_txn(&res, &out) == 0);
    CHECK(body_is(&out,
                  "{\"code\":\"success\",\"payload\":{\"succeeded\":false,\"revision\":3,"
                  "\"results\":[{\"op\":\"get\",\"key\":\"nope\",\"found\":false}]}}"));
    kv_free(kv);
}
