/* logging.h: vesperd's event log: one line per event on stderr, with a level and the
 * node id, as text or as JSON lines (--log-json).
 *
 *   2026-11-26T07:40:01.123Z info node=2 election won term=5
 *   {"ts":"2026-11-26T07:40:01.123Z","level":"info","node":2,"msg":"election won term=5"}
 */
#ifndef VESPER_UTIL_LOGGING_H
#define VESPER_UTIL_LOGGING_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the node id shown on each line, the threshold and the format. */
void log_setup(int node_id, enum log_level level, bool json);
/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int log_level_parse(const char *s);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
