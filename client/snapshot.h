/* snapshot.h: the backup subcommands of the vesper CLI (snapshot save, status). */
#ifndef VESPER_CLIENT_SNAPSHOT_H
#define VESPER_CLIENT_SNAPSHOT_H

#include "ops.h"

/* Runs argv ("snapshot", then save FILE or status FILE). Returns the exit status
 * (0 ok, 1 the cluster refused, 2 no complete backup or a bad file), or -1 for a
 * usage error. */
int snapshot_run(const struct ops_args *a, int argc, char **argv);

#endif
