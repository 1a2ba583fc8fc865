/* api_equal.c: see api_equal.h. Field by field, because a memcmp of the structs
 * would compare string pointers and padding; so a field added to struct
 * api_request must be added here. */
#include "lib/api_equal.h"

#include <string.h>

static bool same_bytes(const void *a, const void *b, size_t len)
{
    if (a == NULL || b == NULL)
        return a == b;
    return memcmp(a, b, len) == 0;
}

bool api_request_equal(const struct api_request *a, const struct api_request *b)
{
    return a->op == b->op && a->key_len == b->key_len &&
           same_bytes(a->key, b->key, a->key ? a->key_len + 1 : 0) &&
           a->value_len == b->value_len &&
           same_bytes(a->value, b->value, a->value ? a->value_len + 1 : 0) &&
           a->expected_len == b->expected_len &&
           same_bytes(a->expected, b->expected, a->expected ? a->expected_len + 1 : 0) &&
           a->expect_absent == b->expect_absent && a->stale == b->stale &&
           a->revisions == b->revisions && a->has_session == b->has_session &&
           a->client_id == b->client_id && a->seq == b->seq && a->start_len == b->start_len &&
           same_bytes(a->start, b->start, a->start ? a->start_len + 1 : 0) &&
           a->end_len == b->end_len && same_bytes(a->end, b->end, a->end ? a->end_len + 1 : 0) &&
           a->after_len == b->after_len &&
           same_bytes(a->after, b->after, a->after ? a->after_len + 1 : 0) &&
           a->limit == b->limit && a->keys_only == b->keys_only && a->count_only == b->count_only &&
           a->txn_len == b->txn_len && same_bytes(a->txn, b->txn, a->txn_len) &&
           a->lease == b->lease && a->ttl == b->ttl && a->lease_keys == b->lease_keys;
}
