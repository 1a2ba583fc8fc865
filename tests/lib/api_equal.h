/* api_equal.h: field-by-field equality of two parsed requests, for the tests and
 * the fuzz target that compare the direct request parser with the json-c one. */
#ifndef VESPER_TESTS_LIB_API_EQUAL_H
#define VESPER_TESTS_LIB_API_EQUAL_H

#include <stdbool.h>

#include "api/api.h"

/* Every field of a and b equal; strings byte for byte, their closing NULs
 * included, and NULL only where the other is NULL. */
bool api_request_equal(const struct api_request *a, const struct api_request *b);

#endif
