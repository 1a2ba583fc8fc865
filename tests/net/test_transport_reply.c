/* test_transport_reply.c: answers to POST /raft that carry messages back
 * (src/net/transport_reply.c), between two transports on one h2o evloop
 * (tests/net/pair.c). B's stand-in core answers every APPEND from A with an
 * APPEND_RESP before the flush, as vesperd's Ready loop does, so the answers ride
 * back on A's requests.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/test.h"
#include "net/codec.h"
#include "pair.h"

#define TIMEOUT_MS 5000

#define MAX_ACKS 256

struct duo {
    h2o_loop_t *loop;
    struct pair_node a, b; /* ids 1 and 2 */
    struct pair_node *nodes[2];
    raft_id answer_from;            /* B's answers claim this sender */
    bool remove_on_answer;          /* B drops peer A right after answering */
    struct raft_msg acks[MAX_ACKS]; /* B's answers, sent before B's flush */
    uint32_t n_acks;
};

static struct duo *the_duo;

static void b_received(struct pair_node *n, const struct raft_msg *m)
{
    (void)n;
    struct duo *d = the_duo;
    if (m->type != RAFT_MSG_APPEND || d->n_acks == MAX_ACKS)
        return;
    d->acks[d->n_acks++] = (struct raft_msg){.type = RAFT_MSG_APPEND_RESP,
                                             .from = d->answer_from,
                                             .to = m->from,
                                             .term = m->term,
                                             .index = m->index + m->n_entries,
                                             .seq = m->seq};
}

/* B's stand-in core: what it received this turn is answered now, as vesperd's
 * Ready loop answers after the loop turn. */
static void b_answers(struct pair_node *n)
{
    struct duo *d = the_duo;
    for (uint32_t i = 0; i < d->n_acks; i++)
        transport_send(n->t, &d->acks[i]);
    if (d->n_acks != 0 && d->remove_on_answer)
        transport_remove_peer(n->t, 1);
    d->n_acks = 0;
}

static int duo_init(struct duo *d)
{
    char url_a[64], url_b[64];
    signal(SIGPIPE, SIG_IGN);
    memset(d, 0, sizeof *d);
    the_duo = d;
    d->answer_from = 2;
    d->loop = h2o_evloop_create();
    d->nodes[0] = &d->a;
    d->nodes[1] = &d->b;
    if (pair_node_init(&d->a, d->loop) != 0 || pair_node_init(&d->b, d->loop) != 0)
        return -1;
    snprintf(url_a, sizeof url_a, "http://127.0.0.1:%d", d->a.port);
    snprintf(url_b, sizeof url_b, "http://127.0.0.1:%d", d->b.port);
    struct transport_peer to_b = {2, url_b}, to_a = {1, url_a};
    struct transport_config ca, cb;
    transport_config_defaults(&ca, 1);
    transport_config_defaults(&cb, 2);
    cb.client_url = "http://b.example:8080";
    d->b.on_msg = b_received;
    d->b.before_flush = b_answers;
    if (pair_node_transport(&d->a, &ca, &to_b, 1) != 0 ||
        pair_node_transport(&d->b, &cb, &to_a, 1) != 0)
        return -1;
    return pair_node_listen(&d->a) == 0 && pair_node_listen(&d->b) == 0 ? 0 : -1;
}

static void duo_free(struct duo *d)
{
    pair_dispose(d->nodes, 2, d->loop);
    h2o_evloop_destroy(d->loop);
}

static int send_appends(struct transport *t, uint64_t first, int n)
{
    int queued = 0;
    for (int i = 0; i < n; i++) {
        struct raft_msg m = {.type = RAFT_MSG_APPEND,
                             .from = 1,
                             .to = 2,
                             .term = 3,
                             .index = first + (uint64_t)i - 1,
                             .log_term = 3,
                             .seq = first + (uint64_t)i};
        queued += transport_send(t, &m) == 0;
    }
    return queued;
}

static char announced[128];

static void on_url(void *arg, raft_id from, const char *url, size_t len)
{
    (void)arg;
    snprintf(announced, sizeof announced, "%u %.*s", from, (int)len, url);
}

