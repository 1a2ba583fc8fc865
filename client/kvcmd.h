/* kvcmd.h: the data subcommands of the vesper CLI beyond single keys: list
 * (ranges by prefix, paged) and txn (a transaction given as JSON). */
#ifndef VESPER_CLIENT_KVCMD_H
#define VESPER_CLIENT_KVCMD_H

#include <stdbool.h>
#include <stdint.h>

#include "vclient.h"

struct kvcmd_args {
    uint64_t limit; /* list: keys per page (0: the server's default) */
    bool all;       /* list: page through every key with "after" */
    bool keys_only; /* list: keys and revisions, no values */
    bool stale;     /* list: any node may answer from its local state */
};

/* True when word names one of these subcommands. */
bool kvcmd_is_command(const char *word);
/* Runs argv (argv[0] is the subcommand) with client c; prints the reply JSON on
 * stdout. Returns the exit status (0, 1 fail, 2 no answer), -1 for a usage error. */
int kvcmd_run(struct vclient *c, const struct kvcmd_args *a, int argc, char **argv);

#endif
