/* api.h: the client wire protocol of /request, as pure functions (no h2o, no I/O).
 *
 * Request body (the v1 protocol's, extended):
 *   {"type":"get"|"put"|"delete"|"cas"|"range"|"txn",
 *    "payload":{"key":K, "value":V, "expected":E, "consistency":"stale"},
 *    "client_id":N, "seq":N, "revisions":true}
 * - get: key. put: key, value. delete: key. cas: key, value (the new value) and
 *   expected: a string (must equal the current value) or null (key must be absent).
 * - range: payload {"prefix":P} or {"start":A[,"end":B]} (B exclusive; no end:
 *   to the last key), optional "limit" (1..API_RANGE_MAX_LIMIT, default
 *   API_RANGE_DEFAULT_LIMIT), "after" (only keys > after: the last key of the
 *   previous page), "keys_only", "count_only" (booleans). range.c.
 * - txn: payload {"compare":[...],"success":[...],"failure":[...]} (each
 *   optional, at most KV_TXN_MAX entries); txn.c has the fields.
 * - lease_grant {"ttl":S[,"id":N]}, lease_revoke {"id":N}, lease_keepalive
 *   {"id":N}, lease_list {}, lease_info {"id":N[,"keys":true]}; put and cas take
 *   an optional "lease":N. lease.c has the rules.
 * - "consistency":"stale" (get and range) allows a follower to answer from its
 *   own state; "linearizable" (the default) goes through the leader.
 * - "revisions":true (any type) adds revisions to a success reply: get
 *   {"payload":{"key","value","create_revision","mod_revision","version",
 *   "revision"}}, put/delete/cas {"payload":{"revision":R}}. Without it the
 *   replies of get, put, delete and cas are the v1 protocol's, byte for byte;
 *   range and txn replies always carry revisions.
 * - client_id (uint64) and seq (uint64 >= 1) give exactly-once writes; both or
 *   neither. Each of client_id, seq, consistency may sit at the top level or in
 *   payload (the top level wins).
 * - Methods: GET (type defaults to get; only get and range: GET must not write),
 *   PUT (type defaults to put), DELETE (type defaults to delete), POST (any
 *   type, type required). Anything else: method_not_allowed.
 *
 * Replies: {"code":"success"} or {"code":"success","payload":{"key":K,"value":V}}
 * byte for byte as in the v1 protocol; fails are {"code":"fail","error":R} plus,
 * where useful, a payload. v1 clients read only "code" and payload.message.
 *
 *   error               HTTP  meaning / payload
 *   (success)           200
 *   not_found           200   get/delete of an absent key
 *   not_leader          200   did not apply. payload {key[,value],message:<leader
 *                             URL>}: not proposed here, retry there; without a
 *                             payload: another entry took its log index
 *   no_leader           200   election in progress, not proposed: retry later
 *   timeout             200   outcome unknown (commit not observed in time, leader
 *                             change, snapshot, node stopping or failed); retry
 *                             with the same client_id/seq is safe
 *   unavailable         200   node stopping, failed or overloaded: not proposed
 *                             (a read: not served); try another node
 *   cas_failed          200   payload {key[,value: current value]}; no value = absent
 *   stale_seq           200   seq older than the client's last one
 *   lease_not_found     200   no lease of that id (a put with it wrote nothing)
 *   lease_exists        200   lease_grant of an id in use
 *   session_expired     200   a retry (same client_id/seq) whose exactly-once
 *                             session was evicted: outcome unknown (an earlier
 *                             attempt may have applied; this one did not).
 *                             Retrying cannot help: read to find out, and use
 *                             a new client_id for further writes
 *   bad_request         400   malformed JSON / wrong types / missing fields
 *   method_not_allowed  405
 *   unauthorized        401   a client token is set and the request lacks it
 *   too_large           413   key or value over the configured limit
 *   internal            500
 * Protocol-level fails stay 200 as in the v1 protocol, whose clients
 * only follow a redirect on a 200; only malformed input gets a 4xx.
 *
 * Ownership: a parsed struct api_request owns copies of its strings (free with
 * api_request_free); reply bodies are malloc'd and owned by the struct
 * api_reply (api_reply_free). Strings are byte strings with lengths (a key may
 * contain NUL); each also ends with a NUL for convenience.
 */
