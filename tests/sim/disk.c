/* disk.c: the fake disk (a log, a hard state, a snapshot) and the state machine image.
 *
 * Each node keeps two struct sim_disk: `syn`, what survived the last fsync, and
 * `cur`, everything written. Writes land in `cur` at once and queue as a struct
 * sim_op; a later sync event replays the ops into `syn`. Keeping two full copies
 * instead of a write journal costs memory but makes a crash trivially exact: drop
 * the ops, copy `syn` over `cur`. Every entry carries its data hash and a chain hash
 * (of it and every entry before it) so log matching can compare whole prefixes in
 * O(1). The state machine is (applied index, running hash, command count); its image
 * pads that header with bytes derived from it so a misassembled chunked snapshot
 * cannot restore silently.
 */
#include "sim/sim.h"

#include <stdlib.h>
#include <string.h>

#define SM_MAGIC  0x7653494dU
#define SM_HEADER 28

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
    if (!n)
        return NULL;
    uint8_t *c = xrealloc(NULL, n);
    memcpy(c, p, n);
    return c;
}

void sim_log_free(struct sim_log *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->e[i].data);
    free(l->e);
    memset(l, 0, sizeof *l);
}

void sim_log_copy(struct sim_log *dst, const struct sim_log *src)
{
    *dst = *src;
    dst->cap = src->n;
    dst->e = xrealloc(NULL, (src->n ? src->n : 1) * sizeof *dst->e);
    for (size_t i = 0; i < src->n; i++) {
        dst->e[i] = src->e[i];
        dst->e[i].data = dup_bytes(src->e[i].data, src->e[i].len);
    }
}

raft_index sim_log_last(const struct sim_log *l)
{
    return l->base_index + l->n;
}

const struct sim_entry *sim_log_at(const struct sim_log *l, raft_index i)
{
    if (i <= l->base_index || i > sim_log_last(l))
        return NULL;
    return &l->e[i - l->base_index - 1];
}

bool sim_log_write(struct sim_log *l, const struct sim_entry *e, size_t n)
{
    if (n == 0)
        return true;
    raft_index first = e[0].index;
    if (first <= l->base_index || first > sim_log_last(l) + 1)
        return false;
    size_t keep = (size_t)(first - l->base_index - 1);
    for (size_t i = keep; i < l->n; i++)
        free(l->e[i].data);
    l->n = keep;
    if (l->n + n > l->cap) {
        l->cap = (l->n + n) * 2;
        l->e = xrealloc(l->e, l->cap * sizeof *l->e);
    }
    for (size_t i = 0; i < n; i++) {
        l->e[l->n] = e[i];
        l->e[l->n].data = dup_bytes(e[i].data, e[i].len);
        l->n++;
    }
    return true;
}

void sim_snap_set(struct sim_snap *s, const struct sim_snap *src)
{
    free(s->data);
    *s = *src;
    s->data = dup_bytes(src->data, src->size);
}

void sim_disk_free(struct sim_disk *d)
{
    sim_log_free(&d->log);
    free(d->snap.data);
    memset(&d->snap, 0, sizeof d->snap);
}

void sim_disk_copy(struct sim_disk *dst, const struct sim_disk *src)
{
    dst->hs = src->hs;
    sim_log_copy(&dst->log, &src->log);
    memset(&dst->snap, 0, sizeof dst->snap);
    sim_snap_set(&dst->snap, &src->snap);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint8_t filler(uint64_t hash, uint64_t i)
{
    return (uint8_t)((hash >> ((i % 8) * 8)) ^ (i * 31));
}

uint64_t sim_sm_encode(const struct sim_node *n, uint8_t **out)
{
    uint64_t size = SM_HEADER + 40 + n->sm_count % 97;
    uint8_t *p = xrealloc(NULL, size);
    put64(p, SM_MAGIC);
    put64(p + 4, n->applied);
    put64(p + 12, n->sm_hash);
    put64(p + 20, n->sm_count);
    for (uint64_t i = SM_HEADER; i < size; i++)
        p[i] = filler(n->sm_hash, i);
    *out = p;
    return size;
}

bool sim_sm_restore(struct sim_node *n, const uint8_t *data, uint64_t size)
{
    if (size < SM_HEADER || (get64(data) & 0xffffffffU) != SM_MAGIC)
        return false;
    raft_index applied = get64(data + 4);
    uint64_t hash = get64(data + 12), count = get64(data + 20);
    if (size != SM_HEADER + 40 + count % 97)
        return false;
    for (uint64_t i = SM_HEADER; i < size; i++) {
        if (data[i] != filler(hash, i))
            return false;
    }
    n->applied = applied;
    n->sm_hash = hash;
    n->sm_count = count;
    return true;
}
