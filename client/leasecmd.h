/* leasecmd.h: the lease subcommands of the vesper CLI (vesper lease ...) and the
 * lease behind `vesper put KEY VALUE --ttl SECONDS`. */
#ifndef VESPER_CLIENT_LEASECMD_H
#define VESPER_CLIENT_LEASECMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vclient.h"

struct leasecmd_args {
    bool forever; /* keepalive: renew every ttl/3 until interrupted or refused */
    bool keys;    /* info: list the attached keys */
};

/* Runs argv (argv[0] is "lease") with client c; prints the replies on stdout.
 * Returns the exit status (0, 1 fail, 2 no answer), -1 for a usage error. */
int leasecmd_run(struct vclient *c, const struct leasecmd_args *a, int argc, char **argv);
/* Grants a lease of ttl_s seconds, then puts key = value with it; prints the
 * put's reply and then the line "lease ID". Returns the exit status. */
int leasecmd_put_ttl(struct vclient *c, const char *key, size_t key_len, const char *value,
                     size_t value_len, uint64_t ttl_s);

#endif
