/* vclient.c: the retry/redirect loop (request bodies and replies: vwire.c) for
 * the Vesper client library (see vclient.h for the policy).
 *
 * One CURL easy handle per client keeps connections alive across requests and
 * attempts. The body is built once per vclient_do, so every retry sends the
 * same bytes (same seq). The URL that last gave an answer is remembered as the
 * leader hint and tried first next time, which keeps benchmarks off the
 * redirect path.
 */
#include "vclient.h"
#include "vwire.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS         25
#define BACKOFF_MAX_MS           1000
#define REDIRECTS_BEFORE_BACKOFF 8

struct vclient {
    CURL *curl;
    struct curl_slist *headers;
    char **endpoints; /* normalized ".../request" URLs */
    size_t n_endpoints;
    size_t next; /* endpoint to try after a failure */
    char *hint;  /* URL that answered last, tried first */
    struct vclient_opts opts;
    uint64_t client_id;
    uint64_t next_seq;
    uint64_t rng;
    bool fresh; /* next attempt opens a new connection */
    /* The last TLS verification failure of this request: more telling than a later
     * timeout when the deadline passes (a missing CA fails on every node). */
    char tls_err[160];
};

/* Errors that say this client cannot verify a node, or present its own certificate. */
static bool tls_config_error(CURLcode rc)
{
    return rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
           rc == CURLE_SSL_CERTPROBLEM;
}

static const char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* "host:port", "http://host:port/", ".../request" -> "http://host:port/request". */
static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)now_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
    return v ? v : 1;
}

void vclient_free(struct vclient *c)
{
    if (c == NULL)
        return;
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup(); /* balances the curl_global_init in setup_curl */
    }
    curl_slist_free_all(c->headers);
    for (size_t i = 0; i < c->n_endpoints; i++)
        free(c->endpoints[i]);
    free(c->endpoints);
    free(c->hint);
    free(c);
}

static int setup_curl(struct vclient *c)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        curl_global_cleanup();
        return -1;
    }
    /* An empty Expect: stops curl from waiting for 100-continue on PUT bodies. */
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Expect:") : NULL;
    if (h2 == NULL) {
        curl_slist_free_all(h);
        return -1;
    }
    c->headers = h2;
    if (c->opts.token) {
        char auth[512];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->opts.token);
        struct curl_slist *h3 = curl_slist_append(c->headers, auth);
        if (h3 == NULL)
            return -1;
        c->headers = h3;
    }
    if (c->opts.forward) {
        struct curl_slist *h3 = curl_slist_append(c->headers, "X-Vesper-Forward: 1");
        if (h3 == NULL)
            return -1;
        c->headers = h3;
    }
    if (curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, vwire_buf_write) != CURLE_OK ||
        curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK ||
        /* Container addresses change across restarts; do not trust a cached one. */
        curl_easy_setopt(c->curl, CURLOPT_DNS_CACHE_TIMEOUT, 1L) != CURLE_OK ||
        (c->opts.cacert && curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->opts.cacert) != CURLE_OK) ||
        (c->opts.cert && curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->opts.cert) != CURLE_OK) ||
        (c->opts.key && curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->opts.key) != CURLE_OK))
        return -1;
    return 0;
}

struct vclient *vclient_new(const struct vclient_opts *opts)
{
    if (opts == NULL || opts->n_endpoints == 0)
        return NULL;
    struct vclient *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->opts = *opts;
    c->opts.endpoints = NULL;
    /* As the CLI: the https settings may come from the environment. */
    if (!c->opts.cacert)
        c->opts.cacert = env_or_null("VESPER_CACERT");
    if (!c->opts.cert)
        c->opts.cert = env_or_null("VESPER_CERT");
    if (!c->opts.key)
        c->opts.key = env_or_null("VESPER_KEY");
    if (c->opts.timeout_ms <= 0)
        c->opts.timeout_ms = 5000;
    if (c->opts.attempt_timeout_ms <= 0)
        c->opts.attempt_timeout_ms = 1000;
    c->client_id = opts->client_id ? opts->client_id : random_u64();
    c->next_seq = opts->first_seq ? opts->first_seq : 1;
    c->rng = c->client_id | 1;
    c->endpoints = calloc(opts->n_endpoints, sizeof *c->endpoints);
    if (c->endpoints == NULL)
        goto fail;
    for (size_t i = 0; i < opts->n_endpoints; i++) {
        c->endpoints[i] = vwire_request_url(opts->endpoints[i]);
        if (c->endpoints[i] == NULL)
            goto fail;
        c->n_endpoints++;
    }
    if (setup_curl(c) != 0)
        goto fail;
    return c;
fail:
    vclient_free(c);
    return NULL;
}

