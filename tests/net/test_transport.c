/* test_transport.c: two or three transports in one process on 127.0.0.1, sharing
 * one h2o evloop (tests/net/pair.c), exchanging real HTTP/1.1 batches.
 *
 * Every wait is bounded (pair_run's timeout), only loopback addresses are used,
 * and each test tears its nodes down completely so LeakSanitizer checks the
 * transport's memory ownership too.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/test.h"
#include "pair.h"

/* h2o 2.2.5's h2o_context_dispose() does not free the context's multithread
 * queue (88 bytes per context); that leak is h2o's, not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_multithread_create_queue\n";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}

#define TIMEOUT_MS 5000

struct world {
    h2o_loop_t *loop;
    struct pair_node a, b;
    struct pair_node *nodes[2];
};

static char url_a[64], url_b[64];
static const char *peer_host = "127.0.0.1";

/* A (id 1) and B (id 2) peered with each other; both listening unless told. */
static int world_init(struct world *w, const struct transport_config *ca,
                      const struct transport_config *cb, bool b_listens)
{
    signal(SIGPIPE, SIG_IGN);
    w->loop = h2o_evloop_create();
    w->nodes[0] = &w->a;
    w->nodes[1] = &w->b;
    if (pair_node_init(&w->a, w->loop) != 0 || pair_node_init(&w->b, w->loop) != 0)
        return -1;
    snprintf(url_a, sizeof url_a, "http://%s:%d", peer_host, w->a.port);
    snprintf(url_b, sizeof url_b, "http://%s:%d", peer_host, w->b.port);
    struct transport_peer to_b = {2, url_b}, to_a = {1, url_a};
    if (pair_node_transport(&w->a, ca, &to_b, 1) != 0 ||
        pair_node_transport(&w->b, cb, &to_a, 1) != 0 || pair_node_listen(&w->a) != 0)
        return -1;
    return b_listens ? pair_node_listen(&w->b) : 0;
}

static void world_free(struct world *w)
{
    pair_dispose(w->nodes, 2, w->loop);
    h2o_evloop_destroy(w->loop);
}

static struct raft_msg append_msg(raft_id from, raft_id to, uint64_t seq, struct raft_entry *e,
                                  uint8_t *payload, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        payload[i] = pair_payload_byte(seq, i);
    *e = (struct raft_entry){
        .term = 3, .index = seq, .type = RAFT_ENTRY_NORMAL, .len = len, .data = payload};
    return (struct raft_msg){.type = RAFT_MSG_APPEND,
                             .from = from,
                             .to = to,
                             .term = 3,
                             .index = seq - 1,
                             .log_term = 3,
                             .commit = seq / 2,
                             .seq = seq,
                             .n_entries = 1,
                             .entries = e};
}

static int send_appends(struct transport *t, raft_id from, raft_id to, uint64_t first, int n,
                        uint32_t len)
{
    uint8_t payload[512];
    struct raft_entry e;
    int queued = 0;
    for (int i = 0; i < n; i++) {
        struct raft_msg m = append_msg(from, to, first + (uint64_t)i, &e, payload, len);
        queued += transport_send(t, &m) == 0;
    }
    return queued;
}

TEST(transport_exchange_one_batch_each_way)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 100, 200), 100);
    CHECK_EQ_U64(send_appends(w.b.t, 2, 1, 1001, 50, 10), 50);
    struct pair_want both[2] = {{&w.b, 100}, {&w.a, 50}};
    CHECK(pair_run(w.nodes, 2, w.loop, pair_got, &both[0], TIMEOUT_MS));
    CHECK(pair_run(w.nodes, 2, w.loop, pair_got, &both[1], TIMEOUT_MS));
    int in_order = 1;
    for (uint32_t i = 0; i < 100; i++)
        in_order &= w.b.recv_seq[i] == 1 + i && w.b.recv_from[i] == 1 && w.b.recv_bytes[i] == 200;
    for (uint32_t i = 0; i < 50; i++)
        in_order &= w.a.recv_seq[i] == 1001 + i && w.a.recv_from[i] == 2;
    CHECK(in_order);
    CHECK(w.a.recv_payload_ok && w.b.recv_payload_ok);
    struct transport_stats sa, sb;
    transport_peer_stats(w.a.t, 2, &sa);
    transport_stats(w.b.t, &sb);
    CHECK_EQ_U64(sa.batches_sent, 1); /* queued in one iteration: one request */
    CHECK_EQ_U64(sb.batches_received, 1);
    CHECK_EQ_U64(sb.msgs_received, 100);
    world_free(&w);
}

