/* test_lincheck_atomic.c: multi-key ops are checked as one atomic step (lincheck_model.c,
 * lincheck_part.c). Each bad history here is linearizable key by key (the projection the
 * checker used to check) yet has no order in which every txn and range takes effect at
 * one point: torn reads, txns seen half-applied or applied at two times, branches that
 * contradict their compares. Good histories, indeterminate txns and the partitioning into
 * independent parts are checked too.
 */
#include "lib/lincheck.h"
#include "lib/test.h"

#include <stdlib.h>

/* Parses text (one op a line) and checks it; -1 on a parse error. rep may be NULL. */
static int check_text(const char *text, struct lincheck_report *rep)
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
        if (lincheck_history_parse_line(&h, line, ++line_no, err, sizeof err) < 0) {
            rc = -1;
        }
    }
    if (rc == 0)
        rc = (int)lincheck_check(&h, NULL, rep);
    lincheck_history_free(&h);
    return rc;
}

static int check(const char *text)
{
    return check_text(text, NULL);
}

TEST(atomic_torn_read_by_a_txn_is_rejected)
{
    /* T1 puts x=1, y=1 while a reader txn reads x=1 and y=0: per key, T1's put of x can
     * come before the read and its put of y after; atomically, no. */
    const char *base =
        "1 mtxn - p:x=0,p:y=0 - 0 5 ok ok\n"
        "2 mtxn - p:x=1,p:y=1 - 10 40 ok ok\n";
    char text[512];
    snprintf(text, sizeof text, "%s3 mtxn - g:x=1,g:y=0 - 20 30 ok ok\n", base);
    CHECK(check(text) == LINCHECK_VIOLATION);
    /* Either whole state is fine. */
    snprintf(text, sizeof text, "%s3 mtxn - g:x=1,g:y=1 - 20 30 ok ok\n", base);
    CHECK(check(text) == LINCHECK_LINEARIZABLE);
    snprintf(text, sizeof text, "%s3 mtxn - g:x=0,g:y=0 - 20 30 ok ok\n", base);
    CHECK(check(text) == LINCHECK_LINEARIZABLE);
    /* The same torn view through a range. */
    CHECK(check("1 mtxn - p:px=0,p:py=0 - 0 5 ok ok\n"
                "2 mtxn - p:px=1,p:py=1 - 10 40 ok ok\n"
                "3 range p - - 20 30 ok px=0,py=1\n") == LINCHECK_VIOLATION);
    CHECK(check("1 mtxn - p:px=0,p:py=0 - 0 5 ok ok\n"
                "2 mtxn - p:px=1,p:py=1 - 10 40 ok ok\n"
                "3 range p - - 20 30 ok px=1,py=1\n") == LINCHECK_LINEARIZABLE);
}

TEST(atomic_txn_applied_at_two_times_is_rejected)
{
    /* T1 (0..100) puts x and y. A single-key read that ended at 20 saw x=1, one that began
     * at 30 found y absent: x changed before 20, y after 30, so not at one point. */
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 100 ok ok\n"
                "2 get x - - 10 20 ok 1\n"
                "3 get y - - 30 40 ok -\n") == LINCHECK_VIOLATION);
    /* x absent at 5..10 and y=1 by 40: one point between 5 and 40 fits both. */
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 100 ok ok\n"
                "2 get x - - 5 10 ok -\n"
                "3 get y - - 30 40 ok 1\n") == LINCHECK_LINEARIZABLE);
    /* The txn shorthand of older histories is atomic too. */
    CHECK(check("1 put k x - 0 1 ok -\n"
                "2 txn k,j y,z x 10 100 ok ok\n"
                "3 get k - - 20 30 ok y\n"
                "4 get j - - 40 50 ok -\n") == LINCHECK_VIOLATION);
}

TEST(atomic_two_writers_seen_in_opposite_orders_is_rejected)
{
    /* T1 and T2 both write x and y; afterwards x holds T1's value and y T2's: per key each
     * is "the last writer", but no single order of two atomic txns leaves that state. */
    const char *w =
        "1 mtxn - p:x=1,p:y=1 - 0 50 ok ok\n"
        "2 mtxn - p:x=2,p:y=2 - 0 50 ok ok\n";
    char text[512];
    snprintf(text, sizeof text, "%s3 mtxn - g:x=1,g:y=2 - 60 70 ok ok\n", w);
    CHECK(check(text) == LINCHECK_VIOLATION);
    snprintf(text, sizeof text, "%s3 get x - - 60 70 ok 1\n4 get y - - 60 70 ok 2\n", w);
    CHECK(check(text) == LINCHECK_VIOLATION);
    snprintf(text, sizeof text, "%s3 get x - - 60 70 ok 2\n4 get y - - 60 70 ok 2\n", w);
    CHECK(check(text) == LINCHECK_LINEARIZABLE);
}

