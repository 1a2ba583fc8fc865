/* config_limits.c: the size limits of one node, checked against each other and turned
 * into the derived limits the shell applies (config.h explains the formula).
 *
 * Why derive instead of configure: a value the client API accepts becomes a log entry,
 * the entry travels in an APPEND inside a peer batch, and the batch is a POST /raft body
 * the receiving node must accept. If any link of that chain is smaller than the one
 * before it, the leader keeps resending an entry that never arrives and the commit index
 * stops for good. Computing the later links from the first ones makes that impossible;
 * the only thing left to refuse is a chain whose end would not fit h2o's body limit.
 */
#include "config.h"

#include <inttypes.h>

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* Largest body that keeps the batch within CONFIG_MAX_BODY_BYTES_LIMIT. */
static uint64_t largest_workable_body(void)
{
    return (uint64_t)CONFIG_MAX_BODY_BYTES_LIMIT - CONFIG_BATCH_SLACK_BYTES -
           CONFIG_APPEND_OVERHEAD_BYTES - CONFIG_ENTRY_OVERHEAD_BYTES;
}

int config_derive_limits(struct vesper_config *c, char *err, size_t errlen)
{
    uint64_t key = c->max_key_bytes, value = c->max_value_bytes, body = c->max_body_bytes;
    if (body < key + value) {
        snprintf(err, errlen,
                 "--max-body-bytes (%" PRIu64
                 ") must be at least --max-key-bytes + "
                 "--max-value-bytes (%" PRIu64 ")",
                 body, key + value);
        return 2;
    }
    uint64_t entry = min_u64(key + 2 * value, body) + CONFIG_ENTRY_OVERHEAD_BYTES;
    uint64_t batch = max_u64(CONFIG_PEER_BATCH_MIN_BYTES,
                             entry + CONFIG_APPEND_OVERHEAD_BYTES + CONFIG_BATCH_SLACK_BYTES);
    if (batch > CONFIG_MAX_BODY_BYTES_LIMIT) {
        snprintf(err, errlen,
                 "--max-key-bytes (%" PRIu64 "), --max-value-bytes (%" PRIu64
                 ") and --max-body-bytes (%" PRIu64 ") allow log entries of %" PRIu64
                 " bytes, whose peer batches (%" PRIu64
                 " bytes) would exceed the %d-byte "
                 "body limit: lower --max-body-bytes to at most %" PRIu64,
                 key, value, body, entry, batch, CONFIG_MAX_BODY_BYTES_LIMIT,
                 largest_workable_body());
        return 2;
    }
    c->max_entry_bytes = (uint32_t)entry;
    c->peer_batch_bytes = (uint32_t)batch;
    c->http_body_bytes = (uint32_t)max_u64(body, batch);
    uint64_t extra_mib = (batch - CONFIG_PEER_BATCH_MIN_BYTES + (1u << 20) - 1) >> 20;
    c->peer_io_timeout_ms = (uint32_t)(CONFIG_PEER_IO_TIMEOUT_MS + 1000 * extra_mib);
    return 0;
}