uint64_t vclient_client_id(const struct vclient *c)
{
    return c->client_id;
}

/* One HTTP exchange. 0 with the reply in *b and *status, or -1 with err set. */
static int attempt(struct vclient *c, const char *url, bool is_get, const char *body,
                   size_t body_len, long timeout_ms, struct vwire_buf *b, long *status, char *err,
                   size_t err_len)
{
    CURL *h = c->curl;
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, is_get ? "GET" : "PUT") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, b) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, c->fresh ? 1L : 0L) != CURLE_OK) {
        snprintf(err, err_len, "curl: cannot set options");
        return -1;
    }
    CURLcode rc = curl_easy_perform(h);
    c->fresh = false;
    if (c->opts.verbose)
        fprintf(stderr, "vesper: %s %s -> %s %.*s\n", is_get ? "GET" : "PUT", url,
                rc == CURLE_OK ? "ok" : curl_easy_strerror(rc), (int)(b->len > 300 ? 300 : b->len),
                b->data ? b->data : "");
    if (rc != CURLE_OK || b->data == NULL) {
        snprintf(err, err_len, "%s: %s", url,
                 rc != CURLE_OK ? curl_easy_strerror(rc) : "empty reply");
        if (tls_config_error(rc))
            snprintf(c->tls_err, sizeof c->tls_err, "%s", err);
        return -1;
    }
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status) != CURLE_OK)
        *status = 0;
    return 0;
}

static const char *pick_url(struct vclient *c)
{
    if (c->hint != NULL)
        return c->hint;
    return c->endpoints[c->next % c->n_endpoints];
}

/* After a failure at url: forget the hint and move on to another endpoint. */
static void fail_over(struct vclient *c, const char *url)
{
    if (c->hint != NULL && strcmp(c->hint, url) == 0) {
        free(c->hint);
        c->hint = NULL;
    } else {
        c->next++;
    }
}

static void set_hint(struct vclient *c, const char *url)
{
    if (c->hint == url)
        return;
    char *h = strdup(url);
    if (h == NULL)
        return; /* only an optimization */
    free(c->hint);
    c->hint = h;
}

static void backoff_sleep(struct vclient *c, int64_t *backoff_ms, int64_t deadline)
{
    int64_t half = *backoff_ms / 2;
    int64_t ms = half + (int64_t)(xorshift(&c->rng) % (uint64_t)(half + 1));
    int64_t left = deadline - now_ms();
    sleep_ms(ms < left ? ms : left);
    *backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
}

static int req_valid(const struct vclient_req *r)
{
    if (r->key == NULL || r->key_len == 0 || r->op > VCLIENT_CAS)
        return 0;
    if ((r->op == VCLIENT_PUT || r->op == VCLIENT_CAS) && r->value == NULL)
        return 0;
    return r->op != VCLIENT_CAS || r->expect_absent || r->expected != NULL;
}

