/* watch_fanout.c: the watch fan-out measurement of `make bench-api` (bench/api.sh),
 * for etcd's JSON gateway and for Vesper.
 *
 *   build/watch-fanout --system vesper|etcd --put URL --watch URL[,URL...]
 *       [--watchers 1000] [--prefix P] [--seconds 10] [--rate 100] [--value-bytes 100]
 *       [--drain-seconds 10]
 *
 * One process, one epoll loop, one clock. It opens --watchers streams on the prefix,
 * spread round-robin over the --watch URLs, each on its own connection (Vesper:
 * GET /watch?prefix=P; etcd: POST /v3/watch with a create_request). Once every stream
 * has sent its first line (Vesper's opening progress line, etcd's "created"), one
 * writer on one keep-alive connection to --put writes keys P00000001, P00000002, ...
 * at --rate PUTs per second (0: each as soon as the previous one is answered) for
 * --seconds, then waits up to --drain-seconds for the streams to catch up.
 *
 * Delivery lag is the time from reading a PUT's success answer to reading its event
 * on a watcher. A stream may deliver the event before the writer reads the answer
 * (the nodes race the reply); such an event counts as lag 0 and in `early`.
 * Within a stream events must arrive once each in key order: an event whose key is
 * not after the stream's last one is a duplicate. A watcher is complete when it got
 * every acknowledged PUT. The result is one line, "WATCH key=value ...", that
 * bench/api.sh parses; exit 1 only when the run could not be set up.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "fanout_stats.h"
#include "fanout_wire.h"
#include "http_stream.h"

struct conn {
    int fd;
    bool is_writer;
    struct hs_reader rd;
    /* watcher: the partial line, and what the stream delivered */
    char *line;
    size_t line_len, line_cap;
    uint64_t last_seq, got;
    bool started, closed;
    bool on_leader; /* watching on the node that takes the PUTs */
};

struct opts {
    bool etcd;
    const char *put_url, *watch_urls, *prefix;
    int watchers, value_bytes;
    double seconds, rate, drain_seconds;
};

static struct opts o = {.prefix = "fanout/",
                        .watchers = 1000,
                        .value_bytes = 100,
                        .seconds = 10,
                        .rate = 100,
                        .drain_seconds = 10};
