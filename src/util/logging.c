/* logging.c: formatting and writing of vesperd's event log (see logging.h).
 *
 * Each line is formatted into one buffer and written with one write(2) so lines
 * from the sync thread and the loop never interleave mid-line. JSON mode escapes
 * the message itself rather than trusting callers, since messages may quote
 * client keys and peer addresses.
 */
#include "util/logging.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_node = -1;
static enum log_level log_threshold = LOG_INFO;
static bool log_json;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(int node_id, enum log_level level, bool json)
{
    log_node = node_id;
    log_threshold = level;
    log_json = json;
}

int log_level_parse(const char *s)
{
    for (int k = 0; k < 4; k++)
        if (strcmp(s, level_names[k]) == 0)
            return k;
    return -1;
}

bool log_enabled(enum log_level level)
{
    return level >= log_threshold;
}

static size_t timestamp(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n + (m > 0 ? (size_t)m : 0);
}

static size_t json_escape(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 7 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[1024], ts[48], line[2560];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    timestamp(ts, sizeof ts);
    int n;
    if (log_json) {
        char esc[2100];
        json_escape(esc, sizeof esc, msg);
        n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":%d,\"msg\":\"%s\"}\n", ts,
                     level_names[level], log_node, esc);
    } else {
        n = snprintf(line, sizeof line, "%s %s node=%d %s\n", ts, level_names[level], log_node,
                     msg);
    }
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    /* Best effort: stderr may be closed; nothing useful can be done about it. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
