/* ops.c: the operator subcommands of the `vesper` CLI.
 *
 *   vesper status                        one row per node from every endpoint's /status
 *   vesper transfer ID                   leadership transfer to node ID
 *   vesper members add ID URL            add node ID (at URL) as a learner
 *   vesper members promote ID            make a caught-up learner a voter
 *   vesper members remove ID             remove node ID (the leader too: it hands over)
 *   vesper snapshot save|status FILE     backups (snapshot.c)
 *
 * Admin requests go to the leader: like the data path, they start at the first
 * endpoint, follow a not_leader redirect, and move to the next endpoint on
 * no_leader or a connection error until the deadline.
 */
#include "ops.h"

#include "snapshot.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct body {
    char *p;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;
    char *p = realloc(b->p, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->p = p;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* One HTTP exchange; returns the parsed JSON reply (caller puts) or NULL. */
static const char *auth_token;
static const struct ops_args *tls_args; /* cacert, cert, key */

static json_object *http_json(const char *base, const char *path, const char *post)
{
    char url[512];
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    snprintf(url, sizeof url, "%.*s%s", (int)blen, base, path);
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    struct body b = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    if (auth_token) {
        char auth[512];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", auth_token);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    if (tls_args && tls_args->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, tls_args->cacert);
    if (tls_args && tls_args->cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, tls_args->cert);
    if (tls_args && tls_args->key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, tls_args->key);
    if (post)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    json_object *o = rc == CURLE_OK && b.p ? json_tokener_parse(b.p) : NULL;
    free(b.p);
    return o;
}

static const char *str_field(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int64_t int_field(json_object *o, const char *k)
{
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* POSTs body to path on the leader, following redirects until the deadline. */
static int admin_post(const struct ops_args *a, const char *path, const char *body)
{
    int64_t deadline = now_ms() + a->timeout_ms;
    size_t next = 0;
    char redirect[512] = "";
    while (now_ms() < deadline) {
        const char *target = redirect[0] ? redirect : a->endpoints[next++ % a->n_endpoints];
        json_object *o = http_json(target, path, body);
        redirect[0] = '\0';
        const char *code = o ? str_field(o, "code") : NULL;
        const char *err = o ? str_field(o, "error") : NULL;
        json_object *payload;
        if (code && strcmp(code, "success") == 0) {
            printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
            return 0;
        }
        if (err && strcmp(err, "not_leader") == 0 &&
            json_object_object_get_ex(o, "payload", &payload) && str_field(payload, "message"))
            snprintf(redirect, sizeof redirect, "%s", str_field(payload, "message"));
        else if (err && strcmp(err, "no_leader") != 0 && strcmp(err, "unavailable") != 0) {
            printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
            json_object_put(o);
            return 1;
        }
        json_object_put(o);
        if (!redirect[0]) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    fprintf(stderr, "vesper: no leader answered before the deadline\n");
    return 2;
}

/* The leader's view of when it last heard from node id, in ms; -1 if unknown. */
static int64_t last_contact(json_object *const *st, size_t n, int64_t id)
{
    for (size_t k = 0; k < n; k++) {
        const char *role = st[k] ? str_field(st[k], "role") : NULL;
        json_object *peers;
        if (!role || strcmp(role, "leader") != 0 ||
            !json_object_object_get_ex(st[k], "peers", &peers))
            continue;
        if (int_field(st[k], "id") == id)
            return 0;
        for (size_t p = 0; p < json_object_array_length(peers); p++) {
            json_object *peer = json_object_array_get_idx(peers, p);
            if (int_field(peer, "id") == id)
                return int_field(peer, "last_contact_ms");
        }
    }
    return -1;
}

static int status(const struct ops_args *a)
{
    json_object *st[64] = {0};
    int64_t commit = 0;
    size_t n = a->n_endpoints < 64 ? a->n_endpoints : 64;
    for (size_t k = 0; k < n; k++) {
        st[k] = http_json(a->endpoints[k], "/status", NULL);
        if (st[k] && int_field(st[k], "commit_index") > commit)
            commit = int_field(st[k], "commit_index");
    }
    printf("%-4s %-28s %-12s %6s %10s %10s %8s %12s %s\n", "ID", "ENDPOINT", "ROLE", "TERM",
           "COMMIT", "APPLIED", "LAG", "CONTACT_MS", "LEADER");
    int down = 0;
    for (size_t k = 0; k < n; k++) {
        if (!st[k]) {
            printf("%-4s %-28s %-12s\n", "-", a->endpoints[k], "unreachable");
            down++;
            continue;
        }
        int64_t applied = int_field(st[k], "applied_index");
        int64_t contact = last_contact(st, n, int_field(st[k], "id"));
        char contact_s[24] = "-";
        if (contact >= 0)
            snprintf(contact_s, sizeof contact_s, "%lld", (long long)contact);
        printf("%-4lld %-28s %-12s %6lld %10lld %10lld %8lld %12s %s\n",
               (long long)int_field(st[k], "id"), a->endpoints[k], str_field(st[k], "role"),
               (long long)int_field(st[k], "term"), (long long)int_field(st[k], "commit_index"),
               (long long)applied, (long long)(commit - applied), contact_s,
               str_field(st[k], "leader_url") ? str_field(st[k], "leader_url") : "-");
    }
    for (size_t k = 0; k < n; k++)
        json_object_put(st[k]);
    return down == (int)n ? 2 : 0;
}

static int parse_id(const char *s, long *id)
{
    char *end;
    *id = strtol(s, &end, 10);
    return *s && !*end && *id >= 0 ? 0 : -1;
}

int ops_run(const struct ops_args *a, int argc, char **argv)
{
    char body[512];
    long id;
    auth_token = a->token;
    tls_args = a;
    if (strcmp(argv[0], "status") == 0 && argc == 1)
        return status(a);
    if (strcmp(argv[0], "snapshot") == 0)
        return snapshot_run(a, argc, argv);
    if (strcmp(argv[0], "transfer") == 0 && argc == 2 && parse_id(argv[1], &id) == 0) {
        snprintf(body, sizeof body, "{\"to\":%ld}", id);
        return admin_post(a, "/admin/transfer", body);
    }
    if (strcmp(argv[0], "members") == 0 && argc >= 3 && parse_id(argv[2], &id) == 0) {
        if (strcmp(argv[1], "add") == 0 && argc == 4)
            snprintf(body, sizeof body, "{\"op\":\"add\",\"id\":%ld,\"url\":\"%s\"}", id, argv[3]);
        else if ((strcmp(argv[1], "promote") == 0 || strcmp(argv[1], "remove") == 0) && argc == 3)
            snprintf(body, sizeof body, "{\"op\":\"%s\",\"id\":%ld}", argv[1], id);
        else
            return -1;
        return admin_post(a, "/admin/members", body);
    }
    return -1;
}

bool ops_is_command(const char *word)
{
    return strcmp(word, "status") == 0 || strcmp(word, "transfer") == 0 ||
           strcmp(word, "members") == 0 || strcmp(word, "snapshot") == 0;
}
