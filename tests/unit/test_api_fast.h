/* test_api_fast.h: the differential check the direct-path suites share
 * (test_api_fast.c, test_api_fast_random.c).
 */
#ifndef VESPER_TESTS_UNIT_TEST_API_FAST_H
#define VESPER_TESTS_UNIT_TEST_API_FAST_H

#include <stddef.h>

#include "api/api.h"

/* Runs api_parse_fast on body. Declined: 0, with *out checked zeroed. Taken: 1
 * when api_parse_request_json also gives API_OK and an equal request
 * (api_request_equal), *out then holding the direct path's (free with
 * api_request_free); -1 otherwise, printed with the body, *out zeroed. out may
 * be NULL. */
int api_fast_check(const char *method, const char *body, size_t len,
                   const struct api_limits *limits, struct api_request *out);

/* Prints body to stderr with its bytes outside printable ASCII escaped. */
void api_fast_print_body(const char *body, size_t len);

#endif