TEST(atomic_branch_must_follow_the_compares)
{
    /* x holds a throughout: a txn comparing x == a must run its then branch. */
    CHECK(check("1 put x a - 0 1 ok -\n"
                "2 mtxn e:x=a p:y=t p:y=f 10 20 ok failed\n") == LINCHECK_VIOLATION);
    CHECK(check("1 put x a - 0 1 ok -\n"
                "2 mtxn e:x=a p:y=t p:y=f 10 20 ok ok\n"
                "3 get y - - 30 40 ok t\n") == LINCHECK_LINEARIZABLE);
    /* It ran the else branch, but y shows the then branch's put. */
    CHECK(check("1 put x b - 0 1 ok -\n"
                "2 mtxn e:x=a p:y=t p:y=f 10 20 ok failed\n"
                "3 get y - - 30 40 ok t\n") == LINCHECK_VIOLATION);
    /* Not-equal compares: x present and not a; "n:x=-" is "x exists". */
    CHECK(check("2 mtxn n:x=- p:y=t - 10 20 ok ok\n") == LINCHECK_VIOLATION);
    CHECK(check("1 put x b - 0 1 ok -\n"
                "2 mtxn n:x=a,n:x=- p:y=t - 10 20 ok ok\n") == LINCHECK_LINEARIZABLE);
    /* A compare on a key written concurrently may see either value. */
    CHECK(check("1 put x a - 0 1 ok -\n"
                "2 put x b - 5 25 ok -\n"
                "3 mtxn e:x=a - - 10 20 ok failed\n"
                "4 mtxn e:x=a - - 10 20 ok ok\n") == LINCHECK_LINEARIZABLE);
    /* ...but not both orders: the ok one must come first. */
    CHECK(check("1 put x a - 0 1 ok -\n"
                "2 put x b - 5 45 ok -\n"
                "3 mtxn e:x=a - - 10 20 ok failed\n"
                "4 mtxn e:x=a - - 30 40 ok ok\n") == LINCHECK_VIOLATION);
}

TEST(atomic_gets_see_their_branch)
{
    /* A get after a put in the same branch reads the put; one before it, the old state. */
    CHECK(check("1 mtxn - g:x=-,p:x=1,g:x=1,d:x,g:x=- - 0 10 ok ok\n") == LINCHECK_LINEARIZABLE);
    CHECK(check("1 mtxn - p:x=1,g:x=- - 0 10 ok ok\n") == LINCHECK_VIOLATION);
    CHECK(check("1 mtxn - g:x=1,p:x=1 - 0 10 ok ok\n") == LINCHECK_VIOLATION);
    /* A get without a recorded result constrains nothing. */
    CHECK(check("1 mtxn - g:x,p:x=1 - 0 10 ok ok\n") == LINCHECK_LINEARIZABLE);
}

TEST(atomic_indeterminate_txn_all_or_nothing)
{
    /* A txn that timed out happened whole or not at all: x=1 with y absent later is torn. */
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 - info -\n"
                "2 mtxn - g:x=1,g:y=1 - 20 30 ok ok\n") == LINCHECK_LINEARIZABLE);
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 - info -\n"
                "2 mtxn - g:x=-,g:y=- - 20 30 ok ok\n") == LINCHECK_LINEARIZABLE);
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 - info -\n"
                "2 mtxn - g:x=1,g:y=- - 20 30 ok ok\n") == LINCHECK_VIOLATION);
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 - info -\n"
                "2 get x - - 20 30 ok 1\n"
                "3 get y - - 40 50 ok -\n") == LINCHECK_VIOLATION);
    /* An info txn takes the branch its compares choose: with x absent, else. */
    CHECK(check("1 mtxn e:x=a p:y=t p:y=f 0 - info -\n"
                "2 get y - - 20 30 ok t\n") == LINCHECK_VIOLATION);
    CHECK(check("1 mtxn e:x=a p:y=t p:y=f 0 - info -\n"
                "2 get y - - 20 30 ok f\n") == LINCHECK_LINEARIZABLE);
    /* A failed (rejected) txn is dropped. */
    CHECK(check("1 mtxn - p:x=1,p:y=1 - 0 10 fail -\n"
                "2 get x - - 20 30 ok -\n") == LINCHECK_LINEARIZABLE);
}

TEST(atomic_parts_are_independent)
{
    /* a and b are tied by a txn; c and d stand alone: three parts, one multi-key. */
    struct lincheck_report rep;
    CHECK(check_text("1 mtxn - p:a=1,p:b=1 - 0 10 ok ok\n"
                     "2 put c 1 - 0 10 ok -\n"
                     "3 get d - - 0 10 ok -\n"
                     "4 get a - - 20 30 ok 1\n",
                     &rep) == LINCHECK_LINEARIZABLE);
    CHECK_EQ_U64(rep.n_keys, 4);
    CHECK_EQ_U64(rep.n_parts, 3);
    CHECK_EQ_U64(rep.n_multi_parts, 1);
    /* A chain of txns joins a, b, c into one part. */
    CHECK(check_text("1 mtxn - p:a=1,p:b=1 - 0 10 ok ok\n"
                     "2 mtxn - p:b=2,p:c=2 - 0 10 ok ok\n"
                     "3 get d - - 0 10 ok -\n",
                     &rep) == LINCHECK_LINEARIZABLE);
    CHECK_EQ_U64(rep.n_parts, 2);
    CHECK_EQ_U64(rep.n_multi_parts, 1);
    /* A violation in one part is reported once. */
    CHECK(check_text("1 mtxn - p:x=1,p:y=1 - 0 100 ok ok\n"
                     "2 get x - - 10 20 ok 1\n"
                     "3 get y - - 30 40 ok -\n"
                     "4 put z 1 - 0 10 ok -\n",
                     &rep) == LINCHECK_VIOLATION);
    CHECK_EQ_U64(rep.n_violations, 1);
    CHECK_EQ_U64(rep.n_parts, 2);
}

