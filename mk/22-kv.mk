# The replicated state machine (src/kv) and its unit suite build/test-kv. No h2o.
KV_SRC := $(sort $(wildcard src/kv/*.c))
KV_TEST_SRC := tests/unit/test_kv_main.c tests/unit/test_kv_map.c tests/unit/test_kv_apply.c \
               tests/unit/test_kv_once.c tests/unit/test_kv_snap.c \
               tests/unit/test_kv_snap_compat.c tests/unit/test_kv_range.c \
               tests/unit/test_kv_txn.c tests/unit/test_kv_hist.c tests/unit/test_kv_lease.c

$(BUILD)/test-kv: $(call san,$(KV_TEST_SRC) tests/lib/kv_snap_v2.c tests/lib/kv_put.c $(KV_SRC) $(UTIL_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

TEST_BINS += $(BUILD)/test-kv
TEST_SUITES += "$(BUILD)/test-kv"

# Memory measurement (a tool, not a test): make kv-mem && build/kv-mem [N] [VALUE_BYTES]
$(BUILD)/kv-mem: $(call obj,tests/tools/kv_mem.c $(KV_SRC) $(UTIL_SRC))
	$(CC) $^ -o $@

.PHONY: kv-mem
kv-mem: $(BUILD)/kv-mem
