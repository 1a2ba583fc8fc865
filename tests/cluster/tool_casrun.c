/* tool_casrun.c: `cluster-tool casrun`, the exactly-once writer of scenario 9.
 *
 *   cluster-tool casrun IP_LIST KEY CLIENT_ID SECONDS LOSE_EVERY
 *
 * One client with a fixed CLIENT_ID runs the CAS chain KEY: absent -> "1" -> "2" -> ..., the
 * i-th CAS with seq i, starting new ones until SECONDS pass. A CAS chain is not idempotent:
 * if a CAS whose reply was lost were applied again on retry, the retry would answer
 * cas_failed, and if any were applied twice the chain (and the final value) would break. So
 * the chain checks the server's session table end to end.
 *
 * It speaks raw libcurl rather than vclient so every HTTP attempt is visible. An attempt
 * without a definite answer (connection error, curl timeout, "timeout", "unavailable",
 * non-JSON) is "unknown": the same body, same (client_id, seq), is sent again until a definite
 * answer. Before each such retry a linearizable GET probes KEY: if it already holds "i", the
 * first copy is known to be applied and the retry's success must have come from the session
 * table (counted as dedup_proven; dedup_moved counts those answered by another node than the
 * one that took the first copy, i.e. after a leader change). LOSE_EVERY > 0 drops the connection of
 * the first attempt of every LOSE_EVERY-th CAS as soon as the request is sent, before its answer,
 * so that lost replies of committed commands happen on every run, not only when a leader dies
 * mid-request.
 *
 * Prints one summary line. Exit 0: every CAS answered success exactly once and KEY reads back
 * as the last value; 1: a definite non-success answer (cas_failed, stale_seq, ...), a probe
 * that read neither i-1 nor i, or a wrong final value; 2: setup error or no definite answer
 * within 20 s for one CAS.
 */
#include "cluster_tool.h"
#include "lib/tls_env.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CAS_ATTEMPT_MS 1500 /* below the server's 3 s commit deadline: a hang is seen */
#define CAS_BACKOFF_MS 20
#define CAS_OP_LIMIT_S 20 /* per CAS: longer than any failover the suite provokes */

enum cas_answer {
    CAS_ANS_OK,       /* success (value in .value for a get) */
    CAS_ANS_REDIRECT, /* not_leader naming the leader: .target changed, resend at once */
    CAS_ANS_REFUSED,  /* not proposed (no_leader, not_leader without a URL): try elsewhere */
    CAS_ANS_UNKNOWN,  /* no definite answer: the command may or may not have applied */
    CAS_ANS_FAIL,     /* a definite fail: .error */
};

struct cas_client {
    CURL *curl;
    struct curl_slist *headers;
    char target[160]; /* base URL of the node requests go to (the leader, once known) */
    size_t next_ep;
    struct tool_buf buf;
    char error[160]; /* "error" of a fail, or the transport problem */
    char value[64];  /* payload.value of the last answer */
    bool has_value;
};

struct cas_stats {
    long ok, attempts, redirects, refused, unknown, lost_injected;
    long retried_ops, unknown_ops, dedup_proven, dedup_moved, probe_not_applied, probe_failed;
    long max_op_ms;
};

static void cas_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int cas_client_init(struct cas_client *c)
{
    memset(c, 0, sizeof *c);
    c->curl = curl_easy_init();
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(c->target, sizeof c->target, "%s", tool_eps[0]);
    return c->curl && c->headers && curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
                   curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 500L) == CURLE_OK &&
                   curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK &&
                   curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, tool_collect) == CURLE_OK &&
                   curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->buf) == CURLE_OK &&
                   tls_env_apply(c->curl)
               ? 0
               : -1;
}

static void cas_client_free(struct cas_client *c)
{
    curl_slist_free_all(c->headers);
    if (c->curl)
        curl_easy_cleanup(c->curl);
}

/* The next endpoint in turn: after a refusal or an unknown answer the leader may have moved. */
static void cas_rotate(struct cas_client *c)
{
    snprintf(c->target, sizeof c->target, "%s", tool_eps[c->next_ep++ % tool_n_eps]);
}

/* Reads a JSON reply into c->error / c->value and classifies it. */
static enum cas_answer cas_classify(struct cas_client *c, json_object *o)
{
    json_object *v, *payload = NULL, *msg = NULL;
    const char *code = json_object_object_get_ex(o, "code", &v) ? json_object_get_string(v) : "";
    const char *err = json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : "";
    snprintf(c->error, sizeof c->error, "%s", err ? err : "");
    if (json_object_object_get_ex(o, "payload", &payload) && payload &&
        json_object_object_get_ex(payload, "value", &v) && v) {
        snprintf(c->value, sizeof c->value, "%s", json_object_get_string(v));
        c->has_value = true;
    }
    if (code && strcmp(code, "success") == 0)
        return CAS_ANS_OK;
    if (strcmp(c->error, "not_leader") == 0 && payload &&
        json_object_object_get_ex(payload, "message", &msg) && msg &&
        json_object_get_string_len(msg) > 0) {
        snprintf(c->target, sizeof c->target, "%s", json_object_get_string(msg));
        return CAS_ANS_REDIRECT;
    }
    if (strcmp(c->error, "not_leader") == 0 || strcmp(c->error, "no_leader") == 0)
        return CAS_ANS_REFUSED;
    if (strcmp(c->error, "timeout") == 0 || strcmp(c->error, "unavailable") == 0)
        return CAS_ANS_UNKNOWN;
    return CAS_ANS_FAIL;
}

