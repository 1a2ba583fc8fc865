/* ops.h: the operator subcommands of the vesper CLI (status, transfer, members). */
#ifndef VESPER_CLIENT_OPS_H
#define VESPER_CLIENT_OPS_H

#include <stdbool.h>
#include <stddef.h>

struct ops_args {
    const char *const *endpoints; /* borrowed; at least one */
    size_t n_endpoints;
    long timeout_ms;
    const char *token;               /* bearer token or NULL */
    const char *cacert, *cert, *key; /* https: CA, client certificate and key, or NULL */
};

/* True when word names an operator subcommand. */
bool ops_is_command(const char *word);
/* Runs argv (argv[0] is the subcommand). Returns the exit status, or -1 for a
 * usage error. */
int ops_run(const struct ops_args *a, int argc, char **argv);

#endif