static struct fanout_stats st;
static struct conn writer;
static struct conn *watchers;
static bool in_flight;
static uint64_t next_seq = 1, sent_us, answered; /* answered: seqs 1..answered have replies */
static uint64_t *ack_us;                         /* [seq]: 0 = that PUT failed */
static size_t ack_cap;
static char reply[4096];
static size_t reply_len;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void die(const char *what)
{
    fprintf(stderr, "watch-fanout: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

static void send_put(void)
{
    sent_us = now_us();
    if (st.first_put_us == 0)
        st.first_put_us = sent_us;
    if (wire_send_put(writer.fd, o.etcd, o.prefix, next_seq, o.value_bytes) < 0)
        die("sending a PUT");
    in_flight = true;
    reply_len = 0;
}

static void writer_body(void *ctx, const char *data, size_t len)
{
    (void)ctx;
    size_t room = sizeof reply - 1 - reply_len;
    if (len > room)
        len = room;
    memcpy(reply + reply_len, data, len);
    reply_len += len;
}

static void writer_done(void *ctx, int status)
{
    (void)ctx;
    uint64_t t = now_us();
    reply[reply_len] = '\0';
    bool ok = wire_put_ok(o.etcd, status, reply);
    if (next_seq >= ack_cap) {
        ack_cap = ack_cap ? 2 * ack_cap : 4096;
        ack_us = realloc(ack_us, ack_cap * sizeof *ack_us);
        if (ack_us == NULL)
            die("out of memory");
    }
    ack_us[next_seq] = ok ? t : 0;
    answered = next_seq++;
    in_flight = false;
    if (ok) {
        st.puts_ok++;
        hist_add(&st.put_lat, t - sent_us);
    } else {
        st.put_errors++;
        if (st.put_errors == 1)
            fprintf(stderr, "watch-fanout: PUT answered %d %.200s\n", status, reply);
    }
}

/* One event's key (as sent on the wire: raw for Vesper, base64 for etcd) on watcher w. */
static void on_event(struct conn *w, const char *k, size_t klen, uint64_t t)
{
    uint64_t seq = wire_event_seq(o.etcd, o.prefix, k, klen);
    if (seq == 0) /* not a key this run writes */
        return;
    if (seq <= w->last_seq) {
        st.dups++;
        return;
    }
    w->last_seq = seq;
    w->got++;
    st.delivered++;
    st.last_event_us = t;
    uint64_t lag = 0;
    if (seq > answered)
        st.early++;
    else if (ack_us[seq] != 0)
        lag = t > ack_us[seq] ? t - ack_us[seq] : 0;
    else
        return; /* its PUT failed: no lag to measure */
    hist_add(&st.lag, lag);
    hist_add(w->on_leader ? &st.lag_leader : &st.lag_followers, lag);
}

/* One line of a watch stream. */
static void on_line(struct conn *w, char *line, size_t len, uint64_t t)
{
    line[len] = '\0';
    if (!w->started) {
        w->started = true;
        st.established++;
    }
    if (strstr(line, "\"type\":\"closed\"") != NULL || strncmp(line, "{\"error\"", 8) == 0) {
        if (!w->closed)
            fprintf(stderr, "watch-fanout: a stream ended: %.200s\n", line);
        w->closed = true;
        return;
    }
    for (char *p = strstr(line, "\"key\""); p != NULL; p = strstr(p, "\"key\"")) {
        p += 5;
        while (*p == ' ' || *p == ':')
            p++;
        if (*p != '"')
            continue;
        char *end = strchr(++p, '"');
        if (end == NULL)
            break;
        on_event(w, p, (size_t)(end - p), t);
        p = end + 1;
    }
}

static uint64_t feed_time;

static void watcher_body(void *ctx, const char *data, size_t len)
{
    struct conn *w = ctx;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            if (w->line_len > 0)
                on_line(w, w->line, w->line_len, feed_time);
            w->line_len = 0;
            continue;
        }
        if (w->line_len + 2 > w->line_cap) {
            w->line_cap = w->line_cap ? 2 * w->line_cap : 1024;
            w->line = realloc(w->line, w->line_cap);
            if (w->line == NULL)
                die("out of memory");
        }
        w->line[w->line_len++] = data[i];
    }
}

static void watcher_done(void *ctx, int status)
{
    struct conn *w = ctx;
    if (!w->closed)
        fprintf(stderr, "watch-fanout: a watch answered HTTP %d and ended\n", status);
    w->closed = true;
}

static void on_readable(int ep, struct conn *c)
{
    static char buf[1 << 16];
    ssize_t n = read(c->fd, buf, sizeof buf);
    feed_time = now_us();
    struct hs_sink sink = c->is_writer ? (struct hs_sink){writer_body, writer_done, c}
                                       : (struct hs_sink){watcher_body, watcher_done, c};
    if (n > 0 && hs_feed(&c->rd, buf, (size_t)n, &sink) == 0)
        return;
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (c->is_writer)
        die(n == 0 ? "the PUT connection closed" : "reading a PUT answer");
    if (!c->closed)
        fprintf(stderr, "watch-fanout: a watch connection %s\n", n == 0 ? "closed" : "failed");
    c->closed = true;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--system") == 0)
            o.etcd = strcmp(v, "etcd") == 0;
        else if (strcmp(k, "--put") == 0)
            o.put_url = v;
        else if (strcmp(k, "--watch") == 0)
            o.watch_urls = v;
        else if (strcmp(k, "--prefix") == 0)
            o.prefix = v;
        else if (strcmp(k, "--watchers") == 0)
            o.watchers = atoi(v);
        else if (strcmp(k, "--value-bytes") == 0)
            o.value_bytes = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            o.seconds = atof(v);
        else if (strcmp(k, "--rate") == 0)
            o.rate = atof(v);
        else if (strcmp(k, "--drain-seconds") == 0)
            o.drain_seconds = atof(v);
        else
            return -1;
    }
    size_t plen = strlen(o.prefix);
    if (argc % 2 != 1 || o.put_url == NULL || o.watch_urls == NULL || o.watchers < 1 ||
        o.value_bytes < 1 || o.value_bytes > 4000 || plen == 0 || plen > 100 ||
        strspn(o.prefix, "abcdefghijklmnopqrstuvwxyz0123456789-_./") != plen)
        return -1;
    return 0;
}

