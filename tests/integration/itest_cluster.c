/* itest_cluster.c: what the suite knows about the five node containers and how it pokes
 * them: /status polling, raw /request probes aimed at one node, container operations and
 * the network cut (see itest.h).
 *
 * Everything here runs on the suite's main thread with one libcurl handle for node HTTP
 * and one for the Docker socket. Short per-request timeouts (a paused container never
 * answers) keep every wait bounded by its own deadline.
 */
#include "integration/itest.h"
#include "lib/tls_env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t itest_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void itest_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* "http://vesper2:5000" -> service "vesper2", port 5000 (https:// likewise). */
static int itest_parse_url(struct itest_node *n, const char *line)
{
    char host[32];
    int port;
    n->https = strncmp(line, "https://", 8) == 0;
    if (sscanf(line + (n->https ? 8 : 7), "%31[^:/]:%d", host, &port) != 2 ||
        (!n->https && strncmp(line, "http://", 7) != 0) || port <= 0 || port > 65535)
        return -1;
    memcpy(n->service, host, sizeof host);
    snprintf(n->url, sizeof n->url, "%s://%s:%d", n->https ? "https" : "http", host, port);
    n->port = port;
    return 0;
}

static int itest_read_ip_list(struct itest_cluster *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "itest: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[256];
    while (fgets(line, sizeof line, f) && c->n < ITEST_MAX_NODES) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0')
            continue;
        if (itest_parse_url(&c->nodes[c->n], line) != 0) {
            fprintf(stderr, "itest: %s: bad line '%s'\n", path, line);
            fclose(f);
            return -1;
        }
        c->n++;
    }
    fclose(f);
    return c->n >= 3 ? 0 : -1;
}

int itest_cluster_init(struct itest_cluster *c, const char *ip_list_path)
{
    memset(c, 0, sizeof *c);
    const char *self = getenv("HOSTNAME");
    if (itest_read_ip_list(c, ip_list_path) != 0 || self == NULL)
        return -1;
    snprintf(c->self, sizeof c->self, "%s", self);
    c->http = curl_easy_init();
    if (c->http == NULL || docker_init(&c->docker, "/var/run/docker.sock") != 0)
        return -1;
    if (docker_project_of(&c->docker, c->self, c->project, sizeof c->project) != 0 ||
        docker_network_of(&c->docker, c->self, "_ctl", c->ctl_net, sizeof c->ctl_net, NULL, 0) !=
            0 ||
        docker_network_of(&c->docker, c->self, "_raft", c->raft_net, sizeof c->raft_net, NULL, 0) !=
            0) {
        fprintf(stderr, "itest: cannot inspect own container %s: %s\n", self, c->docker.err);
        return -1;
    }
    for (int i = 0; i < c->n; i++) {
        if (docker_find_service(&c->docker, c->project, c->nodes[i].service, c->nodes[i].cid)) {
            fprintf(stderr, "itest: %s\n", c->docker.err);
            return -1;
        }
    }
    return 0;
}

void itest_cluster_free(struct itest_cluster *c)
{
    if (c->http)
        curl_easy_cleanup(c->http);
    c->http = NULL;
    docker_free(&c->docker);
}

struct itest_buf {
    char data[4096];
    size_t len;
};

static size_t itest_buf_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct itest_buf *b = userdata;
    size_t n = size * nmemb;
    size_t room = sizeof b->data - 1 - b->len;
    memcpy(b->data + b->len, ptr, n < room ? n : room);
    b->len += n < room ? n : room;
    b->data[b->len] = '\0';
    return n;
}

