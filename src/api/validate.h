/* validate.h: byte-level checks json-c does not make on a request body. */
#ifndef VESPER_API_VALIDATE_H
#define VESPER_API_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* True when every integer literal outside strings fits in a uint64 (json-c
 * saturates larger ones silently, which would alias client ids). */
bool validate_integers_fit(const char *body, size_t len);
/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF). */
bool validate_utf8(const char *s, size_t len);

#endif
