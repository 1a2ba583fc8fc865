/* docker_api.c: Docker Engine API over the unix socket (see docker_api.h).
 *
 * One libcurl easy handle, reused: each call sets method, URL and body afresh. The URL's
 * host part is a placeholder ("http://docker") because the connection goes to the unix
 * socket; the path is unversioned, so the engine answers with its own API version (the
 * calls used here are stable across API versions 1.25+).
 */
#include "integration/docker_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct docker_buf {
    char *data;
    size_t len;
};

static size_t docker_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct docker_buf *b = userdata;
    size_t n = size * nmemb;
    char *p = realloc(b->data, b->len + n + 1);
    if (p == NULL)
        return 0; /* libcurl reports CURLE_WRITE_ERROR */
    memcpy(p + b->len, ptr, n);
    b->len += n;
    p[b->len] = '\0';
    b->data = p;
    return n;
}

int docker_init(struct docker *d, const char *socket_path)
{
    memset(d, 0, sizeof *d);
    snprintf(d->socket_path, sizeof d->socket_path, "%s", socket_path);
    d->curl = curl_easy_init();
    return d->curl ? 0 : -1;
}

void docker_free(struct docker *d)
{
    if (d->curl)
        curl_easy_cleanup(d->curl);
    d->curl = NULL;
}

