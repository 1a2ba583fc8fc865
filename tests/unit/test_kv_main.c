/* test_kv_main.c: entry point of build/test-kv (the test_kv_*.c suites). */
#include "lib/test.h"

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
