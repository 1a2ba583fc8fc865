/* bearer.c: constant-time bearer-token comparison (see bearer.h). A timing
 * difference would let a client guess the secret byte by byte. */
#include "net/bearer.h"

#include <string.h>

bool bearer_matches(const char *value, size_t len, const char *secret)
{
    size_t want = strlen(secret);
    if (len != want + 7 || memcmp(value, "Bearer ", 7) != 0)
        return false;
    unsigned char diff = 0;
    for (size_t k = 0; k < want; k++)
        diff |= (unsigned char)(value[7 + k] ^ secret[k]);
    return diff == 0;
}
