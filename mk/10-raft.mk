# The pure Raft core and its simulation suite.
SIM_SRC := $(sort $(wildcard tests/sim/*.c))

$(BUILD)/libraftcore.a: $(call obj,$(RAFT_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BUILD)/test-sim: $(call san,$(SIM_SRC) $(RAFT_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

ifneq ($(SIM_SRC),)
TEST_BINS += $(BUILD)/test-sim
TEST_SUITES += "$(BUILD)/test-sim --seeds $(SEEDS) --steps $(STEPS) --jobs 2"
endif

.PHONY: test-sim test-sim-long
test-sim: $(BUILD)/test-sim
ifdef SEED
	$(BUILD)/test-sim --seed $(SEED) --steps $(STEPS) --verbose
else
	$(BUILD)/test-sim --seeds $(SEEDS) --steps $(STEPS)
endif

test-sim-long: $(BUILD)/test-sim
	$(BUILD)/test-sim --seeds $(if $(filter command line,$(origin SEEDS)),$(SEEDS),100000) --steps $(STEPS) --jobs 2

# Raft core unit tests with a hand-held three-node network (no simulation world).
RAFT_UNIT_SRC := tests/unit/raft_catchup_test.c
$(BUILD)/test-raft-unit: $(call san,$(RAFT_UNIT_SRC) $(RAFT_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

TEST_BINS += $(BUILD)/test-raft-unit
TEST_SUITES += "$(BUILD)/test-raft-unit"
