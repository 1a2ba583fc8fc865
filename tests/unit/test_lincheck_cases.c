/* test_lincheck_cases.c: hand-written histories for the linearizability checker, each small enough
 * to verify by reasoning: linearizable ones (overlapping writes, indeterminate writes that
 * show up later or never), known anomalies (stale read, lost acknowledged write, read of a
 * value never written, cas anomalies), the budget path, and the text format.
 * Randomized histories live in test_lincheck_random.c.
 */
#include "lib/lincheck.h"
#include "lib/test.h"

#include <stdlib.h>

/* Parses a multi-line history text into h; returns 0 or -1 (the error goes to stderr). */
static int load_text(struct lincheck_history *h, const char *text)
{
    char line[1024];
    int line_no = 0;
    while (*text) {
        size_t n = strcspn(text, "\n");
        if (n >= sizeof line)
            return -1;
        memcpy(line, text, n);
        line[n] = '\0';
        text += n + (text[n] == '\n');
        char err[256];
        if (lincheck_history_parse_line(h, line, ++line_no, err, sizeof err) < 0) {
            fprintf(stderr, "  load_text: %s\n", err);
            return -1;
        }
    }
    return 0;
}

/* Checks text with the given step budget; the explanation is kept in explain (may be NULL). */
static int check_text_budget(const char *text, uint64_t max_steps, char **explain)
{
    struct lincheck_history h;
    lincheck_history_init(&h);
    if (load_text(&h, text)) {
        lincheck_history_free(&h);
        return -1;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct lincheck_opts o = {.max_steps_per_key = max_steps, .explain = f};
    enum lincheck_result r = lincheck_check(&h, &o, NULL);
    if (f)
        fclose(f);
    lincheck_history_free(&h);
    if (explain)
        *explain = buf;
    else
        free(buf);
    return (int)r;
}

static int check_text(const char *text)
{
    return check_text_budget(text, 0, NULL);
}

TEST(lincheck_empty_and_sequential)
{
    CHECK(check_text("") == LINCHECK_LINEARIZABLE);
    CHECK(check_text("# only a comment\n\n") == LINCHECK_LINEARIZABLE);
    CHECK(check_text("1 get k - - 0 5 ok -\n"
                     "1 put k a - 10 20 ok -\n"
                     "1 get k - - 30 40 ok a\n"
                     "1 delete k - - 50 60 ok -\n"
                     "1 get k - - 70 80 ok -\n") == LINCHECK_LINEARIZABLE);
}

TEST(lincheck_concurrent_writes_reads_see_either)
{
    const char *base =
        "1 put k a - 0 100 ok -\n"
        "2 put k b - 10 90 ok -\n";
    char text[512];
    /* After both complete every reader agrees on one of them. */
    snprintf(text, sizeof text, "%s3 get k - - 200 210 ok a\n4 get k - - 220 230 ok a\n", base);
    CHECK(check_text(text) == LINCHECK_LINEARIZABLE);
    snprintf(text, sizeof text, "%s3 get k - - 200 210 ok b\n", base);
    CHECK(check_text(text) == LINCHECK_LINEARIZABLE);
    /* During them, reads may see absent, a, b, and flip a -> b. */
    snprintf(text, sizeof text,
             "%s3 get k - - 5 8 ok -\n3 get k - - 20 30 ok a\n3 get k - - 40 50 ok b\n", base);
    CHECK(check_text(text) == LINCHECK_LINEARIZABLE);
    /* But two later reads cannot disagree. */
    snprintf(text, sizeof text, "%s3 get k - - 200 210 ok a\n4 get k - - 220 230 ok b\n", base);
    CHECK(check_text(text) == LINCHECK_VIOLATION);
}

TEST(lincheck_indeterminate_write_later_or_never)
{
    const char *base =
        "1 put k a - 0 10 ok -\n"
        "2 put k b - 20 - info -\n";
    char text[512];
    snprintf(text, sizeof text, "%s3 get k - - 1000 1010 ok a\n", base);
    CHECK(check_text(text) == LINCHECK_LINEARIZABLE); /* never took effect */
    snprintf(text, sizeof text, "%s3 get k - - 5000 5010 ok b\n", base);
    CHECK(check_text(text) == LINCHECK_LINEARIZABLE); /* took effect much later */
    snprintf(text, sizeof text, "%s3 get k - - 1000 1010 ok a\n3 get k - - 2000 2010 ok b\n", base);
    CHECK(check_text(text) == LINCHECK_LINEARIZABLE); /* after the first read */
    /* Once seen it cannot be undone without another write. */
    snprintf(text, sizeof text, "%s3 get k - - 1000 1010 ok b\n3 get k - - 2000 2010 ok a\n", base);
    CHECK(check_text(text) == LINCHECK_VIOLATION);
    /* Nor can it take effect before it was invoked. */
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "3 get k - - 12 14 ok b\n"
                     "2 put k b - 20 - info -\n") == LINCHECK_VIOLATION);
}

