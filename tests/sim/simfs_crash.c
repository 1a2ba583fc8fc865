/* simfs_crash.c: the simulated disk's life cycle and power loss: registering and
 * forgetting a node's directory, arming a crash point, and turning the directory
 * into what a disk could hold after power fails (see simfs.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/simfs_int.h"

int simfs_init(struct simfs *fs, const char *dir, uint64_t *prng)
{
    memset(fs, 0, sizeof *fs);
    snprintf(fs->dir, sizeof fs->dir, "%s", dir);
    fs->prng = prng;
    if (strlen(dir) >= sizeof fs->dir)
        return -1;
    return simfs_register(fs);
}

void simfs_destroy(struct simfs *fs)
{
    simfs_unregister(fs);
    for (size_t i = 0; i < fs->n_ino; i++)
        simfs_drop_inode(&fs->ino[i]);
    free(fs->ino);
    memset(fs, 0, sizeof *fs);
}

void simfs_arm(struct simfs *fs, uint64_t k, bool after)
{
    fs->crash_in = (int64_t)k;
    fs->crash_after = after;
}

/* Bytes of p that survive the crash. */
static uint64_t survives(struct simfs *fs, const struct simfs_pend *p)
{
    switch (fs->tear) {
    case SIMFS_TEAR_NONE:
        return 0;
    case SIMFS_TEAR_ALL:
        return p->trunc ? 1 : p->len;
    case SIMFS_TEAR_BUT_LAST: {
        if (p->trunc)
            return 1;
        uint64_t end = p->off + p->len;
        uint64_t cut = (end - 1) / SIMFS_SECTOR * SIMFS_SECTOR; /* last boundary inside */
        return cut > p->off ? cut - p->off : 0;
    }
    default:
        break;
    }
    if (p->trunc)
        return sim_chance(fs->prng, 500);
    /* Cut points: 0, every sector boundary inside the write, the whole write. */
    uint64_t first = SIMFS_SECTOR - p->off % SIMFS_SECTOR;
    uint64_t inner = first < p->len ? 1 + (p->len - first - 1) / SIMFS_SECTOR : 0;
    uint64_t pick = sim_range(fs->prng, inner + 2);
    if (pick == 0)
        return 0;
    if (pick > inner)
        return p->len;
    return first + (pick - 1) * SIMFS_SECTOR;
}

int simfs_crash(struct simfs *fs)
{
    for (int i = 0; i < SIMFS_FDS; i++) {
        if (simfs_fds[i].fs == fs) {
            simfs_data_put(simfs_fds[i].live);
            memset(&simfs_fds[i], 0, sizeof simfs_fds[i]);
        }
    }
    for (size_t i = 0; i < fs->n_ino; i++) {
        struct simfs_inode *in = &fs->ino[i];
        if (!in->used)
            continue;
        if (!in->dname[0]) {
            simfs_drop_inode(in);
            continue;
        }
        for (size_t k = 0; k < in->n_pend; k++)
            simfs_apply(&in->dur, &in->dur_len, &in->pend[k], survives(fs, &in->pend[k]));
        simfs_clear_pend(in);
        memcpy(in->name, in->dname, SIMFS_NAME);
        in->linked = ++fs->clock;
        simfs_data_put(in->live);
        in->live = simfs_data_new();
        simfs_data_resize(in->live, in->dur_len);
        if (in->dur_len)
            memcpy(in->live->buf, in->dur, in->dur_len);
    }
    fs->crashed = false;
    fs->crash_in = 0;
    fs->tear = SIMFS_TEAR_RANDOM;
    return 0;
}

bool simfs_clean(const struct simfs *fs)
{
    for (size_t i = 0; i < fs->n_ino; i++) {
        const struct simfs_inode *in = &fs->ino[i];
        if (!in->used)
            continue;
        const char *nm = in->name[0] ? in->name : in->dname;
        size_t len = strlen(nm);
        if (len > 4 && strcmp(nm + len - 4, ".tmp") == 0)
            continue;
        if (strcmp(in->name, in->dname) != 0)
            return false;
        for (size_t k = 0; k < in->n_pend; k++) {
            const struct simfs_pend *p = &in->pend[k];
            if (p->trunc || p->off + p->len > in->dur_len)
                return false;
        }
    }
    return true;
}