/* One HTTP exchange on c->http; the parsed JSON reply or NULL. */
static struct json_object *itest_http(struct itest_cluster *c, const char *method, const char *url,
                                      const char *body, long timeout_ms)
{
    struct itest_buf b = {.len = 0};
    curl_easy_reset(c->http);
    curl_easy_setopt(c->http, CURLOPT_URL, url);
    curl_easy_setopt(c->http, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c->http, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->http, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c->http, CURLOPT_NOSIGNAL, 1L);
    /* A restarted container may come back with another node's old address: resolve anew. */
    curl_easy_setopt(c->http, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    curl_easy_setopt(c->http, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c->http, CURLOPT_WRITEFUNCTION, itest_buf_cb);
    curl_easy_setopt(c->http, CURLOPT_WRITEDATA, &b);
    /* https: the CA from VESPER_CACERT; an isolated node by name at its side-door address
     * (the handle keeps such entries: a healed node's is removed with "-name:port"). */
    struct curl_slist *resolve = NULL, *grown;
    for (int i = 0; i < c->n; i++) {
        const struct itest_node *n = &c->nodes[i];
        char drop[64];
        snprintf(drop, sizeof drop, "-%s:%d", n->service, n->port);
        if (n->https &&
            (grown = curl_slist_append(resolve, n->ctl_resolve[0] ? n->ctl_resolve : drop)))
            resolve = grown;
    }
    CURLcode rc = tls_env_apply(c->http) ? curl_easy_setopt(c->http, CURLOPT_RESOLVE, resolve)
                                         : CURLE_BAD_FUNCTION_ARGUMENT;
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c->http);
    curl_easy_setopt(c->http, CURLOPT_RESOLVE, NULL);
    curl_slist_free_all(resolve);
    return rc == CURLE_OK ? json_tokener_parse(b.data) : NULL;
}

int itest_status(struct itest_cluster *c, int i, struct itest_status *st)
{
    const struct itest_node *n = &c->nodes[i];
    char url[128];
    snprintf(url, sizeof url, "%s/status", n->isolated ? n->ctl_url : n->url);
    struct json_object *o = itest_http(c, "GET", url, NULL, 500), *v;
    if (o == NULL)
        return -1;
    memset(st, 0, sizeof *st);
    st->leader = -1;
    if (json_object_object_get_ex(o, "role", &v))
        snprintf(st->role, sizeof st->role, "%s", json_object_get_string(v));
    if (json_object_object_get_ex(o, "term", &v))
        st->term = (uint64_t)json_object_get_int64(v);
    if (json_object_object_get_ex(o, "leader", &v) && json_object_is_type(v, json_type_int))
        st->leader = json_object_get_int(v);
    if (json_object_object_get_ex(o, "commit_index", &v))
        st->commit = (uint64_t)json_object_get_int64(v);
    if (json_object_object_get_ex(o, "applied_index", &v))
        st->applied = (uint64_t)json_object_get_int64(v);
    json_object_put(o);
    return 0;
}

int itest_wait_leader(struct itest_cluster *c, unsigned skip_mask, int not_this, long timeout_ms,
                      struct itest_status *st)
{
    int64_t deadline = itest_now_us() + timeout_ms * 1000;
    do {
        int best = -1;
        struct itest_status s, best_st = {.term = 0};
        for (int i = 0; i < c->n; i++) {
            if ((skip_mask >> i) & 1u || c->nodes[i].isolated || itest_status(c, i, &s) != 0)
                continue;
            if (strcmp(s.role, "leader") == 0 && i != not_this &&
                (best < 0 || s.term > best_st.term)) {
                best = i;
                best_st = s;
            }
        }
        if (best >= 0) {
            if (st)
                *st = best_st;
            return best;
        }
        itest_sleep_ms(20);
    } while (itest_now_us() < deadline);
    return -1;
}

int itest_wait_applied(struct itest_cluster *c, int i, uint64_t target, long timeout_ms)
{
    int64_t deadline = itest_now_us() + timeout_ms * 1000;
    struct itest_status s;
    do {
        if (itest_status(c, i, &s) == 0 && s.applied >= target)
            return 0;
        itest_sleep_ms(50);
    } while (itest_now_us() < deadline);
    return -1;
}