TEST(lincheck_fail_ops_are_ignored)
{
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 put k b - 20 30 fail -\n"
                     "3 get k - - 40 50 ok a\n") == LINCHECK_LINEARIZABLE);
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 put k b - 20 30 fail -\n"
                     "3 get k - - 40 50 ok b\n") == LINCHECK_VIOLATION);
}

TEST(lincheck_stale_read_explained)
{
    char *ex = NULL;
    int r = check_text_budget(
        "1 put color red - 0 10 ok -\n"
        "1 put color blue - 20 30 ok -\n"
        "2 get color - - 40 50 ok red\n",
        0, &ex);
    int ok = r == LINCHECK_VIOLATION && ex && strstr(ex, "key color: NOT linearizable") &&
             strstr(ex, "line 3: proc 2 get color read red [40, 50] ok") &&
             strstr(ex, "register there holds: blue") && strstr(ex, "line 2: proc 1 put color");
    if (!ok)
        fprintf(stderr, "%s", ex ? ex : "(no explanation)\n");
    free(ex);
    CHECK(ok);
}

TEST(lincheck_lost_acknowledged_write)
{
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 get k - - 20 30 ok -\n") == LINCHECK_VIOLATION);
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "1 put k b - 12 20 ok -\n"
                     "2 get k - - 30 40 ok a\n"
                     "2 get k - - 50 60 ok b\n") == LINCHECK_VIOLATION);
}

TEST(lincheck_read_of_value_never_written)
{
    char *ex = NULL;
    int r = check_text_budget(
        "1 put k a - 0 10 ok -\n"
        "2 get k - - 5 30 ok zzz\n",
        0, &ex);
    int ok = r == LINCHECK_VIOLATION && ex && strstr(ex, "never written");
    free(ex);
    CHECK(ok);
}

TEST(lincheck_cas)
{
    /* Create-if-absent, then swap, then a failed swap: fine. */
    CHECK(check_text("1 cas k a - 0 10 ok ok\n"
                     "1 cas k b a 20 30 ok ok\n"
                     "2 cas k c a 40 50 ok failed\n"
                     "2 get k - - 60 70 ok b\n") == LINCHECK_LINEARIZABLE);
    /* Swapped although the expected value was not there. */
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 cas k c b 20 30 ok ok\n") == LINCHECK_VIOLATION);
    /* Failed although nothing else could have changed the value. */
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 cas k c a 20 30 ok failed\n") == LINCHECK_VIOLATION);
    /* ... but a concurrent indeterminate write explains the failure. */
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "3 put k x - 15 - info -\n"
                     "2 cas k c a 20 30 ok failed\n") == LINCHECK_LINEARIZABLE);
    /* Two concurrent swaps from the same value cannot both succeed. */
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 cas k b a 20 40 ok ok\n"
                     "3 cas k c a 20 40 ok ok\n") == LINCHECK_VIOLATION);
    /* An indeterminate cas may or may not have swapped. */
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "2 cas k b a 20 - info -\n"
                     "3 get k - - 50 60 ok b\n") == LINCHECK_LINEARIZABLE);
    CHECK(check_text("1 put k z - 0 10 ok -\n"
                     "2 cas k b a 20 - info -\n"
                     "3 get k - - 50 60 ok b\n") == LINCHECK_VIOLATION);
}

TEST(lincheck_delete)
{
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "1 delete k - - 20 30 ok -\n"
                     "2 get k - - 25 26 ok a\n"
                     "2 get k - - 40 50 ok -\n") == LINCHECK_LINEARIZABLE);
    CHECK(check_text("1 put k a - 0 10 ok -\n"
                     "1 delete k - - 20 30 ok -\n"
                     "2 get k - - 40 50 ok a\n") == LINCHECK_VIOLATION);
}

TEST(lincheck_equal_timestamps_overlap)
{
    CHECK(check_text("1 put k b - 0 10 ok -\n"
                     "2 get k - - 10 20 ok -\n") == LINCHECK_LINEARIZABLE);
    CHECK(check_text("1 put k b - 0 10 ok -\n"
                     "2 get k - - 11 20 ok -\n") == LINCHECK_VIOLATION);
}

TEST(lincheck_keys_are_independent)
{
    struct lincheck_history h;
    lincheck_history_init(&h);
    CHECK(load_text(&h,
                    "1 put x a - 0 10 ok -\n"
                    "1 put y a - 0 10 ok -\n"
                    "2 get x - - 20 30 ok a\n"
                    "2 get y - - 20 30 ok -\n"
                    "3 get z - - 20 30 ok -\n") == 0);
    struct lincheck_report rep;
    enum lincheck_result r = lincheck_check(&h, NULL, &rep);
    lincheck_history_free(&h);
    CHECK(r == LINCHECK_VIOLATION);
    CHECK_EQ_U64(rep.n_keys, 3);
    CHECK_EQ_U64(rep.n_violations, 1);
}

