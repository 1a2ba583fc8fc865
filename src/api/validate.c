/* validate.c: checks on raw request bytes that the JSON parser leaves out.
 *
 * json-c accepts invalid UTF-8 inside strings and clamps integers past 64 bits
 * to the largest value; the first would store keys that make every later reply
 * invalid JSON, the second would merge distinct client ids into one session.
 */
#include "api/validate.h"

#include <string.h>

static bool digits_fit_u64(const char *d, size_t n)
{
    static const char max[] = "18446744073709551615";
    while (n > 1 && *d == '0') {
        d++;
        n--;
    }
    return n < sizeof max - 1 || (n == sizeof max - 1 && memcmp(d, max, n) <= 0);
}

bool validate_integers_fit(const char *body, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c >= '0' && c <= '9') {
            size_t start = i;
            while (i < len && body[i] >= '0' && body[i] <= '9')
                i++;
            bool fraction = i < len && (body[i] == '.' || body[i] == 'e' || body[i] == 'E');
            if (!fraction && !digits_fit_u64(body + start, i - start))
                return false;
            while (i < len &&
                   ((body[i] >= '0' && body[i] <= '9') || body[i] == '.' || body[i] == 'e' ||
                    body[i] == 'E' || body[i] == '+' || body[i] == '-'))
                i++;
            i--;
        }
    }
    return true;
}

bool validate_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned char c = p[i];
        size_t n;
        unsigned long cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}
