#!/usr/bin/env bash
# bench/instructions.sh: user-space instructions per request in vesperd
# (`make bench-instructions`).
#
#   bench/instructions.sh                  build/vesperd (or VESPERD)
#   VESPERD_B=path bench/instructions.sh   and a second build, for before/after
#
# For each build and each workload (BENCH_MODES, default "get put"): start a one-node
# vesperd under `valgrind --tool=callgrind`, preload BENCH_KEYS keys (default 1,000)
# of BENCH_VALUE_BYTES (default 100), zero the counters, send requests with wrk at
# BENCH_CONNS connections (default 16) for BENCH_DURATION seconds (default 8), dump
# the counters, and divide by the requests wrk completed. Printed per row: the total,
# and the inclusive instructions of the parts that matter on the request path:
# parsing the body (api_parse_request), writing the reply body (api_reply_value,
# _success, _fail), handing it to h2o (h2o_send_inline), of which h2o's response head
# (flatten_headers), and the allocator (malloc, calloc, realloc and free, wherever
# called, summed; calls inside calls count twice, so read it as an upper bound).
#
# callgrind counts instructions, not time: the counts repeat within a few per cent
# whatever else the machine runs, so a change in the CPU a request costs shows here
# when the shared cores make `make bench-ab` too noisy to see it. It does not count
# the kernel (system calls, TCP), which is most of a request's cycles on this path;
# `make bench-syscalls` counts those calls. One node: under valgrind a leader runs
# tens of times slower and followers would elect another, and the request path is
# the same code (a linearizable read on one node confirms leadership with itself).
#
# Prints a markdown table and saves it to build/bench-last.md.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

BENCH_MODES=${BENCH_MODES:-get put}
BENCH_CONNS=${BENCH_CONNS:-16}
BENCH_DURATION=${BENCH_DURATION:-8}
BENCH_KEYS=${BENCH_KEYS:-1000}
BENCH_VALUE_BYTES=${BENCH_VALUE_BYTES:-100}
VESPERD=${VESPERD:-$ROOT/build/vesperd}
# Columns: inclusive instructions of these functions ('+' sums several).
PARTS="api_parse_request api_reply_value+api_reply_success+api_reply_fail h2o_send_inline
       flatten_headers malloc+calloc+realloc+free"

trap bench_cleanup EXIT
trap 'exit 143' TERM INT HUP
ensure_tool wrk wrk
ensure_tool curl curl
ensure_tool valgrind valgrind
bench_have_vesperd || bench_die "$VESPERD is missing: make build/vesperd"

BENCH_TMP=$(mktemp -d /tmp/vesper-bench.XXXXXX) || bench_die "mktemp failed"
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
ROWS=$BENCH_TMP/rows.tsv
: >"$ROWS"

# inclusive FILE: "function instructions" per line, inclusive costs, names bare.
inclusive() {
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null | awk '
        match($0, /^ *[0-9,]+ \( *[0-9.]+%\) +[^ ]+/) {
            line = substr($0, 1, RLENGTH); n = line; sub(/ *\(.*/, "", n); gsub(/[ ,]/, "", n)
            f = line; sub(/.*%\) +/, "", f); sub(/.*:/, "", f); sub(/'"'"'.*/, "", f)
            if (!(f in seen)) { seen[f] = 1; print f, n }
        }'
}

# measure LABEL BIN MODE: one callgrind run; appends a row (label, mode, requests,
# total, then one column per part and the allocator).
measure() {
    local label=$1 bin=$2 mode=$3 base list dir pid url out requests total dump i
    base=$(bench_pick_base 1) || exit 1
    url="http://127.0.0.1:$base"
    list=$BENCH_TMP/ip_list-$label-$mode.txt
    dir=$BENCH_TMP/data-$label-$mode
    echo "$url" >"$list"
    mkdir -p "$dir"
    valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$bin" 0 "$list" \
        --data-dir "$dir/data" >"$dir.log" 2>&1 &
    pid=$!
    BENCH_ALL_PIDS+=("$pid")
    for ((i = 0; i < 240; i++)); do
        http_call "$url/request" '{"type":"put","payload":{"key":"probe","value":"x"}}' PUT \
            2>/dev/null | grep -q '"success"' && break
        kill -0 "$pid" 2>/dev/null || bench_die "vesperd under valgrind exited (see $dir.log)"
        sleep 0.5
    done
    wrk -t1 -c"$BENCH_CONNS" -d"$((BENCH_KEYS / 300 + 3))s" -s "$BENCH_DIR/wrk/kv.lua" "$url" \
        -- vesper put "$BENCH_KEYS" "$BENCH_VALUE_BYTES" >/dev/null 2>&1
    callgrind_control -z "$pid" >/dev/null 2>&1 || bench_die "callgrind_control -z failed"
    out=$(wrk -t1 -c"$BENCH_CONNS" -d"${BENCH_DURATION}s" -s "$BENCH_DIR/wrk/kv.lua" "$url" \
        -- vesper "$mode" "$BENCH_KEYS" "$BENCH_VALUE_BYTES" 2>&1)
    callgrind_control -d "$pid" >/dev/null 2>&1 || bench_die "callgrind_control -d failed"
    kill "$pid"
    wait "$pid" 2>/dev/null
    requests=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
    [ -n "$requests" ] && [ "$requests" -gt 0 ] || bench_die "wrk gave no result: $out"
    dump=$(ls "$dir"/cg.out.* 2>/dev/null | head -n 1)
    [ -n "$dump" ] || bench_die "no callgrind dump in $dir"
    inclusive "$dump" >"$dir/inclusive.txt"
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    local row="$label	$mode	$requests	$total" part
    for part in $PARTS; do
        row+="	$(awk -v want="$part" 'BEGIN {n = split(want, f, "+"); for (i = 1; i <= n; i++) w[f[i]] = 1}
            $1 in w {s += $2} END {print s + 0}' "$dir/inclusive.txt")"
    done
    echo "$row" >>"$ROWS"
    bench_log "$label $mode: $requests requests, $((total / requests)) instructions each"
}

builds=("A:$VESPERD")
[ -n "${VESPERD_B:-}" ] && builds+=("B:$VESPERD_B")
for mode in $BENCH_MODES; do
    for b in "${builds[@]}"; do
        measure "${b%%:*}" "${b#*:}" "$mode"
    done
done

{
    echo "Command: \`bench/instructions.sh\` ($STARTED): one node under callgrind, $BENCH_KEYS keys"
    echo "of $BENCH_VALUE_BYTES B, wrk at $BENCH_CONNS connections for $BENCH_DURATION s;" \
        "user-space instructions per request (inclusive).${VESPERD_B:+ B: $VESPERD_B}"
    echo
    echo "| build | workload | requests | total | parse body | reply body | h2o send | of which head | malloc/free |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{
        printf "| %s | %s | %d | %d | %d | %d | %d | %d | %d |\n", $1, toupper($2), $3, $4 / $3,
            $5 / $3, $6 / $3, $7 / $3, $8 / $3, $9 / $3 }' "$ROWS"
} | tee "$ROOT/build/bench-last.md"