/* Opens the watchers round-robin over the comma-separated URLs; returns how many opened. */
static int open_watchers(int ep, const struct sockaddr_in put_sa)
{
    struct sockaddr_in sas[16];
    int nsa = 0;
    for (const char *u = o.watch_urls; *u != '\0' && nsa < 16;) {
        size_t len = strcspn(u, ",");
        if (wire_parse_url(u, len, &sas[nsa++]) < 0)
            die("a --watch URL is not http://IPv4:PORT");
        u += len + (u[len] == ',');
    }
    watchers = calloc((size_t)o.watchers, sizeof *watchers);
    if (watchers == NULL)
        die("out of memory");
    int opened = 0;
    for (int i = 0; i < o.watchers; i++) {
        struct conn *w = &watchers[i];
        hs_init(&w->rd);
        w->on_leader = memcmp(&sas[i % nsa], &put_sa, sizeof put_sa) == 0;
        w->fd = wire_dial(&sas[i % nsa]);
        if (w->fd >= 0 && wire_send_watch(w->fd, o.etcd, o.prefix) < 0) {
            close(w->fd);
            w->fd = -1;
        }
        if (w->fd < 0) {
            w->closed = true;
            continue;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev) < 0)
            die("epoll_ctl");
        opened++;
    }
    return opened;
}

/* Waits for events up to timeout_ms and reads what is readable, the writer first so
 * that an answer and the events it caused, read in one wake-up, are taken in order. */
static void poll_once(int ep, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR)
        die("epoll_wait");
    for (int i = 0; i < n; i++)
        if (evs[i].data.ptr == &writer)
            on_readable(ep, &writer);
    for (int i = 0; i < n; i++) {
        struct conn *c = evs[i].data.ptr;
        if (c != &writer && c->fd >= 0)
            on_readable(ep, c);
    }
}

static bool all_caught_up(void)
{
    for (int i = 0; i < o.watchers; i++)
        if (!watchers[i].closed && watchers[i].got < st.puts_ok)
            return false;
    return true;
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0) {
        fprintf(stderr,
                "usage: watch-fanout --system vesper|etcd --put URL --watch URL[,URL...] "
                "[--watchers N] [--prefix P] [--seconds S] [--rate R] [--value-bytes B] "
                "[--drain-seconds D]\n");
        return 2;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    st.watchers = o.watchers;
    struct sockaddr_in sa;
    if (wire_parse_url(o.put_url, strlen(o.put_url), &sa) < 0)
        die("--put is not http://IPv4:PORT");
    uint64_t t0 = now_us();
    st.opened = open_watchers(ep, sa);
    /* Every stream must have started before the first PUT, or it could miss it. */
    uint64_t deadline = now_us() + 30000000u;
    while (st.established < st.opened && now_us() < deadline)
        poll_once(ep, 100);
    st.setup_ms = (now_us() - t0) / 1000;
    if (st.established < o.watchers)
        fprintf(stderr, "watch-fanout: %d of %d watches started\n", st.established, o.watchers);

    writer.is_writer = true;
    hs_init(&writer.rd);
    if ((writer.fd = wire_dial(&sa)) < 0)
        die("connecting to --put");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &writer};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, writer.fd, &ev) < 0)
        die("epoll_ctl");

    uint64_t start = now_us(), stop = start + (uint64_t)(o.seconds * 1e6), drain_end = 0;
    for (;;) {
        uint64_t t = now_us();
        int timeout_ms = 100;
        if (drain_end == 0 && !in_flight) {
            uint64_t due =
                o.rate > 0 ? start + (uint64_t)((double)(next_seq - 1) * 1e6 / o.rate) : t;
            if (t >= stop) {
                st.write_us = t - start;
                drain_end = t + (uint64_t)(o.drain_seconds * 1e6);
            } else if (t >= due) {
                send_put();
                continue;
            } else {
                timeout_ms = (int)((due - t + 999) / 1000);
            }
        }
        if (drain_end != 0 && (all_caught_up() || t >= drain_end))
            break;
        poll_once(ep, timeout_ms);
    }
    for (int i = 0; i < o.watchers; i++) {
        st.complete += !watchers[i].closed && watchers[i].got >= st.puts_ok;
        st.closed += watchers[i].closed;
    }
    fanout_stats_print(&st, o.etcd ? "etcd" : "vesper", o.rate);
    return 0;
}
