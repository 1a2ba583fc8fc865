/* test.c: registry and main loop of the tiny runner declared in test.h.
 * Tests run in registration order; a filter argument selects by substring. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define TEST_MAX 1024

static struct {
    const char *name;
    test_fn fn;
} tests[TEST_MAX];
static int n_tests;
static int current_failed;

void test_register(const char *name, test_fn fn)
{
    if (n_tests == TEST_MAX) {
        fprintf(stderr, "test: too many tests\n");
        exit(2);
    }
    tests[n_tests].name = name;
    tests[n_tests].fn = fn;
    n_tests++;
}

void test_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what);
    current_failed = 1;
}

int test_failed_now(void)
{
    return current_failed;
}

int test_main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0;
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        current_failed = 0;
        tests[i].fn();
        printf("%s %s\n", current_failed ? "FAIL" : "ok  ", tests[i].name);
        fflush(stdout);
        if (current_failed)
            failed++;
        else
            passed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    fflush(stdout);
    return failed ? 1 : 0;
}
