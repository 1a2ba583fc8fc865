/* histgen.c: one histgen client: its HTTP attempts, their classification, the op loop.
 *
 * Owns the rules that make a recorded history trustworthy (see histgen.h): which answers
 * are definite (ok / fail) and which leave the outcome unknown (info), when an attempt may
 * be retried, and where a redirect may lead. Each client thread owns one libcurl easy handle
 * (one keep-alive connection) and its own history, so threads share nothing but the
 * read-only config and the op counter; histgen_main.c merges the histories at the end.
 */
#include "tools/histgen.h"

#include "lib/tls_env.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <time.h>

/* What one HTTP attempt established. */
enum histgen_attempt {
    HISTGEN_DONE_OK,   /* answered; the op took effect or returned its result */
    HISTGEN_DONE_FAIL, /* answered with a definite rejection that retrying will not fix */
    HISTGEN_REDIRECT,  /* not_leader with a known leader: c->leader was updated */
    HISTGEN_RETRY,     /* not applied (refused, no_leader): try another endpoint shortly */
    HISTGEN_AMBIGUOUS, /* sent, but no definite answer */
};

int64_t histgen_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void histgen_sleep_us(int64_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t histgen_rand(struct histgen_client *c)
{
    c->rng ^= c->rng >> 12; /* xorshift64* */
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 2685821657736338717ull;
}

static size_t histgen_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct histgen_client *c = arg;
    size_t n = size * nmemb;
    if (c->body_len + n + 1 > c->body_cap) {
        size_t cap = (c->body_len + n + 1) * 2;
        char *p = realloc(c->body, cap);
        if (!p)
            return 0; /* makes curl fail the transfer: recorded as ambiguous */
        c->body = p;
        c->body_cap = cap;
    }
    memcpy(c->body + c->body_len, data, n);
    c->body_len += n;
    c->body[c->body_len] = '\0';
    return n;
}

/* Index of url in the endpoint list (trailing '/' ignored), or -1: we never leave the list. */
static int histgen_find_url(const struct histgen_config *cfg, const char *url)
{
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    for (int i = 0; i < cfg->n_urls; i++)
        if (strlen(cfg->urls[i]) == len && memcmp(cfg->urls[i], url, len) == 0)
            return i;
    return -1;
}

/* The string value of obj, or NULL when obj is missing, null or not a string. */
static const char *histgen_str(struct json_object *obj)
{
    return json_object_is_type(obj, json_type_string) ? json_object_get_string(obj) : NULL;
}

/* Maps a parsed {"code":...} reply onto an attempt result, filling op->result for reads. */
static enum histgen_attempt histgen_classify(struct histgen_client *c, struct json_object *reply,
                                             struct lincheck_op *op)
{
    struct json_object *payload = json_object_object_get(reply, "payload");
    const char *code = histgen_str(json_object_object_get(reply, "code"));
    const char *err = histgen_str(json_object_object_get(reply, "error"));
    if (!code)
        return HISTGEN_AMBIGUOUS;
    if (strcmp(code, "success") == 0 && c->multi)
        return histgen_multi_success(c, payload, op) ? HISTGEN_DONE_OK : HISTGEN_AMBIGUOUS;
    if (strcmp(code, "success") == 0) {
        if (op->type == LINCHECK_GET) {
            const char *value = histgen_str(json_object_object_get(payload, "value"));
            if (!value)
                return HISTGEN_AMBIGUOUS;
            op->result = LINCHECK_STR(value);
        }
        op->cas_swapped = true;
        return HISTGEN_DONE_OK;
    }
    if (!err)
        err = "";
    if (strcmp(err, "not_found") == 0 && op->type != LINCHECK_CAS)
        return HISTGEN_DONE_OK; /* get: absent (result stays "-"); delete of an absent key */
    if (strcmp(err, "cas_failed") == 0 && op->type == LINCHECK_CAS) {
        op->cas_swapped = false;
        return HISTGEN_DONE_OK;
    }
    if (strcmp(err, "not_leader") == 0) {
        const char *leader = histgen_str(json_object_object_get(payload, "message"));
        int i = leader ? histgen_find_url(c->cfg, leader) : -1;
        if (i < 0 || i == c->leader)
            return HISTGEN_RETRY;
        c->leader = i;
        return HISTGEN_REDIRECT;
    }
    if (strcmp(err, "no_leader") == 0)
        return HISTGEN_RETRY;
    if (strcmp(err, "bad_request") == 0 || strcmp(err, "method_not_allowed") == 0 ||
        strcmp(err, "too_large") == 0 || strcmp(err, "stale_seq") == 0)
        return HISTGEN_DONE_FAIL;
    return HISTGEN_AMBIGUOUS; /* timeout, unavailable, internal, anything unknown */
}

