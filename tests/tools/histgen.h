/* histgen.h: build/histgen, a load generator that records a history for build/lincheck.
 *
 *   build/histgen [options] IP_LIST_FILE
 *     -c, --clients N      concurrent clients, one thread and one keep-alive connection each (4)
 *     -d, --duration S     stop starting ops after S seconds (10; at most 3600)
 *     -n, --ops N          stop after N ops in total (0 = no limit; -d still applies)
 *     -k, --keys N         size of the key set "key0".."keyN-1" (5; at most 64)
 *     -p, --prefix P       key prefix instead of "key" ([A-Za-z0-9_-], at most 32 bytes):
 *                          each run against a live cluster needs fresh keys, because the
 *                          checker assumes every key starts absent
 *     -t, --timeout-ms N   budget of one op, redirects and retries included (1000)
 *     -o, --out FILE       history file (history.txt); format in tests/lib/lincheck.h
 *     -x, --extended       also issue delete and cas (the server must support them)
 *     -m, --multi          with -x, also issue range (the whole prefix) and txn (compare
 *                          one key's value, then put it and the next key) requests,
 *                          recorded as range and txn ops (tests/lib/lincheck.h)
 *     -s, --seed N         PRNG seed (time-based by default; printed in the summary)
 *
 * Every op is recorded with CLOCK_MONOTONIC microsecond invoke/complete times and an
 * outcome the checker can trust:
 *   ok    the server answered success (or not_found / cas_failed, which are results);
 *   fail  the op certainly did not take effect: every attempt was refused before the server
 *         could propose it (not_leader, no_leader, connection refused, bad_request, ...);
 *   info  unknown: a request was sent and no definite answer came back (timeout, connection
 *         reset, "timeout"/"unavailable"/"internal" answers, unparseable replies).
 * A write is never retried after an ambiguous attempt: a second copy applied later could
 * make a correct server look non-linearizable. Reads have no effect, so they retry until
 * their budget runs out. Redirects follow payload.message only to URLs in the list file,
 * and every URL there must be http://127.0.0.1:PORT, so the tool only ever talks to
 * loopback. The run is bounded: duration + one op timeout.
 *
 * Prints one summary line: "histgen: ops=N ok=N fail=N info=N secs=S ops/s=R seed=X".
 * Connection errors: "connection refused" counts as not sent only when libcurl reports that
 * no request bytes went out (CURLINFO_REQUEST_SIZE == 0): libcurl silently resends a request
 * whose reused keep-alive connection died, and reports the resend's refusal. Writes feed
 * their body through a read callback that cannot rewind, so such a resend fails instead of
 * applying a write twice; both cases are recorded as info.
 */
#ifndef VESPER_TESTS_TOOLS_HISTGEN_H
#define VESPER_TESTS_TOOLS_HISTGEN_H

#include "lib/lincheck.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define HISTGEN_MAX_ENDPOINTS 16
#define HISTGEN_URL_MAX       128
#define HISTGEN_KEY_MAX       48

struct histgen_config {
    int clients, keys, timeout_ms;
    double duration_s;
    long max_ops;
    bool extended, multi;
    uint64_t seed;
    const char *out_path;
    const char *prefix; /* keys are <prefix>0..<prefix>N-1 */
    char urls[HISTGEN_MAX_ENDPOINTS][HISTGEN_URL_MAX];
    int n_urls;
    int64_t run_deadline_us;
    atomic_long ops_started;
};

/* Per-client state; the history and last-seen values are owned by the client. */
struct histgen_client {
    struct histgen_config *cfg;
    int id, leader;
    int key; /* index of the current op's key */
    uint64_t rng;
    CURL *curl;
    struct curl_slist *headers;
    char req[512]; /* the request body of the current attempt */
    size_t req_len, req_off;
    char *body;   /* the reply body of the current attempt */
    char *result; /* the value the last successful read returned */
    size_t body_len, body_cap;
    char last[64][32];      /* a value this client last wrote or read per key, for cas */
    int multi;              /* the current op: 0 single-key, HISTGEN_RANGE or HISTGEN_TXN */
    char mval[2][32];       /* txn: the values put; range: unused */
    char key2[48];          /* txn: the second key */
    char range_val[64][32]; /* range: the value read per key ... */
    bool range_found[64];   /* ... if the key was there */
    long writes, ok, fail, info;
    struct lincheck_history hist;
    int error;
};

#define HISTGEN_RANGE 1
#define HISTGEN_TXN   2

/* histgen_multi.c: the range and txn ops of --multi. A range travels as a read
 * (op->type GET), a txn as a write (op->type CAS, never resent when ambiguous). */
/* Makes *op a range or a txn on key k (c->multi set) with the values for it. */
void histgen_multi_next(struct histgen_client *c, struct lincheck_op *op, int k, char *key2);
void histgen_multi_body(const struct histgen_client *c, const struct lincheck_op *op,
                        const char *key2, char *buf, size_t len);
/* Reads a success reply's payload into c / op; false when it is not one. */
bool histgen_multi_success(struct histgen_client *c, struct json_object *payload,
                           struct lincheck_op *op);
/* Records the finished op (its projections) and updates c->last. 0 or -1 (ENOMEM). */
int histgen_multi_record(struct histgen_client *c, const struct lincheck_op *op, const char *key2);

/* CLOCK_MONOTONIC in microseconds: the history's time base. */
int64_t histgen_now_us(void);

/* Sets up client id of cfg (its libcurl handle, headers, history). Returns 0 or -1;
 * histgen_client_free releases what was set up either way. cfg outlives the client. */
int histgen_client_init(struct histgen_client *c, struct histgen_config *cfg, int id);
void histgen_client_free(struct histgen_client *c);

/* Thread body: issues ops until cfg->run_deadline_us or cfg->max_ops, recording each. */
void *histgen_client_main(void *arg);

#endif
