/* fanout_wire.c: the requests and replies of bench/watch_fanout.c for both systems
 * (see fanout_wire.h).
 *
 * Blocking sockets are enough: every request is small and written once (the tool
 * reads only when epoll says a socket is readable), and the servers are on the
 * loopback. A request goes out in one write, so neither side waits on Nagle or a
 * delayed acknowledgement.
 */
#include "fanout_wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_stream.h"

int wire_parse_url(const char *url, size_t len, struct sockaddr_in *sa)
{
    char host[64], buf[128];
    int port;
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, url, len);
    buf[len] = '\0';
    if (sscanf(buf, "http://%63[0-9.]:%d", host, &port) != 2 || port <= 0 || port > 65535)
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

int wire_dial(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 5};
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 ||
        connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One request, with a JSON body unless body is NULL. */
static int send_request(int fd, const char *method, const char *path, const char *body)
{
    char req[8192];
    int n = body == NULL
                ? snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: bench\r\n\r\n", method, path)
                : snprintf(req, sizeof req,
                           "%s %s HTTP/1.1\r\nHost: bench\r\nContent-Type: "
                           "application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           method, path, strlen(body), body);
    if (n < 0 || (size_t)n >= sizeof req)
        return -1;
    return send_all(fd, req, (size_t)n);
}

int wire_send_watch(int fd, bool etcd, const char *prefix)
{
    char body[512], path[300], k[200], end[200], succ[128];
    size_t plen = strlen(prefix);
    if (plen == 0 || plen >= sizeof succ)
        return -1;
    if (!etcd) {
        snprintf(path, sizeof path, "/watch?prefix=%s", prefix);
        return send_request(fd, "GET", path, NULL);
    }
    memcpy(succ, prefix, plen);
    succ[plen - 1]++;
    b64_encode((const unsigned char *)prefix, plen, k);
    b64_encode((const unsigned char *)succ, plen, end);
    snprintf(body, sizeof body, "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\"}}", k,
             end);
    return send_request(fd, "POST", "/v3/watch", body);
}

int wire_send_put(int fd, bool etcd, const char *prefix, uint64_t seq, int value_bytes)
{
    char key[160], value[4001], body[7000], kb[220], vb[5400];
    if (value_bytes < 1 || value_bytes > 4000 || strlen(prefix) > 100)
        return -1;
    snprintf(key, sizeof key, "%s%08llu", prefix, (unsigned long long)seq);
    memset(value, 'v', (size_t)value_bytes);
    value[value_bytes] = '\0';
    if (etcd) {
        b64_encode((const unsigned char *)key, strlen(key), kb);
        b64_encode((const unsigned char *)value, strlen(value), vb);
        snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", kb, vb);
        return send_request(fd, "POST", "/v3/kv/put", body);
    }
    snprintf(body, sizeof body, "{\"type\":\"put\",\"payload\":{\"key\":\"%s\",\"value\":\"%s\"}}",
             key, value);
    return send_request(fd, "PUT", "/request", body);
}

bool wire_put_ok(bool etcd, int status, const char *body)
{
    if (status != 200)
        return false;
    return etcd ? strstr(body, "\"error\"") == NULL : strstr(body, "\"code\":\"success\"") != NULL;
}

uint64_t wire_event_seq(bool etcd, const char *prefix, const char *k, size_t klen)
{
    unsigned char key[256];
    size_t plen = strlen(prefix), n = klen;
    if (etcd) {
        long d = b64_decode(k, klen, key, sizeof key - 1);
        if (d < 0)
            return 0;
        n = (size_t)d;
    } else {
        if (klen >= sizeof key)
            return 0;
        memcpy(key, k, klen);
    }
    key[n] = '\0';
    if (n <= plen || memcmp(key, prefix, plen) != 0)
        return 0;
    char *end;
    uint64_t seq = strtoull((const char *)key + plen, &end, 10);
    return *end == '\0' ? seq : 0;
}