static bool send_errors_at_least_one(void *arg)
{
    struct transport_stats st;
    transport_peer_stats(((struct pair_node *)arg)->t, 2, &st);
    return st.send_errors >= 1;
}

/* Another cluster's batch is refused whole (403) and counted; a batch without the
 * header (an older build) is delivered; the same id is delivered. */
TEST(transport_cluster_id_mismatch_refused)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    ca.cluster_id = "00000000000000aa";
    cb.cluster_id = "00000000000000bb";
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 3, 10), 3);
    CHECK(pair_run(w.nodes, 2, w.loop, send_errors_at_least_one, &w.a, TIMEOUT_MS));
    struct transport_stats sb;
    transport_stats(w.b.t, &sb);
    CHECK_EQ_U64(w.b.n_recv, 0);
    CHECK_EQ_U64(sb.recv_wrong_cluster, 1);
    CHECK(strstr(transport_peer_last_error(w.a.t, 2), "403") != NULL);
    world_free(&w);

    ca.cluster_id = NULL; /* sends no header */
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 3, 10), 3);
    struct pair_want three = {&w.b, 3};
    CHECK(pair_run(w.nodes, 2, w.loop, pair_got, &three, TIMEOUT_MS));
    world_free(&w);

    ca.cluster_id = cb.cluster_id;
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 3, 10), 3);
    CHECK(pair_run(w.nodes, 2, w.loop, pair_got, &three, TIMEOUT_MS));
    world_free(&w);
}

static char adopted[65];
static bool adopt_cb(void *arg, const char *id)
{
    (void)arg;
    snprintf(adopted, sizeof adopted, "%s", id);
    return true;
}

/* A transport without an id (a --join node) adopts the first one it hears and then
 * holds every batch to it. */
TEST(transport_cluster_id_adopted_once)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    ca.cluster_id = "00000000000000aa";
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    adopted[0] = '\0';
    transport_set_cluster_adopt(w.b.t, adopt_cb);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 3, 10), 3);
    struct pair_want three = {&w.b, 3};
    CHECK(pair_run(w.nodes, 2, w.loop, pair_got, &three, TIMEOUT_MS));
    CHECK(strcmp(adopted, "00000000000000aa") == 0);
    world_free(&w);
}

TEST(transport_resolves_host_names)
{
    /* "localhost" goes through h2o's getaddrinfo threads and the context's
     * hostinfo receiver instead of the IP-literal fast path. */
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    peer_host = "localhost";
    int rc = world_init(&w, &ca, &cb, true);
    peer_host = "127.0.0.1";
    CHECK(rc == 0);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 3, 16), 3);
    struct pair_want want = {&w.b, 3};
    bool ok = pair_run(w.nodes, 2, w.loop, pair_got, &want, TIMEOUT_MS);
    world_free(&w);
    CHECK(ok);
}

static bool delivered_all(void *arg)
{
    struct world *w = arg;
    struct transport_stats st;
    transport_stats(w->a.t, &st);
    return st.msgs_delivered + st.msgs_dropped >= st.msgs_queued && w->b.n_recv >= st.msgs_queued;
}

TEST(transport_keepalive_and_inflight_limit)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    ca.max_inflight = 1;
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    /* 30 iterations of 5 messages: with one request in flight at a time, messages
     * queued while it is out join the next batch; all reuse one connection. */
    for (int it = 0; it < 30; it++) {
        CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1 + (uint64_t)it * 5, 5, 64), 5);
        transport_flush(w.a.t);
        CHECK(h2o_evloop_run(w.loop, 1) == 0);
    }
    CHECK(pair_run(w.nodes, 2, w.loop, delivered_all, &w, TIMEOUT_MS));
    struct transport_stats st;
    transport_stats(w.a.t, &st);
    CHECK_EQ_U64(st.msgs_delivered, 150);
    CHECK_EQ_U64(st.send_errors, 0);
    CHECK(st.batches_sent <= 30);
    CHECK_EQ_U64(w.b.accepted, 1);
    int in_order = 1;
    for (uint32_t i = 0; i < 150; i++)
        in_order &= w.b.recv_seq[i] == 1 + i;
    CHECK(in_order);
    world_free(&w);
}

