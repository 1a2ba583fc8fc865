/* recover.c: reading a data directory back at start-up (and for storage_check).
 *
 * Order: FORMAT (version), the newest snapshot that checks, then every segment in
 * sequence order, replaying records:
 *
 *   entry i    the log ends at i (a lower i than the last one is how a suffix
 *              truncation was written) and i must not leave a hole: i <= max(last
 *              entry, snapshot index) + 1, or the directory lost data
 *   hardstate  the latest one wins
 *   mark       a snapshot install that voided the log before it
 *
 * The only damage accepted is a torn tail: a bad or incomplete record in the LAST
 * segment at or past the length its sync slots say was durable (wal.c syncs a
 * segment before it starts the next, so older segments are complete; zeros after
 * the last record are preallocated space, a clean end). It is truncated and
 * logged. The decision reads the fixed slots and the record boundaries found by
 * walking from the start, never bytes inside a record's payload, which a client
 * controls. Anything else refuses to start, naming the file and offset: a record
 * that was acknowledged must never be dropped silently.
 *
 * Format version 1 directories (no slots) are read too; a bad record in their
 * last segment is a torn tail. Opening one rewrites FORMAT and continues in a new
 * version 2 segment (replay.c, st_rv_open_tail).
 *
 * With st == NULL nothing is modified (storage_check); the same code decides, so
 * the verifier and start-up can never disagree.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "storage/internal.h"
#include "storage/recover_int.h"

int st_rv_err(struct rv *rv, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rv->err, rv->err_len, fmt, ap);
    va_end(ap);
    return code;
}

static int rv_push(void **arr, size_t *n, size_t *cap, size_t elem, const void *v)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 16;
        void *a = realloc(*arr, c * elem);
        if (!a)
            return -1;
        *arr = a;
        *cap = c;
    }
    memcpy((char *)*arr + *n * elem, v, elem);
    (*n)++;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_snap_desc(const void *a, const void *b)
{
    const struct rv_snap *x = a, *y = b;
    if (x->index != y->index)
        return x->index > y->index ? -1 : 1;
    return x->term > y->term ? -1 : x->term < y->term;
}

static int rv_list(struct rv *rv)
{
    DIR *d = storage_opendir(rv->sys, rv->dir);
    if (!d)
        return st_rv_err(rv, STORAGE_EIO, "storage: opendir %s: %s", rv->dir, strerror(errno));
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = storage_readdir(rv->sys, d)) != NULL) {
        const char *n = de->d_name;
        size_t len = strlen(n);
        unsigned long long a, b;
        int end = 0;
        if (strcmp(n, STORAGE_FORMAT_FILE) == 0) {
            rv->have_format = true;
        } else if (len == 20 && sscanf(n, "%16llx.seg%n", &a, &end) == 1 && end == 20) {
            uint64_t seq = a;
            if (rv_push((void **)&rv->seqs, &rv->n_seqs, &rv->cap_seqs, sizeof seq, &seq))
                rc = st_rv_err(rv, STORAGE_ENOMEM, "storage: out of memory");
        } else if (len == 38 && sscanf(n, "%16llx-%16llx.snap%n", &a, &b, &end) == 2 && end == 38) {
            struct rv_snap s = {.index = a, .term = b};
            if (rv_push((void **)&rv->snaps, &rv->n_snaps, &rv->cap_snaps, sizeof s, &s))
                rc = st_rv_err(rv, STORAGE_ENOMEM, "storage: out of memory");
        } else if (len > 4 && strcmp(n + len - 4, ".tmp") == 0) {
            rv->n_tmps++;
            if (rv->st) { /* an unfinished snapshot or FORMAT write: never visible */
                char path[STORAGE_PATH_MAX];
                st_path(rv->dir, n, path, sizeof path);
                if (rv->sys->unlink(path) < 0)
                    rc = st_rv_err(rv, STORAGE_EIO, "storage: unlink %s: %s", n, strerror(errno));
                else
                    st_log(rv->opt, "removed stale temporary file %s", n);
            }
        }
    }
    storage_closedir(rv->sys, d);
    if (rc == 0 && rv->st && rv->n_tmps && storage_fsync_dir(rv->sys, rv->dir) < 0)
        rc =
            st_rv_err(rv, STORAGE_EIO, "storage: fsync directory %s: %s", rv->dir, strerror(errno));
    if (rv->n_seqs)
        qsort(rv->seqs, rv->n_seqs, sizeof *rv->seqs, cmp_u64);
    if (rv->n_snaps)
        qsort(rv->snaps, rv->n_snaps, sizeof *rv->snaps, cmp_snap_desc);
    return rc;
}

