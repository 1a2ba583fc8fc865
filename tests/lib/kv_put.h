/* kv_put.h: a test helper that builds kv state through the shipped apply path. */
#ifndef VESPER_TESTS_LIB_KV_PUT_H
#define VESPER_TESTS_LIB_KV_PUT_H

#include <stddef.h>
#include <stdint.h>

#include "kv/kv.h"

/* Applies PUT k=v at the next index (term 5), with the session (client, seq) when
 * client is not 0; aborts unless it applies. */
void kv_test_put(struct kv *kv, const char *k, size_t kl, const char *v, size_t vl, uint64_t client,
                 uint64_t seq);

#endif
