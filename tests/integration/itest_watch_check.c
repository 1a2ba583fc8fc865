/* itest_watch_check.c: the suite's watchers (itest_watch.c) as a set, and the end-of-run
 * check that every stream is the committed history of its range.
 *
 * The committed history is established first, independently of the watchers: a fresh
 * watch of every key from revision 1 (the window holds the whole run: no node snapshots
 * that early), read up to the revision R of a final linearizable range of the shared
 * keys. It is only trusted if replaying it gives exactly that range's keys and values,
 * and if every write the load saw acknowledged (puts, cas that swapped, the puts of txns
 * whose compares held) is a put in it. Then each watcher's events up to R must equal that
 * history restricted to its prefix from the first revision the watcher owed: same
 * revisions, same events in the same order, so no gap, no duplicate, no reordering, and
 * no event of another range.
 */
#include "integration/itest_watch.h"

#include "client/vclient.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEST_WATCH_WAIT_MS 15000

int itest_watch_start(struct itest_watch_set *s, struct itest_cluster *c)
{
    static const char *const prefixes[ITEST_WATCHERS] = {"p", "p", "u1-", ""};
    memset(s, 0, sizeof *s);
    for (int i = 0; i < ITEST_WATCHERS; i++) {
        if (itest_watcher_start(&s->w[i], c, prefixes[i], i % c->n, i == 0 ? 1 : 0) != 0)
            return -1;
        s->n++;
    }
    return 0;
}

void itest_watch_aim(struct itest_watch_set *s, int node)
{
    for (int i = 1; i < s->n; i += 2)
        itest_watcher_aim(&s->w[i], node, 2000);
}

struct itest_kv {
    char key[64], value[64];
};

/* The final range of the shared keys ("p"): its revision, keys and values. 0 or -1. */
static int final_range(struct vclient *vc, int64_t *rev, struct itest_kv **kvs, size_t *n)
{
    struct json_object *payload = json_object_new_object();
    json_object_object_add(payload, "prefix", json_object_new_string("p"));
    json_object_object_add(payload, "limit", json_object_new_int(10000));
    struct vclient_resp r;
    int rc = -1;
    *kvs = NULL;
    *n = 0;
    struct json_object *o = NULL, *pl, *arr;
    if (vclient_do_json(vc, "range", payload, true, &r) == VCLIENT_SUCCESS && r.body &&
        (o = json_tokener_parse(r.body)) && json_object_object_get_ex(o, "payload", &pl) &&
        json_object_object_get_ex(pl, "kvs", &arr)) {
        struct json_object *v;
        *rev = json_object_object_get_ex(pl, "revision", &v) ? json_object_get_int64(v) : -1;
        size_t m = json_object_array_length(arr);
        *kvs = calloc(m + 1, sizeof **kvs);
        for (size_t i = 0; *kvs && i < m; i++) {
            struct json_object *kv = json_object_array_get_idx(arr, i), *k, *val;
            if (json_object_object_get_ex(kv, "key", &k) &&
                json_object_object_get_ex(kv, "value", &val)) {
                snprintf((*kvs)[*n].key, sizeof(*kvs)[0].key, "%s", json_object_get_string(k));
                snprintf((*kvs)[*n].value, sizeof(*kvs)[0].value, "%s",
                         json_object_get_string(val));
                (*n)++;
            }
        }
        rc = *kvs && *rev > 0 ? 0 : -1;
    }
    json_object_put(o);
    vclient_resp_free(&r);
    return rc;
}

/* Splits an event text into type, key and value (copies). */
static void event_fields(const char *text, char *type, char *key, char *value)
{
    type[0] = key[0] = value[0] = '\0';
    sscanf(text, "%15s %63[^= ]=%63[^ ]", type, key, value);
}

