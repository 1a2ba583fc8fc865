#!/usr/bin/env bash
# test_histgen.sh: build/histgen against a fake cluster (tests/tools/histgen_mock.py).
#
#   tests/tools/test_histgen.sh [BUILD_DIR]     (run by `make test`; ~15 s)
#
# Checks what makes histgen's histories trustworthy for build/lincheck: a linearizable
# server with redirects, no_leader answers and ambiguous replies yields a history the
# checker accepts, with every ambiguous write recorded as info; a server with stale reads is
# caught; libcurl's silent resend on a dead keep-alive connection is recorded as info; the
# endpoint list only admits 127.0.0.1; the run always ends on time. Scratch files live in a
# mktemp directory removed on exit, and every mock started here is killed by its pid.
set -u
BUILD=${1:-build}
HISTGEN=$BUILD/histgen
LINCHECK=$BUILD/lincheck
MOCK=$(dirname "$0")/histgen_mock.py
pass=0
fail=0
MOCK_PID=""

check() { # check NAME COMMAND...: one test case
    local name=$1
    shift
    if "$@"; then
        pass=$((pass + 1))
        echo "ok   $name"
    else
        fail=$((fail + 1))
        echo "FAIL $name"
    fi
}

if ! command -v python3 >/dev/null; then
    echo "python3 missing: the fake cluster needs it; skipping"
    echo "0 passed, 0 failed"
    exit 0
fi

TMP=$(mktemp -d /tmp/test-histgen.XXXXXX) || exit 1
stop_mock() {
    if [ -n "$MOCK_PID" ]; then
        kill "$MOCK_PID" 2>/dev/null
        wait "$MOCK_PID" 2>/dev/null
    fi
    MOCK_PID=""
}
trap 'stop_mock; rm -rf "$TMP"' EXIT

start_mock() { # start_mock MODE LIFETIME: sets MOCK_PID, writes $TMP/ip_list.txt
    rm -f "$TMP/ip_list.txt"
    python3 "$MOCK" "$1" "$TMP/ip_list.txt" "$2" 7 &
    MOCK_PID=$!
    for _ in $(seq 100); do
        [ -s "$TMP/ip_list.txt" ] && return 0
        sleep 0.05
    done
    echo "mock did not start"
    return 1
}

ops_field() { awk -v f="$2" '!/^#/ {print $f}' "$1"; } # ops_field FILE N: field N of every op

good_history_linearizable() {
    "$LINCHECK" --quiet "$TMP/good.txt" >/dev/null
}

ambiguous_writes_are_info() {
    # Writes of values ending in -3 or -5 were applied and then answered ambiguously.
    local bad
    bad=$(awk '!/^#/ && ($4 ~ /-[35]$/) && $8 != "info"' "$TMP/good.txt")
    [ -z "$bad" ] || { echo "$bad" | head -3; return 1; }
    [ "$(awk '!/^#/ && ($4 ~ /-[35]$/)' "$TMP/good.txt" | wc -l)" -ge 2 ]
}

run_good() {
    start_mock good 8 || return 1
    local t0=$SECONDS
    "$HISTGEN" -c 4 -d 3 -t 300 -x -s 11 -o "$TMP/good.txt" "$TMP/ip_list.txt" >"$TMP/good.out"
    local rc=$? secs=$((SECONDS - t0))
    stop_mock
    cat "$TMP/good.out"
    [ $rc = 0 ] && [ $secs -le 5 ] && [ "$(ops_field "$TMP/good.txt" 1 | wc -l)" -ge 20 ]
}

stale_reads_caught() {
    start_mock stale 6 || return 1
    "$HISTGEN" -c 4 -d 2 -t 300 -s 12 -o "$TMP/stale.txt" "$TMP/ip_list.txt" >/dev/null
    stop_mock
    "$LINCHECK" --quiet "$TMP/stale.txt" >/dev/null
    [ $? = 1 ]
}

resend_is_info() {
    # Op 1 is answered; op 2 reaches the server, which drops the connection and its port.
    start_mock resend 5 || return 1
    "$HISTGEN" -c 1 -n 2 -t 500 -s 13 -o "$TMP/resend.txt" "$TMP/ip_list.txt" >/dev/null
    stop_mock
    [ "$(ops_field "$TMP/resend.txt" 8 | tr '\n' ' ')" = "ok info " ]
}

only_loopback() {
    printf 'http://10.0.0.1:8080\n' >"$TMP/far.txt"
    "$HISTGEN" -d 1 -o "$TMP/far-h.txt" "$TMP/far.txt" 2>/dev/null
    [ $? = 2 ] && [ ! -e "$TMP/far-h.txt" ]
}

dead_cluster_fails_on_time() {
    # A port nobody listens on: every op is refused before sending, so every op is fail.
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
    printf 'http://127.0.0.1:%s\n' "$port" >"$TMP/dead.txt"
    local t0=$SECONDS
    "$HISTGEN" -c 2 -d 1 -t 200 -o "$TMP/dead-h.txt" "$TMP/dead.txt" >/dev/null || return 1
    [ $((SECONDS - t0)) -le 3 ] && [ -z "$(ops_field "$TMP/dead-h.txt" 8 | grep -v '^fail$')" ] &&
        [ "$(ops_field "$TMP/dead-h.txt" 8 | wc -l)" -ge 2 ]
}

check "good cluster: histgen exits 0 within duration + timeout, >= 20 ops" run_good
check "good cluster: lincheck accepts the history" good_history_linearizable
check "good cluster: applied-then-ambiguous writes are info" ambiguous_writes_are_info
check "stale reads: lincheck reports a violation" stale_reads_caught
check "dead keep-alive connection + libcurl resend: info, not fail" resend_is_info
check "endpoint list must be 127.0.0.1" only_loopback
check "dead cluster: every op fails, run ends on time" dead_cluster_fails_on_time
echo "$pass passed, $fail failed"
[ $fail = 0 ]
