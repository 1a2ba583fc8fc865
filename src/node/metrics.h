/* metrics.h: fixed-bucket latency histograms and the GET /metrics endpoint
 * (Prometheus text exposition format 0.0.4). */
#ifndef VESPER_NODE_METRICS_H
#define VESPER_NODE_METRICS_H

#include <stdint.h>

#define METRICS_BUCKETS 15

struct metrics_hist {
    uint64_t counts[METRICS_BUCKETS + 1]; /* the last one is +Inf */
    uint64_t count;
    double sum_seconds;
};

void metrics_observe(struct metrics_hist *h, double seconds);

#endif
