/* fanout_stats.h: what bench/watch_fanout.c counts and how it reports it: a latency
 * histogram (fixed memory whatever the number of samples) and the counters of one
 * run, printed as the single "WATCH key=value ..." line bench/api.sh parses. */
#ifndef BENCH_FANOUT_STATS_H
#define BENCH_FANOUT_STATS_H

#include <stdint.h>

/* Microsecond values: exact below 128, then 64 buckets per power of two (within
 * 1.6%), up to 2^40 us. */
#define HIST_BUCKETS (128 + 34 * 64)

struct hist {
    uint64_t count, max_us;
    uint64_t bucket[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t us);
/* The value below which a fraction q (0..1) of the samples lie; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

struct fanout_stats {
    int watchers, opened, established, complete, closed;
    uint64_t setup_ms;
    uint64_t puts_ok, put_errors, write_us;
    uint64_t delivered, dups, early;
    uint64_t first_put_us, last_event_us;
    struct hist lag, put_lat;
    struct hist lag_leader, lag_followers; /* lag split by the node a watcher is on */
};

void fanout_stats_print(const struct fanout_stats *s, const char *system, double rate);

#endif
