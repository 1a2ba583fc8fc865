/* itest_multi.c: the multi-key ops of the suite's load (itest_load.c): transactions and
 * ranges over the shared keys of the current phase, recorded whole so the checker takes
 * each as one atomic step over all its keys (tests/lib/lincheck.h, mtxn and range).
 *
 * A txn compares key k with the value this client last saw there (or its absence) and
 * then puts k and the next key and reads the next key back (it must see its own put);
 * when the compare fails it reads both keys instead, so the client learns their values.
 * A range reads every shared key of the phase at once. Both go through the same vclient
 * (redirects, retries, exactly-once for the txn) as the single-key ops. Outcomes follow
 * itest_load.c: a txn without a definite answer is info, a range without one says nothing.
 */
#include "integration/itest.h"

#include "client/vclient.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct json_object *op_json(const char *op, const char *key, const char *value)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "op", json_object_new_string(op));
    json_object_object_add(o, "key", json_object_new_string(key));
    if (value)
        json_object_object_add(o, "value", json_object_new_string(value));
    return o;
}

static struct json_object *txn_payload(const char *k1, const char *k2, const char *expected,
                                       const char *v1, const char *v2)
{
    struct json_object *cmp = json_object_new_object();
    json_object_object_add(cmp, "key", json_object_new_string(k1));
    json_object_object_add(cmp, "target", json_object_new_string(expected ? "value" : "exists"));
    json_object_object_add(
        cmp, "value", expected ? json_object_new_string(expected) : json_object_new_boolean(false));
    struct json_object *cmps = json_object_new_array(), *then = json_object_new_array();
    struct json_object *els = json_object_new_array(), *p = json_object_new_object();
    json_object_array_add(cmps, cmp);
    json_object_array_add(then, op_json("put", k1, v1));
    json_object_array_add(then, op_json("put", k2, v2));
    json_object_array_add(then, op_json("get", k2, NULL));
    json_object_array_add(els, op_json("get", k1, NULL));
    json_object_array_add(els, op_json("get", k2, NULL));
    json_object_object_add(p, "compare", cmps);
    json_object_object_add(p, "success", then);
    json_object_object_add(p, "failure", els);
    return p;
}

/* The reply's payload, or NULL; *root must be released with json_object_put. */
static struct json_object *reply_payload(const struct vclient_resp *r, struct json_object **root)
{
    struct json_object *pl = NULL;
    *root = r->status == VCLIENT_SUCCESS && r->body ? json_tokener_parse(r->body) : NULL;
    if (*root && !json_object_object_get_ex(*root, "payload", &pl))
        pl = NULL;
    return pl;
}

/* Copies the value of results[i] (a get) into out ("" and false when not found). */
static bool get_result(struct json_object *results, size_t i, char *out, size_t len)
{
    struct json_object *g = json_object_array_get_idx(results, i), *found, *v;
    out[0] = '\0';
    if (!g || !json_object_object_get_ex(g, "found", &found) || !json_object_get_boolean(found) ||
        !json_object_object_get_ex(g, "value", &v))
        return false;
    snprintf(out, len, "%s", json_object_get_string(v));
    return true;
}