static const char *histgen_method(enum lincheck_op_type t)
{
    static const char *const methods[] = {"GET", "PUT", "DELETE", "POST"};
    return methods[t];
}

static void histgen_request_body(const struct histgen_client *c, const struct lincheck_op *op,
                                 char *buf, size_t len)
{
    if (c->multi) {
        histgen_multi_body(c, op, c->key2, buf, len);
        return;
    }
    static const char *const types[] = {"get", "put", "delete", "cas"};
    const char *k = op->key.data;
    if (op->type == LINCHECK_PUT)
        snprintf(buf, len, "{\"type\":\"put\",\"payload\":{\"key\":\"%s\",\"value\":\"%s\"}}", k,
                 op->value.data);
    else if (op->type == LINCHECK_CAS && op->expected.data)
        snprintf(buf, len,
                 "{\"type\":\"cas\",\"payload\":{\"key\":\"%s\",\"value\":\"%s\","
                 "\"expected\":\"%s\"}}",
                 k, op->value.data, op->expected.data);
    else if (op->type == LINCHECK_CAS)
        snprintf(buf, len,
                 "{\"type\":\"cas\",\"payload\":{\"key\":\"%s\",\"value\":\"%s\","
                 "\"expected\":null}}",
                 k, op->value.data);
    else
        snprintf(buf, len, "{\"type\":\"%s\",\"payload\":{\"key\":\"%s\"}}", types[op->type], k);
}

/* libcurl pulls a write's body through this callback. Having no seek callback is the
 * point: when a reused keep-alive connection dies after the request went out, libcurl
 * resends it on a fresh connection, which needs a rewind; refusing the rewind turns that
 * silent resend (a possible second application) into CURLE_SEND_FAIL_REWIND, i.e. info. */
static size_t histgen_read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    struct histgen_client *c = arg;
    size_t n = c->req_len - c->req_off;
    if (n > size * nmemb)
        n = size * nmemb;
    memcpy(dst, c->req + c->req_off, n);
    c->req_off += n;
    return n;
}

/* Points the handle at the op's body: reads (no effect, resending is harmless) as plain
 * POSTFIELDS, writes through histgen_read_cb. CUSTOMREQUEST sets the method either way. */
static bool histgen_set_body(struct histgen_client *c, const struct lincheck_op *op)
{
    CURL *h = c->curl;
    bool read_only = op->type == LINCHECK_GET;
    c->req_off = 0;
    return curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, histgen_method(op->type)) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDS, read_only ? c->req : NULL) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)c->req_len) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_READFUNCTION, histgen_read_cb) == CURLE_OK &&
           curl_easy_setopt(h, CURLOPT_READDATA, c) == CURLE_OK;
}

