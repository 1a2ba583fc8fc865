#!/usr/bin/env bash
# bigdata.sh: the large-state measurements of bench/RESULTS.md on a 3-node cluster:
#   - resident memory per node holding N keys of VALUE_BYTES (default 1,000,000 x 100),
#     against the raw data size (keys + values);
#   - time for a restarted node (kill -9, then start) to answer /ready;
#   - PUTs answered with an error and leader changes (the term) during the load.
# Loads the keys once with wrk (bench/wrk/load.lua), each key written once.
# Usage: bench/bigdata.sh [N] [VALUE_BYTES]; prints a markdown block for RESULTS.md.
set -euo pipefail
N=${1:-1000000}
VB=${2:-100}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
vesperd=$top/build/vesperd
[ -x "$vesperd" ] || { echo "bigdata: build/vesperd missing (make)"; exit 1; }
command -v wrk >/dev/null || { echo "bigdata: wrk missing (apt-get install wrk)"; exit 1; }
tmp=$(mktemp -d /tmp/vesper-bigdata.XXXXXX)
base=${BIGDATA_PORT:-27600}
pids=()
# BENCH_KEEP=1 keeps the data directories (for profiling a restart by hand).
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [ -n "${BENCH_KEEP:-}" ]; then echo "bigdata: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT INT TERM
for i in 0 1 2; do echo "http://127.0.0.1:$((base + i))" >>"$tmp/ip_list.txt"; done
start() { "$vesperd" "$1" "$tmp/ip_list.txt" --data-dir "$tmp/d$1" --log-level warn \
              >>"$tmp/log$1" 2>&1 & pids[$1]=$!; }
status() { curl -s "http://127.0.0.1:$((base + $1))/status"; }
field() { python3 -c "import sys,json; print(json.load(sys.stdin)[\"$1\"])"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
for i in 0 1 2; do start $i; done
for _ in $(seq 100); do
    leader=$(status 0 | field leader 2>/dev/null || true)
    [ -n "$leader" ] && [ "$leader" != None ] && break
    sleep 0.1
done
term0=$(status "$leader" | field term)
t0=$(date +%s.%N)
wrk -t2 -c64 -d$((N / 5000 + 30))s -s "$top/bench/wrk/load.lua" "http://127.0.0.1:$((base + leader))" \
    -- "$N" "$VB" 2 >"$tmp/wrk.out" 2>&1 &
wrk_pid=$!
bench_wait_load "$wrk_pid" "http://127.0.0.1:$((base + leader))/status" "$N"
t1=$(date +%s.%N)
grep -E "LOAD|Requests/sec" "$tmp/wrk.out" >&2 || true
load_errors=$(sed -n 's/^LOAD .*errors=\([0-9]*\).*/\1/p' "$tmp/wrk.out")
term1=$(status "$leader" | field term)
sleep 2
raw=$(( N * (8 + VB) ))
rows=""
for i in 0 1 2; do
    kb=$(rss_kb "${pids[$i]}")
    rows+="| $i | $( [ "$i" = "$leader" ] && echo leader || echo follower ) | $((kb / 1024)) | $(python3 -c "print('%.2f' % ($kb * 1024 / $raw))") |"$'\n'
done
follower=$(( (leader + 1) % 3 ))
# Sets RESTART_MS (not echoed: a command substitution would run it in a subshell
# and lose the new pid).
restart() {
    local id=$1 s e
    kill -9 "${pids[$id]}"; wait "${pids[$id]}" 2>/dev/null || true
    s=$(date +%s%N)
    start "$id"
    until curl -sf "http://127.0.0.1:$((base + id))/ready" >/dev/null; do sleep 0.01; done
    e=$(date +%s%N)
    RESTART_MS=$(( (e - s) / 1000000 ))
}
restart "$follower"; r1=$RESTART_MS
restart "$follower"; r2=$RESTART_MS
applied=$(status "$follower" | field applied_index)
snap=$(status "$follower" | field snapshot_index)
cat <<MD
Command: \`bench/bigdata.sh $N $VB\` ($(date -u '+%Y-%m-%d %H:%M UTC')), 3 nodes, loaded with wrk -t2 -c64 in $(python3 -c "print('%.0f' % ($t1 - $t0))") s.
Raw data: $N keys x (8-byte key + $VB-byte value) = $((raw / 1048576)) MiB.
Load: ${load_errors:-?} PUTs answered with an error; the term went from $term0 to $term1
(every leader change raises it).

| node | role | RSS MiB | RSS / raw data |
|---:|---|---:|---:|
${rows}
Restart of a follower holding them (kill -9, start, until GET /ready answers 200):
$r1 ms, then $r2 ms (snapshot index $snap, applied $applied).
MD
