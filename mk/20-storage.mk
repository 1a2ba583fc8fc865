# Durable storage: WAL, hard state, snapshots; its tests and benchmark.
STORAGE_SRC := $(sort $(wildcard src/storage/*.c))
STORAGE_TEST_SRC := $(sort $(wildcard tests/unit/test_storage_*.c))
# The crash-simulating file system (tests/lib/crashfs.h), for any test over real storage.
CRASHFS_SRC := tests/lib/crashfs.c tests/lib/crashfs_crash.c tests/lib/crashfs_model.c

$(BUILD)/libstorage.a: $(call obj,$(STORAGE_SRC))
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(BUILD)/test-storage: $(call san,$(STORAGE_TEST_SRC) $(STORAGE_SRC) $(UTIL_SRC) $(TEST_LIB_SRC) \
                        $(CRASHFS_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -lpthread -o $@

TEST_BINS += $(BUILD)/test-storage
TEST_SUITES += "$(BUILD)/test-storage"

$(BUILD)/wal_bench: $(call obj,bench/wal_bench.c $(UTIL_SRC)) $(BUILD)/libstorage.a
	$(CC) $^ -lpthread -o $@

.PHONY: test-storage test-storage-tsan bench-wal
test-storage: $(BUILD)/test-storage
	$(BUILD)/test-storage

# The parts of storage with a second thread (the sync thread, the release thread)
# under ThreadSanitizer.
STORAGE_TSAN_SRC := $(STORAGE_SRC) $(UTIL_SRC) tests/unit/test_storage_syncer.c \
                    tests/unit/test_storage_release.c \
                    tests/unit/test_storage_util.c tests/unit/test_storage_main.c $(TEST_LIB_SRC)
$(BUILD)/tsan/test-storage-syncer: $(STORAGE_TSAN_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_FLAGS) -O1 $(WARN) $(INCLUDES) -fsanitize=thread $^ -lpthread -o $@
test-storage-tsan: $(BUILD)/tsan/test-storage-syncer
	$(BUILD)/tsan/test-storage-syncer syncer
	$(BUILD)/tsan/test-storage-syncer release

# BENCH_DIR must be on a real disk (not tmpfs): fsync there is what we measure.
bench-wal: $(BUILD)/wal_bench
	bench/wal_bench.sh $(BUILD)/wal_bench $(or $(BENCH_DIR),$(BUILD)/bench-wal)