/* The retry loop; true when the cluster gave a final answer (resp->url). */
static bool run(struct vclient *c, bool is_get, const char *body, size_t body_len,
                struct vclient_resp *resp, char *last_err, size_t err_len)
{
    int64_t deadline = now_ms() + c->opts.timeout_ms;
    int64_t backoff_ms = BACKOFF_FIRST_MS;
    int redirects = 0;
    char *redirect_url = NULL; /* owned while following a redirect */
    bool answered = false;
    for (int64_t left; !answered && (left = deadline - now_ms()) > 0;) {
        const char *url = redirect_url ? redirect_url : pick_url(c);
        long t = c->opts.attempt_timeout_ms < left ? c->opts.attempt_timeout_ms : (long)left;
        struct vwire_buf b = {0};
        long status = 0;
        char *next = NULL;
        enum vwire_verdict v = VWIRE_RETRY;
        resp->attempts++;
        if (attempt(c, url, is_get, body, body_len, t, &b, &status, last_err, err_len) == 0) {
            v = vwire_judge(resp, &b.data, b.len, status, &next);
            if (b.data != NULL)
                snprintf(last_err, err_len, "%s: not a Vesper reply (HTTP %ld)", url, status);
        }
        free(b.data);
        if (v == VWIRE_DONE) {
            resp->url = strdup(url);
            set_hint(c, url);
            answered = true;
        } else if (v == VWIRE_REDIRECT) {
            /* A node naming itself as the leader means this connection reached
             * another node than the name says (addresses move when containers
             * restart): reconnect, resolving the name again. */
            if (strcmp(next, url) == 0)
                c->fresh = true;
            free(redirect_url);
            redirect_url = next;
            if (++redirects > REDIRECTS_BEFORE_BACKOFF) { /* leadership in flux */
                redirects = 0;
                backoff_sleep(c, &backoff_ms, deadline);
            }
        } else {
            if (redirect_url != NULL) {
                /* The leader's advertised URL is unreachable from here: ask
                 * another endpoint rather than the one that redirected us. */
                free(redirect_url);
                redirect_url = NULL;
                fail_over(c, pick_url(c));
            } else {
                fail_over(c, url);
            }
            c->fresh = true;
            backoff_sleep(c, &backoff_ms, deadline);
        }
    }
    free(redirect_url);
    return answered;
}

/* Sends body (freed here) through the retry loop and sets resp's outcome. */
static enum vclient_status do_body(struct vclient *c, bool is_get, char *body, size_t body_len,
                                   struct vclient_resp *resp)
{
    if (body == NULL) {
        snprintf(resp->error, sizeof resp->error, "out of memory");
        return resp->status;
    }
    char last_err[160] = "";
    c->tls_err[0] = '\0';
    bool answered = run(c, is_get, body, body_len, resp, last_err, sizeof last_err);
    if (c->tls_err[0] != '\0')
        snprintf(last_err, sizeof last_err, "%s", c->tls_err);
    free(body);
    if (answered) {
        /* resp->status is the cluster's answer */
    } else if (resp->body != NULL) {
        resp->status = VCLIENT_FAIL; /* deadline passed; keep the cluster's last word */
    } else {
        resp->status = VCLIENT_ERROR;
        snprintf(resp->error, sizeof resp->error, "deadline exceeded: %s",
                 last_err[0] ? last_err : "no attempt made");
    }
    return resp->status;
}

enum vclient_status vclient_do(struct vclient *c, const struct vclient_req *req,
                               struct vclient_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = VCLIENT_ERROR;
    if (!req_valid(req)) {
        snprintf(resp->error, sizeof resp->error, "invalid request");
        return resp->status;
    }
    bool is_get = req->op == VCLIENT_GET;
    uint64_t seq = (!is_get && !c->opts.no_session) ? c->next_seq++ : 0;
    resp->seq = seq;
    size_t body_len = 0;
    char *body = vwire_body(c->client_id, req, seq, &body_len);
    return do_body(c, is_get, body, body_len, resp);
}

enum vclient_status vclient_do_json(struct vclient *c, const char *type, json_object *payload,
                                    bool is_read, struct vclient_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = VCLIENT_ERROR;
    uint64_t seq = (!is_read && !c->opts.no_session) ? c->next_seq++ : 0;
    resp->seq = seq;
    size_t body_len = 0;
    char *body = vwire_json_body(c->client_id, type, payload, seq, &body_len);
    return do_body(c, is_read, body, body_len, resp);
}

void vclient_resp_free(struct vclient_resp *resp)
{
    free(resp->body);
    free(resp->value);
    free(resp->url);
    memset(resp, 0, sizeof *resp);
}
