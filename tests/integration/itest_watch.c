/* itest_watch.c: the watchers that stream GET /watch through every scenario of the suite,
 * each in a thread of its own, and what they record (itest_watch_check.c judges it).
 *
 * A watcher follows one prefix on one node. When its stream breaks (the container was
 * killed or restarted), stalls for 3 s (paused, or cut off the network: nothing arrives,
 * not even the once-a-second progress line), ends with a "closed" line or is refused, it
 * connects to the next node with from = the last revision it holds + 1, as a client of
 * the watch API is told to; the suite can also send it to a given node (the leader,
 * before that leader is killed, paused or cut off). Each connection gets a new libcurl
 * handle, so no DNS answer or connection outlives a container restart.
 *
 * Events are kept as (revision, canonical text) pairs in the order they arrived, with
 * every field the stream carries, so the check can ask for equality with the committed
 * history: same events, same order, nothing missing, nothing twice.
 */
#include "integration/itest_watch.h"
#include "lib/tls_env.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEST_WATCH_STALL_S 3

static void watcher_note(struct itest_watcher *w, const char *what, const char *line)
{
    if (w->n_notes++ == 0)
        snprintf(w->note, sizeof w->note, "%s: %.100s", what, line);
}

static int watcher_add(struct itest_watcher *w, int64_t rev, const char *text)
{
    if (w->n_events == w->cap_events) {
        size_t cap = w->cap_events ? 2 * w->cap_events : 1024;
        struct itest_watch_event *e = realloc(w->events, cap * sizeof *e);
        if (e == NULL)
            return -1;
        w->events = e;
        w->cap_events = cap;
    }
    char *copy = strdup(text);
    if (copy == NULL)
        return -1;
    w->events[w->n_events++] = (struct itest_watch_event){rev, copy};
    return 0;
}

static int64_t json_i64(struct json_object *o, const char *field)
{
    struct json_object *v;
    return json_object_object_get_ex(o, field, &v) ? json_object_get_int64(v) : -1;
}

static const char *json_str(struct json_object *o, const char *field)
{
    struct json_object *v;
    return json_object_object_get_ex(o, field, &v) ? json_object_get_string(v) : "";
}

void itest_watch_event_text(struct json_object *e, char *out, size_t len)
{
    snprintf(out, len, "%s %s=%s c%lld m%lld v%lld", json_str(e, "type"), json_str(e, "key"),
             json_str(e, "value"), (long long)json_i64(e, "create_revision"),
             (long long)json_i64(e, "mod_revision"), (long long)json_i64(e, "version"));
}

/* One line of the stream. Returns false to end the connection. */
static bool watcher_line(struct itest_watcher *w, const char *line)
{
    struct json_object *o = json_tokener_parse(line);
    const char *type = o ? json_str(o, "type") : "";
    int64_t rev = o ? json_i64(o, "revision") : -1;
    bool go_on = true;
    if (strcmp(type, "progress") == 0 || strcmp(type, "events") == 0)
        atomic_store(&w->on_node, w->node);
    if (o == NULL) {
        watcher_note(w, "a line that is not JSON", line);
        go_on = false;
    } else if (strcmp(type, "progress") == 0) {
        if (w->first == 0)
            w->first = rev + 1;
        if (rev > atomic_load(&w->progress))
            atomic_store(&w->progress, rev);
    } else if (strcmp(type, "events") == 0) {
        if (w->first == 0)
            w->first = rev;
        if (rev <= w->last_rev)
            w->n_out_of_order++; /* kept: the check shows it as a difference */
        w->last_rev = rev > w->last_rev ? rev : w->last_rev;
        struct json_object *evs;
        json_object_object_get_ex(o, "events", &evs);
        size_t n = evs ? json_object_array_length(evs) : 0;
        for (size_t i = 0; i < n; i++) {
            char text[256];
            itest_watch_event_text(json_object_array_get_idx(evs, i), text, sizeof text);
            if (watcher_add(w, rev, text) != 0)
                w->n_notes++;
        }
        if (rev > atomic_load(&w->progress))
            atomic_store(&w->progress, rev);
    } else if (strcmp(type, "closed") == 0) {
        w->n_closed++;
        go_on = false;
    } else {
        /* An error reply ({"code":"fail","error":"compacted",...}): try another node. */
        if (strcmp(json_str(o, "error"), "compacted") == 0)
            w->n_compacted++;
        else
            watcher_note(w, "unexpected reply", line);
        go_on = false;
    }
    json_object_put(o);
    return go_on;
}

