/* vclient.h: Vesper client library: one logical request, with leader redirects,
 * failover across endpoints and retries through elections, up to a deadline.
 *
 * Speaks the /request protocol of src/api/api.h (the v1 protocol, extended): GET for
 * get, PUT for put/delete/cas, JSON body {"type":..,"payload":{..}}. Retry policy:
 * - success, or a definite fail (not_found, cas_failed, bad_request, too_large,
 *   stale_seq, ...): done.
 * - fail with payload.message (a follower naming the leader): retry at
 *   message + "/request" at once.
 * - no_leader, timeout, unavailable, connection errors, non-JSON replies: try the
 *   next endpoint after an exponential backoff (25 ms doubling to 1 s, jittered)
 *   until the deadline.
 * Writes carry (client_id, seq) unless exactly_once is off: one vclient_do call
 * is one seq and all its retries reuse it, so a write whose first attempt
 * committed but whose reply was lost is not applied twice.
 *
 * Ownership: vclient_new copies the endpoint strings. struct vclient_resp owns
 * its body/value/url strings (vclient_resp_free). A vclient is not thread-safe;
 * use one per thread. Call curl_global_init once before creating clients in a
 * multi-threaded program (vclient_new calls it otherwise).
 */
#ifndef VESPER_CLIENT_VCLIENT_H
#define VESPER_CLIENT_VCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vclient_op { VCLIENT_GET, VCLIENT_PUT, VCLIENT_DELETE, VCLIENT_CAS };

struct vclient_opts {
    const char *const *endpoints; /* "http://host:port" (a trailing /request is fine) */
    size_t n_endpoints;           /* >= 1 */
    long timeout_ms;              /* deadline per vclient_do, retries included; 0 = 5000 */
    long attempt_timeout_ms;      /* per HTTP attempt; 0 = 1000 */
    bool no_session;              /* writes without client_id/seq */
    bool forward;                 /* ask followers to relay to the leader */
    const char *token;            /* client API bearer token, or NULL; borrowed */
    const char *cacert;           /* https: CA file to verify the nodes with (NULL: the
                                     system's); borrowed */
    const char *cert, *key;       /* https: client certificate and key files, or NULL */
    uint64_t client_id;           /* 0 = random */
    uint64_t first_seq;           /* 0 = 1 */
    bool verbose;                 /* log each attempt to stderr */
};

struct vclient_req {
    enum vclient_op op;
    const char *key;
    size_t key_len;
    const char *value; /* put value, cas new value */
    size_t value_len;
    const char *expected; /* cas; ignored when expect_absent */
    size_t expected_len;
    bool expect_absent;
    bool stale;     /* get: allow a follower's local state */
    bool revisions; /* ask for revisions in the reply ("revisions":true) */
};

enum vclient_status {
    VCLIENT_SUCCESS = 0, /* {"code":"success"} */
    VCLIENT_FAIL = 1,    /* the cluster answered {"code":"fail"} (see error) */
    VCLIENT_ERROR = 2,   /* no usable answer before the deadline, or bad arguments */
};

struct vclient_resp {
    enum vclient_status status;
    long http_status; /* of the last reply, 0 if none */
    char *body;       /* last reply body (NUL-terminated JSON), NULL if none */
    size_t body_len;
    char error[200]; /* fail: the reply's "error" (may be ""); error: local reason */
    bool has_value;  /* reply payload.value (get result, cas current value) */
    char *value;
    size_t value_len;
    char *url;    /* the URL that gave the final answer */
    int attempts; /* HTTP requests sent */
    uint64_t seq; /* seq used for this write (0: none) */
};

struct vclient;

/* NULL on bad options (no endpoints) or ENOMEM. */
struct vclient *vclient_new(const struct vclient_opts *opts);
void vclient_free(struct vclient *c);
uint64_t vclient_client_id(const struct vclient *c);

/* Runs one request to completion; returns resp->status. resp must be freed. */
enum vclient_status vclient_do(struct vclient *c, const struct vclient_req *req,
                               struct vclient_resp *resp);
/* Any other request type: {"type":type,"payload":payload} (payload is taken,
 * even on failure), with client_id/seq unless is_read or no_session; reads go
 * as GET. The same retries as vclient_do. */
struct json_object;
enum vclient_status vclient_do_json(struct vclient *c, const char *type,
                                    struct json_object *payload, bool is_read,
                                    struct vclient_resp *resp);
void vclient_resp_free(struct vclient_resp *resp);

#endif
