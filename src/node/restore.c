/* restore.c: `vesperd --restore FILE <id> <ip_list_file>`: the data directory of
 * one node of a NEW cluster, made from a backup (`vesper snapshot save`).
 *
 * What the directory holds afterwards:
 *   - the backup's state as the only snapshot, at the backup's index and term,
 *     but with the membership of the new ip_list (every line a voter): the old
 *     cluster's membership never comes back;
 *   - no log, and a hard state at the backup's term with no vote: the new
 *     cluster elects a leader of a later term at once;
 *   - a cluster id derived from the new ip_list, --cluster-token and the backup's
 *     checksum (cluster_id.c), so the new cluster and the old one refuse each
 *     other's peer traffic even on the same addresses.
 * Every node of the new cluster is restored from the same file with the same
 * ip_list and token, so they agree on state, membership and cluster id.
 *
 * Nothing half-made is ever left under the target name: the directory is built
 * as DIR.restore.tmp (fsync'ed file by file by storage), then renamed to DIR and
 * the parent fsync'ed. When DIR already exists and is empty (typically a volume's
 * mount point, which cannot be replaced by a rename), it is built in
 * DIR/restore-in-progress instead and its files are moved up one by one, FORMAT
 * last, then DIR is fsync'ed: until FORMAT arrives, vesperd refuses a directory
 * holding a snapshot or a segment (docs/storage-format.md), so an interrupted move
 * never starts as a partial state. The backup is checked completely before anything is
 * written: its own checksum, the embedded snapshot file's checksum and header
 * against the backup's header, and a full decode of the state machine's payload
 * (which also counts its keys). A bad file gets one line on stderr and exit 2,
 * as does a target directory that exists and is not empty.
 */
#include "node/node.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kv/kv.h"
#include "kv/kv_snap.h"
#include "storage/storage.h"
#include "util/backup_file.h"

static int refuse(const char *file, const char *why)
{
    fprintf(stderr, "vesperd: restore refused: %s: %s\n", file, why);
    return 2;
}

#define IN_PLACE_DIR "restore-in-progress"

/* 1 when dir holds a name other than . and .. (and a leftover IN_PLACE_DIR), 0 when
 * it is empty, 2 when it does not exist, -1 when it cannot be read. */
static int dir_state(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 2 : -1;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d)) != NULL)
        found = strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
                strcmp(de->d_name, IN_PLACE_DIR) != 0;
    closedir(d);
    return found;
}

/* Removes a leftover DIR.restore.tmp of an interrupted restore (flat: storage
 * files only). */
static void remove_tmp_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char path[CONFIG_PATH_MAX + 300];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Checks the whole backup image; on success *snap and *payload describe the state. */
static int check_backup(const char *file, const uint8_t *img, size_t len, struct backup_header *h,
                        uint32_t *crc, const uint8_t **payload, struct storage_snapshot *snap)
{
    uint64_t state_off, data_off;
    const char *why;
    if (backup_image_check(img, len, h, &state_off, crc, &why) != 0)
        return refuse(file, why);
    if (storage_snapshot_parse(img + state_off, h->state_bytes, snap, &data_off, &why) != 0) {
        char line[160];
        snprintf(line, sizeof line, "embedded snapshot: %s", why);
        return refuse(file, line);
    }
    if (snap->index != h->index || snap->term != h->term)
        return refuse(file, "embedded snapshot's index or term differs from the header");
    *payload = img + state_off + data_off;
    struct kv *kv = NULL;
    char err[256];
    if (kv_snap_decode(*payload, snap->len, &kv, err, sizeof err) != 0)
        return refuse(file, err);
    bool ok = kv->map.count == h->keys && kv_applied_index(kv) == h->index;
    kv_free(kv);
    if (!ok)
        return refuse(file, "state does not match the header (keys or index)");
    return 0;
}

static void quiet(void *arg, const char *line)
{
    (void)arg, (void)line;
}