static size_t watcher_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct itest_watcher *w = arg;
    size_t n = size * nmemb;
    if (atomic_load(&w->stop) || atomic_load(&w->kick))
        return 0; /* ends the transfer */
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (w->line_len + 1 < sizeof w->line)
                w->line[w->line_len++] = data[i];
            continue;
        }
        w->line[w->line_len] = '\0';
        bool go_on = w->line_len == 0 || watcher_line(w, w->line);
        w->line_len = 0;
        if (!go_on)
            return 0;
    }
    return n;
}

/* Called by libcurl about once a second and on every chunk: ends a transfer the suite
 * asked to move (or stop) even while nothing arrives. */
static int watcher_xfer_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    struct itest_watcher *w = arg;
    return atomic_load(&w->stop) || atomic_load(&w->kick);
}

/* One connection to w->node, streaming until it ends. */
static void watcher_connect(struct itest_watcher *w)
{
    char url[256];
    int64_t from = w->last_rev ? w->last_rev + 1 : w->first;
    int len = snprintf(url, sizeof url, "%s/watch?prefix=%s", w->c->nodes[w->node].url, w->prefix);
    if (from > 0)
        snprintf(url + len, sizeof url - (size_t)len, "&from=%lld", (long long)from);
    CURL *h = curl_easy_init();
    if (h == NULL)
        return;
    w->line_len = 0;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)ITEST_WATCH_STALL_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, watcher_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, watcher_xfer_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
    long status = 0;
    if (tls_env_apply(h) && curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (status != 0 && status != 200 && w->line_len > 0) {
        /* A refusal (410 compacted, ...) whose body lacks a final newline. A stream cut
         * mid-line leaves a partial line too: that one is dropped and asked for again. */
        w->line[w->line_len] = '\0';
        watcher_line(w, w->line);
    }
    atomic_store(&w->on_node, -1);
}

static void *watcher_main(void *arg)
{
    struct itest_watcher *w = arg;
    while (!atomic_load(&w->stop)) {
        watcher_connect(w);
        if (atomic_load(&w->stop))
            break;
        int target = atomic_exchange(&w->target, -1);
        atomic_store(&w->kick, false);
        w->node = target >= 0 ? target : (w->node + 1) % w->c->n;
        w->reconnects++;
        itest_sleep_ms(100);
    }
    return NULL;
}

int itest_watcher_start(struct itest_watcher *w, struct itest_cluster *c, const char *prefix,
                        int node, int64_t from)
{
    memset(w, 0, sizeof *w);
    w->c = c;
    w->node = node;
    w->first = from;
    snprintf(w->prefix, sizeof w->prefix, "%s", prefix);
    atomic_store(&w->on_node, -1);
    atomic_store(&w->target, -1);
    if (pthread_create(&w->thread, NULL, watcher_main, w) != 0)
        return -1;
    w->started = true;
    return 0;
}

void itest_watcher_aim(struct itest_watcher *w, int node, long timeout_ms)
{
    if (!w->started)
        return;
    atomic_store(&w->target, node);
    atomic_store(&w->kick, true);
    int64_t end = itest_now_us() + timeout_ms * 1000;
    while (atomic_load(&w->on_node) != node && itest_now_us() < end)
        itest_sleep_ms(20);
}

bool itest_watcher_wait(struct itest_watcher *w, int64_t rev, long timeout_ms)
{
    int64_t end = itest_now_us() + timeout_ms * 1000, kicked = itest_now_us();
    while (atomic_load(&w->progress) < rev && itest_now_us() < end) {
        /* A stream that stands still behind rev is on a node that lags: try another. */
        if (itest_now_us() - kicked > 2000000) {
            atomic_store(&w->kick, true);
            kicked = itest_now_us();
        }
        itest_sleep_ms(20);
    }
    return atomic_load(&w->progress) >= rev;
}

void itest_watcher_stop(struct itest_watcher *w)
{
    if (!w->started)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void itest_watcher_free(struct itest_watcher *w)
{
    itest_watcher_stop(w);
    for (size_t i = 0; i < w->n_events; i++)
        free(w->events[i].text);
    free(w->events);
    w->events = NULL;
    w->n_events = 0;
}