TEST(transport_answer_carries_the_messages_back)
{
    struct duo d;
    CHECK(duo_init(&d) == 0);
    transport_set_url_cb(d.a.t, on_url);
    announced[0] = '\0';
    uint64_t next = 1;
    for (int round = 0; round < 5; round++) { /* 5 exchanges of 20 */
        CHECK_EQ_U64(send_appends(d.a.t, next, 20), 20);
        next += 20;
        struct pair_want back = {&d.a, (uint32_t)next - 1};
        CHECK(pair_run(d.nodes, 2, d.loop, pair_got, &back, TIMEOUT_MS));
    }
    bool in_order = d.a.n_recv == 100;
    for (uint32_t i = 0; i < d.a.n_recv; i++)
        in_order &= d.a.recv_seq[i] == 1 + i && d.a.recv_from[i] == 2;
    CHECK(in_order);
    struct transport_stats sa, sb;
    transport_peer_stats(d.a.t, 2, &sa);
    transport_peer_stats(d.b.t, 1, &sb);
    CHECK_EQ_U64(sb.batches_sent, 0); /* B never had to POST */
    CHECK_EQ_U64(sb.msgs_replied, 100);
    CHECK_EQ_U64(sb.replies_sent, sa.replies_received);
    CHECK_EQ_U64(sa.batches_ok, sa.batches_sent);
    CHECK(strcmp(announced, "2 http://b.example:8080") == 0);
    duo_free(&d);
}

/* A large batch is answered at once: its acknowledgement, which waits for the
 * receiver's fsync of it, goes in a request of its own. */
TEST(transport_large_batch_is_not_held)
{
    struct duo d;
    CHECK(duo_init(&d) == 0);
    static uint8_t payload[70000];
    struct raft_entry e = {
        .term = 3, .index = 1, .type = RAFT_ENTRY_NORMAL, .len = sizeof payload, .data = payload};
    struct raft_msg m = {.type = RAFT_MSG_APPEND,
                         .from = 1,
                         .to = 2,
                         .term = 3,
                         .seq = 1,
                         .n_entries = 1,
                         .entries = &e};
    CHECK_EQ_U64(transport_send(d.a.t, &m), 0);
    struct pair_want back = {&d.a, 1};
    CHECK(pair_run(d.nodes, 2, d.loop, pair_got, &back, TIMEOUT_MS));
    struct transport_stats sb;
    transport_peer_stats(d.b.t, 1, &sb);
    CHECK_EQ_U64(sb.batches_sent, 1);
    CHECK_EQ_U64(sb.replies_sent, 0);
    duo_free(&d);
}

/* An answer speaks for the peer that was asked only. */
TEST(transport_answer_for_another_sender_is_dropped)
{
    struct duo d;
    CHECK(duo_init(&d) == 0);
    d.answer_from = 3;
    CHECK_EQ_U64(send_appends(d.a.t, 1, 4), 4);
    struct pair_want at_b = {&d.b, 4};
    CHECK(pair_run(d.nodes, 2, d.loop, pair_got, &at_b, TIMEOUT_MS));
    struct transport_stats sa;
    transport_peer_stats(d.a.t, 2, &sa);
    for (int i = 0; i < 20 && sa.replies_received == 0; i++) {
        struct pair_want never = {&d.a, 1};
        pair_run(d.nodes, 2, d.loop, pair_got, &never, 10);
        transport_peer_stats(d.a.t, 2, &sa);
    }
    struct transport_stats all;
    transport_stats(d.a.t, &all);
    CHECK_EQ_U64(sa.replies_received, 1);
    CHECK_EQ_U64(d.a.n_recv, 0);
    CHECK(all.msgs_dropped >= 4);
    duo_free(&d);
}

/* A peer removed while its request waits: the request is answered at once, with
 * what was already meant for it, and nothing is left behind. */
