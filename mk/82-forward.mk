# Forwarding, peer connections and peer trust (tests/forward): small clusters of real
# vesperd processes on 127.0.0.1:17600-17609. `make test-forward` runs it alone.
TEST_BINS += $(BUILD)/vesperd $(BUILD)/neg-raftmsg
TEST_SUITES += "python3 tests/forward/forward.py"

.PHONY: test-forward
test-forward: $(BUILD)/vesperd $(BUILD)/neg-raftmsg
	python3 tests/forward/forward.py
