/* crashfs_int.h: the model shared by crashfs.c (the sys calls that record
 * operations) and crashfs_crash.c (turning the model into a post-crash state). */
#ifndef VESPER_TESTS_LIB_CRASHFS_INT_H
#define VESPER_TESTS_LIB_CRASHFS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/crashfs.h"

enum cf_op_kind { CF_WRITE, CF_TRUNC, CF_EXTEND };

struct cf_op {
    enum cf_op_kind kind;
    uint64_t off; /* CF_WRITE: offset; CF_TRUNC/CF_EXTEND: the new (minimum) size */
    uint64_t len;
    uint8_t *data; /* CF_WRITE: a copy of the bytes */
};

struct cf_dir;

/* A file or a directory, independent of the names it has. */
struct cf_inode {
    struct cf_dir *dir;  /* non-NULL: this inode is a directory */
    struct cf_dir *home; /* the directory it was last linked into */
    uint8_t *dur;        /* durable content */
    uint64_t dur_size, dur_cap;
    struct cf_op *ops; /* unsynced, in issue order */
    size_t n_ops, cap_ops;
    struct cf_inode *next_all;
};

struct cf_ent {
    char *name;
    struct cf_inode *ino;
};

enum cf_dirop_kind { CF_LINK, CF_UNLINK };

/* A name operation; a rename inside one directory is an UNLINK of the target
 * and a LINK of the new name fused into one atomic step (rename_from set). */
struct cf_dirop {
    enum cf_dirop_kind kind;
    char *name;
    char *rename_from; /* CF_LINK by rename: the old name goes in the same step */
    struct cf_inode *ino;
};

struct cf_ents {
    struct cf_ent *v;
    size_t n, cap;
};

struct cf_dir {
    char *path; /* canonical (realpath) */
    struct cf_inode *self;
    struct cf_ents dur, cur;
    struct cf_dirop *ops;
    size_t n_ops, cap_ops;
    uint64_t gen; /* last crash that kept it */
    int dead;     /* removed by a crash */
    struct cf_dir *next_all;
};

struct cf_state {
    char *root;
    struct cf_inode *inodes;
    struct cf_dir *dirs;
    struct {
        struct cf_inode *ino;
        struct cf_dir *dir; /* a directory opened for fsync */
        int stale;          /* points into a crashed directory */
    } * fds;
    size_t n_fds;
    uint64_t crash_at;
    int dead;
    uint64_t gen;
    struct crashfs_stats stats;
};

extern struct cf_state cf;

void *cf_xalloc(void *p, size_t n);
char *cf_xstrdup(const char *s);
struct cf_inode *cf_inode_new(struct cf_dir *home);
struct cf_dir *cf_dir_new(const char *path, struct cf_inode *self);
struct cf_ent *cf_ents_find(struct cf_ents *e, const char *name);
void cf_ents_set(struct cf_ents *e, const char *name, struct cf_inode *ino);
void cf_ents_del(struct cf_ents *e, const char *name);
void cf_ents_copy(struct cf_ents *dst, const struct cf_ents *src);
void cf_ents_clear(struct cf_ents *e);
void cf_dirop_apply(struct cf_ents *e, const struct cf_dirop *op);
void cf_dirops_clear(struct cf_dir *d);
/* Applies op to a content buffer of *size bytes (grows it). keep_from/keep_to
 * limit a CF_WRITE to the bytes [off + keep_from, off + keep_to). */
void cf_apply(uint8_t **buf, uint64_t *size, uint64_t *cap, const struct cf_op *op,
              uint64_t keep_from, uint64_t keep_to);
void cf_ops_clear(struct cf_inode *ino);
/* Records a name operation in d (pending until d is fsynced) and applies it to the
 * current entries. */
void cf_dirop_add(struct cf_dir *d, enum cf_dirop_kind kind, const char *name, const char *from,
                  struct cf_inode *ino);
/* Records a pending write (a copy of data), truncation or extension of ino. */
void cf_op_add(struct cf_inode *ino, enum cf_op_kind kind, uint64_t off, const void *data,
               uint64_t len);
/* Makes every pending operation of a file durable. */
void cf_inode_sync(struct cf_inode *ino);

#endif