/* Progress callback of a "lost reply" attempt: abort once the whole request is sent. */
static int cas_drop_after_send(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                               curl_off_t ulnow)
{
    (void)arg;
    (void)dltotal;
    (void)dlnow;
    return ultotal > 0 && ulnow >= ultotal;
}

/* One HTTP attempt of body at c->target; lose drops the connection once the request is out. */
static enum cas_answer cas_send(struct cas_client *c, const char *method, const char *body,
                                bool lose)
{
    char url[200];
    snprintf(url, sizeof url, "%s/request", c->target);
    c->buf.len = 0;
    c->buf.data[0] = '\0';
    c->error[0] = '\0';
    c->has_value = false;
    CURLcode cc = curl_easy_setopt(c->curl, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, (long)CAS_ATTEMPT_MS);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, lose ? 0L : 1L);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, cas_drop_after_send);
    if (cc == CURLE_OK)
        cc = curl_easy_perform(c->curl);
    if (cc != CURLE_OK) {
        snprintf(c->error, sizeof c->error, "curl: %s", curl_easy_strerror(cc));
        return CAS_ANS_UNKNOWN;
    }
    json_object *o = json_tokener_parse(c->buf.data);
    if (!o || !json_object_is_type(o, json_type_object)) {
        snprintf(c->error, sizeof c->error, "not JSON: %.60s", c->buf.data);
        json_object_put(o);
        return CAS_ANS_UNKNOWN;
    }
    enum cas_answer a = cas_classify(c, o);
    json_object_put(o);
    return a;
}

/* Linearizable GET of key until a definite answer or the deadline. Returns 1 with the value
 * in c->value, 0 when the key is absent, -1 at the deadline. */
static int cas_read(struct cas_client *c, const char *key, int64_t deadline_us)
{
    json_object *o = json_object_new_object(), *p = json_object_new_object();
    json_object_object_add(p, "key", json_object_new_string(key));
    json_object_object_add(o, "type", json_object_new_string("get"));
    json_object_object_add(o, "payload", p);
    const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = -1;
    while (rc == -1 && tool_now_us() < deadline_us) {
        enum cas_answer a = cas_send(c, "GET", body, false);
        if (a == CAS_ANS_OK && c->has_value)
            rc = 1;
        else if (a == CAS_ANS_FAIL && strcmp(c->error, "not_found") == 0)
            rc = 0;
        else if (a != CAS_ANS_REDIRECT) {
            cas_rotate(c);
            cas_sleep_ms(CAS_BACKOFF_MS);
        }
    }
    json_object_put(o);
    return rc;
}

/* The body of CAS i: (i-1 or absent) -> i, with the session (client_id, i). */
static json_object *cas_body(const char *key, uint64_t client_id, long i)
{
    char now[24], before[24];
    snprintf(now, sizeof now, "%ld", i);
    snprintf(before, sizeof before, "%ld", i - 1);
    json_object *o = json_object_new_object(), *p = json_object_new_object();
    json_object_object_add(p, "key", json_object_new_string(key));
    json_object_object_add(p, "value", json_object_new_string(now));
    json_object_object_add(p, "expected", i == 1 ? NULL : json_object_new_string(before));
    json_object_object_add(o, "type", json_object_new_string("cas"));
    json_object_object_add(o, "payload", p);
    json_object_object_add(o, "client_id", json_object_new_uint64(client_id));
    json_object_object_add(o, "seq", json_object_new_uint64((uint64_t)i));
    return o;
}

/* After an unknown attempt of CAS i: 1 if key already holds i (applied), 0 if it still holds
 * i-1, -1 if the probe got no answer, -2 (reported) if it holds anything else. */
static int cas_probe(struct cas_client *probe, const char *key, long i, int64_t deadline_us)
{
    int64_t until = tool_now_us() + 3000000;
    int r = cas_read(probe, key, until < deadline_us ? until : deadline_us);
    if (r < 0)
        return -1;
    long v = r == 1 ? strtol(probe->value, NULL, 10) : 0;
    if (r == 1 && v == i)
        return 1;
    if (v == i - 1)
        return 0;
    fprintf(stderr,
            "casrun: probe after an unknown attempt of CAS %ld read %s: neither %ld nor %ld\n", i,
            r == 1 ? probe->value : "absent", i - 1, i);
    return -2;
}

