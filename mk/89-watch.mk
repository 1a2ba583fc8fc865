# Watches (tests/watch): GET /watch and `vesper watch` against three-node clusters of the
# sanitizer build on 127.0.0.1:17950-17959, under kill -9, SIGSTOP and restarts, with every
# watcher's stream checked against the nodes' histories; the slow-consumer close and the
# compacted answer. `make test-watch` runs it alone; it binds ports, so take the lock:
#   flock /tmp/vesper-ports.lock make test-watch
WATCH_TEST_BINS := $(BUILD)/vesperd-san $(BUILD)/vesper
TEST_BINS += $(WATCH_TEST_BINS)
TEST_SUITES += "python3 tests/watch/watch_suite.py"

.PHONY: test-watch
test-watch: $(WATCH_TEST_BINS)
	python3 tests/watch/watch_suite.py