TEST(transport_back_pressure_refuses_when_batch_full)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    ca.max_batch_bytes = 4096;
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    int queued = send_appends(w.a.t, 1, 2, 1, 100, 100);
    CHECK(queued > 10 && queued < 100);
    struct raft_msg stray = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 9, .term = 1};
    CHECK(transport_send(w.a.t, &stray) == -1); /* no such peer */
    struct pair_want want = {&w.b, (uint32_t)queued};
    CHECK(pair_run(w.nodes, 2, w.loop, pair_got, &want, TIMEOUT_MS));
    struct transport_stats st;
    transport_stats(w.a.t, &st);
    CHECK_EQ_U64(st.msgs_dropped, 100 - queued + 1);
    CHECK_EQ_U64(st.msgs_queued, queued);
    world_free(&w);
}

TEST(transport_peer_down_then_up_reconnects)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    ca.backoff_min_ms = 10;
    ca.backoff_max_ms = 40;
    CHECK(world_init(&w, &ca, &cb, false) == 0);
    /* B's port is bound but not listening: every connect is refused. */
    for (int it = 0; it < 20; it++) {
        send_appends(w.a.t, 1, 2, 1, 1, 8);
        transport_flush(w.a.t);
        CHECK(h2o_evloop_run(w.loop, 5) == 0);
    }
    struct transport_stats st;
    transport_stats(w.a.t, &st);
    CHECK(st.send_errors >= 1);
    CHECK_EQ_U64(st.msgs_delivered, 0);
    CHECK_EQ_U64(w.b.n_recv, 0);
    CHECK(pair_node_listen(&w.b) == 0);
    /* Keep sending one heartbeat-sized append per iteration until one lands. */
    uint64_t end = h2o_now(w.loop) + TIMEOUT_MS;
    while (w.b.n_recv == 0 && h2o_now(w.loop) < end) {
        send_appends(w.a.t, 1, 2, 7, 1, 8);
        transport_flush(w.a.t);
        CHECK(h2o_evloop_run(w.loop, 5) == 0);
    }
    CHECK(w.b.n_recv >= 1);
    world_free(&w);
}

/* Membership changes: a peer moved to a new URL is reached there (and only there),
 * a removed peer gets nothing, and a peer added back under its id works again. */
TEST(transport_peer_moves_and_is_removed)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    struct pair_node c; /* node 2 again, at another address */
    char url_c[64];
    struct transport_peer to_a = {1, url_a};
    CHECK(pair_node_init(&c, w.loop) == 0);
    snprintf(url_c, sizeof url_c, "http://127.0.0.1:%d", c.port);
    CHECK(pair_node_transport(&c, &cb, &to_a, 1) == 0 && pair_node_listen(&c) == 0);
    struct pair_node *all[3] = {&w.a, &w.b, &c};

    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 1, 3, 16), 3);
    struct pair_want at_b = {&w.b, 3}, at_c = {&c, 2};
    CHECK(pair_run(all, 3, w.loop, pair_got, &at_b, TIMEOUT_MS));
    CHECK_EQ_U64(transport_set_peer(w.a.t, 2, "ftp://nowhere:1"), RAFT_EINVAL);
    CHECK(transport_has_peer(w.a.t, 2)); /* a bad URL leaves the peer as it was */
    CHECK_EQ_U64(transport_set_peer(w.a.t, 2, url_b), RAFT_OK); /* same URL: no change */
    CHECK_EQ_U64(transport_set_peer(w.a.t, 2, url_c), RAFT_OK);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 4, 2, 16), 2);
    CHECK(pair_run(all, 3, w.loop, pair_got, &at_c, TIMEOUT_MS));
    CHECK_EQ_U64(w.b.n_recv, 3);

    CHECK_EQ_U64(transport_remove_peer(w.a.t, 2), RAFT_OK);
    CHECK(!transport_has_peer(w.a.t, 2));
    CHECK_EQ_U64(transport_remove_peer(w.a.t, 2), RAFT_EINVAL);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 6, 1, 16), 0);
    raft_id ids[RAFT_MAX_MEMBERS];
    CHECK_EQ_U64(transport_peer_ids(w.a.t, ids, RAFT_MAX_MEMBERS), 0);

    CHECK_EQ_U64(transport_set_peer(w.a.t, 2, url_b), RAFT_OK);
    CHECK_EQ_U64(transport_peer_ids(w.a.t, ids, RAFT_MAX_MEMBERS), 1);
    CHECK_EQ_U64(send_appends(w.a.t, 1, 2, 7, 1, 16), 1);
    at_b.count = 4;
    CHECK(pair_run(all, 3, w.loop, pair_got, &at_b, TIMEOUT_MS));
    CHECK_EQ_U64(c.n_recv, 2);
    pair_dispose(all, 3, w.loop);
    h2o_evloop_destroy(w.loop);
}

