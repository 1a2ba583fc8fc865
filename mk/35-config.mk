# vesperd's configuration parser (src/config*.c: arguments, ip_list.txt, environment)
# and its unit suite build/test-config. vesperd's fragment links $(CONFIG_SRC).
CONFIG_SRC := $(sort $(wildcard src/config*.c))
CONFIG_TEST_SRC := tests/unit/test_config_parse.c

$(BUILD)/test-config: $(call san,$(CONFIG_TEST_SRC) $(CONFIG_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

TEST_BINS += $(BUILD)/test-config
TEST_SUITES += "$(BUILD)/test-config"
