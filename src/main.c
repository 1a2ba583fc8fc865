/* main.c: vesperd's entry point: parse the configuration, then serve, verify a
 * data directory (--check-data), probe a node's health (--probe) or make a new
 * cluster's data directory from a backup (--restore). Storage
 * creates the data directory and any missing parent (`mkdir -p`), so the original
 * start command `vesperd 0 ip_list.txt` works in an empty directory. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "node/node.h"
#include "node/probe.h"

extern char **environ;

int main(int argc, char **argv)
{
    static struct vesper_config cfg;
    char err[512];
    int rv = config_parse(argc, argv, environ, &cfg, err, sizeof err);
    if (rv == 1)
        return 0;
    if (rv != 0) {
        fprintf(stderr, "vesperd: %s\n", err);
        return 2;
    }
    switch (cfg.mode) {
    case CONFIG_MODE_CHECK_DATA:
        return node_check_data(cfg.check_data_dir);
    case CONFIG_MODE_PROBE:
        return probe_health(&cfg.probe_url, &cfg);
    case CONFIG_MODE_RESTORE:
        return node_restore(&cfg);
    case CONFIG_MODE_SERVE:
        break;
    }
    /* Certificate files are part of the configuration: refuse bad ones the same way. */
    if (node_tls_check(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "vesperd: %s\n", err);
        return 2;
    }
    return node_run(&cfg);
}
