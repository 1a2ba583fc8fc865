/* bearer.h: the one check of an "Authorization: Bearer <secret>" header value,
 * shared by the peer transport and the client API. */
#ifndef VESPER_NET_BEARER_H
#define VESPER_NET_BEARER_H

#include <stdbool.h>
#include <stddef.h>

/* True when value[0..len) is "Bearer " followed by exactly secret. Runs in time
 * independent of where a wrong guess differs. */
bool bearer_matches(const char *value, size_t len, const char *secret);

#endif
