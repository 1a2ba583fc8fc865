# TLS: `make certs` (a development CA and node certificates in build/certs, made by
# deploy/make-certs.sh with the openssl command; never committed) and the TLS suite
# (tests/tls: three-node HTTPS + mutual-TLS clusters on 127.0.0.1:17700-17779 under the
# sanitizer build). `make test-tls` runs it alone; it binds ports, so take the lock:
#   flock /tmp/vesper-ports.lock make test-tls
CERTS_DIR ?= $(BUILD)/certs

.PHONY: certs test-tls itest-tls
# Also the https:// twin of ip_list.txt that docker-compose.tls.yml mounts.
certs:
	deploy/make-certs.sh $(CERTS_DIR)
	sed 's|^http://|https://|' ip_list.txt >$(CERTS_DIR)/ip_list.txt

# The container suite once more with docker-compose.tls.yml on top.
itest-tls: images certs
	VESPER_TLS=1 tests/integration/run.sh --no-build

TLS_TEST_BINS := $(BUILD)/vesperd-san $(BUILD)/vesper $(BUILD)/lincheck $(BUILD)/histgen \
                 $(BUILD)/cluster-tool
TEST_BINS += $(TLS_TEST_BINS)
TEST_SUITES += "tests/tls/run.sh"

test-tls: $(TLS_TEST_BINS)
	tests/tls/run.sh
