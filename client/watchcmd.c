/* watchcmd.c: the `vesper watch` subcommand.
 *
 * It streams GET /watch from one endpoint and prints every event of every
 * {"type":"events"} line as one line of JSON with its revision. When the stream
 * ends for any reason but "compacted" (the node stopped, was killed or paused,
 * closed a slow consumer, the connection broke), it reconnects to the next
 * endpoint with from = the last revision it printed + 1: revisions name the same
 * change on every node, so nothing is missed or printed twice. A node that
 * answers 410 "compacted" no longer holds that revision (its window moved on or
 * it restarted from a snapshot); the next node may, so only when every endpoint
 * says so does the command stop (exit 1). A stream silent for 3 s (progress lines
 * come every second) counts as broken: that catches a paused node.
 */
#include "watchcmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#define STALL_SECS 3L

struct stream {
    const struct watchcmd_args *a;
    char line[1 << 20]; /* a partial line; a longer one ends the stream */
    size_t len;
    uint64_t last;  /* last revision printed */
    bool got_data;  /* some line arrived on this connection */
    bool compacted; /* the node cannot serve from last + 1 */
    bool overflow;
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_events(struct stream *s, json_object *o, uint64_t rev)
{
    json_object *arr;
    if (!json_object_object_get_ex(o, "events", &arr) || !json_object_is_type(arr, json_type_array))
        return;
    for (size_t i = 0; i < json_object_array_length(arr); i++)
        puts(json_object_to_json_string_ext(
            json_object_array_get_idx(arr, i),
            JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    fflush(stdout);
    s->last = rev;
}

static void on_line(struct stream *s, const char *line, size_t len)
{
    json_object *o = json_tokener_parse(line);
    (void)len;
    if (o == NULL)
        return;
    json_object *t, *r;
    const char *type = json_object_object_get_ex(o, "type", &t) ? json_object_get_string(t) : "";
    uint64_t rev =
        json_object_object_get_ex(o, "revision", &r) ? (uint64_t)json_object_get_int64(r) : 0;
    s->got_data = true;
    if (strcmp(type, "events") == 0 && rev > s->last) {
        print_events(s, o, rev);
    } else if (strcmp(type, "progress") == 0 && s->a->verbose) {
        fprintf(stderr, "vesper: progress %" PRIu64 "\n", rev);
    } else if (strcmp(type, "closed") == 0 || json_object_object_get_ex(o, "error", &t)) {
        const char *why = json_object_object_get_ex(o, "reason", &r) ? json_object_get_string(r)
                                                                     : json_object_get_string(t);
        if (strcmp(why, "compacted") == 0)
            s->compacted = true;
        fprintf(stderr, "vesper: watch closed: %s\n", why);
    }
    json_object_put(o);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct stream *s = arg;
    size_t total = size * n;
    for (size_t i = 0; i < total; i++) {
        if (p[i] != '\n') {
            if (s->len + 1 >= sizeof s->line) {
                s->overflow = true;
                return 0;
            }
            s->line[s->len++] = p[i];
            continue;
        }
        s->line[s->len] = '\0';
        on_line(s, s->line, s->len);
        s->len = 0;
    }
    return total;
}

static char *watch_url(CURL *c, const struct watchcmd_args *a, const char *base, uint64_t from)
{
    char *esc = curl_easy_escape(c, a->what, (int)strlen(a->what));
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    size_t cap = bl + strlen(esc ? esc : "") + 64;
    char *url = malloc(cap);
    if (url != NULL) {
        int n = snprintf(url, cap, "%.*s/watch?%s=%s", (int)bl, base, a->exact ? "key" : "prefix",
                         esc ? esc : "");
        if (from > 0)
            snprintf(url + n, cap - (size_t)n, "&from=%" PRIu64, from);
    }
    curl_free(esc);
    return url;
}

/* One connection to base; returns when the stream ends. */
static void stream_from(struct stream *s, const char *base, uint64_t from)
{
    const struct watchcmd_args *a = s->a;
    CURL *c = curl_easy_init();
    if (c == NULL)
        return;
    char *url = watch_url(c, a, base, from);
    struct curl_slist *hdr = NULL;
    char auth[512];
    if (a->token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_SECS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    if (a->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, a->cacert);
    if (a->cert)
        curl_easy_setopt(c, CURLOPT_SSLCERT, a->cert);
    if (a->key)
        curl_easy_setopt(c, CURLOPT_SSLKEY, a->key);
    s->len = 0;
    CURLcode rc = url ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    if (s->len > 0 && !s->overflow) { /* an answer without a final newline (410) */
        s->line[s->len] = '\0';
        on_line(s, s->line, s->len);
    }
    if (a->verbose)
        fprintf(stderr, "vesper: %s: %s\n", url ? url : base, curl_easy_strerror(rc));
    curl_slist_free_all(hdr);
    free(url);
    curl_easy_cleanup(c);
}

int watchcmd_run(const struct watchcmd_args *a)
{
    static struct stream s;
    memset(&s, 0, sizeof s);
    s.a = a;
    uint64_t from = a->from;
    size_t i = 0, compacted_in_a_row = 0;
    long last_ok = now_ms();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (;;) {
        s.got_data = s.compacted = s.overflow = false;
        stream_from(&s, a->endpoints[i], s.last ? s.last + 1 : from);
        if (s.got_data)
            last_ok = now_ms();
        compacted_in_a_row = s.compacted ? compacted_in_a_row + 1 : 0;
        if (compacted_in_a_row >= a->n_endpoints) {
            fprintf(stderr, "vesper: no node holds revision %" PRIu64 " any more\n",
                    s.last ? s.last + 1 : from);
            return 1;
        }
        if (now_ms() - last_ok > a->give_up_ms) {
            fprintf(stderr, "vesper: no node streamed for %ld ms; giving up\n", a->give_up_ms);
            return 2;
        }
        i = (i + 1) % a->n_endpoints;
        struct timespec pause = {0, 100 * 1000 * 1000}; /* never a busy loop of reconnects */
        nanosleep(&pause, NULL);
    }
}