/* Writes a raw request to B and returns the status code of its answer. */
static int raw_request(struct world *w, const char *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->b.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, req, len) != (ssize_t)len) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char buf[512] = {0};
    ssize_t n = 0;
    uint64_t end = h2o_now(w->loop) + TIMEOUT_MS;
    while (n <= 0 && h2o_now(w->loop) < end) {
        if (h2o_evloop_run(w->loop, 10) != 0)
            break;
        n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    }
    close(fd);
    int status = -1;
    return n > 0 && sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

TEST(transport_handler_rejects_bad_input)
{
    struct world w;
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    CHECK(world_init(&w, &ca, &cb, true) == 0);
    static const char garbage[] =
        "POST /raft HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n"
        "Connection: close\r\n\r\n\x01\x01\x00\x00\x00zzzz";
    static const char get[] = "GET /raft HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    static const char empty[] =
        "POST /raft HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n";
    int s1 = raw_request(&w, garbage, sizeof garbage - 1);
    int s2 = raw_request(&w, get, sizeof get - 1);
    int s3 = raw_request(&w, empty, sizeof empty - 1);
    struct transport_stats st;
    transport_stats(w.b.t, &st);
    world_free(&w);
    CHECK_EQ_U64(s1, 400);
    CHECK_EQ_U64(s2, 405);
    CHECK_EQ_U64(s3, 400);
    CHECK_EQ_U64(st.recv_corrupt, 2);
    CHECK_EQ_U64(st.msgs_received, 0);
}

static void ignore(void *arg, const struct raft_msg *m)
{
    (void)arg, (void)m;
}

TEST(transport_new_rejects_bad_config)
{
    struct transport_config cfg;
    transport_config_defaults(&cfg, 1);
    struct transport *t = NULL;
    struct transport_peer self = {1, "http://127.0.0.1:1"}, bad = {2, "ftp://x:1"};
    struct transport_peer dup[] = {{2, "http://127.0.0.1:1"}, {2, "http://127.0.0.1:2"}};
    CHECK_EQ_U64(transport_new(&t, &cfg, &self, 1, ignore, NULL), RAFT_EINVAL);
    CHECK_EQ_U64(transport_new(&t, &cfg, &bad, 1, ignore, NULL), RAFT_EINVAL);
    CHECK_EQ_U64(transport_new(&t, &cfg, dup, 2, ignore, NULL), RAFT_EINVAL);
    CHECK_EQ_U64(transport_new(&t, &cfg, dup, 1, NULL, NULL), RAFT_EINVAL);
    CHECK(t == NULL);
    CHECK_EQ_U64(transport_new(&t, &cfg, dup, 1, ignore, NULL), RAFT_OK);
    transport_free(t); /* never started: no loop needed */
}

/* https:// peers need a client TLS context; with one they are taken, also at run time. */
TEST(transport_https_peers_need_a_tls_context)
{
    struct transport_config cfg;
    transport_config_defaults(&cfg, 1);
    struct transport *t = NULL;
    struct transport_peer tls = {2, "https://127.0.0.1:1"};
    CHECK_EQ_U64(transport_new(&t, &cfg, &tls, 1, ignore, NULL), RAFT_EINVAL);
    CHECK(t == NULL);
    cfg.ssl_ctx = SSL_CTX_new(TLS_client_method());
    CHECK(cfg.ssl_ctx != NULL);
    CHECK_EQ_U64(transport_new(&t, &cfg, &tls, 1, ignore, NULL), RAFT_OK);
    CHECK_EQ_U64(transport_add_peer(t, 3, "https://127.0.0.1:2"), RAFT_OK);
    CHECK_EQ_U64(transport_set_peer(t, 2, "http://127.0.0.1:3"), RAFT_OK);
    transport_set_ssl_ctx(t, NULL);
    CHECK_EQ_U64(transport_set_peer(t, 2, "https://127.0.0.1:4"), RAFT_EINVAL);
    CHECK(transport_peer_last_error(t, 3) == NULL);
    transport_free(t);
    SSL_CTX_free(cfg.ssl_ctx);
}
