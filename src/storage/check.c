/* check.c: the offline verifier behind `vesperd --check-data DIR`.
 *
 * It runs the very recovery start-up runs, in report-only mode, so "check says
 * healthy" and "start-up opens it" are one decision, never two that could drift.
 */
#include <stdlib.h>

#include "storage/internal.h"

int storage_check(const char *dir, FILE *out)
{
    return storage_check_with(dir, &storage_sys_default, out);
}

int storage_check_with(const char *dir, const struct storage_sys *sys, FILE *out)
{
    struct storage_options opt;
    storage_options_defaults(&opt);
    opt.create = false;
    opt.sys = sys;
    struct storage_boot boot = {0};
    struct recover_report rep = {.out = out};
    char err[STORAGE_ERR_MAX];
    fprintf(out, "checking %s (format version %u)\n", dir, STORAGE_FORMAT_VERSION);
    int rc = st_recover_dir(NULL, dir, &opt, &boot, &rep, err, sizeof err);
    storage_boot_free(&boot);
    if (rc) {
        fprintf(out, "CORRUPT: %s\n", err);
        return 1;
    }
    if (rep.fresh)
        fprintf(out, "empty: no data yet\n");
    if (rep.bad_snaps)
        fprintf(out, "warning: %zu damaged snapshot file(s) skipped\n", rep.bad_snaps);
    fprintf(out, "%s\n", rep.torn ? "healthy (torn tail: truncated at next start)" : "healthy");
    return 0;
}
