/* endpoints.c: where the vesper CLI finds the nodes to try (see endpoints.h). */
#include "endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IP_LIST_DEFAULT "ip_list.txt"

bool endpoints_is_url(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static int add_owned(struct endpoints *e, char *d)
{
    if (d == NULL)
        return -1;
    if (e->n == ENDPOINTS_MAX) {
        free(d);
        return -1;
    }
    e->owned[e->n_owned++] = d;
    e->url[e->n++] = d;
    return 0;
}

int endpoints_add(struct endpoints *e, const char *s, size_t n)
{
    while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL)
        n--;
    if (n == 0 || s[0] == '#')
        return 0;
    return add_owned(e, strndup(s, n));
}

int endpoints_add_list(struct endpoints *e, const char *list)
{
    while (*list != '\0') {
        size_t n = strcspn(list, ",");
        if (endpoints_add(e, list, n) != 0)
            return -1;
        list += n + (list[n] == ',');
    }
    return 0;
}

int endpoints_add_file(struct endpoints *e, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "vesper: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL)
        rc = endpoints_add(e, line, strlen(line));
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int endpoints_prepend(struct endpoints *e, const char *url)
{
    if (e->n == ENDPOINTS_MAX)
        return -1;
    memmove(e->url + 1, e->url, e->n * sizeof e->url[0]);
    e->url[0] = url;
    e->n++;
    return 0;
}

/* The host of "scheme://host:port[/]" into out; false when there is none. */
static bool url_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    if (p == NULL)
        return false;
    p += 3;
    size_t n = *p == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/");
    if (n == 0 || n >= outlen)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

/* An IP literal, localhost or a dotted name: usable from this host as written. */
static bool host_reachable_as_written(const char *host)
{
    return host[0] == '[' || strchr(host, '.') != NULL || strcasecmp(host, "localhost") == 0;
}

static int add_port(struct endpoints *e, int port)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    return add_owned(e, strdup(url));
}

int endpoints_default(struct endpoints *e, const char **source)
{
    static struct endpoints file; /* large; reset by endpoints_free */
    size_t start = e->n;
    FILE *f = fopen(IP_LIST_DEFAULT, "r");
    if (f != NULL) {
        char line[1024];
        int rc = 0;
        while (rc == 0 && fgets(line, sizeof line, f) != NULL)
            rc = endpoints_add(&file, line, strlen(line));
        fclose(f);
        bool as_written = rc == 0 && file.n > 0;
        char host[256];
        for (size_t i = 0; as_written && i < file.n; i++)
            as_written = endpoints_is_url(file.url[i]) &&
                         url_host(file.url[i], host, sizeof host) &&
                         host_reachable_as_written(host);
        for (size_t i = 0; rc == 0 && i < file.n; i++)
            rc = as_written ? add_owned(e, strdup(file.url[i]))
                            : add_port(e, ENDPOINTS_DEFAULT_PORT + (int)i);
        endpoints_free(&file);
        *source = as_written ? "./" IP_LIST_DEFAULT
                             : "./" IP_LIST_DEFAULT " mapped to the ports compose publishes";
        if (rc != 0)
            return -1;
        if (e->n > start)
            return 0;
    }
    for (int i = 0; i < ENDPOINTS_DEFAULT_NODES; i++)
        if (add_port(e, ENDPOINTS_DEFAULT_PORT + i) != 0)
            return -1;
    *source = "the ports `make up` publishes";
    return 0;
}

void endpoints_free(struct endpoints *e)
{
    for (size_t i = 0; i < e->n_owned; i++)
        free(e->owned[i]);
    memset(e, 0, sizeof *e);
}
