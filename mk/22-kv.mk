# The replicated state machine (src/kv), the pure client-API codec
# (src/api/api.c) and their unit suite build/test-kv. Neither links h2o.
KV_SRC := src/kv/kv.c src/kv/kv_cmd.c src/kv/kv_map.c src/kv/kv_session.c \
          src/kv/kv_snap.c
API_SRC := src/api/api.c src/api/validate.c
KV_TEST_SRC := tests/unit/test_kv_main.c tests/unit/test_kv_map.c tests/unit/test_kv_apply.c \
               tests/unit/test_kv_once.c \
               tests/unit/test_kv_snap.c tests/unit/test_api_request.c

$(BUILD)/test-kv: $(call san,$(KV_TEST_SRC) $(KV_SRC) $(API_SRC) $(UTIL_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -ljson-c -o $@

TEST_BINS += $(BUILD)/test-kv
TEST_SUITES += "$(BUILD)/test-kv"

# Memory measurement (a tool, not a test): make kv-mem && build/kv-mem [N] [VALUE_BYTES]
$(BUILD)/kv-mem: $(call obj,tests/tools/kv_mem.c $(KV_SRC) $(UTIL_SRC))
	$(CC) $^ -o $@

.PHONY: kv-mem
kv-mem: $(BUILD)/kv-mem
