/* cluster_id.c: the identity of the cluster a data directory belongs to.
 *
 * Peers send it with every batch (X-Vesper-Cluster-Id, src/net) and refuse a
 * batch naming another, so two clusters that can reach each other's addresses
 * (the typical case: a cluster restored from a backup of a running one, perhaps
 * on the same addresses) never step each other's messages, terms or votes.
 *
 * It is 16 hex digits of a 64-bit FNV-1a hash, derived once and then kept in
 * DIR/CLUSTER_ID (one line, "vesper-cluster-id <hex>"):
 *   - a new data directory, or one written before cluster ids existed, adopts the
 *     id derived from the ip_list's URLs (in order) and --cluster-token, which all
 *     nodes of one cluster started from the same ip_list file share;
 *   - a node started with --join and no CLUSTER_ID adopts the id of the first peer
 *     batch that carries one (it waits to be added to an existing cluster, whose
 *     ip_list it may not share) and writes it then;
 *   - `vesperd --restore` also mixes in the backup's checksum, so the restored
 *     cluster differs from the one the backup came from even on the same addresses
 *     and with the same token.
 * The file is written like every durable file here: temporary name, fsync,
 * rename, directory fsync. Once present, it wins over what the options derive,
 * so a changed ip_list or token never silently moves a node to another cluster.
 */
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/transport.h"
#include "storage/sys.h"
#include "util/logging.h"

#define CLUSTER_ID_FILE "CLUSTER_ID"

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

void node_cluster_id_derive(const struct vesper_config *cfg, const uint32_t *backup_crc,
                            char out[NODE_CLUSTER_ID_LEN + 1])
{
    uint64_t h = fnv1a(0xcbf29ce484222325ull, "vesper-cluster", 15);
    h = fnv1a(h, cfg->cluster_token, strlen(cfg->cluster_token) + 1);
    for (int k = 0; k < cfg->n_nodes; k++)
        h = fnv1a(h, cfg->nodes[k].text, strlen(cfg->nodes[k].text) + 1);
    if (backup_crc) {
        uint8_t c[4] = {(uint8_t)*backup_crc, (uint8_t)(*backup_crc >> 8),
                        (uint8_t)(*backup_crc >> 16), (uint8_t)(*backup_crc >> 24)};
        h = fnv1a(h, "restore", 8);
        h = fnv1a(h, c, 4);
    }
    snprintf(out, NODE_CLUSTER_ID_LEN + 1, "%016" PRIx64, h);
}

int node_cluster_id_write(const char *dir, const char *id, char *err, size_t errlen)
{
    char path[CONFIG_PATH_MAX + 32], tmp[CONFIG_PATH_MAX + 32], line[64];
    snprintf(path, sizeof path, "%s/%s", dir, CLUSTER_ID_FILE);
    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, CLUSTER_ID_FILE);
    int len = snprintf(line, sizeof line, "vesper-cluster-id %s\n", id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *what = "create";
    int rc = fd < 0 ? -1 : 0;
    if (rc == 0 &&
        (what = "write", storage_pwrite_all(&storage_sys_default, fd, line, (size_t)len, 0) != 0))
        rc = -1;
    if (rc == 0 && (what = "fsync", fsync(fd) != 0))
        rc = -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && (what = "rename", rename(tmp, path) != 0))
        rc = -1, e = errno;
    if (rc == 0 && (what = "fsync directory of", storage_fsync_dir(&storage_sys_default, dir) != 0))
        rc = -1, e = errno;
    if (rc != 0)
        snprintf(err, errlen, "cluster id: %s %s: %s", what, path, strerror(e));
    return rc;
}

int node_cluster_id_read(const char *dir, char out[NODE_CLUSTER_ID_LEN + 1], char *err,
                         size_t errlen)
{
    char path[CONFIG_PATH_MAX + 32], line[64];
    snprintf(path, sizeof path, "%s/%s", dir, CLUSTER_ID_FILE);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cluster id: %s: %s", path, strerror(errno));
        return -1;
    }
    char *got = fgets(line, sizeof line, f);
    fclose(f);
    char hex[NODE_CLUSTER_ID_LEN + 1];
    int end = 0;
    if (!got || sscanf(line, "vesper-cluster-id %16[0-9a-f]%n", hex, &end) != 1 ||
        strlen(hex) != NODE_CLUSTER_ID_LEN || (line[end] != '\n' && line[end] != '\0')) {
        snprintf(err, errlen, "cluster id: %s: not a cluster id file", path);
        return -1;
    }
    memcpy(out, hex, sizeof hex);
    return 1;
}

static bool adopt(void *arg, const char *id)
{
    struct node *n = arg;
    char err[CONFIG_PATH_MAX + 128];
    if (strlen(id) != NODE_CLUSTER_ID_LEN || strspn(id, "0123456789abcdef") != NODE_CLUSTER_ID_LEN)
        return false;
    memcpy(n->cluster_id, id, NODE_CLUSTER_ID_LEN + 1);
    if (node_cluster_id_write(n->cfg->data_dir, n->cluster_id, err, sizeof err) != 0)
        node_fatal("cluster id", err); /* an fsync failed: fail stop */
    log_info("cluster id %s adopted from a peer (--join)", n->cluster_id);
    return true;
}

void node_cluster_id_attach(struct node *n)
{
    if (!n->cluster_id[0])
        transport_set_cluster_adopt(n->tp, adopt);
}

int node_cluster_id_load(struct node *n)
{
    char err[CONFIG_PATH_MAX + 128];
    int rc = node_cluster_id_read(n->cfg->data_dir, n->cluster_id, err, sizeof err);
    if (rc < 0) {
        log_error("%s", err);
        return -1;
    }
    if (rc == 0 && n->cfg->join) {
        n->cluster_id[0] = '\0';
        log_info("no cluster id yet (--join): adopting the one of the first peer that calls");
        return 0;
    }
    if (rc == 0) {
        node_cluster_id_derive(n->cfg, NULL, n->cluster_id);
        if (node_cluster_id_write(n->cfg->data_dir, n->cluster_id, err, sizeof err) != 0) {
            log_error("%s", err);
            return -1;
        }
        log_info("cluster id %s adopted (from %s and the cluster token)", n->cluster_id,
                 n->cfg->ip_list_path);
        return 0;
    }
    log_info("cluster id %s", n->cluster_id);
    return 0;
}
