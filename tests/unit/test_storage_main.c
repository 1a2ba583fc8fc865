/* test_storage_main.c: the runner's main for build/test-storage; the tests
 * register themselves from the test_storage_*.c files. */
#include "lib/test.h"

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
