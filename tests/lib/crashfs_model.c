/* crashfs_model.c: the data structures behind crashfs (crashfs_int.h): files
 * with their durable content and pending operations, directories with their
 * durable and current entries and pending name operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crashfs_int.h"

struct cf_state cf;

void *cf_xalloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "crashfs: out of memory\n");
        abort();
    }
    return q;
}

char *cf_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(cf_xalloc(NULL, n), s, n);
}

struct cf_inode *cf_inode_new(struct cf_dir *home)
{
    struct cf_inode *i = cf_xalloc(NULL, sizeof *i);
    memset(i, 0, sizeof *i);
    i->home = home;
    i->next_all = cf.inodes;
    cf.inodes = i;
    return i;
}

struct cf_dir *cf_dir_new(const char *path, struct cf_inode *self)
{
    struct cf_dir *d = cf_xalloc(NULL, sizeof *d);
    memset(d, 0, sizeof *d);
    d->path = cf_xstrdup(path);
    d->self = self;
    d->gen = cf.gen;
    self->dir = d;
    d->next_all = cf.dirs;
    cf.dirs = d;
    return d;
}

struct cf_ent *cf_ents_find(struct cf_ents *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].name, name) == 0)
            return &e->v[i];
    return NULL;
}

void cf_ents_set(struct cf_ents *e, const char *name, struct cf_inode *ino)
{
    struct cf_ent *x = cf_ents_find(e, name);
    if (x) {
        x->ino = ino;
        return;
    }
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 8;
        e->v = cf_xalloc(e->v, e->cap * sizeof *e->v);
    }
    e->v[e->n++] = (struct cf_ent){.name = cf_xstrdup(name), .ino = ino};
}

void cf_ents_del(struct cf_ents *e, const char *name)
{
    struct cf_ent *x = cf_ents_find(e, name);
    if (!x)
        return;
    free(x->name);
    *x = e->v[--e->n];
}

void cf_ents_clear(struct cf_ents *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].name);
    e->n = 0;
}

void cf_ents_copy(struct cf_ents *dst, const struct cf_ents *src)
{
    cf_ents_clear(dst);
    for (size_t i = 0; i < src->n; i++)
        cf_ents_set(dst, src->v[i].name, src->v[i].ino);
}

void cf_dirop_apply(struct cf_ents *e, const struct cf_dirop *op)
{
    if (op->rename_from)
        cf_ents_del(e, op->rename_from);
    if (op->kind == CF_LINK)
        cf_ents_set(e, op->name, op->ino);
    else
        cf_ents_del(e, op->name);
}

void cf_dirops_clear(struct cf_dir *d)
{
    for (size_t i = 0; i < d->n_ops; i++) {
        free(d->ops[i].name);
        free(d->ops[i].rename_from);
    }
    d->n_ops = 0;
}

void cf_dirop_add(struct cf_dir *d, enum cf_dirop_kind kind, const char *name, const char *from,
                  struct cf_inode *ino)
{
    if (d->n_ops == d->cap_ops) {
        d->cap_ops = d->cap_ops ? 2 * d->cap_ops : 8;
        d->ops = cf_xalloc(d->ops, d->cap_ops * sizeof *d->ops);
    }
    struct cf_dirop *op = &d->ops[d->n_ops++];
    *op = (struct cf_dirop){.kind = kind,
                            .name = cf_xstrdup(name),
                            .rename_from = from ? cf_xstrdup(from) : NULL,
                            .ino = ino};
    cf_dirop_apply(&d->cur, op);
}

void cf_apply(uint8_t **buf, uint64_t *size, uint64_t *cap, const struct cf_op *op,
              uint64_t keep_from, uint64_t keep_to)
{
    uint64_t new_size = *size;
    if (op->kind == CF_WRITE && keep_to > keep_from && op->off + keep_to > new_size)
        new_size = op->off + keep_to;
    else if (op->kind == CF_TRUNC)
        new_size = op->off;
    else if (op->kind == CF_EXTEND && op->off > new_size)
        new_size = op->off;
    if (new_size > *cap) {
        *cap = new_size + new_size / 2 + 64;
        *buf = cf_xalloc(*buf, (size_t)*cap);
    }
    if (new_size > *size)
        memset(*buf + *size, 0, (size_t)(new_size - *size));
    *size = new_size;
    if (op->kind == CF_WRITE && keep_to > keep_from)
        memcpy(*buf + op->off + keep_from, op->data + keep_from, (size_t)(keep_to - keep_from));
}

void cf_ops_clear(struct cf_inode *ino)
{
    for (size_t i = 0; i < ino->n_ops; i++)
        free(ino->ops[i].data);
    ino->n_ops = 0;
}

void cf_op_add(struct cf_inode *ino, enum cf_op_kind kind, uint64_t off, const void *data,
               uint64_t len)
{
    if (ino->n_ops == ino->cap_ops) {
        ino->cap_ops = ino->cap_ops ? 2 * ino->cap_ops : 8;
        ino->ops = cf_xalloc(ino->ops, ino->cap_ops * sizeof *ino->ops);
    }
    struct cf_op *op = &ino->ops[ino->n_ops++];
    *op = (struct cf_op){.kind = kind, .off = off, .len = len};
    if (kind == CF_WRITE)
        op->data = memcpy(cf_xalloc(NULL, (size_t)len), data, (size_t)len);
}

/* Makes every pending operation of a file durable. */
void cf_inode_sync(struct cf_inode *ino)
{
    for (size_t i = 0; i < ino->n_ops; i++)
        cf_apply(&ino->dur, &ino->dur_size, &ino->dur_cap, &ino->ops[i], 0, ino->ops[i].len);
    cf_ops_clear(ino);
}
