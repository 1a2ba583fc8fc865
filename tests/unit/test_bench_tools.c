/* test_bench_tools.c: the parts of build/watch-fanout that decide what it counts: the
 * HTTP/1.1 response reader (bench/http_stream.c) over every way a stream can be split
 * into reads, base64, the event keys of both systems (bench/fanout_wire.c) and the
 * latency histogram (bench/fanout_stats.c). */
#include <string.h>

#include "fanout_stats.h"
#include "fanout_wire.h"
#include "http_stream.h"
#include "lib/test.h"

struct collected {
    char body[4096];
    size_t len;
    int done, status;
};

static void body_cb(void *ctx, const char *data, size_t len)
{
    struct collected *c = ctx;
    if (c->len + len < sizeof c->body) {
        memcpy(c->body + c->len, data, len);
        c->len += len;
        c->body[c->len] = '\0';
    }
}

static void done_cb(void *ctx, int status)
{
    struct collected *c = ctx;
    c->done++;
    c->status = status;
}

/* Feeds text in pieces of `step` bytes; the reader's answer for the last piece. */
static int feed(struct hs_reader *r, struct collected *c, const char *text, size_t step)
{
    struct hs_sink sink = {body_cb, done_cb, c};
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i += step)
        if (hs_feed(r, text + i, i + step <= n ? step : n - i, &sink) < 0)
            return -1;
    return 0;
}

static const char chunked[] =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    "1b\r\n{\"type\":\"progress\",\"rev\":1}\r\n"
    "4;ext=1\r\n\nab\n\r\n"
    "0\r\nX-Trailer: 1\r\n\r\n";

TEST(chunked_body_is_the_same_whatever_the_read_sizes)
{
    for (size_t step = 1; step <= sizeof chunked; step++) {
        struct hs_reader r;
        struct collected c = {0};
        hs_init(&r);
        CHECK(feed(&r, &c, chunked, step) == 0);
        CHECK_EQ_U64(c.done, 1);
        CHECK_EQ_U64(c.status, 200);
        CHECK(strcmp(c.body, "{\"type\":\"progress\",\"rev\":1}\nab\n") == 0);
        CHECK(r.state == HS_HEADER);
    }
}

TEST(keep_alive_responses_follow_one_another)
{
    const char two[] =
        "HTTP/1.1 200 OK\r\ncontent-length: 18\r\n\r\n{\"code\":\"success\"}"
        "HTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 2\r\n\r\nno";
    for (size_t step = 1; step <= 8; step++) {
        struct hs_reader r;
        struct collected c = {0};
        hs_init(&r);
        CHECK(feed(&r, &c, two, step) == 0);
        CHECK_EQ_U64(c.done, 3);
        CHECK_EQ_U64(c.status, 503);
        CHECK(strcmp(c.body, "{\"code\":\"success\"}no") == 0);
    }
}

TEST(a_stream_without_end_is_read_as_it_comes)
{
    struct hs_reader r;
    struct collected c = {0};
    hs_init(&r);
    CHECK(feed(&r, &c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab", 3) == 0);
    CHECK(strcmp(c.body, "ab") == 0);
    CHECK_EQ_U64(c.done, 0);
    CHECK(feed(&r, &c, "c\n\r\n", 1) == 0);
    CHECK(strcmp(c.body, "abc\n") == 0);
    CHECK_EQ_U64(c.done, 0);
}

TEST(malformed_responses_are_refused)
{
    const char *bad[] = {"HTTX/1.1 200 OK\r\n\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct hs_reader r;
        struct collected c = {0};
        hs_init(&r);
        CHECK(feed(&r, &c, bad[i], 64) < 0);
    }
}

TEST(base64_round_trip_and_known_values)
{
    char enc[64];
    unsigned char dec[64];
    CHECK_EQ_U64(b64_encode((const unsigned char *)"fanout/", 7, enc), 12);
    CHECK(strcmp(enc, "ZmFub3V0Lw==") == 0);
    b64_encode((const unsigned char *)"fanout0", 7, enc);
    CHECK(strcmp(enc, "ZmFub3V0MA==") == 0);
    for (size_t n = 0; n < 20; n++) {
        const char *src = "k00001\x01\xff\x80 and more";
        size_t len = b64_encode((const unsigned char *)src, n, enc);
        CHECK_EQ_U64(len, 4 * ((n + 2) / 3));
        CHECK_EQ_U64(b64_decode(enc, len, dec, sizeof dec), n);
        CHECK(memcmp(dec, src, n) == 0);
    }
    CHECK(b64_decode("ab!d", 4, dec, sizeof dec) < 0);
    CHECK(b64_decode("ZmFub3V0Lw==", 12, dec, 3) < 0);
}

TEST(event_keys_of_both_systems)
{
    CHECK_EQ_U64(wire_event_seq(false, "fanout1-0/", "fanout1-0/00000042", 18), 42);
    /* base64 of "fanout1-0/00000042" */
    CHECK_EQ_U64(wire_event_seq(true, "fanout1-0/", "ZmFub3V0MS0wLzAwMDAwMDQy", 24), 42);
    CHECK_EQ_U64(wire_event_seq(false, "fanout1-0/", "other/00000042", 14), 0);
    CHECK_EQ_U64(wire_event_seq(false, "fanout1-0/", "fanout1-0/12ab", 14), 0);
    CHECK_EQ_U64(wire_event_seq(false, "fanout1-0/", "fanout1-0/", 10), 0);
    CHECK(wire_put_ok(false, 200, "{\"code\":\"success\"}"));
    CHECK(!wire_put_ok(false, 200, "{\"code\":\"fail\",\"error\":\"timeout\"}"));
    CHECK(wire_put_ok(true, 200, "{\"header\":{\"revision\":\"7\"}}"));
    CHECK(!wire_put_ok(true, 200, "{\"error\":\"etcdserver: too many requests\"}"));
    CHECK(!wire_put_ok(true, 503, "{}"));
}

TEST(histogram_quantiles_within_two_percent)
{
    static struct hist h;
    memset(&h, 0, sizeof h);
    CHECK_EQ_U64(hist_quantile(&h, 0.5), 0);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_add(&h, v);
    uint64_t p50 = hist_quantile(&h, 0.50), p99 = hist_quantile(&h, 0.99);
    CHECK(p50 >= 49000 && p50 <= 51000);
    CHECK(p99 >= 97000 && p99 <= 100000);
    CHECK_EQ_U64(hist_quantile(&h, 1.0), 100000);
    hist_add(&h, (uint64_t)1 << 50); /* beyond the last bucket: counted there */
    CHECK_EQ_U64(h.max_us, (uint64_t)1 << 50);
    CHECK_EQ_U64(hist_quantile(&h, 0.0), 1);
}

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
