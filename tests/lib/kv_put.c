/* kv_put.c: applies one PUT to a kv through the real command encoder and apply
 * path, for tests that need a state to snapshot (see kv_put.h). */
#include "lib/kv_put.h"

#include <stdlib.h>

#include "kv/kv_cmd.h"

void kv_test_put(struct kv *kv, const char *k, size_t kl, const char *v, size_t vl, uint64_t client,
                 uint64_t seq)
{
    struct kv_cmd c = {.op = KV_OP_PUT,
                       .key = (const uint8_t *)k,
                       .key_len = kl,
                       .value = (const uint8_t *)v,
                       .value_len = vl};
    c.has_session = client != 0;
    c.client_id = client;
    c.seq = seq;
    uint8_t *buf;
    size_t n;
    if (kv_cmd_encode_alloc(&c, &buf, &n) != 0)
        abort();
    struct kv_result res;
    kv_apply(kv, kv->applied_index + 1, 5, buf, n, &res);
    free(buf);
    if (res.status != KV_OK)
        abort();
}