void itest_multi_txn(struct itest_multi *m, int phase, int k)
{
    char k1[32], k2[32], v1[32], v2[32], got[2][32] = {"", ""};
    int k2i = (k + 1) % ITEST_SHARED_KEYS;
    snprintf(k1, sizeof k1, "p%d-k%d", phase, k);
    snprintf(k2, sizeof k2, "p%d-k%d", phase, k2i);
    snprintf(v1, sizeof v1, "c%d-%ldt", m->proc, (*m->next_value)++);
    snprintf(v2, sizeof v2, "c%d-%ldu", m->proc, (*m->next_value)++);
    char seen[32]; /* a copy: m->last[k] changes below, before the op is recorded */
    snprintf(seen, sizeof seen, "%s", m->last[k]);
    const char *expected = seen[0] ? seen : NULL;
    struct lincheck_sub subs[6] = {{LINCHECK_SUB_EQ, LINCHECK_STR(k1),
                                    expected ? LINCHECK_STR(expected) : LINCHECK_ABSENT, false},
                                   {LINCHECK_SUB_PUT, LINCHECK_STR(k1), LINCHECK_STR(v1), false},
                                   {LINCHECK_SUB_PUT, LINCHECK_STR(k2), LINCHECK_STR(v2), false},
                                   {LINCHECK_SUB_GET, LINCHECK_STR(k2), LINCHECK_ABSENT, false},
                                   {LINCHECK_SUB_GET, LINCHECK_STR(k1), LINCHECK_ABSENT, false},
                                   {LINCHECK_SUB_GET, LINCHECK_STR(k2), LINCHECK_ABSENT, false}};
    struct lincheck_op *op = &m->op;
    *op = (struct lincheck_op){.proc = (uint64_t)m->proc, .type = LINCHECK_TXN, .key = subs[0].key};
    op->subs = subs;
    op->n_subs = 6;
    op->n_cmp = 1;
    op->n_then = 3;
    struct vclient_resp r;
    op->invoke_us = itest_now_us();
    vclient_do_json(m->vc, "txn", txn_payload(k1, k2, expected, v1, v2), false, &r);
    op->complete_us = itest_now_us();
    struct json_object *root, *pl = reply_payload(&r, &root), *ok, *results;
    op->outcome = LINCHECK_INFO; /* no definite answer: it may have happened */
    if (pl && json_object_object_get_ex(pl, "succeeded", &ok) &&
        json_object_object_get_ex(pl, "results", &results)) {
        op->outcome = LINCHECK_OK;
        op->cas_swapped = json_object_get_boolean(ok);
        size_t first = op->cas_swapped ? 3 : 4, n = op->cas_swapped ? 1 : 2;
        for (size_t i = 0; i < n; i++) {
            bool found = get_result(results, op->cas_swapped ? 2 : i, got[i], sizeof got[i]);
            subs[first + i].has_result = true;
            subs[first + i].value = found ? LINCHECK_STR(got[i]) : LINCHECK_ABSENT;
        }
        snprintf(m->last[k], sizeof m->last[k], "%s", op->cas_swapped ? v1 : got[0]);
        snprintf(m->last[k2i], sizeof m->last[k2i], "%s", op->cas_swapped ? v2 : got[1]);
    }
    if (op->outcome == LINCHECK_INFO)
        op->complete_us = INT64_MAX;
    if (lincheck_history_add(m->hist, op) != 0)
        abort(); /* out of memory: the run is void anyway */
    json_object_put(root);
    vclient_resp_free(&r);
    op->subs = NULL; /* they lived on this stack */
    op->n_subs = 0;
}

void itest_multi_range(struct itest_multi *m, int phase)
{
    char prefix[32], keys[ITEST_SHARED_KEYS][32], vals[ITEST_SHARED_KEYS][32];
    struct lincheck_val kv[ITEST_SHARED_KEYS], vv[ITEST_SHARED_KEYS];
    snprintf(prefix, sizeof prefix, "p%d-", phase);
    for (int k = 0; k < ITEST_SHARED_KEYS; k++) {
        snprintf(keys[k], sizeof keys[k], "p%d-k%d", phase, k);
        kv[k] = LINCHECK_STR(keys[k]);
        vv[k] = LINCHECK_ABSENT;
    }
    struct lincheck_op *op = &m->op;
    *op = (struct lincheck_op){.proc = (uint64_t)m->proc, .key = LINCHECK_STR(prefix)};
    struct json_object *payload = json_object_new_object();
    json_object_object_add(payload, "prefix", json_object_new_string(prefix));
    struct vclient_resp r;
    op->invoke_us = itest_now_us();
    vclient_do_json(m->vc, "range", payload, true, &r);
    op->complete_us = itest_now_us();
    struct json_object *root, *pl = reply_payload(&r, &root), *kvs, *more;
    op->outcome = LINCHECK_FAIL; /* a read without an answer is dropped */
    if (pl && json_object_object_get_ex(pl, "kvs", &kvs) &&
        json_object_object_get_ex(pl, "more", &more) && !json_object_get_boolean(more)) {
        op->outcome = LINCHECK_OK;
        size_t n = json_object_array_length(kvs);
        for (size_t i = 0; i < n; i++) {
            struct json_object *e = json_object_array_get_idx(kvs, i), *key, *val;
            int k = -1;
            if (json_object_object_get_ex(e, "key", &key) &&
                json_object_object_get_ex(e, "value", &val))
                for (int j = 0; j < ITEST_SHARED_KEYS && k < 0; j++)
                    k = strcmp(json_object_get_string(key), keys[j]) == 0 ? j : -1;
            if (k >= 0) {
                snprintf(vals[k], sizeof vals[k], "%s", json_object_get_string(val));
                vv[k] = LINCHECK_STR(vals[k]);
            }
        }
        for (int k = 0; k < ITEST_SHARED_KEYS; k++)
            snprintf(m->last[k], sizeof m->last[k], "%s", vv[k].data ? vv[k].data : "");
    }
    if (lincheck_history_add_range(m->hist, op, ITEST_SHARED_KEYS, kv, vv) != 0)
        abort();
    json_object_put(root);
    vclient_resp_free(&r);
}
