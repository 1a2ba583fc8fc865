/* replay.c: runs a fuzz target over committed corpus files without libFuzzer.
 *
 *   build/fuzz-replay-<target> DIR_OR_FILE...
 *
 * Built with gcc and ASan/UBSan (the same sanitizer objects as the unit suites), so
 * `make test` replays every seed and every saved crash reproducer quickly and without
 * clang. Each file runs in a forked child: a crash, abort or sanitizer report fails
 * that file and the next one still runs. Prints one line per failure and the closing
 * "N passed, N failed" that tests/run.sh reads.
 */
#include "fuzz/fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int passed, failed;

static int read_whole(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *p = malloc(cap);
    size_t got;
    while (p != NULL && (got = fread(p + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *q = realloc(p, cap * 2);
            if (q == NULL) {
                free(p);
                p = NULL;
                break;
            }
            p = q;
            cap *= 2;
        }
    }
    int bad = ferror(f) || p == NULL;
    fclose(f);
    if (bad) {
        free(p);
        return -1;
    }
    *buf = p;
    *len = n;
    return 0;
}

/* The child runs the target on a copy of exactly len bytes (so ASan sees over-reads). */
static void run_file(const char *path)
{
    uint8_t *buf;
    size_t len;
    if (read_whole(path, &buf, &len) != 0) {
        printf("FAIL %s: cannot read\n", path);
        failed++;
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        uint8_t *exact = malloc(len ? len : 1);
        if (exact == NULL)
            _exit(3);
        memcpy(exact, buf, len);
        (void)LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        free(buf);
        exit(0); /* exit, not _exit: atexit handlers clean the tmp dir */
    }
    free(buf);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        printf("FAIL %s: fork/wait failed\n", path);
        failed++;
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        passed++;
        return;
    }
    printf("FAIL %s: %s %d\n", path, WIFSIGNALED(status) ? "signal" : "exit",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    failed++;
}

static void run_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return; /* a target without saved crashes has no crashes/ directory */
    if (!S_ISDIR(sb.st_mode)) {
        run_file(path);
        return;
    }
    struct dirent **names;
    int n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        printf("FAIL %s: cannot list\n", path);
        failed++;
        return;
    }
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.') {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, names[i]->d_name);
            run_path(sub);
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        run_path(argv[i]);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
