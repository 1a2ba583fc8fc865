/* probe.c: the health probe (see probe.h). A blocking socket with a 2 s
 * timeout: the probe is a short-lived process, so simplicity wins. */
#include "node/probe.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int connect_to(const struct config_url *url)
{
    char port[8];
    snprintf(port, sizeof port, "%u", url->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    if (getaddrinfo(url->host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM, 0);
        if (fd < 0)
            continue;
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

int probe_health(const struct config_url *url)
{
    if (url->https) {
        fprintf(stderr, "probe: https is not supported by the probe\n");
        return 1;
    }
    int fd = connect_to(url);
    if (fd < 0) {
        fprintf(stderr, "probe: cannot connect to %s\n", url->text);
        return 1;
    }
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET /health HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", url->host);
    char buf[64] = {0};
    ssize_t got = 0;
    if (len > 0 && write(fd, req, (size_t)len) == len)
        got = read(fd, buf, sizeof buf - 1);
    close(fd);
    bool ok = got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0;
    if (!ok)
        fprintf(stderr, "probe: %s/health is not healthy\n", url->text);
    return ok ? 0 : 1;
}
