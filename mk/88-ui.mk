# The cluster console (GET /ui, src/ui/console.html, embedded by mk/90-vesperd.mk) and its
# suite (tests/ui): a five-node build/vesperd-san cluster on 127.0.0.1:17850-17863 watched
# by headless Chromium over the DevTools protocol, node and leader killed under it, plus the
# Grafana dashboard (deploy/grafana) checked against a live /metrics. Screenshots go to
# build/ui-artifacts. Without Chromium (make deps installs it) the browser cases skip.
# It binds ports: `flock /tmp/vesper-ports.lock make test-ui`.
UI_TEST_BINS := $(BUILD)/vesperd-san
TEST_BINS += $(UI_TEST_BINS)
TEST_SUITES += "python3 tests/ui/test_console.py"

.PHONY: test-ui
test-ui: $(UI_TEST_BINS)
	python3 tests/ui/test_console.py
