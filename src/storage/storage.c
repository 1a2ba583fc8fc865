/* storage.c: opening and closing a data directory, errors, names.
 *
 * storage_open() delegates the reading to recover.c and only assembles the object;
 * every error message is formatted here so they all carry the module and the file
 * ("wal: fdatasync 0000000000000001.seg: Input/output error").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/internal.h"

const char *storage_strerror(int err)
{
    static const char *const text[] = {
#define STORAGE__TEXT(code, t) [code] = t,
        STORAGE_ERRORS(STORAGE__TEXT)
#undef STORAGE__TEXT
    };
    if (err < 0 || (size_t)err >= sizeof text / sizeof text[0])
        return "unknown storage error";
    return text[err];
}

void storage_options_defaults(struct storage_options *o)
{
    memset(o, 0, sizeof *o);
    o->segment_bytes = 64u << 20;
    o->snapshot_entries = 100000;
    o->snapshot_bytes = 256u << 20;
    o->create = true;
    o->preallocate = false;
}

static int st_verror(struct storage *st, int code, bool sticky, const char *fmt, va_list ap)
{
    vsnprintf(st->err, sizeof st->err, fmt, ap);
    if (sticky)
        st->failed = true;
    return code;
}

int st_fail(struct storage *st, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_verror(st, code, true, fmt, ap);
    va_end(ap);
    return code;
}

int st_error(struct storage *st, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_verror(st, code, false, fmt, ap);
    va_end(ap);
    return code;
}

void st_log(const struct storage_options *opt, const char *fmt, ...)
{
    char line[STORAGE_ERR_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (opt && opt->log)
        opt->log(opt->log_arg, line);
    else
        fprintf(stderr, "storage: %s\n", line);
}

int st_check_writable(struct storage *st)
{
    if (!st->failed)
        return st_syncer_check(st);
    /* Keep the first error's text: it is the one the operator needs. */
    return STORAGE_EFAILED;
}

void st_path(const char *dir, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

void st_seg_name(uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%016llx.seg", (unsigned long long)seq);
}

void st_snap_name(raft_index index, raft_term term, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%016llx-%016llx.snap%s", (unsigned long long)index,
             (unsigned long long)term, suffix);
}

const char *storage_errmsg(const struct storage *st)
{
    return st->err;
}

void storage_snapshot_free(struct storage_snapshot *s)
{
    free(s->data);
    s->data = NULL;
    s->len = 0;
}

void storage_boot_free(struct storage_boot *b)
{
    storage_snapshot_free(&b->snap);
    free(b->entries);
    for (size_t i = 0; i < b->n_bufs_; i++)
        free(b->bufs_[i]);
    free(b->bufs_);
    memset(b, 0, sizeof *b);
}

int storage_open(struct storage **out, const char *dir, const struct storage_options *opt,
                 struct storage_boot *boot, char *err, size_t err_len)
{
    struct storage *st = calloc(1, sizeof *st);
    char *d = strdup(dir);
    if (!st || !d) {
        free(st);
        free(d);
        snprintf(err, err_len, "storage: out of memory");
        return STORAGE_ENOMEM;
    }
    st->dir = d;
    st->opt = *opt;
    st->sys = opt->sys ? opt->sys : &storage_sys_default;
    st->fd = st->snap_fd = st->recv_fd = -1;
    memset(boot, 0, sizeof *boot);
    struct recover_report rep = {0};
    int rc = st_recover_dir(st, dir, &st->opt, boot, &rep, err, err_len);
    if (rc) {
        storage_boot_free(boot);
        storage_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void storage_close(struct storage *st)
{
    if (!st)
        return;
    /* Unsynced buffered records are dropped: nothing was promised about them. */
    st_syncer_stop(st);
    if (st->fd >= 0)
        st->sys->close(st->fd);
    if (st->snap_fd >= 0)
        st->sys->close(st->snap_fd);
    if (st->recv_fd >= 0)
        storage_snapshot_recv_abort(st);
    free(st->segs);
    free(st->runs);
    free(st->buf);
    free(st->dir);
    free(st);
}
