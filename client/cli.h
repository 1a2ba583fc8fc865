/* cli.h: what the files of the vesper command line share: the parsed command
 * line (struct cli), its option parser and the usage text (options.c); main.c
 * runs what was parsed. */
#ifndef VESPER_CLIENT_CLI_H
#define VESPER_CLIENT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoints.h"
#include "kvcmd.h"
#include "leasecmd.h"
#include "vclient.h"

struct cli {
    struct endpoints eps;
    struct kvcmd_args kv;
    struct vclient_opts opts;
    struct vclient_req req;
    bool absent;
    char *file_value; /* --value-file contents */
    size_t file_value_len;
    bool has_file_value;
    uint64_t watch_from; /* watch --from */
    bool watch_exact;    /* watch --exact */
    uint64_t ttl;        /* put --ttl */
    struct leasecmd_args lease;
};

extern const char cli_usage_text[];
/* Prints why (if not NULL) and the usage to stderr; returns 2 (the exit status). */
int cli_usage(const char *why);
/* Options anywhere on the line (GNU getopt permutes); optind is then the first
 * positional word. 0, or -1 after a usage error was printed. */
int cli_parse_options(struct cli *cli, int argc, char **argv);

#endif
