/* test_storage_util.c: see test_storage_util.h. */
#define _XOPEN_SOURCE 700
#include "test_storage_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "storage/internal.h"

char tsu_last_log[512];
int tsu_n_logs;

void tsu_mkdtemp(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/vesper-storage-XXXXXX");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(2);
    }
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tsu_rmdir(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void log_cb(void *arg, const char *line)
{
    (void)arg;
    snprintf(tsu_last_log, sizeof tsu_last_log, "%s", line);
    tsu_n_logs++;
}

void tsu_options(struct storage_options *o)
{
    storage_options_defaults(o);
    o->log = log_cb;
}

int tsu_nosync_fn(int fd)
{
    (void)fd;
    return 0;
}

static int open3(const char *path, int flags, mode_t mode)
{
    return open(path, flags, mode);
}

const struct storage_sys tsu_sys_nosync = {
    .open = open3,
    .close = close,
    .pwrite = pwrite,
    .pread = pread,
    .fdatasync = tsu_nosync_fn,
    .fsync = tsu_nosync_fn,
    .ftruncate = ftruncate,
    .rename = rename,
    .unlink = unlink,
    .mkdir = mkdir,
    .fstat = fstat,
};

static uint32_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (uint32_t)x;
}

struct raft_entry tsu_entry(raft_index index, raft_term term, uint32_t gen,
                            uint8_t buf[TS_MAX_ENTRY])
{
    uint32_t h = mix(index * 1000003u + gen);
    uint32_t len = h % 201;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = (uint8_t)mix(h + i);
    struct raft_entry e = {.term = term,
                           .index = index,
                           .type = RAFT_ENTRY_NORMAL,
                           .len = len,
                           .data = len ? buf : NULL};
    if (h % 17 == 0)
        e.type = RAFT_ENTRY_NOOP;
    return e;
}

int tsu_entry_ok(const struct raft_entry *e, uint32_t gen)
{
    uint8_t buf[TS_MAX_ENTRY];
    struct raft_entry x = tsu_entry(e->index, e->term, gen, buf);
    return x.len == e->len && x.type == e->type && (x.len == 0 || !memcmp(buf, e->data, x.len));
}

int tsu_read(const char *path, uint8_t **buf, size_t *len)
{
    return storage_read_file(&storage_sys_default, path, buf, len);
}

/* Rewrites in place and then sets the length: truncating to zero first would make
 * ext4 flush on close (auto_da_alloc) and the crash tests would crawl. */
int tsu_write(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd < 0)
        return -1;
    int rc = storage_pwrite_all(&storage_sys_default, fd, buf, len, 0);
    if (rc == 0)
        rc = ftruncate(fd, (off_t)len);
    return close(fd) == 0 ? rc : -1;
}

void tsu_seg_path(const char *dir, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%016llx.seg", dir, (unsigned long long)seq);
}

int tsu_count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    size_t sl = strlen(suffix);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
    }
    closedir(d);
    return n;
}

int tsu_open(const char *dir, struct storage_options *o, struct storage **st,
             struct storage_boot *b)
{
    char err[512];
    int rc = storage_open(st, dir, o, b, err, sizeof err);
    if (rc)
        fprintf(stderr, "  open %s: %s\n", dir, err);
    return rc;
}

/* Appends [from, to] of term/gen in batches, syncing after each batch. */
int tsu_append_range(struct storage *st, raft_index from, raft_index to, raft_term term,
                     uint32_t gen, size_t batch)
{
    static uint8_t bufs[64][TS_MAX_ENTRY];
    struct raft_entry e[64];
    for (raft_index i = from; i <= to;) {
        size_t n = 0;
        while (n < batch && n < 64 && i <= to) {
            e[n] = tsu_entry(i, term, gen, bufs[n]);
            n++;
            i++;
        }
        int rc = storage_append(st, e, n);
        if (rc == 0)
            rc = storage_sync(st);
        if (rc) {
            fprintf(stderr, "  append: %s\n", storage_errmsg(st));
            return rc;
        }
    }
    return 0;
}

/* The boot's entries are exactly [from, to] with the given term and gen. */
int tsu_boot_has(const struct storage_boot *b, raft_index from, raft_index to, raft_term term,
                 uint32_t gen)
{
    for (raft_index i = from; i <= to; i++) {
        size_t k = (size_t)(i - b->snap.index - 1);
        if (i <= b->snap.index || k >= b->n_entries)
            return 0;
        const struct raft_entry *e = &b->entries[k];
        if (e->index != i || e->term != term || !tsu_entry_ok(e, gen))
            return 0;
    }
    return 1;
}

struct raft_conf tsu_conf(void)
{
    struct raft_conf c = {.n = 3};
    for (uint32_t i = 0; i < 3; i++) {
        c.m[i].id = i + 1;
        c.m[i].voter = i < 2;
        snprintf(c.m[i].addr, sizeof c.m[i].addr, "http://10.0.0.%u:2380", i + 1);
    }
    return c;
}

size_t tsu_snap_file(raft_index index, raft_term term, size_t data_len, uint8_t *img, size_t cap)
{
    return tsu_snap_file_of(index, term, NULL, data_len, img, cap);
}

size_t tsu_snap_file_of(raft_index index, raft_term term, const uint8_t *data, size_t data_len,
                        uint8_t *img, size_t cap)
{
    struct raft_conf c = tsu_conf();
    size_t clen = st_snap_conf_encode(&c, img + SNAP_HDR_BYTES, cap - SNAP_HDR_BYTES - 4);
    if (SNAP_HDR_BYTES + clen + data_len + 4 > cap)
        abort();
    memcpy(img, SNAP_MAGIC, 8);
    st_rec_put32(img + 8, SNAP_FORMAT_VERSION);
    st_rec_put32(img + 12, (uint32_t)clen);
    st_rec_put64(img + 16, index);
    st_rec_put64(img + 24, term);
    st_rec_put64(img + 32, data_len);
    if (data)
        memcpy(img + SNAP_HDR_BYTES + clen, data, data_len);
    else
        memset(img + SNAP_HDR_BYTES + clen, 's', data_len);
    size_t len = SNAP_HDR_BYTES + clen + data_len;
    st_rec_put32(img + len, crc32c(0, img, len));
    return len + 4;
}
