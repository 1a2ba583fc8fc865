/* fuzz_util.c: the helpers of fuzz.h (tmp directory, file writes, input reader).
 *
 * The directory lives for the whole process and is emptied between inputs instead of
 * being recreated: libFuzzer runs hundreds of thousands of inputs per process, and a
 * mkdtemp/rmdir pair per input would dominate the cost of the small targets.
 */
#include "fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static char dir_path[256];

static void dir_remove_at_exit(void)
{
    fuzz_dir_clear();
    if (dir_path[0] != '\0')
        (void)rmdir(dir_path);
}

const char *fuzz_dir(void)
{
    if (dir_path[0] != '\0')
        return dir_path;
    const char *bases[] = {"/dev/shm", "/tmp"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(dir_path, sizeof dir_path, "%s/vesper-fuzz.XXXXXX", bases[i]);
        if (mkdtemp(dir_path) != NULL) {
            atexit(dir_remove_at_exit);
            return dir_path;
        }
    }
    fprintf(stderr, "fuzz: mkdtemp: %s\n", strerror(errno));
    abort();
}

void fuzz_dir_clear(void)
{
    if (dir_path[0] == '\0')
        return;
    DIR *d = opendir(dir_path);
    if (d == NULL)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir_path, de->d_name);
        (void)unlink(path);
    }
    closedir(d);
}

void fuzz_write_file(const char *name, const uint8_t *buf, size_t len, char *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz: open %s: %s\n", path, strerror(errno));
        abort();
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n <= 0) {
            fprintf(stderr, "fuzz: write %s: %s\n", path, strerror(errno));
            abort();
        }
        off += (size_t)n;
    }
    if (close(fd) != 0)
        abort();
    if (out != NULL)
        snprintf(out, cap, "%s", path);
}

const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t want, size_t *got)
{
    const uint8_t *p = in->p;
    *got = want < in->left ? want : in->left;
    in->p += *got;
    in->left -= *got;
    return p;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
    size_t got;
    const uint8_t *p = fuzz_bytes(in, 1, &got);
    return got ? p[0] : 0;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t v = fuzz_u8(in);
    return (uint16_t)(v | (uint16_t)fuzz_u8(in) << 8);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t v = fuzz_u16(in);
    return v | (uint32_t)fuzz_u16(in) << 16;
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
    uint64_t v = fuzz_u32(in);
    return v | (uint64_t)fuzz_u32(in) << 32;
}
