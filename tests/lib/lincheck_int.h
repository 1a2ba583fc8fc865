/* lincheck_int.h: the field parsers of the history format, shared by the single-key
 * parser (lincheck_history.c) and the range/txn parser (lincheck_multi.c). */
#ifndef VESPER_TESTS_LIB_LINCHECK_INT_H
#define VESPER_TESTS_LIB_LINCHECK_INT_H

#include "lib/lincheck.h"

/* Decodes a field in place: "-" is absent, "\"\"" is empty, %XX is one byte. 0 or -1. */
int lincheck_decode(char *field, struct lincheck_val *out);
/* Writes "line N: message" to err; returns -1. */
__attribute__((format(printf, 4, 5))) int lincheck_fail(char *err, size_t errlen, int line_no,
                                                        const char *fmt, ...);
/* A range or txn line (f: the 9 split fields; base: proc, times, outcome and line
 * already parsed), projected into h. 1 when done, -1 with err set. */
int lincheck_parse_multi(struct lincheck_history *h, struct lincheck_op *base, char **f,
                         int line_no, char *err, size_t errlen);

/* Copies of the parts of a multi-key op (NULL when out of memory), and their release. */
struct lincheck_sub *lincheck_subs_copy(const struct lincheck_sub *subs, size_t n);
void lincheck_subs_free(struct lincheck_sub *subs, size_t n);
/* A range or txn as one line of the history format; 0 or -1. */
int lincheck_multi_write(FILE *out, const struct lincheck_op *op);
/* The body of lincheck_op_describe for a range or txn (no line, proc, times). */
void lincheck_multi_describe(FILE *out, const struct lincheck_op *op);

#endif
