/* codec_samples.c: see codec_samples.h. */
#include "net/codec_samples.h"

#include <stdio.h>
#include <string.h>

static void samples_conf(struct raft_conf *c)
{
    memset(c, 0, sizeof *c);
    c->n = 3;
    for (uint32_t i = 0; i < c->n; i++) {
        c->m[i].id = i + 1;
        c->m[i].voter = i < 2;
        snprintf(c->m[i].addr, sizeof c->m[i].addr, "http://10.0.0.%u:8080", i + 1);
    }
}

void codec_samples_init(struct codec_samples *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < sizeof s->payload; i++)
        s->payload[i] = (uint8_t)(i * 7);
    for (size_t i = 0; i < sizeof s->chunk; i++)
        s->chunk[i] = (uint8_t)(i * 13);
    samples_conf(&s->conf);
    s->entries[0] = (struct raft_entry){.term = 5, .index = 41, .type = RAFT_ENTRY_NOOP};
    s->entries[1] = (struct raft_entry){
        .term = 5, .index = 42, .type = RAFT_ENTRY_NORMAL, .len = 100, .data = s->payload};
    s->entries[2] = (struct raft_entry){
        .term = 5, .index = 43, .type = RAFT_ENTRY_CONF, .len = 17, .data = s->payload + 3};
    struct raft_msg *m = s->msgs;
    m[0] = (struct raft_msg){.type = RAFT_MSG_VOTE,
                             .from = 1,
                             .to = 2,
                             .term = 5,
                             .index = 40,
                             .log_term = 4,
                             .prevote = true,
                             .transfer = true};
    m[1] = (struct raft_msg){
        .type = RAFT_MSG_VOTE_RESP, .from = 2, .to = 1, .term = 5, .granted = true};
    m[2] = (struct raft_msg){.type = RAFT_MSG_APPEND,
                             .from = 1,
                             .to = 3,
                             .term = 5,
                             .index = 40,
                             .log_term = 4,
                             .commit = 39,
                             .seq = 77,
                             .n_entries = 3,
                             .entries = s->entries};
    m[3] = (struct raft_msg){.type = RAFT_MSG_APPEND_RESP,
                             .from = 3,
                             .to = 1,
                             .term = 5,
                             .index = 40,
                             .log_term = 3,
                             .hint_index = 30,
                             .seq = 77,
                             .reject = true};
    m[4] = (struct raft_msg){
        .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = 5, .commit = 43, .seq = 9};
    m[5] =
        (struct raft_msg){.type = RAFT_MSG_HEARTBEAT_RESP, .from = 2, .to = 1, .term = 5, .seq = 9};
    m[6] = (struct raft_msg){.type = RAFT_MSG_SNAPSHOT,
                             .from = 1,
                             .to = 4,
                             .term = 5,
                             .snap_index = 1000,
                             .snap_term = 4,
                             .snap_size = 5000,
                             .offset = 2000,
                             .done = true,
                             .conf = &s->conf,
                             .len = sizeof s->chunk,
                             .data = s->chunk};
    m[7] = (struct raft_msg){.type = RAFT_MSG_SNAPSHOT_RESP,
                             .from = 4,
                             .to = 1,
                             .term = 5,
                             .snap_index = 1000,
                             .offset = 3000,
                             .reject = true};
    m[8] = (struct raft_msg){.type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 2, .term = 5};
    /* Edge cases: an empty APPEND probe, a conf-less empty chunk, extreme values. */
    m[9] = (struct raft_msg){.type = RAFT_MSG_APPEND,
                             .from = 1,
                             .to = 2,
                             .term = 5,
                             .index = 43,
                             .log_term = 5,
                             .commit = 43};
    m[10] = (struct raft_msg){
        .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = 5, .snap_index = 1};
    m[11] = (struct raft_msg){.type = RAFT_MSG_APPEND_RESP,
                              .from = UINT32_MAX,
                              .to = UINT32_MAX - 1,
                              .term = UINT64_MAX,
                              .index = UINT64_MAX,
                              .log_term = UINT64_MAX,
                              .hint_index = UINT64_MAX,
                              .seq = UINT64_MAX};
    m[12] = (struct raft_msg){.type = RAFT_MSG_VOTE, .from = 0, .to = 0};
}
