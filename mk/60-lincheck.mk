# The linearizability checker (tests/lib/lincheck*, CLI build/lincheck, suite
# build/test-lincheck); cluster tests run build/lincheck HISTORY_FILE.
LINCHECK_SRC := tests/lib/lincheck.c tests/lib/lincheck_search.c tests/lib/lincheck_history.c \
                tests/lib/lincheck_multi.c tests/lib/lincheck_cache.c tests/lib/lincheck_model.c \
                tests/lib/lincheck_part.c
LINCHECK_TEST_SRC := tests/unit/test_lincheck_cases.c tests/unit/test_lincheck_random.c \
                     tests/unit/test_lincheck_brute.c tests/unit/test_lincheck_multi.c \
                     tests/unit/test_lincheck_atomic.c tests/unit/test_lincheck_atomic_brute.c

# The checker itself is built optimized: cluster tests feed it histories of thousands of ops.
$(BUILD)/lincheck: $(call obj,tests/tools/lincheck_main.c $(LINCHECK_SRC))
	$(CC) $^ -o $@

$(BUILD)/test-lincheck: $(call san,$(LINCHECK_TEST_SRC) $(LINCHECK_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

# build/lincheck is listed so `make test` builds it: the CLI test and cluster suites run it.
TEST_BINS += $(BUILD)/lincheck $(BUILD)/test-lincheck
TEST_SUITES += "$(BUILD)/test-lincheck"

.PHONY: lincheck
lincheck: $(BUILD)/lincheck
