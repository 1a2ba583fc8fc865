# Vesper build. Plain GNU make; module fragments live in mk/*.mk.
#
#   make               build/vesperd and build/vesper
#   make test          every suite; the last line reads "N passed, N failed"
#   make check         the fast subset: unit suites, a short simulation, fuzz corpora
#   make test-sim      SEED=n replays one simulation seed; SEEDS/STEPS size a batch
#   make test-sim-long SEEDS=100000
#   make format-check  clang-format --dry-run --Werror over our sources
#   make check-modules module boundaries: the include graph (tests/check_modules.sh), a
#                      pure Raft core, storage's exported names

CC := gcc
BUILD := build
BASE_FLAGS := -std=c11 -D_GNU_SOURCE -g -fno-omit-frame-pointer
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wold-style-definition \
        -Wformat=2 -Wimplicit-fallthrough -Werror=implicit-function-declaration -Werror
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
INCLUDES := -Isrc -Itests
CFLAGS := $(BASE_FLAGS) -O2 $(WARN) $(INCLUDES)
TEST_CFLAGS := $(BASE_FLAGS) -O1 $(WARN) $(SAN) $(INCLUDES)
TEST_LDFLAGS := $(SAN)

# Release objects under build/obj, sanitizer test objects under build/san.
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(TEST_CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
san = $(patsubst %.c,$(BUILD)/san/%.o,$(1))

TEST_LIB_SRC := tests/lib/test.c

# Suites run by `make test`, in order; fragments append to these.
TEST_BINS :=
TEST_SUITES :=
ALL_BINS :=

SEEDS ?= 2000
STEPS ?= 5000

include $(sort $(wildcard mk/*.mk))

.PHONY: all check test test-run test-sim test-sim-long format format-check format-check-suite check-modules check-modules-objs clean deps
.DEFAULT_GOAL := all

all: $(ALL_BINS)

# `make test` and `make up` first run `make deps` (idempotent, fast when done), so a
# newcomer needs no other command.
test:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory test-run

test-run: $(TEST_BINS) check-modules-objs
	@tests/run.sh "tests/check_modules.sh $(CHECK_MODULES_OBJS)" \
	    "$(MAKE) --no-print-directory format-check-suite" $(TEST_SUITES)

# The fast subset of `make test` for the edit-compile-test loop: no process on a port,
# no container. CHECK_SEEDS simulation seeds (the scenarios always run).
CHECK_SEEDS ?= 100
CHECK_BINS := $(BUILD)/lincheck $(BUILD)/test-raft-unit $(BUILD)/test-kv $(BUILD)/test-api \
              $(BUILD)/test-storage \
              $(BUILD)/test-lincheck $(BUILD)/test-config $(BUILD)/test-sim \
              $(foreach t,$(FUZZ_TARGETS),$(BUILD)/fuzz-replay-$(t))
check: $(CHECK_BINS) check-modules-objs
	@tests/run.sh "tests/check_modules.sh $(CHECK_MODULES_OBJS)" \
	    "$(MAKE) --no-print-directory format-check-suite" \
	    $(foreach b,test-raft-unit test-kv test-api test-storage test-lincheck test-config,\
	        "$(BUILD)/$(b)") \
	    "$(BUILD)/test-sim --seeds $(CHECK_SEEDS) --steps $(STEPS) --jobs 2" \
	    $(foreach t,$(FUZZ_TARGETS),"$(BUILD)/fuzz-replay-$(t) tests/fuzz/corpus/$(t)")

# The objects whose symbols tests/check_modules.sh inspects.
CHECK_MODULES_OBJS = $(call obj,$(RAFT_SRC) $(STORAGE_SRC) $(KV_SRC))
check-modules-objs: $(CHECK_MODULES_OBJS)
check-modules: check-modules-objs
	@tests/check_modules.sh $(CHECK_MODULES_OBJS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

# format-check as a suite with a summary line, for make test.
format-check-suite:
	@if clang-format --dry-run --Werror $(FORMAT_FILES) 2>&1 | head -20 | grep .; then \
	    echo "FAIL clang-format"; echo "0 passed, 1 failed"; exit 1; \
	else echo "ok   clang-format ($(words $(FORMAT_FILES)) files)"; echo "1 passed, 0 failed"; fi

clean:
	rm -rf $(BUILD)

# Dependency files of our objects (not the base image's root file system, which make
# images unpacks under $(BUILD) and which holds files named *.d of its own).
-include $(shell find $(BUILD) -path $(BUILD)/base-rootfs -prune -o -name '*.d' -type f -print \
             2>/dev/null)
