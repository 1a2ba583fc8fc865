/* watchcmd.h: `vesper watch PREFIX [--from REV] [--exact]`: follows GET /watch
 * on one node after another, printing one line per event. */
#ifndef VESPER_CLIENT_WATCHCMD_H
#define VESPER_CLIENT_WATCHCMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct watchcmd_args {
    const char *const *endpoints; /* tried in turn, from the first */
    size_t n_endpoints;
    const char *what; /* the prefix, or the key with exact */
    bool exact;
    uint64_t from;     /* 0: from the next change */
    long give_up_ms;   /* no node streaming for this long: exit 2 */
    const char *token; /* bearer token or NULL; TLS files or NULL */
    const char *cacert, *cert, *key;
    bool verbose; /* connections and progress lines on stderr */
};

/* Runs until a node answers "compacted" for the next revision (exit 1), or no
 * node streams for give_up_ms (exit 2). */
int watchcmd_run(const struct watchcmd_args *a);

#endif
