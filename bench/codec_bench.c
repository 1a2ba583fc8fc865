/* codec_bench.c: the binary peer codec against a json-c encoding of the same
 * messages, for a typical APPEND batch (16 APPENDs of 4 entries x 128 bytes, what
 * a pipelining leader sends one follower in one loop iteration under load).
 *
 * The JSON side is what a straightforward alternative would do: one object per
 * message, entries as an array of objects, payload bytes in base64 (JSON cannot
 * carry raw bytes), parsed with json_tokener_parse and decoded back into a
 * struct raft_msg with copied payloads. Reported: ns per message for encode and
 * decode, and bytes per message. Usage: codec-bench [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "net/codec.h"

#define BATCH   16
#define ENTRIES 4
#define PAYLOAD 128

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

static size_t b64_decode(const char *in, size_t n, uint8_t *out)
{
    static int8_t rev[256];
    if (rev['B'] == 0)
        for (int i = 0; i < 64; i++)
            rev[(uint8_t)b64[i]] = (int8_t)i;
    size_t o = 0;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        uint32_t v = (uint32_t)rev[(uint8_t)in[i]] << 18 | (uint32_t)rev[(uint8_t)in[i + 1]] << 12 |
                     (uint32_t)rev[(uint8_t)in[i + 2]] << 6 | (uint32_t)rev[(uint8_t)in[i + 3]];
        out[o++] = (uint8_t)(v >> 16);
        if (in[i + 2] != '=')
            out[o++] = (uint8_t)(v >> 8);
        if (in[i + 3] != '=')
            out[o++] = (uint8_t)v;
    }
    return o;
}

static struct json_object *json_msg(const struct raft_msg *m)
{
    struct json_object *o = json_object_new_object(), *es = json_object_new_array();
    json_object_object_add(o, "type", json_object_new_int(m->type));
    json_object_object_add(o, "from", json_object_new_int64(m->from));
    json_object_object_add(o, "to", json_object_new_int64(m->to));
    json_object_object_add(o, "term", json_object_new_int64((int64_t)m->term));
    json_object_object_add(o, "index", json_object_new_int64((int64_t)m->index));
    json_object_object_add(o, "log_term", json_object_new_int64((int64_t)m->log_term));
    json_object_object_add(o, "commit", json_object_new_int64((int64_t)m->commit));
    json_object_object_add(o, "seq", json_object_new_int64((int64_t)m->seq));
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const struct raft_entry *e = &m->entries[i];
        char text[PAYLOAD * 2];
        struct json_object *je = json_object_new_object();
        json_object_object_add(je, "term", json_object_new_int64((int64_t)e->term));
        json_object_object_add(je, "index", json_object_new_int64((int64_t)e->index));
        json_object_object_add(je, "type", json_object_new_int(e->type));
        size_t n = b64_encode(e->data, e->len, text);
        json_object_object_add(je, "data", json_object_new_string_len(text, (int)n));
        json_object_array_add(es, je);
    }
    json_object_object_add(o, "entries", es);
    return o;
}

static uint64_t jget(struct json_object *o, const char *k)
{
    struct json_object *v;
    return json_object_object_get_ex(o, k, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

/* Decodes into m, copying payloads into store (the JSON text cannot be borrowed). */
static int json_unmsg(struct json_object *o, struct raft_msg *m, struct raft_entry *ents,
                      uint8_t (*store)[PAYLOAD])
{
    struct json_object *es;
    if (o == NULL || !json_object_object_get_ex(o, "entries", &es))
        return -1;
    *m = (struct raft_msg){.type = (uint8_t)jget(o, "type"),
                           .from = (raft_id)jget(o, "from"),
                           .to = (raft_id)jget(o, "to"),
                           .term = jget(o, "term"),
                           .index = jget(o, "index"),
                           .log_term = jget(o, "log_term"),
                           .commit = jget(o, "commit"),
                           .seq = jget(o, "seq")};
    m->n_entries = (uint32_t)json_object_array_length(es);
    for (uint32_t i = 0; i < m->n_entries && i < ENTRIES; i++) {
        struct json_object *je = json_object_array_get_idx(es, i), *d;
        json_object_object_get_ex(je, "data", &d);
        ents[i] = (struct raft_entry){.term = jget(je, "term"),
                                      .index = jget(je, "index"),
                                      .type = (uint8_t)jget(je, "type"),
                                      .data = store[i]};
        ents[i].len = (uint32_t)b64_decode(json_object_get_string(d),
                                           (size_t)json_object_get_string_len(d), store[i]);
    }
    m->entries = ents;
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_batch(struct raft_msg *msgs, struct raft_entry *ents, uint8_t *payload)
{
    for (int i = 0; i < BATCH * ENTRIES * PAYLOAD; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    for (int i = 0; i < BATCH; i++) {
        for (int k = 0; k < ENTRIES; k++)
            ents[i * ENTRIES + k] =
                (struct raft_entry){.term = 12,
                                    .index = 100000 + (uint64_t)(i * ENTRIES + k),
                                    .type = 2,
                                    .len = PAYLOAD,
                                    .data = payload + (i * ENTRIES + k) * PAYLOAD};
        msgs[i] = (struct raft_msg){.type = RAFT_MSG_APPEND,
                                    .from = 1,
                                    .to = 2,
                                    .term = 12,
                                    .index = 99999 + (uint64_t)(i * ENTRIES),
                                    .log_term = 12,
                                    .commit = 99990,
                                    .seq = 5000 + (uint64_t)i,
                                    .n_entries = ENTRIES,
                                    .entries = &ents[i * ENTRIES]};
    }
}

static void bench_binary(const struct raft_msg *msgs, int iters)
{
    struct codec_buf b;
    struct codec_scratch s;
    codec_buf_init(&b);
    codec_scratch_init(&s);
    double enc = 0, dec = 0;
    uint64_t sink = 0;
    for (int it = 0; it < iters; it++) {
        double t0 = now_ns();
        b.len = 0;
        if (codec_batch_begin(&b) != RAFT_OK)
            abort();
        for (int i = 0; i < BATCH; i++)
            if (codec_batch_add(&b, &msgs[i]) != RAFT_OK)
                abort();
        double t1 = now_ns();
        struct codec_batch_iter bi;
        struct raft_msg m;
        if (codec_batch_iter_init(&bi, b.p, b.len) != RAFT_OK)
            abort();
        while (codec_batch_next(&bi, &m, &s) == 1)
            sink += m.entries[m.n_entries - 1].data[PAYLOAD - 1];
        dec += now_ns() - t1;
        enc += t1 - t0;
    }
    printf("binary: encode %6.0f ns/msg  decode %6.0f ns/msg  %5zu bytes/msg (sink %llu)\n",
           enc / iters / BATCH, dec / iters / BATCH, b.len / BATCH, (unsigned long long)sink);
    codec_buf_free(&b);
    codec_scratch_free(&s);
}

static void bench_json(const struct raft_msg *msgs, int iters)
{
    static uint8_t store[ENTRIES][PAYLOAD];
    struct raft_entry ents[ENTRIES];
    double enc = 0, dec = 0;
    size_t bytes = 0;
    uint64_t sink = 0;
    for (int it = 0; it < iters; it++) {
        double t0 = now_ns();
        struct json_object *arr = json_object_new_array();
        for (int i = 0; i < BATCH; i++)
            json_object_array_add(arr, json_msg(&msgs[i]));
        char *text = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
        json_object_put(arr);
        double t1 = now_ns();
        struct json_object *root = json_tokener_parse(text);
        for (int i = 0; i < BATCH; i++) {
            struct raft_msg m;
            if (json_unmsg(json_object_array_get_idx(root, i), &m, ents, store) != 0)
                abort();
            sink += m.entries[m.n_entries - 1].data[PAYLOAD - 1];
        }
        json_object_put(root);
        dec += now_ns() - t1;
        enc += t1 - t0;
        bytes = strlen(text);
        free(text);
    }
    printf("json-c: encode %6.0f ns/msg  decode %6.0f ns/msg  %5zu bytes/msg (sink %llu)\n",
           enc / iters / BATCH, dec / iters / BATCH, bytes / BATCH, (unsigned long long)sink);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20000;
    static struct raft_msg msgs[BATCH];
    static struct raft_entry ents[BATCH * ENTRIES];
    static uint8_t payload[BATCH * ENTRIES * PAYLOAD];
    make_batch(msgs, ents, payload);
    printf("batch: %d APPENDs x %d entries x %d bytes, %d iterations\n", BATCH, ENTRIES, PAYLOAD,
           iters);
    bench_binary(msgs, iters);
    bench_json(msgs, iters / 10 > 0 ? iters / 10 : 1);
    return 0;
}
