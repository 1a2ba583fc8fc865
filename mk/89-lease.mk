# Leases (tests/lease): TTL expiry seen by a watcher, revoke in one batch, keepalive through
# two kill -9 failovers, expiry bounded under a leader failover, bad input; three-node
# clusters of the sanitizer build on 127.0.0.1:18100-18199. `make test-lease` runs it
# alone; it binds ports, so take the lock:
#   flock /tmp/vesper-ports.lock make test-lease
LEASE_TEST_BINS := $(BUILD)/vesperd-san $(BUILD)/vesper
TEST_BINS += $(LEASE_TEST_BINS)
TEST_SUITES += "python3 tests/lease/lease_suite.py"

.PHONY: test-lease
test-lease: $(LEASE_TEST_BINS)
	python3 tests/lease/lease_suite.py