/* One HTTP exchange with endpoint c->leader, bounded by budget_ms. */
static enum histgen_attempt histgen_attempt(struct histgen_client *c, struct lincheck_op *op,
                                            long budget_ms)
{
    char url[HISTGEN_URL_MAX + 16];
    snprintf(url, sizeof url, "%s/request", c->cfg->urls[c->leader]);
    histgen_request_body(c, op, c->req, sizeof c->req);
    c->req_len = strlen(c->req);
    c->body_len = 0;
    CURL *h = c->curl;
    if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK || !histgen_set_body(c, op) ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, budget_ms < 1 ? 1L : budget_ms) != CURLE_OK)
        return HISTGEN_AMBIGUOUS;
    CURLcode rc = curl_easy_perform(h);
    long sent = 1;
    if (rc == CURLE_COULDNT_CONNECT &&
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent) == CURLE_OK && sent == 0)
        return HISTGEN_RETRY; /* refused before anything was sent */
    /* A refused connect with sent > 0 is libcurl's resend after the first copy went out on
     * a reused connection that then died: the first copy's fate is unknown. */
    if (rc != CURLE_OK)
        return HISTGEN_AMBIGUOUS;
    long status = 0;
    if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status >= 500)
        return HISTGEN_AMBIGUOUS;
    struct json_object *reply = c->body_len ? json_tokener_parse(c->body) : NULL;
    if (!reply)
        return status >= 400 ? HISTGEN_DONE_FAIL : HISTGEN_AMBIGUOUS;
    enum histgen_attempt a = histgen_classify(c, reply, op);
    if (a == HISTGEN_DONE_OK && op->result.data) {
        /* The string lives inside reply, which is freed below: keep a copy. */
        free(c->result);
        c->result = strdup(op->result.data);
        op->result = c->result ? LINCHECK_STR(c->result) : LINCHECK_ABSENT;
        if (!c->result)
            a = HISTGEN_AMBIGUOUS;
    }
    json_object_put(reply);
    return a;
}

#define HISTGEN_INFO_PAUSE_US 100000

/* Runs one op to a recorded outcome within the per-op budget. */
static void histgen_run_op(struct histgen_client *c, struct lincheck_op *op)
{
    int64_t deadline = op->invoke_us + (int64_t)c->cfg->timeout_ms * 1000;
    bool ambiguous = false;
    int redirects = 0;
    op->outcome = LINCHECK_FAIL;
    for (int64_t now = histgen_now_us(); now < deadline; now = histgen_now_us()) {
        enum histgen_attempt a = histgen_attempt(c, op, (long)((deadline - now) / 1000));
        if (a == HISTGEN_DONE_OK || a == HISTGEN_DONE_FAIL) {
            op->outcome = a == HISTGEN_DONE_OK ? LINCHECK_OK : LINCHECK_FAIL;
            break;
        }
        if (a == HISTGEN_AMBIGUOUS) {
            ambiguous = true;
            if (op->type != LINCHECK_GET)
                break; /* never resend a write whose fate is unknown */
        }
        if (a == HISTGEN_REDIRECT && ++redirects < 3)
            continue;
        /* Refused, no leader, stale redirect chain or an ambiguous read: next endpoint. */
        redirects = 0;
        c->leader = (c->leader + 1) % c->cfg->n_urls;
        histgen_sleep_us(20000);
    }
    op->complete_us = histgen_now_us();
    if (op->outcome != LINCHECK_OK && ambiguous)
        op->outcome = LINCHECK_INFO;
}

/* Draws the next op: get/put, plus delete/cas with --extended (and half the deletes
 * become a range or a txn with --multi). Strings point into c. */
static void histgen_next_op(struct histgen_client *c, struct lincheck_op *op, char *key,
                            char *value)
{
    int k = (int)(histgen_rand(c) % (uint64_t)c->cfg->keys);
    int r = (int)(histgen_rand(c) % 100);
    c->key = k;
    snprintf(key, HISTGEN_KEY_MAX, "%s%d", c->cfg->prefix, k);
    snprintf(value, 32, "c%d-%ld", c->id, c->writes);
    *op = (struct lincheck_op){.proc = (uint64_t)c->id, .key = LINCHECK_STR(key)};
    if (!c->cfg->extended)
        op->type = r < 50 ? LINCHECK_GET : LINCHECK_PUT;
    else
        op->type = r < 40   ? LINCHECK_GET
                   : r < 70 ? LINCHECK_PUT
                   : r < 80 ? LINCHECK_DELETE
                            : LINCHECK_CAS;
    if (op->type == LINCHECK_PUT || op->type == LINCHECK_CAS) {
        op->value = LINCHECK_STR(value);
        c->writes++;
    }
    if (op->type == LINCHECK_CAS && c->last[k][0] && histgen_rand(c) % 4 != 0)
        op->expected = LINCHECK_STR(c->last[k]);
    c->multi = 0;
    if (c->cfg->multi && c->cfg->extended && r >= 75 && r < 80 && c->cfg->keys > 1)
        c->multi = histgen_rand(c) % 2 ? HISTGEN_RANGE : HISTGEN_TXN;
    if (c->multi)
        histgen_multi_next(c, op, k, c->key2);
}

