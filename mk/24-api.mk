# The client API codec (src/api: /request parsing, reply building, the error table)
# and its unit suite build/test-api. Pure: json-c, no h2o.
API_SRC := $(sort $(wildcard src/api/*.c))
API_TEST_SRC := tests/unit/test_api_main.c tests/unit/test_api_request.c \
                tests/unit/test_api_range_txn.c tests/unit/test_api_lease.c \
                tests/unit/test_api_reply.c tests/unit/test_api_fast.c \
                tests/unit/test_api_fast_random.c
# test_api_fast.c parses the bodies the vesper client builds (client/vwire.c: json-c only).
API_TEST_LIB_SRC := tests/lib/api_equal.c client/vwire.c

$(BUILD)/test-api: $(call san,$(API_TEST_SRC) $(API_TEST_LIB_SRC) $(API_SRC) $(KV_SRC) $(UTIL_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -ljson-c -o $@

TEST_BINS += $(BUILD)/test-api
TEST_SUITES += "$(BUILD)/test-api"
