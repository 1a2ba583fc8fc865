/* leasecmd.c: `vesper lease ...` and `vesper put ... --ttl` (see leasecmd.h).
 *
 *   vesper lease grant TTL               {"id":N,"ttl":TTL}
 *   vesper lease revoke ID               deletes every key attached to ID
 *   vesper lease keepalive ID [--forever]
 *   vesper lease list
 *   vesper lease info ID [--keys]
 *
 * Grant, revoke and keepalive go with an exactly-once session like every write,
 * so a retry through an election renews or grants once. keepalive --forever
 * renews every third of the granted TTL (taken from each answer), which leaves
 * two chances to get through before the lease could run out, and stops at the
 * first answer that is not success (the lease expired or was revoked: exit 1).
 */
#include "leasecmd.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int status_code(enum vclient_status st)
{
    return st == VCLIENT_SUCCESS ? 0 : st == VCLIENT_FAIL ? 1 : 2;
}

static int print_resp(const struct vclient_resp *r)
{
    if (r->body != NULL && (fwrite(r->body, 1, r->body_len, stdout) != r->body_len ||
                            putchar('\n') == EOF || fflush(stdout) != 0))
        fprintf(stderr, "vesper: cannot write the reply to stdout\n");
    if (r->status == VCLIENT_ERROR)
        fprintf(stderr, "vesper: %s\n", r->error);
    return status_code(r->status);
}

static int parse_id(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0)
        return -1;
    *out = v;
    return 0;
}

static json_object *id_payload(uint64_t id)
{
    json_object *pl = json_object_new_object();
    if (pl != NULL)
        json_object_object_add(pl, "id", json_object_new_uint64(id));
    return pl;
}

/* payload.NAME of a successful reply body, or 0. */
static uint64_t reply_u64(const struct vclient_resp *r, const char *name)
{
    json_object *o = r->body ? json_tokener_parse(r->body) : NULL;
    json_object *pl, *v;
    uint64_t x = 0;
    if (o != NULL && json_object_object_get_ex(o, "payload", &pl) &&
        json_object_object_get_ex(pl, name, &v) && json_object_is_type(v, json_type_int))
        x = json_object_get_uint64(v);
    json_object_put(o);
    return x;
}

static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int keepalive(struct vclient *c, uint64_t id, bool forever)
{
    for (;;) {
        struct vclient_resp r;
        vclient_do_json(c, "lease_keepalive", id_payload(id), false, &r);
        int rc = print_resp(&r);
        uint64_t ttl = reply_u64(&r, "ttl");
        vclient_resp_free(&r);
        if (!forever || rc != 0)
            return rc;
        sleep_ms(ttl ? ttl * 1000 / 3 : 1000);
    }
}

int leasecmd_run(struct vclient *c, const struct leasecmd_args *a, int argc, char **argv)
{
    if (argc < 2)
        return -1;
    const char *sub = argv[1];
    uint64_t n = 0;
    json_object *pl;
    bool is_read = false;
    if (strcmp(sub, "list") == 0 && argc == 2) {
        pl = json_object_new_object();
        is_read = true;
    } else if (argc != 3 || parse_id(argv[2], &n) != 0) {
        return -1;
    } else if (strcmp(sub, "grant") == 0) {
        pl = json_object_new_object();
        if (pl != NULL)
            json_object_object_add(pl, "ttl", json_object_new_uint64(n));
    } else if (strcmp(sub, "keepalive") == 0) {
        return keepalive(c, n, a->forever);
    } else if (strcmp(sub, "revoke") == 0) {
        pl = id_payload(n);
    } else if (strcmp(sub, "info") == 0) {
        pl = id_payload(n);
        if (pl != NULL && a->keys)
            json_object_object_add(pl, "keys", json_object_new_boolean(1));
        is_read = true;
    } else {
        return -1;
    }
    char type[32];
    snprintf(type, sizeof type, "lease_%s", sub);
    struct vclient_resp r;
    vclient_do_json(c, type, pl, is_read, &r);
    int rc = print_resp(&r);
    vclient_resp_free(&r);
    return rc;
}

int leasecmd_put_ttl(struct vclient *c, const char *key, size_t key_len, const char *value,
                     size_t value_len, uint64_t ttl_s)
{
    json_object *pl = json_object_new_object();
    if (pl != NULL)
        json_object_object_add(pl, "ttl", json_object_new_uint64(ttl_s));
    struct vclient_resp r;
    vclient_do_json(c, "lease_grant", pl, false, &r);
    uint64_t id = reply_u64(&r, "id");
    if (r.status != VCLIENT_SUCCESS || id == 0) {
        fprintf(stderr, "vesper: lease grant failed\n");
        int rc = print_resp(&r);
        vclient_resp_free(&r);
        return rc ? rc : 2;
    }
    vclient_resp_free(&r);
    pl = json_object_new_object();
    if (pl != NULL) {
        json_object_object_add(pl, "key", json_object_new_string_len(key, (int)key_len));
        json_object_object_add(pl, "value", json_object_new_string_len(value, (int)value_len));
        json_object_object_add(pl, "lease", json_object_new_uint64(id));
    }
    vclient_do_json(c, "put", pl, false, &r);
    int rc = print_resp(&r);
    vclient_resp_free(&r);
    if (printf("lease %llu\n", (unsigned long long)id) < 0 || fflush(stdout) != 0)
        return 2;
    return rc;
}
