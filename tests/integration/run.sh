#!/usr/bin/env bash
# run.sh: the containerised failover suite, end to end (`make itest`; `make test` runs it
# as one of its suites):
#   1. skip (with "0 passed, 0 failed") when no Docker engine answers `docker info`
#      or no compose is installed;
#   2. build the images (deploy/build-images.sh: Docker compiles the sources in the
#      Dockerfile's build stage, making debian:bookworm first where it cannot be pulled;
#      --no-build when make already did);
#   3. `compose up -d` of docker-compose.yml under a project of its own, with ephemeral
#      host ports (no clash with a `make up` cluster) and advertised URLs that resolve
#      inside the network, where the suite runs; wait for every node's /ready;
#   4. `compose run itest` (tests/integration/itest_main.c), which prints one line per
#      scenario and "N passed, N failed";
#   5. `compose down -v`, always (trap), so no container, network or volume is left.
# Artefacts: build/itest/summary.txt, history.txt, compose-logs.txt (node logs on failure).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
compose=tests/integration/compose.sh

skip() {
    echo "integration: SKIPPED: $*"
    echo "0 passed, 0 failed"
    exit 0
}
fail() {
    echo "integration: FAIL: $*"
    echo "0 passed, 1 failed"
    exit 1
}

docker info >/dev/null 2>&1 || skip "no Docker engine reachable ('docker info' failed)"
if ! $compose version >/dev/null 2>&1; then
    skip "no compose: neither 'docker compose' nor 'docker-compose' is installed"
fi
if [ "${1:-}" != "--no-build" ]; then
    deploy/build-images.sh build || fail "image build failed"
fi

# VESPER_ITEST_PROJECT: another project name (machines shared by several runs).
export COMPOSE_PROJECT_NAME=${VESPER_ITEST_PROJECT:-vesperitest$$}
n=$(grep -c . ip_list.txt)
# VESPER_TLS=1: the same suite against docker-compose.tls.yml (compose.sh adds it).
scheme=http
[ "${VESPER_TLS:-0}" = 1 ] && scheme=https
for ((i = 0; i < n; i++)); do
    export "VESPER_PUBLISH_$i=127.0.0.1:" "VESPER_ADVERTISE_$i=$scheme://vesper$i:5000"
done
mkdir -p build/itest
rm -f build/itest/summary.txt build/itest/history.txt build/itest/compose-logs.txt

cleanup() {
    $compose down -v -t 5 >/dev/null 2>&1 || echo "integration: compose down failed" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

$compose up 90 || fail "the cluster did not become ready"
log=$(mktemp)
timeout 600 $compose --profile test run --rm -T itest 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    $compose logs --no-color >build/itest/compose-logs.txt 2>&1 || true
    echo "integration: node logs in build/itest/compose-logs.txt"
fi
if ! grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$log"; then
    rm -f "$log"
    fail "the suite printed no summary (exit $rc)"
fi
rm -f "$log"
exit "$rc"