/* FORMAT is written (tmp, fsync, rename, dir fsync) before the first segment. */
static int rv_format(struct rv *rv)
{
    char path[STORAGE_PATH_MAX];
    st_path(rv->dir, STORAGE_FORMAT_FILE, path, sizeof path);
    if (!rv->have_format) {
        if (rv->n_seqs || rv->n_snaps)
            return st_rv_err(rv, STORAGE_ECORRUPT, "storage: %s: missing (data files present)",
                             path);
        rv->fresh = true;
        return 0;
    }
    uint8_t *b;
    size_t len;
    if (storage_read_file(rv->sys, path, &b, &len) < 0)
        return st_rv_err(rv, STORAGE_EIO, "storage: read %s: %s", path, strerror(errno));
    unsigned v = 0;
    char text[64];
    size_t n = len < sizeof text - 1 ? len : sizeof text - 1;
    memcpy(text, b, n);
    text[n] = '\0';
    free(b);
    if (sscanf(text, STORAGE_FORMAT_TEXT, &v) != 1)
        return st_rv_err(rv, STORAGE_ECORRUPT, "storage: %s: unreadable", path);
    if (v < STORAGE_FORMAT_OLDEST || v > STORAGE_FORMAT_VERSION)
        return st_rv_err(rv, STORAGE_EVERSION,
                         "storage: %s: format version %u, this build reads versions %u to %u", path,
                         v, STORAGE_FORMAT_OLDEST, STORAGE_FORMAT_VERSION);
    rv->version = v;
    if (rv->n_seqs == 0 && rv->n_snaps == 0)
        rv->fresh = true; /* crashed between FORMAT and the first segment */
    else if (rv->n_seqs == 0)
        return st_rv_err(rv, STORAGE_ECORRUPT,
                         "storage: %s: snapshots but no WAL segment (hard state lost)", rv->dir);
    return 0;
}

static int rv_write_format(struct rv *rv)
{
    char path[STORAGE_PATH_MAX], tmp[STORAGE_PATH_MAX], text[64];
    st_path(rv->dir, STORAGE_FORMAT_FILE, path, sizeof path);
    st_path(rv->dir, STORAGE_FORMAT_FILE ".tmp", tmp, sizeof tmp);
    int len = snprintf(text, sizeof text, STORAGE_FORMAT_TEXT, STORAGE_FORMAT_VERSION);
    int fd = rv->sys->open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return st_rv_err(rv, STORAGE_EIO, "storage: create %s: %s", tmp, strerror(errno));
    int rc = storage_pwrite_all(rv->sys, fd, text, (size_t)len, 0);
    if (rc == 0)
        rc = rv->sys->fsync(fd);
    int e = errno;
    rv->sys->close(fd);
    if (rc < 0)
        return st_rv_err(rv, STORAGE_EIO, "storage: write %s: %s", tmp, strerror(e));
    if (rv->sys->rename(tmp, path) < 0 || storage_fsync_dir(rv->sys, rv->dir) < 0)
        return st_rv_err(rv, STORAGE_EIO, "storage: install %s: %s", path, strerror(errno));
    return 0;
}

/* The newest snapshot that checks. A damaged newer one is reported and skipped:
 * that is safe because replay refuses if the older one leaves a hole in the log. */
static int rv_snapshot(struct rv *rv)
{
    for (size_t i = 0; i < rv->n_snaps; i++) {
        char name[64], path[STORAGE_PATH_MAX];
        st_snap_name(rv->snaps[i].index, rv->snaps[i].term, "", name, sizeof name);
        st_path(rv->dir, name, path, sizeof path);
        struct storage_snapshot s;
        const char *why;
        int rc = st_snap_get_file(rv->sys, rv->opt && rv->opt->snapshot_lazy, path, NULL, &s, &why);
        if (rc == 0 && (s.index != rv->snaps[i].index || s.term != rv->snaps[i].term)) {
            storage_snapshot_free(&s);
            why = "index or term differ from the file name";
            rc = STORAGE_ECORRUPT;
        }
        if (rc == STORAGE_EIO)
            return st_rv_err(rv, rc, "snapshot: read %s: %s", path, why);
        if (rc) {
            st_rv_note(rv, "snapshot %s: %s; trying an older one", name, why);
            rv->bad_snaps++;
            continue;
        }
        st_rv_note(rv, "snapshot %s: index %llu term %llu, %llu bytes, %u members", name,
                   (unsigned long long)s.index, (unsigned long long)s.term,
                   (unsigned long long)s.size, s.conf.n);
        rv->boot->snap = s;
        return 0;
    }
    return 0;
}

static int rv_finish_open(struct rv *rv);

