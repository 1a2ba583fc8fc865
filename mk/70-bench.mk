# Benchmarks and load tools: build/histgen (history-recording load generator for the
# linearizability checker), build/fsync-floor, `make bench`, `make bench-compare`.
#
#   make bench           3-node Vesper: PUT / linearizable GET / 90-10 mix at 1..256 conns
#   make bench-compare   etcd 3.4 (3 and 5 nodes) vs Vesper with the same wrk workload
#   make bench-tls       Vesper plain vs HTTPS + mutual TLS, medians of BENCH_ROUNDS rounds
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
	$(CC) $^ -o $@

# Built by `make test` so cluster suites can run it; its own suite drives it against a fake
# cluster (tests/tools/histgen_mock.py) and checks the histories with build/lincheck.
TEST_BINS += $(BUILD)/histgen
TEST_SUITES += "tests/tools/test_histgen.sh $(BUILD)"

.PHONY: bench bench-compare bench-tls histgen
histgen: $(BUILD)/histgen

bench: $(BUILD)/fsync-floor $(BUILD)/vesperd
	bench/bench.sh vesper

bench-compare: $(BUILD)/fsync-floor $(BUILD)/vesperd
	bench/bench.sh compare

# Plain vs TLS (HTTPS + mutual TLS), alternating 3-node clusters, BENCH_ROUNDS medians.
bench-tls: $(BUILD)/fsync-floor $(BUILD)/vesperd
	bench/bench.sh tls