long docker_call(struct docker *d, const char *method, const char *path, const char *body,
                 long timeout_ms, struct json_object **out)
{
    char url[1024];
    struct docker_buf b = {0};
    struct curl_slist *hdr = NULL;
    long status = -1;
    if (out)
        *out = NULL;
    snprintf(url, sizeof url, "http://docker%s", path);
    curl_easy_reset(d->curl);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    if (hdr == NULL ||
        curl_easy_setopt(d->curl, CURLOPT_UNIX_SOCKET_PATH, d->socket_path) != CURLE_OK) {
        snprintf(d->err, sizeof d->err, "docker: cannot set up request");
        curl_slist_free_all(hdr);
        return -1;
    }
    curl_easy_setopt(d->curl, CURLOPT_URL, url);
    curl_easy_setopt(d->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(d->curl, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body ? body : "");
    if (strcmp(method, "GET") == 0)
        curl_easy_setopt(d->curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(d->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(d->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(d->curl, CURLOPT_WRITEFUNCTION, docker_write_cb);
    curl_easy_setopt(d->curl, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(d->curl);
    if (rc != CURLE_OK) {
        snprintf(d->err, sizeof d->err, "docker: %s %s: %s", method, path, curl_easy_strerror(rc));
    } else {
        curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 400)
            snprintf(d->err, sizeof d->err, "docker: %s %s: HTTP %ld %.150s", method, path, status,
                     b.data ? b.data : "");
        if (out && b.data)
            *out = json_tokener_parse(b.data);
    }
    curl_slist_free_all(hdr);
    free(b.data);
    return status;
}

/* The string at obj.k1.k2 (k2 may be NULL), or NULL. */
static const char *docker_str(struct json_object *obj, const char *k1, const char *k2)
{
    struct json_object *v;
    if (!json_object_object_get_ex(obj, k1, &v))
        return NULL;
    if (k2 && !json_object_object_get_ex(v, k2, &v))
        return NULL;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int docker_find_service(struct docker *d, const char *project, const char *service,
                        char id[DOCKER_ID_MAX])
{
    char filters[512], path[1024];
    snprintf(filters, sizeof filters,
             "{\"label\":[\"com.docker.compose.project=%s\",\"com.docker.compose.service=%s\"]}",
             project, service);
    char *esc = curl_easy_escape(d->curl, filters, 0);
    if (esc == NULL)
        return -1;
    snprintf(path, sizeof path, "/containers/json?all=1&filters=%s", esc);
    curl_free(esc);
    struct json_object *list;
    long st = docker_call(d, "GET", path, NULL, 10000, &list);
    int rv = -1;
    if (st == 200 && list && json_object_is_type(list, json_type_array) &&
        json_object_array_length(list) == 1) {
        const char *s = docker_str(json_object_array_get_idx(list, 0), "Id", NULL);
        if (s && strlen(s) < DOCKER_ID_MAX) {
            snprintf(id, DOCKER_ID_MAX, "%s", s);
            rv = 0;
        }
    } else if (st == 200) {
        snprintf(d->err, sizeof d->err, "docker: want one container of %s/%s, found %zu", project,
                 service,
                 list && json_object_is_type(list, json_type_array) ? json_object_array_length(list)
                                                                    : 0);
    }
    json_object_put(list);
    return rv;
}

int docker_project_of(struct docker *d, const char *id, char *project, size_t len)
{
    char path[256];
    snprintf(path, sizeof path, "/containers/%s/json", id);
    struct json_object *o, *cfg;
    if (docker_call(d, "GET", path, NULL, 10000, &o) != 200 || o == NULL) {
        json_object_put(o);
        return -1;
    }
    const char *p = NULL;
    if (json_object_object_get_ex(o, "Config", &cfg))
        p = docker_str(cfg, "Labels", "com.docker.compose.project");
    if (p)
        snprintf(project, len, "%s", p);
    json_object_put(o);
    return p ? 0 : -1;
}

int docker_container_op(struct docker *d, const char *id, const char *op, int grace_s)
{
    char path[256];
    if (strcmp(op, "stop") == 0 || strcmp(op, "restart") == 0)
        snprintf(path, sizeof path, "/containers/%s/%s?t=%d", id, op, grace_s);
    else
        snprintf(path, sizeof path, "/containers/%s/%s", id, op);
    long st = docker_call(d, "POST", path, NULL, (grace_s + 30) * 1000L, NULL);
    return st == 204 || st == 304 ? 0 : -1;
}

int docker_network_of(struct docker *d, const char *id, const char *suffix, char *net,
                      size_t net_len, char *ip, size_t ip_len)
{
    char path[256];
    snprintf(path, sizeof path, "/containers/%s/json", id);
    struct json_object *o, *ns, *nets;
    if (docker_call(d, "GET", path, NULL, 10000, &o) != 200 || o == NULL ||
        !json_object_object_get_ex(o, "NetworkSettings", &ns) ||
        !json_object_object_get_ex(ns, "Networks", &nets)) {
        json_object_put(o);
        return -1;
    }
    int rv = -1;
    size_t sl = strlen(suffix);
    json_object_object_foreach(nets, name, ep)
    {
        size_t nl = strlen(name);
        if (rv == 0 || nl < sl || strcmp(name + nl - sl, suffix) != 0)
            continue;
        snprintf(net, net_len, "%s", name);
        const char *addr = docker_str(ep, "IPAddress", NULL);
        if (ip)
            snprintf(ip, ip_len, "%s", addr ? addr : "");
        rv = 0;
    }
    if (rv != 0)
        snprintf(d->err, sizeof d->err, "docker: %.12s is on no network *%s", id, suffix);
    json_object_put(o);
    return rv;
}

int docker_net_disconnect(struct docker *d, const char *net, const char *id)
{
    char path[512], body[256];
    snprintf(path, sizeof path, "/networks/%s/disconnect", net);
    snprintf(body, sizeof body, "{\"Container\":\"%s\",\"Force\":true}", id);
    return docker_call(d, "POST", path, body, 30000, NULL) == 200 ? 0 : -1;
}

int docker_net_connect(struct docker *d, const char *net, const char *id, const char *alias)
{
    char path[512], body[512];
    snprintf(path, sizeof path, "/networks/%s/connect", net);
    if (alias)
        snprintf(body, sizeof body,
                 "{\"Container\":\"%s\",\"EndpointConfig\":{\"Aliases\":[\"%s\"]}}", id, alias);
    else
        snprintf(body, sizeof body, "{\"Container\":\"%s\"}", id);
    return docker_call(d, "POST", path, body, 30000, NULL) == 200 ? 0 : -1;
}