void *histgen_client_main(void *arg)
{
    struct histgen_client *c = arg;
    struct histgen_config *cfg = c->cfg;
    while (histgen_now_us() < cfg->run_deadline_us) {
        if (cfg->max_ops && atomic_fetch_add(&cfg->ops_started, 1) >= cfg->max_ops)
            break;
        struct lincheck_op op;
        char key[HISTGEN_KEY_MAX], value[32], expected[32];
        histgen_next_op(c, &op, key, value);
        if (op.expected.data) { /* last[k] changes below, before the op is recorded */
            snprintf(expected, sizeof expected, "%s", op.expected.data);
            op.expected = LINCHECK_STR(expected);
        }
        op.invoke_us = histgen_now_us();
        histgen_run_op(c, &op);
        if (op.outcome == LINCHECK_INFO) {
            /* As a real client would after a timeout: another node, after a pause. A
             * burst of ops left open at one node would otherwise make the history's
             * check exponential (every info op stays open to the end). */
            c->leader = (c->leader + 1) % cfg->n_urls;
            histgen_sleep_us(HISTGEN_INFO_PAUSE_US);
        }
        if (c->multi) {
            c->ok += op.outcome == LINCHECK_OK;
            c->fail += op.outcome == LINCHECK_FAIL;
            c->info += op.outcome == LINCHECK_INFO;
            if (histgen_multi_record(c, &op, c->key2) != 0) {
                c->error = ENOMEM;
                break;
            }
            continue;
        }
        int k = c->key;
        if (op.outcome == LINCHECK_OK && op.value.data &&
            (op.type == LINCHECK_PUT || op.cas_swapped))
            snprintf(c->last[k], sizeof c->last[k], "%s", value);
        else if (op.outcome == LINCHECK_OK && !op.value.data && !op.result.data)
            c->last[k][0] = '\0'; /* a delete, or a read that found the key absent */
        else if (op.outcome == LINCHECK_OK && op.result.data && op.result.len < sizeof c->last[k])
            memcpy(c->last[k], op.result.data, op.result.len + 1);
        c->ok += op.outcome == LINCHECK_OK;
        c->fail += op.outcome == LINCHECK_FAIL;
        c->info += op.outcome == LINCHECK_INFO;
        if (lincheck_history_add(&c->hist, &op) != 0) {
            c->error = ENOMEM;
            break;
        }
    }
    return NULL;
}

int histgen_client_init(struct histgen_client *c, struct histgen_config *cfg, int id)
{
    *c = (struct histgen_client){.cfg = cfg, .id = id, .leader = id % cfg->n_urls};
    c->rng = cfg->seed * 0x9E3779B97F4A7C15ull + (uint64_t)id * 0xBF58476D1CE4E5B9ull + 1;
    lincheck_history_init(&c->hist);
    c->curl = curl_easy_init();
    /* An empty "Expect:" stops curl waiting for 100-continue before sending the body. */
    c->headers = curl_slist_append(NULL, "Expect:");
    struct curl_slist *h2 =
        c->headers ? curl_slist_append(c->headers, "Content-Type: application/json") : NULL;
    if (!c->curl || !h2)
        return -1;
    c->headers = h2;
    CURL *h = c->curl;
    long connect_ms = cfg->timeout_ms < 500 ? cfg->timeout_ms : 500;
    if (curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, histgen_write_cb) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_WRITEDATA, c) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK || !tls_env_apply(h) ||
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK)
        return -1;
    return 0;
}

void histgen_client_free(struct histgen_client *c)
{
    curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    free(c->body);
    free(c->result);
    lincheck_history_free(&c->hist);
}
