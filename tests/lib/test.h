/* test.h: Vesper's tiny test runner.
 *
 * TEST(name) { ... } registers a test through a constructor; test_main() runs the
 * tests whose name contains argv[1] (all without an argument), each in the same
 * process, and prints the closing line CI reads: "N passed, N failed".
 * CHECK(cond) records a failure with file and line and returns from the test;
 * CHECK_EQ_U64(a, b) prints both values. A test that fails keeps the runner going.
 */
#ifndef VESPER_TESTS_LIB_TEST_H
#define VESPER_TESTS_LIB_TEST_H

#include <stdint.h>
#include <stdio.h>

typedef void (*test_fn)(void);

void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *what);
int test_failed_now(void);
int test_main(int argc, char **argv);

#define TEST(name)                                                 \
    static void test_##name(void);                                 \
    __attribute__((constructor)) static void test_reg_##name(void) \
    {                                                              \
        test_register(#name, test_##name);                         \
    }                                                              \
    static void test_##name(void)

#define CHECK(cond)                               \
    do {                                          \
        if (!(cond)) {                            \
            test_fail(__FILE__, __LINE__, #cond); \
            return;                               \
        }                                         \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                   \
    do {                                                                     \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                     \
        if (a_ != b_) {                                                      \
            char what_[256];                                                 \
            snprintf(what_, sizeof what_, "%s == %s (%llu != %llu)", #a, #b, \
                     (unsigned long long)a_, (unsigned long long)b_);        \
            test_fail(__FILE__, __LINE__, what_);                            \
            return;                                                          \
        }                                                                    \
    } while (0)

#endif
