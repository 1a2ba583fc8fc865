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

#endif
