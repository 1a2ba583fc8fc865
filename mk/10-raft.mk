# The pure Raft core (its simulation suite is in 25-sim.mk).
RAFT_SRC := $(sort $(wildcard src/raft/*.c))

$(BUILD)/libraftcore.a: $(call obj,$(RAFT_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^

# Raft core unit tests on cores driven by hand (no simulation world).
RAFT_UNIT_SRC := tests/unit/test_raft_catchup.c tests/unit/test_raft_ack.c \
                 tests/unit/test_raft_reorder.c tests/unit/test_raft_stale_term.c \
                 tests/unit/test_raft_log.c tests/unit/test_raft_hold.c
$(BUILD)/test-raft-unit: $(call san,$(RAFT_UNIT_SRC) $(RAFT_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

TEST_BINS += $(BUILD)/test-raft-unit
TEST_SUITES += "$(BUILD)/test-raft-unit"