/* Replays the history's events on keys under "p" and compares with the final range. */
static bool replays_to(const struct itest_watcher *ref, int64_t upto, const struct itest_kv *kvs,
                       size_t n_kvs, char *why, size_t len)
{
    size_t cap = n_kvs + ref->n_events + 1, n = 0;
    struct itest_kv *state = calloc(cap, sizeof *state);
    if (state == NULL)
        return false;
    for (size_t i = 0; i < ref->n_events && ref->events[i].rev <= upto; i++) {
        char type[16], key[64], value[64];
        event_fields(ref->events[i].text, type, key, value);
        if (key[0] != 'p')
            continue;
        size_t j = 0;
        while (j < n && strcmp(state[j].key, key) != 0)
            j++;
        if (j == n && strcmp(type, "put") == 0)
            snprintf(state[n++].key, sizeof state[0].key, "%s", key);
        if (j < n)
            snprintf(state[j].value, sizeof state[0].value, "%s",
                     strcmp(type, "put") == 0 ? value : "");
    }
    size_t live = 0, wrong = 0;
    for (size_t j = 0; j < n; j++) {
        if (state[j].value[0] == '\0')
            continue;
        live++;
        size_t k = 0;
        while (k < n_kvs && strcmp(kvs[k].key, state[j].key) != 0)
            k++;
        if (k == n_kvs || strcmp(kvs[k].value, state[j].value) != 0) {
            if (wrong++ == 0)
                snprintf(why, len, "replay has %s=%s, the range %s", state[j].key, state[j].value,
                         k == n_kvs ? "lacks the key" : kvs[k].value);
        }
    }
    if (wrong == 0 && live != n_kvs)
        snprintf(why, len, "replay has %zu keys, the range %zu", live, n_kvs);
    free(state);
    return wrong == 0 && live == n_kvs;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every acknowledged write of h is a put in the history. Returns how many are missing. */
static long acked_missing(const struct itest_watcher *ref, const struct lincheck_history *h,
                          long *n_acked, char *why, size_t len)
{
    char **puts = malloc((ref->n_events + 1) * sizeof *puts);
    size_t n = 0;
    for (size_t i = 0; puts && i < ref->n_events; i++)
        if (strncmp(ref->events[i].text, "put ", 4) == 0 &&
            (puts[n] = strdup(ref->events[i].text + 4)) != NULL) {
            puts[n][strcspn(puts[n], " ")] = '\0'; /* "KEY=VALUE" */
            n++;
        }
    if (puts)
        qsort(puts, n, sizeof *puts, str_cmp);
    long missing = puts ? 0 : -1;
    for (size_t i = 0; puts && i < h->n_ops; i++) {
        const struct lincheck_op *op = &h->ops[i];
        if (op->outcome != LINCHECK_OK || !op->cas_swapped || op->type == LINCHECK_GET ||
            op->type == LINCHECK_RANGE || op->type == LINCHECK_DELETE)
            continue;
        size_t from = op->type == LINCHECK_TXN ? op->n_cmp : 0;
        size_t to = op->type == LINCHECK_TXN ? op->n_cmp + op->n_then : 1;
        for (size_t j = from; j < to; j++) {
            bool sub = op->type == LINCHECK_TXN;
            if (sub && op->subs[j].type != LINCHECK_SUB_PUT)
                continue;
            char want[160], *p = want;
            snprintf(want, sizeof want, "%s=%s", sub ? op->subs[j].key.data : op->key.data,
                     sub ? op->subs[j].value.data : op->value.data);
            (*n_acked)++;
            if (!bsearch(&p, puts, n, sizeof *puts, str_cmp) && missing++ == 0)
                snprintf(why, len, "acknowledged %s is not in the history", want);
        }
    }
    for (size_t i = 0; puts && i < n; i++)
        free(puts[i]);
    free(puts);
    return missing;
}

/* Watcher w against the history: equal up to upto from its first revision. */
static bool stream_matches(const struct itest_watcher *w, const struct itest_watcher *ref,
                           int64_t upto, size_t *n_checked, char *why, size_t len)
{
    size_t pl = strlen(w->prefix), g = 0, r = 0;
    for (;; g++, r++) {
        while (r < ref->n_events) {
            const struct itest_watch_event *e = &ref->events[r];
            char type[16], key[64], value[64];
            event_fields(e->text, type, key, value);
            if (e->rev > upto || (e->rev >= w->first && strncmp(key, w->prefix, pl) == 0))
                break;
            r++;
        }
        bool ref_done = r == ref->n_events || ref->events[r].rev > upto;
        bool got_done = g == w->n_events || w->events[g].rev > upto;
        if (ref_done || got_done) {
            *n_checked = g;
            if (ref_done && got_done)
                return true;
            snprintf(why, len, "%s: stream %s after %zu events (at revision %lld)", w->prefix,
                     ref_done ? "has more" : "ends early", g,
                     (long long)(got_done ? ref->events[r].rev : w->events[g].rev));
            return false;
        }
        if (w->events[g].rev != ref->events[r].rev ||
            strcmp(w->events[g].text, ref->events[r].text) != 0) {
            snprintf(why, len, "%s: event %zu is r%lld %s, the history has r%lld %s", w->prefix, g,
                     (long long)w->events[g].rev, w->events[g].text, (long long)ref->events[r].rev,
                     ref->events[r].text);
            return false;
        }
    }
}

void itest_watch_check(struct itest_ctx *x, struct itest_watch_set *s,
                       const struct lincheck_history *h)
{
    const char *name = "watch-streams";
    char why[320] = "";
    int64_t upto = -1, t0 = itest_now_us();
    struct itest_kv *kvs = NULL;
    size_t n_kvs = 0, n_checked[ITEST_WATCHERS] = {0};
    long n_acked = 0, missing = -1;
    static struct itest_watcher ref; /* memset: stop and free are safe if it never started */
    memset(&ref, 0, sizeof ref);
    bool ok = final_range(x->vc, &upto, &kvs, &n_kvs) == 0;
    if (!ok)
        snprintf(why, sizeof why, "the final range of the shared keys failed");
    ok = ok && itest_watcher_start(&ref, x->c, "", 0, 1) == 0;
    if (ok && !(ok = itest_watcher_wait(&ref, upto, ITEST_WATCH_WAIT_MS)))
        snprintf(why, sizeof why,
                 "no node streamed the history from revision 1 up to %lld "
                 "(%d answered compacted)",
                 (long long)upto, ref.n_compacted);
    itest_watcher_stop(&ref);
    if (ok && !(ok = ref.first == 1 && ref.n_out_of_order == 0 && ref.n_notes == 0))
        snprintf(why, sizeof why, "the history stream is odd: starts at %lld, %d out of order, %s",
                 (long long)ref.first, ref.n_out_of_order, ref.note);
    ok = ok && replays_to(&ref, upto, kvs, n_kvs, why, sizeof why);
    if (ok && !(ok = (missing = acked_missing(&ref, h, &n_acked, why, sizeof why)) == 0) &&
        missing < 0)
        snprintf(why, sizeof why, "out of memory");
    for (int i = 0; i < s->n && ok; i++) {
        struct itest_watcher *w = &s->w[i];
        if (!(ok = itest_watcher_wait(w, upto, ITEST_WATCH_WAIT_MS)))
            snprintf(why, sizeof why, "watcher %d (%s) stands at revision %lld < %lld", i,
                     w->prefix, (long long)atomic_load(&w->progress), (long long)upto);
        itest_watcher_stop(w);
        if (ok && !(ok = w->n_notes == 0 && w->first > 0))
            snprintf(why, sizeof why, "watcher %d: %s", i, w->note);
        ok = ok && stream_matches(w, &ref, upto, &n_checked[i], why, sizeof why);
    }
    char detail[200] = "";
    for (int i = 0; i < s->n; i++) {
        size_t l = strlen(detail);
        snprintf(detail + l, sizeof detail - l, "%s\"%s\" from r%lld: %zu events, %d reconnects",
                 i ? "; " : "", s->w[i].prefix, (long long)s->w[i].first, n_checked[i],
                 s->w[i].reconnects);
    }
    itest_result(x, name, ok,
                 "%d watchers [%s] equal the committed history up to revision %lld (%zu events; "
                 "replays to the final range of %zu keys; %ld acknowledged writes in it)%s%s; "
                 "%lld ms",
                 s->n, detail, (long long)upto, ref.n_events, n_kvs, n_acked, ok ? "" : ": ", why,
                 (long long)((itest_now_us() - t0) / 1000));
    for (int i = 0; i < s->n; i++)
        itest_watcher_free(&s->w[i]);
    itest_watcher_free(&ref);
    free(kvs);
}
