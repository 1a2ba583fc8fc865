/* mksnap.c: writes the file of a valid vesperd snapshot to stdout, for test scripts
 * that play a leader sending InstallSnapshot (tests/negative/answers.py).
 *
 *   build/neg-mksnap INDEX TERM MEMBERS KEY=VALUE...
 *
 * MEMBERS is a comma-separated list of URLs: voters 0, 1, ... in that order. The
 * state holds the given pairs and was applied through (INDEX, TERM). The bytes are
 * exactly what a leader's storage would send (storage_snapshot_save in a scratch
 * directory, read back with storage_snapshot_read), so a follower validates and
 * installs them like the real thing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv.h"
#include "kv/kv_cmd.h"
#include "kv/kv_snap.h"
#include "storage/storage.h"

static int parse_members(char *list, struct raft_conf *conf)
{
    for (char *url = strtok(list, ","); url; url = strtok(NULL, ",")) {
        if (conf->n == RAFT_MAX_MEMBERS || strlen(url) >= sizeof conf->m[0].addr)
            return -1;
        struct raft_member *mb = &conf->m[conf->n];
        mb->id = (raft_id)conf->n;
        mb->voter = true;
        snprintf(mb->addr, sizeof mb->addr, "%s", url);
        conf->n++;
    }
    return conf->n ? 0 : -1;
}

static int fill(struct kv *kv, int argc, char **argv)
{
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL || eq == argv[i])
            return -1;
        struct kv_cmd c = {.op = KV_OP_PUT,
                           .key = (const uint8_t *)argv[i],
                           .key_len = (size_t)(eq - argv[i]),
                           .value = (const uint8_t *)eq + 1,
                           .value_len = strlen(eq + 1)};
        uint8_t *cmd;
        size_t len;
        struct kv_result res;
        if (kv_cmd_encode_alloc(&c, &cmd, &len) != 0)
            return -1;
        kv_apply(kv, kv->applied_index + 1, 1, cmd, len, &res);
        free(cmd);
        if (res.status != KV_OK)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct raft_conf conf = {0};
    raft_index index = argc > 3 ? strtoull(argv[1], NULL, 0) : 0;
    raft_term term = argc > 3 ? strtoull(argv[2], NULL, 0) : 0;
    struct kv *kv = kv_new(0);
    if (index == 0 || term == 0 || kv == NULL || parse_members(argv[3], &conf) != 0 ||
        fill(kv, argc, argv) != 0 || kv->applied_index >= index) {
        fprintf(stderr, "usage: neg-mksnap INDEX TERM URL0,URL1,... KEY=VALUE...\n");
        return 2;
    }
    kv_set_applied(kv, index, term);
    uint8_t *data;
    size_t len;
    if (kv_snap_encode(kv, &data, &len) != 0)
        return 1;
    char dir[] = "/tmp/neg-mksnap.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    struct storage_options opt;
    storage_options_defaults(&opt);
    opt.create = true;
    struct storage_boot boot;
    struct storage *st;
    char err[256];
    uint64_t size = 0;
    int rc = 1;
    if (storage_open(&st, dir, &opt, &boot, err, sizeof err) != STORAGE_OK) {
        fprintf(stderr, "neg-mksnap: %s\n", err);
    } else {
        storage_boot_free(&boot);
        uint8_t *file = NULL;
        size_t got = 0;
        if (storage_snapshot_save(st, index, term, &conf, data, len, index + 1, &size) ==
                STORAGE_OK &&
            (file = malloc(size)) != NULL &&
            storage_snapshot_read(st, index, 0, file, size, &got) == STORAGE_OK && got == size)
            rc = fwrite(file, 1, size, stdout) != size || fflush(stdout) != 0;
        else
            fprintf(stderr, "neg-mksnap: %s\n", storage_errmsg(st));
        free(file);
        storage_close(st);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        rc = 1;
    free(data);
    kv_free(kv);
    return rc;
}
