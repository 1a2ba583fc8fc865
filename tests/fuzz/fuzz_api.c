/* fuzz_api.c: libFuzzer target for the client request parser (src/api/api.c).
 *
 * Input: byte 0 picks the HTTP method (low 3 bits) and the limits (bit 3: tiny
 * limits, so the too_large paths are reachable with short inputs); the rest is the
 * body. Beyond "no crash, no leak, no UB" it checks the parser's contract:
 * - a parsed request respects the limits, has a non-empty NUL-terminated key (a
 *   single-key type) or its own fields (range, txn, lease), and GET only ever
 *   yields a read (get, range, lease_list, lease_info: GET must not write);
 * - a failure leaves *out zeroed and maps to a 4xx status;
 * - the write command encodes and decodes back to the same bytes (kv_cmd.c);
 * - a range, txn, lease_list or lease_info runs against a small state machine and
 *   its reply is JSON;
 * - the reply builders produce JSON that json-c parses back to the same key and
 *   value bytes, whatever bytes the client sent (invalid UTF-8, NULs);
 * - the direct parser of the common bodies (src/api/parse_fast.c) takes a body
 *   only when the json-c path accepts it with an equal request, and declining
 *   leaves its request zeroed.
 */
#include "fuzz/fuzz.h"

#include <json-c/json.h>
#include <string.h>

#include "api/api.h"
#include "api/api_int.h"
#include "kv/kv_cmd.h"
#include "kv/kv_txn.h"
#include "lib/api_equal.h"

static const char *const methods[8] = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "get", ""};

static void check_string_field(json_object *obj, const char *name, const char *want, size_t len)
{
    json_object *v;
    FUZZ_CHECK(json_object_object_get_ex(obj, name, &v));
    FUZZ_CHECK(json_object_is_type(v, json_type_string));
    FUZZ_CHECK((size_t)json_object_get_string_len(v) == len);
    FUZZ_CHECK(memcmp(json_object_get_string(v), want, len) == 0);
}

/* The reply built for r parses as JSON and carries r's key (and value) unchanged. */
static void check_replies(const struct api_request *r)
{
    struct api_reply rep;
    FUZZ_CHECK(api_reply_redirect(r, "http://127.0.0.1:5000", &rep) == 0);
    json_object *top = json_tokener_parse(rep.body);
    FUZZ_CHECK(top != NULL);
    FUZZ_CHECK(strlen(rep.body) == rep.body_len);
    json_object *payload;
    FUZZ_CHECK(json_object_object_get_ex(top, "payload", &payload));
    check_string_field(payload, "key", r->key ? r->key : "", r->key_len);
    json_object_put(top);
    api_reply_free(&rep);
    if (r->key == NULL)
        return;

    const char *val = r->value ? r->value : "";
    FUZZ_CHECK(api_reply_value(r->key, r->key_len, val, r->value_len, &rep) == 0);
    top = json_tokener_parse(rep.body);
    FUZZ_CHECK(top != NULL);
    FUZZ_CHECK(json_object_object_get_ex(top, "payload", &payload));
    check_string_field(payload, "key", r->key, r->key_len);
    check_string_field(payload, "value", val, r->value_len);
    json_object_put(top);
    api_reply_free(&rep);
}

static void check_json(struct api_reply *rep)
{
    json_object *top = json_tokener_parse(rep->body);
    FUZZ_CHECK(top != NULL);
    json_object_put(top);
    api_reply_free(rep);
}

/* Runs a range or a txn against a state of a few keys (put through the real
 * command path) and checks that the reply is JSON. */
static void check_state_machine(const struct api_request *r, const struct kv_cmd *cmd)
{
    struct kv *kv = kv_new(4);
    FUZZ_CHECK(kv != NULL);
    static const char *const keys[] = {"a", "ab", "b", "k", "\xff"};
    struct kv_result res;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct kv_cmd put = {.op = KV_OP_PUT, .key = (const uint8_t *)keys[i]};
        put.key_len = strlen(keys[i]);
        put.value = put.key;
        put.value_len = put.key_len;
        uint8_t buf[64];
        size_t n = kv_cmd_encode(&put, buf, sizeof buf);
        FUZZ_CHECK(n > 0);
        kv_apply(kv, i + 1, 1, buf, n, &res);
    }
    /* Lease 1 with key "k" attached. */
    struct kv_cmd lease_cmds[] = {
        {.op = KV_OP_LEASE_GRANT, .lease = 1, .ttl = 5},
        {.op = KV_OP_PUT, .key = (const uint8_t *)"k", .key_len = 1, .lease = 1}};
    for (size_t i = 0; i < 2; i++) {
        uint8_t buf[64];
        size_t n = kv_cmd_encode(&lease_cmds[i], buf, sizeof buf);
        FUZZ_CHECK(n > 0);
        kv_apply(kv, 10 + i, 1, buf, n, &res);
        FUZZ_CHECK(res.status == KV_OK);
    }
    struct api_reply rep;
    if (r->op == API_OP_RANGE) {
        FUZZ_CHECK(api_reply_range(kv, r, &rep) == 0);
        check_json(&rep);
    } else if (r->op == API_OP_TXN) {
        uint8_t *buf;
        size_t len;
        FUZZ_CHECK(kv_cmd_encode_alloc(cmd, &buf, &len) == 0);
        kv_apply(kv, 100, 1, buf, len, &res);
        free(buf);
        /* A put naming a lease the state lacks refuses the branch. */
        FUZZ_CHECK(res.status == KV_OK || res.status == KV_LEASE_NOT_FOUND);
        if (res.status == KV_OK) {
            FUZZ_CHECK(api_reply_txn(&res, &rep) == 0);
            check_json(&rep);
        }
    } else if (r->op == API_OP_LEASE_LIST) {
        FUZZ_CHECK(api_reply_lease_list(kv, &rep) == 0);
        check_json(&rep);
    } else if (r->op == API_OP_LEASE_INFO) {
        FUZZ_CHECK(api_reply_lease_info(kv, r, 1500, &rep) == 0);
        check_json(&rep);
    }
    kv_free(kv);
}