/* Builds the new directory at tmp: snapshot with the new membership, cluster id. */
static int build_dir(const struct vesper_config *cfg, const char *tmp,
                     const struct backup_header *h, const uint8_t *payload, uint64_t payload_len,
                     const char *cluster_id)
{
    struct storage_options opt;
    storage_options_defaults(&opt);
    opt.create = true;
    opt.log = quiet; /* "created directory": the summary line says what was made */
    struct storage *st;
    struct storage_boot boot;
    char err[512];
    if (storage_open(&st, tmp, &opt, &boot, err, sizeof err) != STORAGE_OK) {
        fprintf(stderr, "vesperd: restore: %s\n", err);
        return 1;
    }
    storage_boot_free(&boot);
    struct raft_conf conf;
    memset(&conf, 0, sizeof conf);
    for (int k = 0; k < cfg->n_nodes; k++) {
        conf.m[conf.n].id = (raft_id)k;
        conf.m[conf.n].voter = true;
        snprintf(conf.m[conf.n].addr, sizeof conf.m[conf.n].addr, "%s", cfg->nodes[k].text);
        conf.n++;
    }
    /* The term starts at the snapshot's: a node never holds a snapshot of a term
     * it has not seen, and the core relies on it (a new leader's no-op must not
     * have a lower term than the entry before it). */
    struct raft_hard_state hs = {.term = h->term, .vote = RAFT_NONE, .commit = h->index};
    int rc = storage_snapshot_save(st, h->index, h->term, &conf, payload, payload_len, h->index + 1,
                                   NULL);
    if (rc == STORAGE_OK)
        rc = storage_save_hard_state(st, &hs);
    if (rc == STORAGE_OK)
        rc = storage_sync(st);
    if (rc != STORAGE_OK)
        fprintf(stderr, "vesperd: restore: %s\n", storage_errmsg(st));
    storage_close(st);
    if (rc != STORAGE_OK)
        return 1;
    if (node_cluster_id_write(tmp, cluster_id, err, sizeof err) != 0) {
        fprintf(stderr, "vesperd: restore: %s\n", err);
        return 1;
    }
    return 0;
}

/* In place: every file of tmp (inside dir) moves up, FORMAT last; then dir is
 * fsync'ed and tmp removed. */
static int publish_in_place(const char *tmp, const char *dir)
{
    DIR *d = opendir(tmp);
    if (!d) {
        fprintf(stderr, "vesperd: restore: %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    char from[CONFIG_PATH_MAX + 300], to[CONFIG_PATH_MAX + 300];
    struct dirent *de;
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) { /* pass 1: FORMAT alone */
        rewinddir(d);
        while (rc == 0 && (de = readdir(d)) != NULL) {
            bool format = strcmp(de->d_name, "FORMAT") == 0;
            if (de->d_name[0] == '.' || format != (pass == 1))
                continue;
            snprintf(from, sizeof from, "%s/%s", tmp, de->d_name);
            snprintf(to, sizeof to, "%s/%s", dir, de->d_name);
            if (rename(from, to) != 0) {
                fprintf(stderr, "vesperd: restore: rename %s: %s\n", from, strerror(errno));
                rc = 1;
            }
        }
    }
    closedir(d);
    if (rc == 0 && (storage_fsync_dir(&storage_sys_default, dir) != 0 || rmdir(tmp) != 0 ||
                    storage_fsync_dir(&storage_sys_default, dir) != 0)) {
        fprintf(stderr, "vesperd: restore: finish %s: %s\n", dir, strerror(errno));
        rc = 1;
    }
    return rc;
}

/* rename(tmp, dir), then the parent directory fsync'ed so the name is durable. */
static int publish(const char *tmp, const char *dir, bool in_place)
{
    if (in_place)
        return publish_in_place(tmp, dir);
    if (rename(tmp, dir) != 0) {
        fprintf(stderr, "vesperd: restore: rename %s to %s: %s\n", tmp, dir, strerror(errno));
        return 1;
    }
    char parent[CONFIG_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    if (storage_fsync_dir(&storage_sys_default, dirname(parent)) != 0) {
        fprintf(stderr, "vesperd: restore: fsync the parent of %s: %s\n", dir, strerror(errno));
        return 1;
    }
    return 0;
}

int node_restore(const struct vesper_config *cfg)
{
    const char *file = cfg->restore_file;
    const char *dir = cfg->data_dir;
    int state = dir_state(dir);
    if (state == 1 || state < 0) {
        fprintf(stderr, "vesperd: restore refused: data directory %s %s\n", dir,
                state > 0 ? "is not empty" : "cannot be read");
        return 2;
    }
    bool in_place = state == 0;
    uint8_t *img;
    size_t len;
    if (storage_read_file(&storage_sys_default, file, &img, &len) != 0)
        return refuse(file, strerror(errno));
    struct backup_header h;
    struct storage_snapshot snap;
    const uint8_t *payload;
    uint32_t crc;
    int rc = check_backup(file, img, len, &h, &crc, &payload, &snap);
    if (rc == 0) {
        char cluster_id[NODE_CLUSTER_ID_LEN + 1], tmp[CONFIG_PATH_MAX + 32];
        node_cluster_id_derive(cfg, &crc, cluster_id);
        snprintf(tmp, sizeof tmp, in_place ? "%s/" IN_PLACE_DIR : "%s.restore.tmp", dir);
        remove_tmp_dir(tmp);
        rc = build_dir(cfg, tmp, &h, payload, snap.len, cluster_id);
        if (rc == 0)
            rc = publish(tmp, dir, in_place);
        if (rc != 0)
            remove_tmp_dir(tmp);
        else
            printf(
                "restored node %d into %s: index %llu term %llu, %llu keys, %d members, "
                "cluster id %s\n",
                cfg->id, dir, (unsigned long long)h.index, (unsigned long long)h.term,
                (unsigned long long)h.keys, cfg->n_nodes, cluster_id);
    }
    free(img);
    return rc;
}
