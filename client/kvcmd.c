/* kvcmd.c: `vesper list` and `vesper txn` (see kvcmd.h).
 *
 *   vesper list PREFIX [--limit N] [--keys-only] [--stale] [--all]
 *   vesper txn [JSON]       the txn payload ({"compare":..,"success":..,
 *                           "failure":..}) as an argument, else from stdin
 *
 * list prints the server's reply. With --all it follows "more", asking for the
 * keys after the last one it got, and prints one reply whose kvs are every
 * page's and whose count and revision are the first page's; each page is a
 * linearizable read of its own, so the whole is not one snapshot (a key written
 * meanwhile may or may not appear; none appears twice).
 * txn sends the payload as given with an exactly-once session, so retries
 * through elections do not apply it twice.
 */
#include "kvcmd.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool kvcmd_is_command(const char *word)
{
    return strcmp(word, "list") == 0 || strcmp(word, "txn") == 0;
}

static int status_code(enum vclient_status st)
{
    return st == VCLIENT_SUCCESS ? 0 : st == VCLIENT_FAIL ? 1 : 2;
}

static int print_json(json_object *o)
{
    const char *s =
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (s == NULL || puts(s) == EOF || fflush(stdout) != 0) {
        fprintf(stderr, "vesper: cannot write the reply to stdout\n");
        return -1;
    }
    return 0;
}

static int print_resp(const struct vclient_resp *r)
{
    if (r->body != NULL &&
        (fwrite(r->body, 1, r->body_len, stdout) != r->body_len || putchar('\n') == EOF))
        fprintf(stderr, "vesper: cannot write the reply to stdout\n");
    if (r->status == VCLIENT_ERROR)
        fprintf(stderr, "vesper: %s\n", r->error);
    return status_code(r->status);
}

static json_object *range_payload(const char *prefix, const struct kvcmd_args *a, const char *after)
{
    json_object *pl = json_object_new_object();
    if (pl == NULL)
        return NULL;
    json_object_object_add(pl, "prefix", json_object_new_string(prefix));
    if (a->limit)
        json_object_object_add(pl, "limit", json_object_new_uint64(a->limit));
    if (a->keys_only)
        json_object_object_add(pl, "keys_only", json_object_new_boolean(1));
    if (a->stale)
        json_object_object_add(pl, "consistency", json_object_new_string("stale"));
    if (after != NULL)
        json_object_object_add(pl, "after", json_object_new_string(after));
    return pl;
}

/* The payload of a successful range reply, or NULL. */
static json_object *reply_payload(json_object *reply)
{
    json_object *pl, *code;
    if (reply == NULL || !json_object_object_get_ex(reply, "code", &code) ||
        strcmp(json_object_get_string(code), "success") != 0 ||
        !json_object_object_get_ex(reply, "payload", &pl))
        return NULL;
    return pl;
}

/* Appends page's kvs to all; returns the last key (borrowed from page) or NULL,
 * and whether more pages follow. */
static const char *merge_page(json_object *all_kvs, json_object *page, bool *more)
{
    json_object *kvs, *m, *key = NULL;
    *more = json_object_object_get_ex(page, "more", &m) && json_object_get_boolean(m);
    if (!json_object_object_get_ex(page, "kvs", &kvs))
        return NULL;
    size_t n = json_object_array_length(kvs);
    for (size_t i = 0; i < n; i++) {
        json_object *kv = json_object_array_get_idx(kvs, i);
        json_object_array_add(all_kvs, json_object_get(kv));
        json_object_object_get_ex(kv, "key", &key);
    }
    return key ? json_object_get_string(key) : NULL;
}

static int list_all(struct vclient *c, const char *prefix, const struct kvcmd_args *a)
{
    json_object *first = NULL, *all_kvs = json_object_new_array(), *page = NULL;
    char *after = NULL;
    bool more = true;
    int rc = 0;
    while (more && rc == 0) {
        struct vclient_resp r;
        enum vclient_status st =
            vclient_do_json(c, "range", range_payload(prefix, a, after), true, &r);
        json_object_put(page);
        page = r.body ? json_tokener_parse(r.body) : NULL;
        json_object *pl = reply_payload(page);
        if (st != VCLIENT_SUCCESS || pl == NULL) {
            rc = print_resp(&r);
            rc = rc ? rc : 2;
        } else {
            const char *last = merge_page(all_kvs, pl, &more);
            free(after);
            after = last ? strdup(last) : NULL;
            more = more && after != NULL;
            if (first == NULL)
                first = json_object_get(page);
        }
        vclient_resp_free(&r);
    }
    if (rc == 0 && first != NULL) {
        json_object *pl = reply_payload(first);
        json_object_object_add(pl, "kvs", json_object_get(all_kvs));
        json_object_object_add(pl, "more", json_object_new_boolean(0));
        rc = print_json(first) == 0 ? 0 : 2;
    }
    free(after);
    json_object_put(page);
    json_object_put(first);
    json_object_put(all_kvs);
    return rc;
}

static char *read_stdin(void)
{
    size_t cap = 4096, len = 0, n;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, stdin)) > 0) {
        len += n;
        if (len == cap) {
            char *bigger = realloc(buf, 2 * cap + 1);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf != NULL)
        buf[len] = '\0';
    return buf;
}

static int txn(struct vclient *c, const char *text)
{
    char *owned = text ? NULL : read_stdin();
    json_object *pl = json_tokener_parse(text ? text : owned ? owned : "");
    free(owned);
    if (pl == NULL || !json_object_is_type(pl, json_type_object)) {
        json_object_put(pl);
        fprintf(stderr,
                "vesper: txn wants a JSON object {\"compare\":[...],\"success\":[...],"
                "\"failure\":[...]}\n");
        return -1;
    }
    struct vclient_resp r;
    vclient_do_json(c, "txn", pl, false, &r);
    int rc = print_resp(&r);
    vclient_resp_free(&r);
    return rc;
}

int kvcmd_run(struct vclient *c, const struct kvcmd_args *a, int argc, char **argv)
{
    if (strcmp(argv[0], "txn") == 0) {
        if (argc > 2)
            return -1;
        return txn(c, argc == 2 ? argv[1] : NULL);
    }
    if (argc != 2)
        return -1;
    if (a->all)
        return list_all(c, argv[1], a);
    struct vclient_resp r;
    vclient_do_json(c, "range", range_payload(argv[1], a, NULL), true, &r);
    int rc = print_resp(&r);
    vclient_resp_free(&r);
    return rc;
}