#ifndef VESPER_API_API_H
#define VESPER_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"

#define API_ERROR_TABLE(X)                             \
    X(API_OK, "ok", 200)                               \
    X(API_ERR_NOT_FOUND, "not_found", 200)             \
    X(API_ERR_NOT_LEADER, "not_leader", 200)           \
    X(API_ERR_NO_LEADER, "no_leader", 200)             \
    X(API_ERR_TIMEOUT, "timeout", 200)                 \
    X(API_ERR_UNAVAILABLE, "unavailable", 200)         \
    X(API_ERR_CAS_FAILED, "cas_failed", 200)           \
    X(API_ERR_STALE_SEQ, "stale_seq", 200)             \
    X(API_ERR_SESSION_EXPIRED, "session_expired", 200) \
    X(API_ERR_LEASE_NOT_FOUND, "lease_not_found", 200) \
    X(API_ERR_LEASE_EXISTS, "lease_exists", 200)       \
    X(API_ERR_BAD_REQUEST, "bad_request", 400)         \
    X(API_ERR_BAD_METHOD, "method_not_allowed", 405)   \
    X(API_ERR_UNAUTHORIZED, "unauthorized", 401)       \
    X(API_ERR_TOO_LARGE, "too_large", 413)             \
    X(API_ERR_INTERNAL, "internal", 500)

enum api_error {
#define API_ERROR_ENUM(name, str, status) name,
    API_ERROR_TABLE(API_ERROR_ENUM)
#undef API_ERROR_ENUM
};

const char *api_error_str(enum api_error e);
int api_error_http_status(enum api_error e);
/* The protocol error for a state-machine result (KV_OK -> API_OK). */
enum api_error api_error_from_kv(enum kv_status st);

enum api_op {
    API_OP_GET,
    API_OP_PUT,
    API_OP_DELETE,
    API_OP_CAS,
    API_OP_RANGE,
    API_OP_TXN,
    API_OP_LEASE_GRANT,
    API_OP_LEASE_REVOKE,
    API_OP_LEASE_KEEPALIVE,
    API_OP_LEASE_LIST,
    API_OP_LEASE_INFO
};
#define API_OP_COUNT 11

/* True for the types answered from the state without the log (get, range,
 * lease_list, lease_info). */
bool api_op_is_read(enum api_op op);

#define API_RANGE_DEFAULT_LIMIT 1000
#define API_RANGE_MAX_LIMIT     10000
#define API_RANGE_MAX_BYTES     (4u << 20) /* keys + values of one page (at least one key) */

struct api_limits {
    size_t max_key_bytes;   /* e.g. 1024 */
    size_t max_value_bytes; /* e.g. 1 << 20; also bounds cas expected */
};

struct api_request {
    enum api_op op;
    char *key;
    size_t key_len; /* >= 1 */
    char *value;    /* put value / cas new value; NULL for get, delete */
    size_t value_len;
    char *expected; /* cas: NULL when expect_absent */
    size_t expected_len;
    bool expect_absent;
    bool stale;     /* get or range with "consistency":"stale" */
    bool revisions; /* "revisions":true */
    bool has_session;
    uint64_t client_id;
    uint64_t seq;
    /* range: NULL start/end/after = none (prefix is turned into start and end) */
    char *start, *end, *after;
    size_t start_len, end_len, after_len;
    uint64_t limit;
    bool keys_only, count_only;
    /* txn: the encoded transaction body (kv_txn.h), malloc'd */
    uint8_t *txn;
    size_t txn_len;
    /* leases (lease.c): put/cas "lease" (0: none); lease_* "id" (grant: 0 = the
     * store picks); grant "ttl" in seconds; lease_info "keys" */
    uint64_t lease;
    uint64_t ttl;
    bool lease_keys;
};

/* Parses one /request. method/method_len is the HTTP method. On API_OK *out
 * is filled (free with api_request_free); otherwise *out is zeroed and, when
 * detail is not NULL, a human-readable reason is written to it. */
enum api_error api_parse_request(const char *method, size_t method_len, const char *body,
                                 size_t body_len, const struct api_limits *limits,
                                 struct api_request *out, char *detail, size_t detail_len);
