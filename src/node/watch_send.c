/* watch_send.c: what a watcher writes (see watch.h for the memory bound).
 *
 * Lines (newline-delimited JSON; with server-sent events each is one "data:"
 * message instead):
 *   {"type":"events","revision":R,"events":[{"type":"put","key":K,"value":V,
 *     "create_revision":C,"mod_revision":R,"version":N} | {"type":"delete","key":K,
 *     "mod_revision":R}, ...]}          every change of the range at revision R
 *   {"type":"progress","revision":R}    nothing in the range up to R is unsent
 *   {"type":"closed","reason":WHY[,"oldest":O]}   the last line; WHY is
 *     slow_consumer, compacted (the window moved past the cursor: a snapshot
 *     was installed here, or the watcher was too slow) or shutdown
 * A revision's events always go out in one line, so a transaction's writes
 * reach the client together. Revisions without a change in the range are
 * skipped silently; the next progress line covers them.
 *
 * The cursor only advances over revisions whose lines are in the chunk, and a
 * chunk is handed to h2o whole, so a client that reconnects with from = the
 * last revision it read + 1 misses nothing and sees nothing twice.
 */
#include "node/node.h"
#include "node/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "kv/kv.h"
#include "kv/kv_range.h"

static void out(struct node_watcher *w, const char *s, size_t n)
{
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        char *b = realloc(w->buf, cap);
        if (b == NULL)
            node_fatal("watch", "out of memory");
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

/* One message: a JSON line, or with server-sent events "data: JSON" and a blank line. */
static void out_line(struct node_watcher *w, const char *s, size_t n)
{
    if (w->sse)
        out(w, "data: ", 6);
    out(w, s, n);
    out(w, w->sse ? "\n\n" : "\n", w->sse ? 2 : 1);
}

static void out_json(struct node_watcher *w, json_object *o)
{
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    out_line(w, s, n);
}

static bool in_range(const struct node_watcher *w, const struct kv_event *e)
{
    const unsigned char *k = kv_event_key(e);
    if (kv_key_cmp(k, e->key_len, w->start, w->start_len) < 0)
        return false;
    return w->end == NULL || kv_key_cmp(k, e->key_len, w->end, w->end_len) < 0;
}

static json_object *event_json(const struct kv_event *e)
{
    json_object *o = json_object_new_object();
    bool put = e->type == KV_EVENT_PUT;
    json_object_object_add(o, "type", json_object_new_string(put ? "put" : "delete"));
    json_object_object_add(
        o, "key", json_object_new_string_len((const char *)kv_event_key(e), (int)e->key_len));
    if (put) {
        json_object_object_add(
            o, "value",
            json_object_new_string_len((const char *)kv_event_value(e), (int)e->value_len));
        json_object_object_add(o, "create_revision",
                               json_object_new_int64((int64_t)e->create_revision));
    }
    json_object_object_add(o, "mod_revision", json_object_new_int64((int64_t)e->revision));
    if (put)
        json_object_object_add(o, "version", json_object_new_int64((int64_t)e->version));
    return o;
}

/* Appends the lines of the revisions from the cursor on, whole revisions up to
 * WATCH_CHUNK_BYTES (at least one), and advances the cursor over them. */
static void fill_events(struct node_watcher *w, const struct kv *kv)
{
    size_t count = kv_hist_count(kv);
    size_t pos = kv_hist_seek(kv, w->next_rev);
    while (pos < count && w->len < WATCH_CHUNK_BYTES) {
        uint64_t rev = kv_hist_at(kv, pos)->revision;
        json_object *arr = NULL;
        for (; pos < count && kv_hist_at(kv, pos)->revision == rev; pos++) {
            const struct kv_event *e = kv_hist_at(kv, pos);
            if (!in_range(w, e))
                continue;
            if (arr == NULL)
                arr = json_object_new_array();
            json_object_array_add(arr, event_json(e));
        }
        if (arr != NULL) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "type", json_object_new_string("events"));
            json_object_object_add(o, "revision", json_object_new_int64((int64_t)rev));
            json_object_object_add(o, "events", arr);
            out_json(w, o);
            json_object_put(o);
        }
        w->next_rev = rev + 1;
    }
    if (pos == count && w->next_rev <= kv_revision(kv))
        w->next_rev = kv_revision(kv) + 1; /* revisions after the last event changed nothing */
}

static void send_chunk(struct node_watcher *w, h2o_send_state_t state)
{
    h2o_iovec_t v = h2o_iovec_init(w->buf, w->len);
    w->sending = true;
    w->last_sent_ms = node_now_ms(w->node);
    if (state == H2O_SEND_STATE_FINAL) {
        h2o_req_t *req = w->req;
        w->req = NULL; /* nothing more goes out */
        h2o_send(req, &v, 1, state);
        return;
    }
    h2o_send(w->req, &v, 1, state);
}

static void send_closed(struct node_watcher *w, const struct kv *kv)
{
    char line[128];
    int n =
        strcmp(w->close_why, "compacted") == 0
            ? snprintf(line, sizeof line, "{\"type\":\"closed\",\"reason\":\"%s\",\"oldest\":%llu}",
                       w->close_why, (unsigned long long)kv_hist_oldest(kv))
            : snprintf(line, sizeof line, "{\"type\":\"closed\",\"reason\":\"%s\"}", w->close_why);
    out_line(w, line, (size_t)n);
    send_chunk(w, H2O_SEND_STATE_FINAL);
}

/* Decides whether w must be closed; the reason goes to close_why. Lag alone is not
 * slowness: one ready may apply thousands of entries at once (a follower catching
 * up); a watcher is slow when its client has not taken its last chunk for
 * WATCH_STALL_MS while it is more than --watch-max-lag revisions behind. */
static void check_health(struct node_watcher *w, const struct kv *kv)
{
    uint64_t rev = kv_revision(kv);
    if (w->close_why != NULL)
        return;
    if (w->node->stopping)
        w->close_why = "shutdown";
    else if (w->next_rev <= rev && w->next_rev < kv_hist_oldest(kv))
        w->close_why = "compacted";
    else if (w->live && w->sending && node_now_ms(w->node) - w->last_sent_ms >= WATCH_STALL_MS &&
             w->next_rev <= rev && rev - w->next_rev + 1 > w->node->cfg->watch_max_lag)
        w->close_why = "slow_consumer";
}

void node_watch_pump_one(struct node_watcher *w)
{
    if (w->req == NULL)
        return;
    const struct kv *kv = w->node->kv;
    check_health(w, kv);
    if (w->sending)
        return;
    w->len = 0;
    if (w->close_why != NULL) {
        send_closed(w, kv);
        return;
    }
    fill_events(w, kv);
    uint64_t rev = kv_revision(kv);
    if (w->next_rev > rev)
        w->live = true;
    uint64_t now = node_now_ms(w->node);
    if (w->len == 0 && w->next_rev > rev && now - w->last_sent_ms >= WATCH_PROGRESS_MS) {
        char line[64];
        int n = snprintf(line, sizeof line, "{\"type\":\"progress\",\"revision\":%llu}",
                         (unsigned long long)rev);
        out_line(w, line, (size_t)n);
    }
    if (w->len > 0)
        send_chunk(w, H2O_SEND_STATE_IN_PROGRESS);
}

void node_watch_pump(struct node *n)
{
    h2o_linklist_t *it = n->watchers.next;
    while (it != &n->watchers) {
        struct node_watcher *w = H2O_STRUCT_FROM_MEMBER(struct node_watcher, link, it);
        it = it->next; /* a send may complete at once and end the request */
        node_watch_pump_one(w);
    }
}