static void check_cmd(const struct api_request *r)
{
    struct kv_cmd cmd, back;
    if (api_request_to_cmd(r, &cmd) != 0) {
        FUZZ_CHECK(api_op_is_read(r->op));
        if (r->op != API_OP_GET)
            check_state_machine(r, &cmd);
        return;
    }
    uint8_t *buf;
    size_t len;
    FUZZ_CHECK(kv_cmd_encode_alloc(&cmd, &buf, &len) == 0);
    FUZZ_CHECK(kv_cmd_decode(buf, len, &back) == 0);
    FUZZ_CHECK(back.op == cmd.op && back.key_len == cmd.key_len);
    FUZZ_CHECK(cmd.key_len == 0 || memcmp(back.key, cmd.key, cmd.key_len) == 0);
    FUZZ_CHECK(back.value_len == cmd.value_len);
    FUZZ_CHECK(cmd.value_len == 0 || memcmp(back.value, cmd.value, cmd.value_len) == 0);
    FUZZ_CHECK(back.has_session == cmd.has_session && back.seq == cmd.seq);
    FUZZ_CHECK(back.expect_absent == cmd.expect_absent && back.expected_len == cmd.expected_len);
    FUZZ_CHECK(back.txn_len == cmd.txn_len);
    FUZZ_CHECK(back.lease == cmd.lease && back.ttl == cmd.ttl);
    FUZZ_CHECK(cmd.op != KV_OP_LEASE_GRANT || (cmd.ttl >= 1 && cmd.ttl <= KV_LEASE_MAX_TTL));
    FUZZ_CHECK(cmd.txn_len == 0 || memcmp(back.txn, cmd.txn, cmd.txn_len) == 0);
    FUZZ_CHECK(r->op != API_OP_TXN || kv_txn_decode(back.txn, back.txn_len, NULL) == 0);
    free(buf);
    if (r->op == API_OP_TXN)
        check_state_machine(r, &cmd);
}

static void check_fast(const char *method, const char *body, size_t body_len,
                       const struct api_limits *lim)
{
    struct api_request fast, slow, zero;
    memset(&zero, 0, sizeof zero);
    if (!api_parse_fast(method, strlen(method), body, body_len, lim, &fast)) {
        FUZZ_CHECK(memcmp(&fast, &zero, sizeof fast) == 0);
        return;
    }
    FUZZ_CHECK(api_parse_request_json(method, strlen(method), body, body_len, lim, &slow, NULL,
                                      0) == API_OK);
    FUZZ_CHECK(api_request_equal(&fast, &slow));
    api_request_free(&fast);
    api_request_free(&slow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = methods[data[0] & 7];
    struct api_limits lim = {1024, 1 << 20};
    if (data[0] & 8)
        lim = (struct api_limits){8, 16};
    const char *body = (const char *)data + 1;
    size_t body_len = size - 1;
    check_fast(method, body, body_len, &lim);

    struct api_request r;
    char detail[128];
    enum api_error e =
        api_parse_request(method, strlen(method), body, body_len, &lim, &r, detail, sizeof detail);
    if (e != API_OK) {
        struct api_request zero;
        memset(&zero, 0, sizeof zero);
        FUZZ_CHECK(memcmp(&r, &zero, sizeof r) == 0);
        int st = api_error_http_status(e);
        FUZZ_CHECK(st >= 400 && st < 600);
        FUZZ_CHECK(memchr(detail, '\0', sizeof detail) != NULL);
        return 0;
    }
    bool single =
        r.op == API_OP_GET || r.op == API_OP_PUT || r.op == API_OP_DELETE || r.op == API_OP_CAS;
    FUZZ_CHECK(!single || (r.key != NULL && r.key_len >= 1 && r.key_len <= lim.max_key_bytes));
    FUZZ_CHECK(!single || r.key[r.key_len] == '\0');
    FUZZ_CHECK(single || r.key == NULL);
    FUZZ_CHECK((r.txn != NULL) == (r.op == API_OP_TXN));
    FUZZ_CHECK(r.op != API_OP_RANGE || (r.limit >= 1 && r.limit <= API_RANGE_MAX_LIMIT));
    FUZZ_CHECK(r.start_len <= lim.max_key_bytes && r.after_len <= lim.max_key_bytes);
    FUZZ_CHECK(r.value_len <= lim.max_value_bytes && r.expected_len <= lim.max_value_bytes);
    FUZZ_CHECK((r.value != NULL) == (r.op == API_OP_PUT || r.op == API_OP_CAS));
    FUZZ_CHECK(r.op != API_OP_CAS || r.expect_absent == (r.expected == NULL));
    FUZZ_CHECK(strcmp(method, "GET") != 0 || api_op_is_read(r.op));
    FUZZ_CHECK(r.lease <= KV_LEASE_MAX_ID);
    FUZZ_CHECK(!r.stale || r.op == API_OP_GET || r.op == API_OP_RANGE);
    FUZZ_CHECK(!r.has_session || r.seq >= 1);
    check_cmd(&r);
    check_replies(&r);
    api_request_free(&r);
    return 0;
}