int itest_settle(struct itest_cluster *c, long timeout_ms)
{
    int64_t deadline = itest_now_us() + timeout_ms * 1000;
    struct itest_status st;
    int leader = itest_wait_leader(c, 0, -1, timeout_ms, &st);
    if (leader < 0)
        return -1;
    for (int i = 0; i < c->n; i++) {
        long left = (long)((deadline - itest_now_us()) / 1000);
        if (itest_wait_applied(c, i, st.commit, left > 0 ? left : 1) != 0)
            return -1;
    }
    return 0;
}

int itest_isolate(struct itest_cluster *c, int i)
{
    struct itest_node *n = &c->nodes[i];
    char ip[64], net[160];
    if (docker_net_disconnect(&c->docker, c->raft_net, n->cid) != 0 ||
        docker_net_connect(&c->docker, c->ctl_net, n->cid, NULL) != 0 ||
        docker_network_of(&c->docker, n->cid, "_ctl", net, sizeof net, ip, sizeof ip) != 0) {
        fprintf(stderr, "itest: isolate %s: %s\n", n->service, c->docker.err);
        return -1;
    }
    if (n->https) {
        char service[sizeof n->service];
        memcpy(service, n->service, sizeof service);
        snprintf(n->ctl_url, sizeof n->ctl_url, "https://%s:%d", service, n->port);
        snprintf(n->ctl_resolve, sizeof n->ctl_resolve, "%s:%d:%s", service, n->port, ip);
    } else {
        snprintf(n->ctl_url, sizeof n->ctl_url, "http://%s:%d", ip, n->port);
    }
    n->isolated = true;
    return 0;
}

int itest_heal(struct itest_cluster *c, int i)
{
    struct itest_node *n = &c->nodes[i];
    /* The service alias is what peers resolve; without it the node would rejoin nameless. */
    if (docker_net_disconnect(&c->docker, c->ctl_net, n->cid) != 0 ||
        docker_net_connect(&c->docker, c->raft_net, n->cid, n->service) != 0) {
        fprintf(stderr, "itest: heal %s: %s\n", n->service, c->docker.err);
        return -1;
    }
    n->isolated = false;
    n->ctl_resolve[0] = '\0';
    return 0;
}

int itest_op(struct itest_cluster *c, int i, const char *op)
{
    if (docker_container_op(&c->docker, c->nodes[i].cid, op, 10) != 0) {
        fprintf(stderr, "itest: %s %s: %s\n", op, c->nodes[i].service, c->docker.err);
        return -1;
    }
    return 0;
}

int itest_raw(struct itest_cluster *c, const char *base_url, const char *key, const char *value,
              long timeout_ms, struct itest_reply *r)
{
    char url[160], body[512];
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "%s/request", base_url);
    if (value)
        snprintf(body, sizeof body,
                 "{\"type\":\"put\",\"payload\":{\"key\":\"%s\",\"value\":\"%s\"}}", key, value);
    else
        snprintf(body, sizeof body, "{\"type\":\"get\",\"payload\":{\"key\":\"%s\"}}", key);
    struct json_object *o = itest_http(c, value ? "PUT" : "GET", url, body, timeout_ms), *v, *pl;
    if (o == NULL)
        return 0; /* sent (or not): unknown either way, r->answered stays false */
    if (json_object_object_get_ex(o, "code", &v)) {
        r->answered = true;
        r->success = strcmp(json_object_get_string(v), "success") == 0;
    }
    if (json_object_object_get_ex(o, "error", &v))
        snprintf(r->error, sizeof r->error, "%s", json_object_get_string(v));
    if (json_object_object_get_ex(o, "payload", &pl) &&
        json_object_object_get_ex(pl, "value", &v) && json_object_is_type(v, json_type_string)) {
        r->has_value = true;
        snprintf(r->value, sizeof r->value, "%s", json_object_get_string(v));
    }
    json_object_put(o);
    return 0;
}
