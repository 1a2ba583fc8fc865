/* main.c: vesperd's entry point: parse the configuration, then serve, verify a
 * data directory (--check-data) or probe a node's health (--probe).
 *
 * Before serving, the parents of the data directory are created as needed
 * (`mkdir -p`), so the original start command `vesperd 0 ip_list.txt` works in
 * an empty directory: storage creates the data directory itself and makes its
 * name durable, and every parent created here is made durable the same way
 * (fsync of the directory that holds it) before storage writes below it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "node/node.h"
#include "node/probe.h"
#include "storage/storage.h"
#include "util/log.h"

extern char **environ;

/* fsync of the directory holding path ("." for a relative name without '/'). */
static int sync_parent_dir(const char *path)
{
    char parent[CONFIG_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* Creates every missing directory above dir (not dir itself: storage owns it). */
static int make_parent_dirs(const char *dir)
{
    char path[CONFIG_PATH_MAX];
    snprintf(path, sizeof path, "%s", dir);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    for (char *p = path + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) == 0) {
            if (sync_parent_dir(path) != 0) {
                log_error("fsync of the directory holding %s: %s", path, strerror(errno));
                return -1;
            }
            log_info("created directory %s", path);
        } else if (errno != EEXIST) {
            log_error("cannot create %s (for --data-dir %s): %s", path, dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

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
        return storage_check(cfg.check_data_dir, stdout);
    case CONFIG_MODE_PROBE:
        return probe_health(&cfg.probe_url);
    case CONFIG_MODE_SERVE:
        break;
    }
    log_setup(cfg.id, (enum log_level)cfg.log_level, cfg.log_json);
    log_info("vesperd starting: node %d of %d, data %s", cfg.id, cfg.n_nodes, cfg.data_dir);
    if (make_parent_dirs(cfg.data_dir) != 0)
        return 1;
    return node_run(&cfg);
}
