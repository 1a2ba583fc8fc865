/* h2o_probe.c: the smallest program that proves the static link of vesperd works.
 *
 * It links exactly what vesperd links (libh2o-evloop.a, OpenSSL, json-c, zlib,
 * -static), serves GET /ping with a json-c built body on 127.0.0.1:PORT, and exits
 * after one request or after a deadline, so a script can run it unattended.
 * With --resolve NAME it first resolves NAME through getaddrinfo() and prints the
 * result: that is how deploy tests check name resolution inside a static binary
 * (glibc's static getaddrinfo still consults /etc/nsswitch.conf and /etc/hosts).
 *
 * Usage: h2o-probe PORT [--resolve NAME] [--deadline-ms N]
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>
#include <json-c/json.h>

static h2o_globalconf_t config;
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;
static int served;

static int on_ping(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        return -1;
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "pong", json_object_new_boolean(1));
    const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    h2o_iovec_t body = h2o_strdup(&req->pool, s, SIZE_MAX);
    json_object_put(o);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_send_inline(req, body.base, body.len);
    served++;
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock != NULL)
        h2o_accept(&accept_ctx, sock);
}

static int listen_on(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 16) != 0) {
        perror("h2o-probe: listen");
        return -1;
    }
    h2o_socket_t *sock = h2o_evloop_socket_create(ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(sock, on_accept);
    return 0;
}

static int resolve(const char *name)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(name, "80", &hints, &res);
    if (rc != 0) {
        printf("resolve %s: %s\n", name, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        char text[INET6_ADDRSTRLEN] = "?";
        void *p = a->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                                          : (void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        inet_ntop(a->ai_family, p, text, sizeof text);
        printf("resolve %s: %s\n", name, text);
    }
    freeaddrinfo(res);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: h2o-probe PORT [--resolve NAME] [--deadline-ms N]\n");
        return 2;
    }
    long deadline_ms = 5000;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--resolve") == 0 && resolve(argv[i + 1]) != 0)
            return 1;
        if (strcmp(argv[i], "--deadline-ms") == 0)
            deadline_ms = atol(argv[i + 1]);
    }
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    config.max_request_entity_size = 1 << 20;
    h2o_hostconf_t *host =
        h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/ping", 0);
    h2o_handler_t *h = h2o_create_handler(path, sizeof *h);
    h->on_req = on_ping;
    h2o_context_init(&ctx, h2o_evloop_create(), &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    if (listen_on(atoi(argv[1])) != 0)
        return 1;
    printf("listening on 127.0.0.1:%s\n", argv[1]);
    fflush(stdout);
    uint64_t end = h2o_now(ctx.loop) + (uint64_t)deadline_ms;
    /* Run a few more iterations after the reply so the response is flushed. */
    int after = 0;
    while (h2o_now(ctx.loop) < end && after < 20) {
        if (h2o_evloop_run(ctx.loop, 10) != 0)
            break;
        if (served > 0)
            after++;
    }
    printf("served %d\n", served);
    return served > 0 ? 0 : 1;
}
