# Benchmarks and load tools: build/histgen (history-recording load generator for the
# linearizability checker), build/fsync-floor, `make bench`, `make bench-compare`.
#
#   make bench           3-node Vesper: PUT / linearizable GET / 90-10 mix at 1..256 conns
#   make bench-compare   etcd 3.4 (3 and 5 nodes) vs Vesper with the same wrk workload
#   make bench-tls       Vesper plain vs HTTPS + mutual TLS, medians of BENCH_ROUNDS rounds
#   make bench-api       etcd vs Vesper: 100-key ranges, watch fan-out, leased PUTs (bench/api.sh)
#   make bench-snapshot  PUT latency while snapshots of N keys are taken (bench/snapshot.sh)
#   make bench-bigdata   RSS per node holding N keys, restart time (bench/bigdata.sh)
#   make bench-catchup   leader RSS while a follower N writes behind catches up (bench/catchup.sh)
#   make bench-instructions  user-space instructions per GET and PUT (bench/instructions.sh)
# Each prints its tables and saves them to build/bench-last.md in the format of
# bench/RESULTS.md (the current results); see bench/bench.sh.

HISTGEN_SRC := tests/tools/histgen.c tests/tools/histgen_multi.c tests/tools/histgen_main.c \
               tests/lib/lincheck_history.c \
               tests/lib/lincheck_multi.c

$(BUILD)/histgen: $(call obj,$(HISTGEN_SRC))
	$(CC) $^ $(CURL_LIBS) -lpthread -o $@

# ThreadSanitizer build of the same tool (ThreadSanitizer for code with a second thread);
# not part of `make test`: it needs a live cluster. `make build/histgen-tsan`.
$(BUILD)/histgen-tsan: $(HISTGEN_SRC) tests/tools/histgen.h tests/lib/lincheck.h
	$(CC) $(BASE_FLAGS) -O1 $(WARN) $(INCLUDES) -fsanitize=thread $(HISTGEN_SRC) $(CURL_LIBS) \
		-lpthread -o $@

$(BUILD)/fsync-floor: $(call obj,bench/fsync_floor.c)
	$(CC) $^ -lpthread -o $@

# The watch fan-out instrument of `make bench-api`: many streams and one writer in one
# epoll loop (bench/watch_fanout.c).
WATCH_FANOUT_SRC := bench/watch_fanout.c bench/fanout_wire.c bench/fanout_stats.c bench/http_stream.c
$(BUILD)/watch-fanout: $(call obj,$(WATCH_FANOUT_SRC))
	$(CC) $^ -o $@

# Built by `make test` so cluster suites can run it; its own suite drives it against a fake
# cluster (tests/tools/histgen_mock.py) and checks the histories with build/lincheck.
TEST_BINS += $(BUILD)/histgen
TEST_SUITES += "tests/tools/test_histgen.sh $(BUILD)"

.PHONY: bench bench-compare bench-tls bench-ab bench-api bench-snapshot bench-bigdata bench-catchup bench-syscalls \
        bench-instructions histgen
histgen: $(BUILD)/histgen

bench: $(BUILD)/fsync-floor $(BUILD)/vesperd
	bench/bench.sh vesper

bench-compare: $(BUILD)/fsync-floor $(BUILD)/vesperd
	bench/bench.sh compare

# Two vesperd builds, alternating 3-node clusters, BENCH_ROUNDS medians:
#   make bench-ab VESPERD_B=/path/to/other/vesperd   (A is build/vesperd)
bench-ab: $(BUILD)/fsync-floor $(BUILD)/vesperd
	VESPERD_B=$(VESPERD_B) bench/bench.sh ab

# Plain vs TLS (HTTPS + mutual TLS), alternating 3-node clusters, BENCH_ROUNDS medians.
bench-tls: $(BUILD)/fsync-floor $(BUILD)/vesperd
	bench/bench.sh tls

# Data-API workloads, etcd 3-node vs Vesper 3-node alternating, BENCH_ROUNDS medians.
bench-api: $(BUILD)/watch-fanout $(BUILD)/vesperd
	bench/api.sh

# Latency while every node snapshots a large state (bench/snapshot.sh; N keys, default
# 1,000,000, of VALUE_BYTES, default 100; VESPERD_B=path compares a second build,
# alternating).
N ?= 1000000
VALUE_BYTES ?= 100
bench-snapshot: $(BUILD)/vesperd
	VESPERD_B=$(VESPERD_B) bench/snapshot.sh $(N) $(VALUE_BYTES)

# Memory per node holding N keys and the restart time of a follower (bench/bigdata.sh).
bench-bigdata: $(BUILD)/vesperd
	bench/bigdata.sh $(N)

# System calls per PUT on each node (bench/syscalls.sh; VESPERD_B=path adds a second
# build).
bench-syscalls: $(BUILD)/vesperd
	VESPERD_B=$(VESPERD_B) bench/syscalls.sh

# The leader's memory while a follower N writes behind catches up (bench/catchup.sh;
# default 1,000,000; CATCHUP_ARGS passes options to every node).
bench-catchup: $(BUILD)/vesperd
	bench/catchup.sh $(N)

# Unit suite of the watch tool's reader, wire format and histogram (sanitizer build).
BENCH_TOOLS_TEST_SRC := tests/unit/test_bench_tools.c bench/http_stream.c bench/fanout_wire.c \
                        bench/fanout_stats.c
$(call san,tests/unit/test_bench_tools.c): EXTRA_CFLAGS += -Ibench
$(BUILD)/test-bench-tools: $(call san,$(BENCH_TOOLS_TEST_SRC) $(TEST_LIB_SRC))
	$(CC) $(TEST_LDFLAGS) $^ -o $@

TEST_BINS += $(BUILD)/test-bench-tools
TEST_SUITES += "$(BUILD)/test-bench-tools"

.PHONY: test-bench-tools
test-bench-tools: $(BUILD)/test-bench-tools
	$(BUILD)/test-bench-tools

# Instructions per request under callgrind, one node (bench/instructions.sh; VESPERD_B=path
# adds a second build).
bench-instructions: $(BUILD)/vesperd
	VESPERD_B=$(VESPERD_B) bench/instructions.sh