/* Runs CAS i to its one success. 0 ok, 1 a wrong definite answer or probe, 2 no answer. */
static int cas_one(struct cas_client *c, struct cas_client *probe, struct cas_stats *st,
                   const char *key, uint64_t client_id, long i, long lose_every)
{
    json_object *o = cas_body(key, client_id, i);
    const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int64_t t0 = tool_now_us(), deadline = t0 + (int64_t)CAS_OP_LIMIT_S * 1000000;
    long tries = 0, unknowns = 0;
    bool applied_seen = false;
    char first[sizeof c->target] = "";
    int rc = -1;
    while (rc < 0) {
        if (tool_now_us() > deadline) {
            fprintf(stderr, "casrun: CAS %ld: no definite answer in %d s (last: %s at %s)\n", i,
                    CAS_OP_LIMIT_S, c->error, c->target);
            rc = 2;
            break;
        }
        bool lose = tries == 0 && lose_every > 0 && i % lose_every == 0;
        st->attempts++;
        st->lost_injected += lose;
        if (tries++ == 0)
            memcpy(first, c->target, sizeof first);
        enum cas_answer a = cas_send(c, "PUT", body, lose);
        if (a == CAS_ANS_OK) {
            st->ok++;
            st->retried_ops += tries > 1;
            st->unknown_ops += unknowns > 0;
            st->dedup_proven += applied_seen;
            st->dedup_moved += applied_seen && strcmp(first, c->target) != 0;
            long ms = (long)((tool_now_us() - t0) / 1000);
            st->max_op_ms = ms > st->max_op_ms ? ms : st->max_op_ms;
            rc = 0;
        } else if (a == CAS_ANS_REDIRECT) {
            st->redirects++;
            if (tries % 4 == 0)
                cas_sleep_ms(CAS_BACKOFF_MS); /* two nodes naming each other mid-election */
        } else if (a == CAS_ANS_REFUSED) {
            st->refused++;
            cas_rotate(c);
            cas_sleep_ms(CAS_BACKOFF_MS);
        } else if (a == CAS_ANS_UNKNOWN) {
            st->unknown++;
            unknowns++;
            if (!lose)
                cas_rotate(c);
            int p = cas_probe(probe, key, i, deadline);
            if (p == -2)
                rc = 1;
            applied_seen |= p == 1;
            st->probe_not_applied += p == 0;
            st->probe_failed += p == -1;
        } else {
            fprintf(stderr,
                    "casrun: CAS %ld (client_id %llu, seq %ld) answered %s%s%s at %s after %ld "
                    "attempt(s), %ld unknown, probe saw it applied: %s\n",
                    i, (unsigned long long)client_id, i, c->error, c->has_value ? ", value " : "",
                    c->has_value ? c->value : "", c->target, tries, unknowns,
                    applied_seen ? "yes" : "no");
            rc = 1;
        }
    }
    json_object_put(o);
    return rc;
}

int tool_casrun(const char *key, uint64_t client_id, double secs, long lose_every)
{
    struct cas_client c, probe;
    struct cas_stats st = {0};
    if (client_id == 0 || secs <= 0 || cas_client_init(&c) != 0 || cas_client_init(&probe) != 0) {
        fprintf(stderr, "casrun: bad arguments or no memory\n");
        return 2;
    }
    int64_t end = tool_now_us() + (int64_t)(secs * 1e6);
    int rc = 0;
    long i;
    for (i = 1; rc == 0 && tool_now_us() < end; i++)
        rc = cas_one(&c, &probe, &st, key, client_id, i, lose_every);
    int r = rc == 0 ? cas_read(&probe, key, tool_now_us() + 10000000) : -1;
    long final = r == 1 ? strtol(probe.value, NULL, 10) : r == 0 ? 0 : -1;
    if (rc == 0 && final != st.ok) {
        fprintf(stderr, "casrun: %s reads %s after %ld successful CAS\n", key,
                r == 1   ? probe.value
                : r == 0 ? "absent"
                         : "nothing (no answer)",
                st.ok);
        rc = 1;
    }
    printf(
        "casrun: cas_ok=%ld final=%ld attempts=%ld redirects=%ld refused=%ld unknown=%ld "
        "lost_injected=%ld retried_ops=%ld unknown_ops=%ld dedup_proven=%ld dedup_moved=%ld "
        "probe_not_applied=%ld probe_failed=%ld max_op_ms=%ld\n",
        st.ok, final, st.attempts, st.redirects, st.refused, st.unknown, st.lost_injected,
        st.retried_ops, st.unknown_ops, st.dedup_proven, st.dedup_moved, st.probe_not_applied,
        st.probe_failed, st.max_op_ms);
    cas_client_free(&c);
    cas_client_free(&probe);
    return rc;
}