/* n overlapping writes of distinct values and a read of a value none wrote: every subset of
 * the writes is a distinct cache state, so the search is exponential in n. */
static char *hard_history(int n)
{
    size_t cap = (size_t)n * 64 + 64, len = 0;
    char *text = malloc(cap);
    if (!text)
        return NULL;
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d put k v%d - 0 1000 ok -\n", i, i);
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d get k - - 0 1000 ok v%d\n", n + i, i);
    snprintf(text + len, cap - len, "99 get k - - 10 20 ok nope\n");
    return text;
}

TEST(lincheck_budget_exceeded_is_unknown)
{
    char *text = hard_history(20);
    CHECK(text);
    int r = check_text_budget(text, 200000, NULL);
    free(text);
    CHECK(r == LINCHECK_UNKNOWN);
    /* The memory budget ends the search too. */
    struct lincheck_history h;
    lincheck_history_init(&h);
    text = hard_history(20);
    CHECK(text);
    int loaded = load_text(&h, text);
    free(text);
    struct lincheck_opts o = {.max_cache_bytes = 64 * 1024};
    struct lincheck_report rep;
    enum lincheck_result res = loaded ? LINCHECK_LINEARIZABLE : lincheck_check(&h, &o, &rep);
    lincheck_history_free(&h);
    CHECK(res == LINCHECK_UNKNOWN);
    CHECK_EQ_U64(rep.n_unknown, 1);
}

TEST(lincheck_format_parse_and_round_trip)
{
    struct lincheck_history h;
    lincheck_history_init(&h);
    CHECK(load_text(&h,
                    "7 cas my%20key \"\" %2D 5 9 ok ok\r\n"
                    "\t8  get  my%20key - -  1 2  ok  %25%0a \n") == 0);
    CHECK_EQ_U64(h.n_ops, 2);
    CHECK(h.ops[0].key.len == 6 && memcmp(h.ops[0].key.data, "my key", 6) == 0);
    CHECK(h.ops[0].value.data && h.ops[0].value.len == 0);
    CHECK(h.ops[0].expected.len == 1 && h.ops[0].expected.data[0] == '-' && h.ops[0].cas_swapped);
    CHECK(h.ops[1].result.len == 2 && memcmp(h.ops[1].result.data, "%\n", 2) == 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    int rc = lincheck_op_write(f, &h.ops[0]) | lincheck_op_write(f, &h.ops[1]);
    fclose(f);
    lincheck_history_free(&h);
    int same = rc == 0 && strcmp(buf,
                                 "7 cas my%20key \"\" %2D 5 9 ok ok\n"
                                 "8 get my%20key - - 1 2 ok %25%0A\n") == 0;
    if (!same)
        fprintf(stderr, "  wrote: %s", buf);
    free(buf);
    CHECK(same);
}

static int parse_error(const char *line, const char *want)
{
    struct lincheck_history h;
    lincheck_history_init(&h);
    char err[256] = "";
    int rc = lincheck_history_parse_line(&h, line, 4, err, sizeof err);
    lincheck_history_free(&h);
    if (rc == -1 && strcmp(err, want) == 0)
        return 1;
    fprintf(stderr, "  '%s' gave %d '%s', want '%s'\n", line, rc, err, want);
    return 0;
}

TEST(lincheck_format_errors)
{
    CHECK(parse_error("1 get k - - 0 1 ok", "line 4: expected 9 fields, found fewer"));
    CHECK(parse_error("1 get k - - 0 1 ok - x", "line 4: expected 9 fields, found more"));
    CHECK(parse_error("x get k - - 0 1 ok -", "line 4: bad process id 'x'"));
    CHECK(parse_error("1 read k - - 0 1 ok -", "line 4: unknown op 'read'"));
    CHECK(parse_error("1 get k - - 0 1 done -", "line 4: unknown outcome 'done'"));
    CHECK(parse_error("1 get k - - 5 1 ok -", "line 4: completes before it is invoked"));
    CHECK(parse_error("1 get k - - 0 - ok -", "line 4: bad complete time '-'"));
    CHECK(parse_error("1 put k - - 0 1 ok -", "line 4: put takes a value"));
    CHECK(parse_error("1 get k v - 0 1 ok -", "line 4: get takes no value"));
    CHECK(parse_error("1 put k v w 0 1 ok -", "line 4: put takes no expected value"));
    CHECK(parse_error("1 cas k w v 0 1 ok yes",
                      "line 4: cas result must be ok or failed, not 'yes'"));
    CHECK(parse_error("1 get k%2 - - 0 1 ok -", "line 4: bad key field 'k%2'"));
    CHECK(parse_error("1 get - - - 0 1 ok -", "line 4: bad key field '-'"));
}

int main(int argc, char **argv)
{
    return test_main(argc, argv);
}
