/* test_api_lease.c: the lease request types: parsing (every bad ttl and id named),
 * the commands they become, a put's optional lease, and the reply bytes. */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "kv/kv_cmd.h"
#include "lib/test.h"

static const struct api_limits limits = {.max_key_bytes = 1024, .max_value_bytes = 1 << 20};

static enum api_error parse(const char *method, const char *body, struct api_request *r,
                            char *detail)
{
    enum api_error e =
        api_parse_request(method, strlen(method), body, strlen(body), &limits, r, detail, 160);
    if (e != API_OK && detail[0] == '\0')
        return API_ERR_INTERNAL; /* every failure must explain itself */
    return e;
}

TEST(api_lease_requests_parse_to_commands)
{
    struct api_request r;
    char d[160];
    struct kv_cmd c;
    CHECK(parse("POST", "{\"type\":\"lease_grant\",\"payload\":{\"ttl\":30}}", &r, d) == API_OK);
    CHECK(r.op == API_OP_LEASE_GRANT && r.ttl == 30 && r.lease == 0);
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_LEASE_GRANT && c.ttl == 30);
    api_request_free(&r);
    CHECK(parse("POST", "{\"type\":\"lease_grant\",\"payload\":{\"ttl\":1,\"id\":9}}", &r, d) ==
          API_OK);
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.lease == 9);
    api_request_free(&r);
    CHECK(parse("PUT", "{\"type\":\"lease_revoke\",\"payload\":{\"id\":4}}", &r, d) == API_OK);
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_LEASE_REVOKE && c.lease == 4);
    api_request_free(&r);
    CHECK(parse("POST", "{\"type\":\"lease_keepalive\",\"payload\":{\"id\":4}}", &r, d) == API_OK);
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_LEASE_KEEPALIVE);
    api_request_free(&r);
    CHECK(parse("GET", "{\"type\":\"lease_list\",\"payload\":{}}", &r, d) == API_OK);
    CHECK(api_op_is_read(r.op) && api_request_to_cmd(&r, &c) == -1);
    api_request_free(&r);
    CHECK(parse("GET", "{\"type\":\"lease_info\",\"payload\":{\"id\":4,\"keys\":true}}", &r, d) ==
          API_OK);
    CHECK(r.op == API_OP_LEASE_INFO && r.lease == 4 && r.lease_keys);
    api_request_free(&r);
    CHECK(parse("PUT", "{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\",\"lease\":7}}",
                &r, d) == API_OK);
    CHECK(api_request_to_cmd(&r, &c) == 0 && c.op == KV_OP_PUT && c.lease == 7);
    api_request_free(&r);
}

TEST(api_lease_bad_input_is_named)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{\"type\":\"lease_grant\",\"payload\":{\"ttl\":0}}", "payload.ttl"},
        {"{\"type\":\"lease_grant\",\"payload\":{\"ttl\":-5}}", "payload.ttl"},
        {"{\"type\":\"lease_grant\",\"payload\":{\"ttl\":2.5}}", "payload.ttl"},
        {"{\"type\":\"lease_grant\",\"payload\":{\"ttl\":\"3\"}}", "payload.ttl"},
        {"{\"type\":\"lease_grant\",\"payload\":{\"ttl\":1000000001}}", "payload.ttl"},
        {"{\"type\":\"lease_grant\",\"payload\":{}}", "payload.ttl"},
        {"{\"type\":\"lease_grant\",\"payload\":{\"ttl\":5,\"id\":0}}", "payload.id"},
        {"{\"type\":\"lease_revoke\",\"payload\":{}}", "payload.id"},
        {"{\"type\":\"lease_keepalive\",\"payload\":{\"id\":9223372036854775808}}", "payload.id"},
        {"{\"type\":\"lease_info\",\"payload\":{\"id\":1,\"keys\":1}}", "payload.keys"},
        {"{\"type\":\"put\",\"payload\":{\"key\":\"k\",\"value\":\"v\",\"lease\":\"1\"}}",
         "payload.lease"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct api_request r;
        char d[160];
        CHECK(parse("POST", bad[i].body, &r, d) == API_ERR_BAD_REQUEST);
        CHECK(strstr(d, bad[i].field) != NULL);
    }
    struct api_request r;
    char d[160];
    CHECK(parse("GET", "{\"type\":\"lease_grant\",\"payload\":{\"ttl\":5}}", &r, d) ==
          API_ERR_BAD_REQUEST); /* GET must not write */
}

TEST(api_lease_replies)
{
    struct api_reply out;
    CHECK(api_reply_value_lease("k", 1, "v", 1, 12, &out) == 0);
    CHECK(strcmp(out.body,
                 "{\"code\":\"success\",\"payload\":{\"key\":\"k\",\"value\":\"v\","
                 "\"lease\":12}}") == 0);
    api_reply_free(&out);
    uint8_t answer[] = {0x05, 0x1e}; /* id 5, ttl 30 */
    struct kv_result res = {
        .status = KV_OK, .has_current = true, .current = answer, .current_len = sizeof answer};
    CHECK(api_reply_lease(&res, &out) == 0);
    CHECK(strcmp(out.body, "{\"code\":\"success\",\"payload\":{\"id\":5,\"ttl\":30}}") == 0);
    api_reply_free(&out);
    CHECK(api_reply_fail(api_error_from_kv(KV_LEASE_NOT_FOUND), NULL, &out) == 0);
    CHECK(strcmp(out.body, "{\"code\":\"fail\",\"error\":\"lease_not_found\"}") == 0);
    CHECK(out.http_status == 200);
    api_reply_free(&out);
}
