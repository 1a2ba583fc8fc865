/* histgen_multi.c: the range and txn ops of histgen --multi (see histgen.h).
 *
 * A range asks for the client's whole key prefix and records, for every key the
 * client tracks, the value it read or its absence; keys under the prefix that other
 * tools wrote are ignored. It must come back complete ("more": false), else the
 * absence of a key would mean nothing, and it is then taken as ambiguous. A txn
 * compares key k with the value this client last saw there (or its absence, like a
 * cas), and if that holds puts fresh values into k and the next key: a two-key
 * compare-and-swap, recorded as a txn op (tests/lib/lincheck.h).
 */
#include "tools/histgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void histgen_multi_next(struct histgen_client *c, struct lincheck_op *op, int k, char *key2)
{
    snprintf(key2, 48, "%s%d", c->cfg->prefix, (k + 1) % c->cfg->keys);
    if (c->multi == HISTGEN_RANGE) {
        op->type = LINCHECK_GET; /* a read: resent freely */
        op->value = op->expected = LINCHECK_ABSENT;
        return;
    }
    op->type = LINCHECK_CAS; /* a write: never resent after an ambiguous attempt */
    snprintf(c->mval[0], sizeof c->mval[0], "c%d-%ldt", c->id, c->writes);
    snprintf(c->mval[1], sizeof c->mval[1], "c%d-%ldu", c->id, c->writes);
    c->writes++;
    op->value = LINCHECK_STR(c->mval[0]);
    op->expected = c->last[k][0] ? LINCHECK_STR(c->last[k]) : LINCHECK_ABSENT;
}

void histgen_multi_body(const struct histgen_client *c, const struct lincheck_op *op,
                        const char *key2, char *buf, size_t len)
{
    if (c->multi == HISTGEN_RANGE) {
        snprintf(buf, len, "{\"type\":\"range\",\"payload\":{\"prefix\":\"%s\"}}", c->cfg->prefix);
        return;
    }
    char cmp[160];
    if (op->expected.data)
        snprintf(cmp, sizeof cmp, "{\"key\":\"%s\",\"target\":\"value\",\"value\":\"%s\"}",
                 op->key.data, op->expected.data);
    else
        snprintf(cmp, sizeof cmp, "{\"key\":\"%s\",\"target\":\"exists\",\"value\":false}",
                 op->key.data);
    snprintf(buf, len,
             "{\"type\":\"txn\",\"payload\":{\"compare\":[%s],\"success\":[{\"op\":\"put\","
             "\"key\":\"%s\",\"value\":\"%s\"},{\"op\":\"put\",\"key\":\"%s\",\"value\":\"%s\"}]}}",
             cmp, op->key.data, c->mval[0], key2, c->mval[1]);
}

/* The index of a tracked key (prefix + decimal index below cfg->keys), or -1. */
static int tracked(const struct histgen_config *cfg, const char *key)
{
    size_t n = strlen(cfg->prefix);
    if (strncmp(key, cfg->prefix, n) != 0 || key[n] < '0' || key[n] > '9')
        return -1;
    char *end;
    long i = strtol(key + n, &end, 10);
    if (*end != '\0' || i >= cfg->keys || (key[n] == '0' && key[n + 1] != '\0'))
        return -1;
    return (int)i;
}

static bool read_range(struct histgen_client *c, struct json_object *payload)
{
    struct json_object *kvs = json_object_object_get(payload, "kvs");
    struct json_object *more = json_object_object_get(payload, "more");
    if (!json_object_is_type(kvs, json_type_array) || json_object_get_boolean(more))
        return false;
    memset(c->range_found, 0, sizeof c->range_found);
    size_t n = json_object_array_length(kvs);
    for (size_t i = 0; i < n; i++) {
        struct json_object *kv = json_object_array_get_idx(kvs, i);
        const char *key = json_object_get_string(json_object_object_get(kv, "key"));
        struct json_object *v = json_object_object_get(kv, "value");
        int k = key ? tracked(c->cfg, key) : -1;
        if (k < 0)
            continue;
        if (!json_object_is_type(v, json_type_string) ||
            (size_t)json_object_get_string_len(v) >= sizeof c->range_val[k])
            return false;
        memcpy(c->range_val[k], json_object_get_string(v),
               (size_t)json_object_get_string_len(v) + 1);
        c->range_found[k] = true;
    }
    return true;
}

bool histgen_multi_success(struct histgen_client *c, struct json_object *payload,
                           struct lincheck_op *op)
{
    if (c->multi == HISTGEN_RANGE)
        return read_range(c, payload);
    struct json_object *ok = json_object_object_get(payload, "succeeded");
    if (!json_object_is_type(ok, json_type_boolean))
        return false;
    op->cas_swapped = json_object_get_boolean(ok);
    return true;
}

int histgen_multi_record(struct histgen_client *c, const struct lincheck_op *op, const char *key2)
{
    int nk = c->cfg->keys;
    if (c->multi == HISTGEN_RANGE) {
        struct lincheck_val keys[64], vals[64];
        char names[64][48];
        for (int k = 0; k < nk; k++) {
            snprintf(names[k], sizeof names[k], "%s%d", c->cfg->prefix, k);
            keys[k] = LINCHECK_STR(names[k]);
            vals[k] = c->range_found[k] ? LINCHECK_STR(c->range_val[k]) : LINCHECK_ABSENT;
            if (op->outcome == LINCHECK_OK)
                snprintf(c->last[k], sizeof c->last[k], "%s",
                         c->range_found[k] ? c->range_val[k] : "");
        }
        return lincheck_history_add_range(&c->hist, op, (size_t)nk, keys, vals);
    }
    struct lincheck_val keys[2] = {op->key, LINCHECK_STR(key2)};
    struct lincheck_val vals[2] = {LINCHECK_STR(c->mval[0]), LINCHECK_STR(c->mval[1])};
    if (op->outcome == LINCHECK_OK && op->cas_swapped) {
        snprintf(c->last[c->key], sizeof c->last[c->key], "%s", c->mval[0]);
        snprintf(c->last[(c->key + 1) % nk], sizeof c->last[0], "%s", c->mval[1]);
    }
    return lincheck_history_add_txn(&c->hist, op, 2, keys, vals);
}
