/* test_api_main.c: entry point of build/test-api (the test_api_*.c suites). */
#include "lib/test.h"

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
