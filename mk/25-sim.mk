# The deterministic simulation: real replicas (src/replica over the real storage
# and kv) on a simulated network and disk. Included after the storage and kv
# fragments, whose source lists it needs.
SIM_SRC := $(sort $(wildcard tests/sim/*.c))

$(BUILD)/test-sim: $(call san,$(SIM_SRC) $(RAFT_SRC) $(REPLICA_SRC) $(STORAGE_SRC) $(KV_SRC) \
                   $(UTIL_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -lpthread -o $@

# make test runs SIM_SUITE_SEEDS seeds: with real storage and kv over the in-memory
# disk a seed costs about a fifth of a CPU-second under the sanitizers, so 800 seeds
# of STEPS steps take about a minute and a half on two workers. `make test-sim` still
# takes SEEDS.
SIM_SUITE_SEEDS ?= 800

ifneq ($(SIM_SRC),)
TEST_BINS += $(BUILD)/test-sim
TEST_SUITES += "$(BUILD)/test-sim --seeds $(SIM_SUITE_SEEDS) --steps $(STEPS) --jobs 2"
endif

.PHONY: test-sim test-sim-long
test-sim: $(BUILD)/test-sim
ifdef SEED
	$(BUILD)/test-sim --seed $(SEED) --steps $(STEPS) --verbose
else
	$(BUILD)/test-sim --seeds $(SEEDS) --steps $(STEPS)
endif

# The same simulator without sanitizers, at -O2: several times faster, for long runs
# (the sanitizer build still runs every seed of make test).
$(BUILD)/test-sim-fast: $(call obj,$(SIM_SRC) $(RAFT_SRC) $(REPLICA_SRC) $(STORAGE_SRC) $(KV_SRC) \
                        $(UTIL_SRC) $(TEST_LIB_SRC))
	$(CC) $^ -lpthread -o $@

# make test-sim-long SEEDS=n FROM=f: seeds f..f+n-1 (f defaults to 1).
FROM ?= 1
test-sim-long: $(BUILD)/test-sim-fast
	$(BUILD)/test-sim-fast --seeds $(if $(filter command line,$(origin SEEDS)),$(SEEDS),100000) \
	    --from $(FROM) --steps $(STEPS) --jobs 2
