/* kv_test_main.c: entry point of build/test-kv (kv_*.c and api_*.c suites). */
#include "lib/test.h"

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