TEST(transport_held_request_answered_when_its_peer_goes)
{
    struct duo d;
    CHECK(duo_init(&d) == 0);
    d.remove_on_answer = true;
    CHECK_EQ_U64(send_appends(d.a.t, 1, 1), 1);
    struct transport_stats sa = {0};
    for (int i = 0; i < 200 && sa.batches_ok == 0; i++) {
        struct pair_want never = {&d.a, 1};
        pair_run(d.nodes, 2, d.loop, pair_got, &never, 10);
        transport_peer_stats(d.a.t, 2, &sa);
    }
    CHECK_EQ_U64(sa.batches_ok, 1);
    CHECK_EQ_U64(sa.send_errors, 0);
    CHECK_EQ_U64(sa.replies_received, 1);
    CHECK_EQ_U64(d.a.n_recv, 1);
    CHECK(!transport_has_peer(d.b.t, 1));
    duo_free(&d);
}

/* Connects to n and writes len bytes of req; the socket, or -1. */
static int raw_send(const struct pair_node *n, const void *req, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)n->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, req, len) == (ssize_t)len)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Runs the loop for up to ms (flushing B's transport after each turn when told)
 * until fd has an answer; its status, or -1 when none came. */
static int raw_status(struct duo *d, int fd, bool flush, uint64_t ms)
{
    char buf[512] = {0};
    ssize_t got_n = 0;
    uint64_t end = h2o_now(d->loop) + ms;
    while (got_n <= 0 && h2o_now(d->loop) < end) {
        if (h2o_evloop_run(d->loop, 10) != 0)
            break;
        if (flush)
            transport_flush(d->b.t);
        got_n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    }
    int status = -1;
    return got_n > 0 && sscanf(buf, "HTTP/1.%*d %d", &status) == 1 ? status : -1;
}

/* A POST from peer 1 holding one HEARTBEAT, with or without the header that asks
 * for messages in the answer; its length. */
static size_t heartbeat_post(char *out, size_t cap, bool ask)
{
    struct raft_msg hb = {.type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 3};
    struct codec_buf b;
    codec_buf_init(&b);
    if (codec_batch_begin(&b) != RAFT_OK || codec_batch_add(&b, &hb) != RAFT_OK) {
        codec_buf_free(&b);
        return 0;
    }
    int n = snprintf(out, cap, "POST /raft HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n%s\r\n",
                     b.len, ask ? "X-Vesper-Reply: 1\r\n" : "");
    size_t total = n > 0 && (size_t)n + b.len <= cap ? (size_t)n + b.len : 0;
    if (total != 0)
        memcpy(out + n, b.p, b.len);
    codec_buf_free(&b);
    return total;
}

/* Posts a heartbeat that asks for messages in the answer and checks the answer
 * waits for a flush; the socket, or -1. */
static int post_held(struct duo *d)
{
    char req[512];
    size_t len = heartbeat_post(req, sizeof req, true);
    int fd = len != 0 ? raw_send(&d->b, req, len) : -1;
    if (fd >= 0 && raw_status(d, fd, false, 100) != -1) { /* answered: not held */
        close(fd);
        return -1;
    }
    return fd;
}

/* A sender that predates answers with messages is answered at once; one that asks
 * is answered at the next flush (204 when nothing goes back). */
TEST(transport_answer_waits_for_the_flush_only_when_asked)
{
    struct duo d;
    CHECK(duo_init(&d) == 0);
    char req[512];
    size_t len = heartbeat_post(req, sizeof req, false);
    int fd = raw_send(&d.b, req, len);
    CHECK(len != 0 && fd >= 0);
    CHECK_EQ_U64(raw_status(&d, fd, false, TIMEOUT_MS), 204);
    close(fd);

    fd = post_held(&d);
    CHECK(fd >= 0);
    CHECK_EQ_U64(raw_status(&d, fd, true, TIMEOUT_MS), 204);
    close(fd);
    CHECK_EQ_U64(d.b.n_recv, 2);
    duo_free(&d);
}

/* The client hangs up while its request is held: h2o disposes of the request
 * and the flush finds nothing to answer (AddressSanitizer watches the pool). */
TEST(transport_held_request_whose_client_hangs_up)
{
    struct duo d;
    CHECK(duo_init(&d) == 0);
    int fd = post_held(&d);
    CHECK(fd >= 0);
    close(fd);
    raw_status(&d, -1, false, 50);
    raw_status(&d, -1, true, 50);
    CHECK_EQ_U64(d.b.n_recv, 1);
    duo_free(&d);
}
