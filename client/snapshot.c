/* snapshot.c: the backup subcommands of the `vesper` CLI.
 *
 *   vesper snapshot save FILE     stream a backup from the leader into FILE
 *   vesper snapshot status FILE   check FILE and print what it holds
 *
 * save asks GET /admin/snapshot of the first endpoint, follows a not_leader
 * redirect, and moves on to the next endpoint on no_leader, a connection error or
 * a stream cut short (the leader died mid-transfer), until the deadline. The body
 * goes to FILE.tmp; only a complete file whose length and checksum verify is
 * fsync'ed and renamed to FILE (then the directory is fsync'ed), so a failed save
 * never leaves a FILE that looks valid, and never touches an existing FILE.
 * The file format is src/util/backup_file.h.
 */
#include "snapshot.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/backup_file.h"

struct sink {
    FILE *f;
    uint64_t bytes;
};

static size_t to_file(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb;
    if (fwrite(data, 1, n, s->f) != n)
        return 0; /* curl reports a write error */
    s->bytes += n;
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One GET of base/admin/snapshot into tmp; returns the HTTP status (0: no answer)
 * and sets *cut when the transfer broke off. */
static long fetch(const struct ops_args *a, const char *base, const char *tmp, bool *cut,
                  uint64_t *bytes, bool *is_backup)
{
    char url[600], auth[512];
    size_t blen = strlen(base);
    while (blen && base[blen - 1] == '/')
        blen--;
    snprintf(url, sizeof url, "%.*s/admin/snapshot", (int)blen, base);
    struct sink s = {.f = fopen(tmp, "wb")};
    if (!s.f) {
        fprintf(stderr, "vesper: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *hdr = NULL;
    if (a->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->token);
        hdr = curl_slist_append(hdr, auth);
    }
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        /* No total timeout (a large state takes long); a stalled stream is cut. */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 10L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_file);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        if (a->cacert)
            curl_easy_setopt(c, CURLOPT_CAINFO, a->cacert);
        if (a->cert)
            curl_easy_setopt(c, CURLOPT_SSLCERT, a->cert);
        if (a->key)
            curl_easy_setopt(c, CURLOPT_SSLKEY, a->key);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        /* A redirect or an error is JSON (even with status 200: the v1 redirect). */
        char *type = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
        *is_backup = type && strncmp(type, "application/octet-stream", 24) == 0;
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(hdr);
    if (fclose(s.f) != 0 && rc == CURLE_OK)
        rc = CURLE_WRITE_ERROR;
    *cut = rc != CURLE_OK;
    *bytes = s.bytes;
    if (rc != CURLE_OK)
        fprintf(stderr, "vesper: %s: %s%s\n", url, curl_easy_strerror(rc),
                status == 200 ? " (transfer cut short)" : "");
    return status;
}

/* A JSON answer (redirect or error) left in tmp: its redirect URL into redirect,
 * or 1 for an error that retrying will not fix (printed), 0 to move on. */
static int judge_json(const char *tmp, char *redirect, size_t cap)
{
    json_object *o = json_object_from_file(tmp);
    json_object *v, *p;
    const char *err =
        o && json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : NULL;
    int fatal = 0;
    if (err && strcmp(err, "not_leader") == 0 && json_object_object_get_ex(o, "payload", &p) &&
        json_object_object_get_ex(p, "message", &v))
        snprintf(redirect, cap, "%s", json_object_get_string(v));
    else if (err && strcmp(err, "unauthorized") == 0) {
        printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        fatal = 1;
    }
    json_object_put(o);
    return fatal;
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    int rc = fd < 0 || fsync(fd) != 0 ? -1 : 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

static void print_info(const char *file, const struct backup_header *h, uint32_t crc)
{
    printf("file     %s\n", file);
    printf("index    %llu\n", (unsigned long long)h->index);
    printf("term     %llu\n", (unsigned long long)h->term);
    printf("keys     %llu\n", (unsigned long long)h->keys);
    printf("bytes    %llu\n", (unsigned long long)h->state_bytes);
    printf("members ");
    for (uint32_t k = 0; k < h->n_members; k++)
        printf(" %u=%s%s", h->m[k].id, h->m[k].addr, h->m[k].voter ? "" : "(learner)");
    printf("\nchecksum %08x ok\n", crc);
}

/* The verified tmp file becomes FILE durably: fsync, rename, directory fsync. */
static int keep(const char *tmp, const char *file)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", file);
    if (fsync_path(tmp, O_RDONLY) != 0 || rename(tmp, file) != 0 ||
        fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY) != 0) {
        fprintf(stderr, "vesper: %s: %s\n", file, strerror(errno));
        return -1;
    }
    return 0;
}

static int save(const struct ops_args *a, const char *file)
{
    char tmp[4096], redirect[512] = "", err[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    int64_t deadline = now_ms() + a->timeout_ms;
    size_t next = 0;
    while (now_ms() < deadline) {
        const char *target = redirect[0] ? redirect : a->endpoints[next++ % a->n_endpoints];
        char from[512];
        snprintf(from, sizeof from, "%s", target);
        redirect[0] = '\0';
        bool cut, is_backup = false;
        uint64_t bytes;
        long status = fetch(a, from, tmp, &cut, &bytes, &is_backup);
        if (status < 0)
            return 2;
        struct backup_header h;
        uint32_t crc;
        if (status == 200 && is_backup && !cut) {
            if (backup_file_verify(tmp, &h, &crc, err, sizeof err) == 0) {
                if (keep(tmp, file) != 0)
                    break;
                fprintf(stderr, "vesper: saved a backup from %s (%llu bytes)\n", from,
                        (unsigned long long)bytes);
                print_info(file, &h, crc);
                return 0;
            }
            fprintf(stderr, "vesper: backup from %s refused: %s\n", from, err);
        } else if (status != 0 && !is_backup && judge_json(tmp, redirect, sizeof redirect)) {
            unlink(tmp);
            return 1;
        }
        if (!redirect[0]) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    unlink(tmp);
    fprintf(stderr, "vesper: no complete backup before the deadline; %s not written\n", file);
    return 2;
}

static int status(const char *file)
{
    struct backup_header h;
    uint32_t crc;
    char err[600];
    if (backup_file_verify(file, &h, &crc, err, sizeof err) != 0) {
        fprintf(stderr, "vesper: %s\n", err);
        return 2;
    }
    print_info(file, &h, crc);
    return 0;
}

int snapshot_run(const struct ops_args *a, int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "save") == 0)
        return save(a, argv[2]);
    if (argc == 3 && strcmp(argv[1], "status") == 0)
        return status(argv[2]);
    return -1;
}
