/* test_lincheck_multi.c: range and txn lines of the history format (the txn shorthand;
 * tests/lib/lincheck_multi.c): histories a correct store produces pass, and stale ranges,
 * lost txn writes and writes of a failed txn are caught. Atomicity across keys:
 * test_lincheck_atomic.c. */
#include "lib/lincheck.h"
#include "lib/test.h"

#include <stdlib.h>

static int check_lines(const char *text)
{
    struct lincheck_history h;
    lincheck_history_init(&h);
    char line[512];
    int line_no = 0, rc = 0;
    while (*text && rc == 0) {
        size_t n = strcspn(text, "\n");
        memcpy(line, text, n);
        line[n] = '\0';
        text += n + (text[n] == '\n');
        char err[256];
        if (lincheck_history_parse_line(&h, line, ++line_no, err, sizeof err) < 0)
            rc = -1;
    }
    if (rc == 0)
        rc = (int)lincheck_check(&h, NULL, NULL);
    lincheck_history_free(&h);
    return rc;
}

TEST(lincheck_range_sees_every_key)
{
    CHECK(check_lines("1 put p1 a - 0 10 ok -\n"
                      "2 put p2 b - 0 10 ok -\n"
                      "3 range p - - 20 30 ok p1=a,p2=b,p3=-\n") == LINCHECK_LINEARIZABLE);
    /* Concurrent with the put of p2: either value. */
    CHECK(check_lines("1 put p1 a - 0 10 ok -\n"
                      "2 put p2 b - 15 40 ok -\n"
                      "3 range p - - 20 30 ok p1=a,p2=-\n") == LINCHECK_LINEARIZABLE);
    /* After the put of p2 completed, a range that misses it is stale. */
    CHECK(check_lines("1 put p1 a - 0 10 ok -\n"
                      "2 put p2 b - 0 10 ok -\n"
                      "3 range p - - 20 30 ok p1=a,p2=-\n") == LINCHECK_VIOLATION);
    /* A range that timed out says nothing. */
    CHECK(check_lines("1 put p1 a - 0 10 ok -\n"
                      "3 range p - - 20 - info -\n") == LINCHECK_LINEARIZABLE);
    /* Escaped separators inside keys and values. */
    CHECK(check_lines("1 put p%2C1 a%3Db - 0 10 ok -\n"
                      "3 range p - - 20 30 ok p%2C1=a%3Db\n") == LINCHECK_LINEARIZABLE);
}

TEST(lincheck_txn_is_a_cas_and_puts)
{
    /* Compare k == x, put k = y and j = z: both visible after it. */
    CHECK(check_lines("1 put k x - 0 10 ok -\n"
                      "2 txn k,j y,z x 20 30 ok ok\n"
                      "3 get j - - 40 50 ok z\n"
                      "3 get k - - 40 50 ok y\n") == LINCHECK_LINEARIZABLE);
    /* A txn that reported success but whose put of j was lost. */
    CHECK(check_lines("1 put k x - 0 10 ok -\n"
                      "2 txn k,j y,z x 20 30 ok ok\n"
                      "3 get j - - 40 50 ok -\n") == LINCHECK_VIOLATION);
    /* A txn whose compare failed put nothing: j = z is a value never written. */
    CHECK(check_lines("1 put k w - 0 10 ok -\n"
                      "2 txn k,j y,z x 20 30 ok failed\n"
                      "3 get j - - 40 50 ok z\n") == LINCHECK_VIOLATION);
    /* ... and it must really have failed: k was x. */
    CHECK(check_lines("1 put k x - 0 10 ok -\n"
                      "2 txn k,j y,z x 20 30 ok failed\n") == LINCHECK_VIOLATION);
    /* Expected absent, outcome unknown: j = z may show up. */
    CHECK(check_lines("2 txn k,j y,z - 20 - info -\n"
                      "3 get j - - 40 50 ok z\n") == LINCHECK_LINEARIZABLE);
}

TEST(lincheck_multi_format_errors)
{
    CHECK(check_lines("2 txn k,j y x 20 30 ok ok\n") == -1);      /* values != keys */
    CHECK(check_lines("2 txn k,j y,z x 20 30 ok maybe\n") == -1); /* result */
    CHECK(check_lines("3 range p - - 20 30 ok q1=a\n") == -1);    /* not under the prefix */
    CHECK(check_lines("3 range p - - 20 30 ok p1\n") == -1);      /* no '=' */
    CHECK(check_lines("3 range p v - 20 30 ok p1=a\n") == -1);    /* a value */
}
