/* fanout_stats.c: the histogram and the result line of bench/watch_fanout.c (see
 * fanout_stats.h).
 *
 * Fields of the line: the watchers asked for, opened and started; how many got
 * every acknowledged PUT (complete) and how many streams ended early (closed);
 * PUTs acknowledged and failed, over write_secs; events expected (acknowledged
 * PUTs x watchers) and delivered, duplicates, events read before their PUT's
 * answer (early); delivered events per second from the first PUT to the last
 * event read; delivery lag and PUT latency percentiles in microseconds, the lag
 * also for the watchers on the node taking the PUTs and for those on the others.
 */
#include "fanout_stats.h"

#include <stdio.h>

static unsigned bucket_of(uint64_t us)
{
    if (us < 128)
        return (unsigned)us;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    if (msb > 40)
        return HIST_BUCKETS - 1;
    return 128u + (msb - 7u) * 64u + (unsigned)(us >> (msb - 6u) & 63u);
}

/* The middle of bucket b's values. */
static uint64_t value_of(unsigned b)
{
    if (b < 128)
        return b;
    unsigned msb = (b - 128u) / 64u + 7u, sub = (b - 128u) % 64u;
    uint64_t low = (uint64_t)(64u + sub) << (msb - 6u);
    return low + ((uint64_t)1 << (msb - 6u)) / 2;
}

void hist_add(struct hist *h, uint64_t us)
{
    h->bucket[bucket_of(us)]++;
    h->count++;
    if (us > h->max_us)
        h->max_us = us;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q >= 1.0)
        return h->max_us;
    uint64_t rank = (uint64_t)(q * (double)h->count), seen = 0;
    if (rank >= h->count)
        rank = h->count - 1;
    for (unsigned b = 0; b < HIST_BUCKETS; b++) {
        seen += h->bucket[b];
        if (seen > rank) {
            uint64_t v = value_of(b);
            return v < h->max_us ? v : h->max_us;
        }
    }
    return h->max_us;
}

void fanout_stats_print(const struct fanout_stats *s, const char *system, double rate)
{
    uint64_t span = s->last_event_us > s->first_put_us ? s->last_event_us - s->first_put_us : 0;
    double per_s = span ? (double)s->delivered * 1e6 / (double)span : 0;
    printf(
        "WATCH system=%s watchers=%d opened=%d established=%d setup_ms=%llu complete=%d "
        "closed=%d rate=%.0f puts=%llu put_errors=%llu write_secs=%.3f expected=%llu "
        "delivered=%llu dups=%llu early=%llu events_per_s=%.0f lag_p50_us=%llu "
        "lag_p99_us=%llu lag_max_us=%llu lag_leader_p50_us=%llu lag_followers_p50_us=%llu "
        "put_p50_us=%llu put_p99_us=%llu\n",
        system, s->watchers, s->opened, s->established, (unsigned long long)s->setup_ms,
        s->complete, s->closed, rate, (unsigned long long)s->puts_ok,
        (unsigned long long)s->put_errors, (double)s->write_us / 1e6,
        (unsigned long long)(s->puts_ok * (uint64_t)s->watchers), (unsigned long long)s->delivered,
        (unsigned long long)s->dups, (unsigned long long)s->early, per_s,
        (unsigned long long)hist_quantile(&s->lag, 0.50),
        (unsigned long long)hist_quantile(&s->lag, 0.99), (unsigned long long)s->lag.max_us,
        (unsigned long long)hist_quantile(&s->lag_leader, 0.50),
        (unsigned long long)hist_quantile(&s->lag_followers, 0.50),
        (unsigned long long)hist_quantile(&s->put_lat, 0.50),
        (unsigned long long)hist_quantile(&s->put_lat, 0.99));
}
