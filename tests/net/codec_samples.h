/* codec_samples.h: one sample of every raft message type (plus edge cases) for the
 * codec tests and the codec benchmark. The samples point into the struct itself. */
#ifndef VESPER_TESTS_NET_CODEC_SAMPLES_H
#define VESPER_TESTS_NET_CODEC_SAMPLES_H

#include "raft/raft.h"

#define CODEC_SAMPLES_N 13

struct codec_samples {
    struct raft_msg msgs[CODEC_SAMPLES_N];
    struct raft_entry entries[3];
    uint8_t payload[100];
    uint8_t chunk[1000];
    struct raft_conf conf;
};

/* Fills *s; it must not move afterwards (messages point into it). */
void codec_samples_init(struct codec_samples *s);

#endif
