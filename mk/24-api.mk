# The client API codec (src/api: /request parsing, reply building, the error table)
# and its unit suite build/test-api. Pure: json-c, no h2o.
API_SRC := $(sort $(wildcard src/api/*.c))
API_TEST_SRC := tests/unit/test_api_main.c tests/unit/test_api_request.c \
                tests/unit/test_api_range_txn.c tests/unit/test_api_lease.c tests/unit/test_api_reply.c

$(BUILD)/test-api: $(call san,$(API_TEST_SRC) $(API_SRC) $(KV_SRC) $(UTIL_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -ljson-c -o $@

TEST_BINS += $(BUILD)/test-api
TEST_SUITES += "$(BUILD)/test-api"