/* Creates path unless it exists, and makes its name durable in its parent. */
static int rv_mkdir_one(struct rv *rv, const char *path)
{
    if (rv->sys->mkdir(path, 0755) < 0)
        return errno == EEXIST
                   ? 0
                   : st_rv_err(rv, STORAGE_EIO, "storage: mkdir %s: %s", path, strerror(errno));
    char parent[STORAGE_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    if (storage_fsync_dir(rv->sys, parent) < 0)
        return st_rv_err(rv, STORAGE_EIO, "storage: fsync directory %s: %s", parent,
                         strerror(errno));
    st_log(rv->opt, "created directory %s", path);
    return 0;
}

/* Creates dir and every missing directory above it (mkdir -p), each name made
 * durable in its parent before anything is written below it. */
static int rv_mkdir(struct rv *rv)
{
    char path[STORAGE_PATH_MAX];
    snprintf(path, sizeof path, "%s", rv->dir);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    for (char *p = path + 1; len > 0; p++) {
        bool end = *p == '\0';
        if (!end && (*p != '/' || p[-1] == '/'))
            continue;
        char saved = *p;
        *p = '\0';
        int rc = rv_mkdir_one(rv, path);
        *p = saved;
        if (rc != 0 || end)
            return rc;
    }
    return 0;
}

int st_recover_dir(struct storage *st, const char *dir, const struct storage_options *opt,
                   struct storage_boot *boot, struct recover_report *rep, char *err, size_t err_len)
{
    struct rv rv = {.st = st,
                    .sys = st         ? st->sys
                           : opt->sys ? opt->sys
                                      : &storage_sys_default,
                    .dir = dir,
                    .opt = opt,
                    .boot = boot,
                    .out = rep->out,
                    .err = err,
                    .err_len = err_len};
    int rc = 0;
    if (st && opt->create)
        rc = rv_mkdir(&rv);
    if (rc == 0)
        rc = rv_list(&rv);
    if (rc == 0)
        rc = rv_format(&rv);
    if (rc == 0 && rv.fresh && st && !rv.have_format)
        rc = rv_write_format(&rv);
    if (rc == 0)
        rc = rv_snapshot(&rv);
    if (rc == 0)
        rc = st_rv_segments(&rv);
    if (rc == 0)
        st_rv_settle(&rv);
    if (rc == 0 && st)
        rc = rv_finish_open(&rv);
    rep->torn = rv.torn;
    rep->bad_snaps = rv.bad_snaps;
    rep->fresh = rv.fresh;
    free(rv.seqs);
    free(rv.snaps);
    free(rv.segs);
    return rc;
}

/* Repairs what recovery decided (torn tail, conflict mark) and opens the tail. */
static int rv_finish_open(struct rv *rv)
{
    struct storage *st = rv->st;
    struct storage_boot *b = rv->boot;
    st->hs = st->hs_written = b->hs;
    st->snap = b->snap;
    st->snap.data = NULL;
    st->snap.len = b->snap.len;
    st->last_index = rv->last_index;
    st->bytes_base_index = rv->last_index; /* the byte count starts afresh */
    st->last_term = rv->last_term_all;
    st->written_index = st->synced_index = rv->last_index;
    int rc = st_terms_reset(st, b->snap.index, b->snap.term);
    for (size_t i = 0; rc == 0 && i < b->n_entries; i++)
        rc = st_terms_append(st, b->entries[i].index, b->entries[i].term);
    if (rc)
        return st_rv_err(rv, STORAGE_ENOMEM, "storage: term index: out of memory");
    rc = st_snap_open_current(st);
    if (rc)
        return st_rv_err(rv, rc, "%s", st->err);
    if (rv->version && rv->version < STORAGE_FORMAT_VERSION) {
        /* An older build's directory: from now on it holds current-format segments
         * (st_rv_open_tail), which that build would misread. */
        rc = rv_write_format(rv);
        if (rc)
            return rc;
        st_log(rv->opt, "upgraded %s from format version %u to %u", rv->dir, rv->version,
               STORAGE_FORMAT_VERSION);
    }
    rc = st_rv_open_tail(rv);
    if (rc == 0 && rv->torn) {
        /* The cut may have taken this segment's copy of the hard state: write it
         * again so compaction of older segments can never lose it. */
        rc = storage_save_hard_state(st, &b->hs);
        if (rc == 0)
            rc = storage_sync(st);
        if (rc)
            rc = st_rv_err(rv, rc, "%s", st->err);
    }
    if (rc == 0 && rv->need_mark) {
        st_log(rv->opt,
               "log entries after snapshot %llu conflict with it (an install was "
               "interrupted); dropped",
               (unsigned long long)b->snap.index);
        rc = st_wal_mark(st, b->snap.index, b->snap.term, REC_FLAG_DROP_ALL);
        if (rc)
            rc = st_rv_err(rv, rc, "%s", st->err);
    }
    return rc;
}
