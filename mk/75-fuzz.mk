# Fuzzing: libFuzzer targets in tests/fuzz, their committed seed corpora in
# tests/fuzz/corpus/<target>/, and saved reproducers in tests/fuzz/crashes/<target>/.
#
#   make fuzz                  build every target with clang (fuzzer+ASan+UBSan) and run
#                              each for FUZZ_SECONDS (default 10); summary of execs/cov/ft
#   make fuzz FUZZ_TARGETS=raft FUZZ_SECONDS=120   one target, longer
#   make fuzz-seeds            regenerate tests/fuzz/corpus from the real encoders
#   make fuzz-crashes          replay the saved reproducers (fails while a bug is open)
#
# `make test` replays each committed corpus through a gcc+ASan build of the same target
# (tests/fuzz/replay.c), so it needs neither clang nor fuzzing time.
FUZZ_TARGETS ?= api codec storage snap config raft
FUZZ_SECONDS ?= 10
FUZZ_CC := clang
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := $(BASE_FLAGS) -O1 -Wall -Wextra $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(INCLUDES)

FUZZ_UTIL := tests/fuzz/fuzz_util.c
FUZZ_SRC_api := tests/fuzz/fuzz_api.c tests/lib/api_equal.c $(API_SRC) $(KV_SRC) $(UTIL_SRC)
FUZZ_SRC_codec := tests/fuzz/fuzz_codec.c src/net/codec.c src/net/codec_decode.c $(RAFT_SRC)
FUZZ_SRC_storage := tests/fuzz/fuzz_storage.c $(STORAGE_SRC) $(UTIL_SRC) \
                    $(filter tests/sim/simfs%.c tests/sim/prng.c,$(SIM_SRC))
FUZZ_SRC_snap := tests/fuzz/fuzz_snap.c $(KV_SRC) $(STORAGE_SRC) $(UTIL_SRC)
FUZZ_SRC_config := tests/fuzz/fuzz_config.c $(CONFIG_SRC)
FUZZ_SRC_raft := tests/fuzz/fuzz_raft.c src/net/codec.c src/net/codec_decode.c $(RAFT_SRC)
FUZZ_LIBS := -ljson-c -lpthread

# clang objects under build/fuzz/obj (the generic rules are gcc's).
fuzz_obj = $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(1))
# The simulated disk under the storage target is scaffolding: sanitized, but not
# coverage-instrumented, so its branches neither count as coverage nor cost hooks.
$(BUILD)/fuzz/obj/tests/sim/%.o: FUZZ_CFLAGS := $(BASE_FLAGS) -O1 -Wall -Wextra $(FUZZ_SAN) $(INCLUDES)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

define FUZZ_TARGET_RULES
$(BUILD)/fuzz/$(1): $(call fuzz_obj,$(FUZZ_SRC_$(1)) $(FUZZ_UTIL))
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $$^ $(FUZZ_LIBS) -o $$@

$(BUILD)/fuzz-replay-$(1): $(call san,$(FUZZ_SRC_$(1)) $(FUZZ_UTIL) tests/fuzz/replay.c)
	$(CC) $(TEST_LDFLAGS) $$^ $(FUZZ_LIBS) -o $$@

TEST_BINS += $(BUILD)/fuzz-replay-$(1)
TEST_SUITES += "$(BUILD)/fuzz-replay-$(1) tests/fuzz/corpus/$(1)"
endef
$(foreach t,api codec storage snap config raft,$(eval $(call FUZZ_TARGET_RULES,$(t))))

FUZZ_SEEDS_SRC := tests/fuzz/seeds.c tests/fuzz/seeds_more.c tests/net/codec_samples.c \
                  tests/lib/kv_snap_v2.c \
                  src/net/codec.c src/net/codec_decode.c $(RAFT_SRC) $(KV_SRC) $(STORAGE_SRC) $(UTIL_SRC)
$(BUILD)/fuzz-seeds: $(call san,$(FUZZ_SEEDS_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -lpthread -o $@

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-crashes
fuzz-build: $(foreach t,$(FUZZ_TARGETS),$(BUILD)/fuzz/$(t))
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(BUILD) $(FUZZ_TARGETS)

# Rewrites the seed inputs (named after what they reach) in place: the corpora also hold
# inputs grown by fuzzing campaigns (named by their SHA-1), which stay.
fuzz-seeds: $(BUILD)/fuzz-seeds
	$(BUILD)/fuzz-seeds tests/fuzz/corpus

fuzz-crashes: $(foreach t,$(FUZZ_TARGETS),$(BUILD)/fuzz-replay-$(t))
	@for t in $(FUZZ_TARGETS); do echo "== $$t"; \
	    $(BUILD)/fuzz-replay-$$t tests/fuzz/crashes/$$t || true; done
