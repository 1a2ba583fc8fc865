/* kv_mem.c: memory measurement for the state machine (a tool, not a test).
 *
 *   build/kv-mem [N=1000000] [VALUE_BYTES=100]
 *
 * Applies N PUT commands (keys "key%07d", values of VALUE_BYTES) through
 * kv_apply, the path the server uses, then prints resident memory growth
 * against the raw key+value bytes, and the time to encode a snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (fclose(f) != 0)
        return -1;
    return kib;
}

static double now_s(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_cb(void *ctx, const void *buf, size_t len)
{
    (void)buf;
    *(uint64_t *)ctx += len;
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    long vlen = argc > 2 ? atol(argv[2]) : 100;
    if (n <= 0 || vlen < 0 || vlen > 1 << 20) {
        fprintf(stderr, "usage: kv-mem [N] [VALUE_BYTES]\n");
        return 2;
    }
    char *value = malloc((size_t)vlen + 1);
    struct kv *kv = kv_new(0);
    if (value == NULL || kv == NULL)
        return 1;
    memset(value, 'v', (size_t)vlen);
    long before = rss_kib();
    double t0 = now_s();
    uint64_t raw = 0;
    uint8_t cmd[64 + (1 << 20)];
    for (long i = 0; i < n; i++) {
        char key[32];
        int kl = snprintf(key, sizeof key, "key%07ld", i);
        struct kv_cmd c = {.op = KV_OP_PUT,
                           .key = (const uint8_t *)key,
                           .key_len = (size_t)kl,
                           .value = (const uint8_t *)value,
                           .value_len = (size_t)vlen};
        size_t len = kv_cmd_encode(&c, cmd, sizeof cmd);
        struct kv_result res;
        kv_apply(kv, (uint64_t)i + 1, 1, cmd, len, &res);
        if (res.status != KV_OK)
            return 1;
        raw += (uint64_t)kl + (uint64_t)vlen;
    }
    double t1 = now_s();
    long after = rss_kib();
    uint64_t snap_bytes = 0;
    if (kv_snap_write(kv, count_cb, &snap_bytes, NULL) != 0)
        return 1;
    double t2 = now_s();
    double grown = (double)(after - before) * 1024.0;
    printf(
        "keys %ld, value %ld B: raw %.1f MiB, RSS growth %.1f MiB (total RSS %.1f MiB), "
        "ratio %.2fx\n",
        n, vlen, (double)raw / 1048576.0, grown / 1048576.0, (double)after / 1024.0,
        grown / (double)raw);
    printf(
        "table slots %zu (%.0f%% load); apply %.2f s (%.0f ns/op); snapshot %.1f MiB in %.2f s\n",
        kv->map.cap, 100.0 * (double)kv->map.count / (double)kv->map.cap, t1 - t0,
        (t1 - t0) * 1e9 / (double)n, (double)snap_bytes / 1048576.0, t2 - t1);
    kv_free(kv);
    free(value);
    return 0;
}