void api_request_free(struct api_request *r);

/* Fills cmd (pointing into r) for a write; -1 for a get or range. Encode with
 * kv_cmd.h. */
int api_request_to_cmd(const struct api_request *r, struct kv_cmd *cmd);

struct api_reply {
    int http_status;
    enum api_error error; /* the outcome it reports: API_OK for success */
    char *body;           /* JSON, NUL-terminated; malloc'd unless body_static */
    size_t body_len;
    bool body_static;
};

/* Each builder returns 0, or -1 on ENOMEM (*out then holds nothing to free).
 * Every error reply of vesperd's endpoints is built by api_reply_fail. */
int api_reply_success(struct api_reply *out);
/* {"code":"success","index":N}: a membership change applied at index N. */
int api_reply_success_index(uint64_t index, struct api_reply *out);
int api_reply_value(const char *key, size_t key_len, const char *value, size_t value_len,
                    struct api_reply *out);
/* {"code":"fail","error":R} or, with message, {"code":"fail","error":R,"message":M}. */
int api_reply_fail(enum api_error e, const char *message, struct api_reply *out);
/* Follower redirect: {"code":"fail","error":"not_leader","payload":{"key":K,
 * ["value":V,]"message":URL}}. leader_url is the leader's base URL as written in
 * the ip_list ("http://10.0.0.2:5000", no "/request"): a v1 client retries
 * at URL + "/request". */
int api_reply_redirect(const struct api_request *req, const char *leader_url,
                       struct api_reply *out);
/* A redirect without a key (admin requests):
 * {"code":"fail","error":"not_leader","payload":{"message":URL}}. */
int api_reply_redirect_url(const char *leader_url, struct api_reply *out);
/* {"code":"fail","error":"cas_failed","payload":{"key":K[,"value":current]}}. */
int api_reply_cas_failed(const char *key, size_t key_len, const char *current, size_t current_len,
                         bool has_current, struct api_reply *out);
/* A get with "revisions":true: {"code":"success","payload":{"key":K,"value":V,
 * "create_revision":C,"mod_revision":M,"version":N,"revision":R}}. */
int api_reply_record(const struct kv_rec *r, uint64_t revision, struct api_reply *out);
/* A write with "revisions":true: {"code":"success","payload":{"revision":R}}. */
int api_reply_success_revision(uint64_t revision, struct api_reply *out);
/* The answer to a range request, read from kv now (range.c):
 * {"code":"success","payload":{"kvs":[{"key","value","create_revision",
 * "mod_revision","version"},...],"count":N,"more":B,"revision":R}}. */
int api_reply_range(const struct kv *kv, const struct api_request *req, struct api_reply *out);
/* The answer to a txn from its state-machine result (txn.c):
 * {"code":"success","payload":{"succeeded":B,"revision":R,"results":[...]}}. */
int api_reply_txn(const struct kv_result *res, struct api_reply *out);
/* lease.c: the answer of a lease_grant or lease_keepalive from its state-machine
 * result: {"code":"success","payload":{"id":N,"ttl":T}}. */
int api_reply_lease(const struct kv_result *res, struct api_reply *out);
/* lease_list: {"code":"success","payload":{"ids":[N,...],"revision":R}}. */
int api_reply_lease_list(const struct kv *kv, struct api_reply *out);
/* lease_info: {"code":"success","payload":{"id":N,"ttl":T,"remaining":S[,"keys":[K,...]]}},
 * S the seconds left by the leader's clock (remaining_ms < 0: not known here, the
 * granted TTL is given), or lease_not_found. */
int api_reply_lease_info(const struct kv *kv, const struct api_request *req, int64_t remaining_ms,
                         struct api_reply *out);
/* A get of a leased key: api_reply_value plus "lease":ID in the payload. */
int api_reply_value_lease(const char *key, size_t key_len, const char *value, size_t value_len,
                          uint64_t lease, struct api_reply *out);
/* What to send when a builder ran out of memory: {"code":"fail","error":"internal"},
 * 500, from static memory (needs no allocation; api_reply_free accepts it). */
void api_reply_internal(struct api_reply *out);
void api_reply_free(struct api_reply *r);

#endif