TEST(atomic_info_cas_observes_its_expected_value)
{
    /* The info put of a is needed: the info cas a -> b can only have swapped after it. */
    CHECK(check("1 put k a - 0 - info -\n"
                "2 cas k b a 0 - info -\n"
                "3 get k - - 10 20 ok b\n") == LINCHECK_LINEARIZABLE);
    CHECK(check("1 mtxn - p:j=0 - 0 1 ok ok\n"
                "2 put k a - 5 - info -\n"
                "3 cas k b a 5 - info -\n"
                "4 mtxn - g:k=b,g:j=0 - 10 20 ok ok\n") == LINCHECK_LINEARIZABLE);
}

TEST(atomic_format_round_trip_and_errors)
{
    const char *text =
        "1 mtxn e:x=a,n:y=- p:x=b,d:y,g:x=b g:z,p:z=%2C%3D%2D 10 20 ok ok\n"
        "2 mtxn - g:x=- - 30 - info -\n"
        "3 range p - - 30 40 ok p%2C1=a%3Db,p2=-\n"
        "4 txn k,j y,z x 50 60 ok failed\n";
    struct lincheck_history h, again;
    lincheck_history_init(&h);
    lincheck_history_init(&again);
    char line[256], err[256];
    for (int ln = 1; *text; ln++) {
        size_t n = strcspn(text, "\n");
        memcpy(line, text, n);
        line[n] = '\0';
        text += n + 1;
        CHECK(lincheck_history_parse_line(&h, line, ln, err, sizeof err) == 1);
    }
    CHECK_EQ_U64(h.n_ops, 4);
    CHECK(h.ops[0].type == LINCHECK_TXN && h.ops[0].n_cmp == 2 && h.ops[0].n_then == 3);
    CHECK(h.ops[0].n_subs == 7 && h.ops[0].subs[6].value.len == 3);
    CHECK(h.ops[2].type == LINCHECK_RANGE && h.ops[2].n_subs == 2);
    CHECK(h.ops[3].type == LINCHECK_TXN && !h.ops[3].cas_swapped && h.ops[3].n_subs == 3);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    for (size_t i = 0; i < h.n_ops; i++)
        CHECK(lincheck_op_write(f, &h.ops[i]) == 0);
    CHECK(fclose(f) == 0);
    int ln = 0;
    for (char *p = buf, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = '\0';
        CHECK(lincheck_history_parse_line(&again, p, ++ln, err, sizeof err) == 1);
    }
    CHECK_EQ_U64(again.n_ops, h.n_ops);
    for (size_t i = 0; i < h.n_ops; i++) {
        CHECK_EQ_U64(again.ops[i].n_subs, h.ops[i].n_subs);
        for (size_t j = 0; j < h.ops[i].n_subs; j++) {
            const struct lincheck_sub *a = &h.ops[i].subs[j], *b = &again.ops[i].subs[j];
            CHECK(a->type == b->type && a->has_result == b->has_result);
            CHECK(a->key.len == b->key.len && memcmp(a->key.data, b->key.data, a->key.len) == 0);
            CHECK((a->value.data == NULL) == (b->value.data == NULL));
            CHECK(a->value.len == b->value.len &&
                  (!a->value.len || memcmp(a->value.data, b->value.data, a->value.len) == 0));
        }
    }
    free(buf);
    lincheck_history_free(&h);
    lincheck_history_free(&again);
    CHECK(check("1 mtxn - - - 0 10 ok ok\n") == -1);        /* nothing in it */
    CHECK(check("1 mtxn p:x=1 - - 0 10 ok ok\n") == -1);    /* a put among compares */
    CHECK(check("1 mtxn - e:x=1 - 0 10 ok ok\n") == -1);    /* a compare among ops */
    CHECK(check("1 mtxn - p:x - 0 10 ok ok\n") == -1);      /* a put without value */
    CHECK(check("1 mtxn - p:x=- - 0 10 ok ok\n") == -1);    /* a put of "absent" */
    CHECK(check("1 mtxn - d:x=1 - 0 10 ok ok\n") == -1);    /* a delete with value */
    CHECK(check("1 mtxn - q:x - 0 10 ok ok\n") == -1);      /* unknown op */
    CHECK(check("1 mtxn - px=1 - 0 10 ok ok\n") == -1);     /* no ':' */
    CHECK(check("1 mtxn - p:x=1 - 0 10 ok maybe\n") == -1); /* result */
}
