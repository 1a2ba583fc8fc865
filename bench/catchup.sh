#!/usr/bin/env bash
# catchup.sh: the leader's memory while a follower far behind catches up
# (`make bench-catchup`), on a 3-node cluster of build/vesperd.
#
#   bench/catchup.sh [N] [VALUE_BYTES]      default 1,000,000 writes of 100 bytes
#
# One follower is stopped (SIGSTOP), N keys are written through the leader (the other
# follower makes the majority), and the leader's resident memory is read: its steady
# state holding that data. The follower is then resumed (SIGCONT) and the leader's
# VmRSS is sampled every 50 ms until the follower has applied everything. Printed: the
# leader's RSS before and its peak during the catch-up (and their ratio), the
# follower's catch-up time, whether it caught up by a snapshot or by entries, and the
# follower's slowest answer to GET /status meanwhile (how long its loop was busy).
#
# CATCHUP_ARGS: more vesperd options for every node (split on spaces). By default the
# log is compacted every 100,000 entries, so a follower this far behind gets a
# snapshot first; CATCHUP_ARGS="--snapshot-entries 100000000 --snapshot-bytes
# 100000000000" keeps every entry in the leader's log and the follower catches up by
# appends alone.
#
# Runs on 127.0.0.1 (ports from CATCHUP_PORT, default 27650) with data in a mktemp
# directory that the EXIT trap removes with the servers. Bounded: the load by wrk's
# duration, the catch-up by CATCHUP_TIMEOUT seconds (default 300).
set -euo pipefail
N=${1:-1000000}
VB=${2:-100}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
vesperd=${VESPERD:-$top/build/vesperd}
[ -x "$vesperd" ] || { echo "catchup: $vesperd missing (make build/vesperd)"; exit 1; }
command -v wrk >/dev/null || { echo "catchup: wrk missing (apt-get install wrk)"; exit 1; }
tmp=$(mktemp -d /tmp/vesper-catchup.XXXXXX)
base=${CATCHUP_PORT:-27650}
timeout_s=${CATCHUP_TIMEOUT:-300}
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -CONT "$p" 2>/dev/null || true
        kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
for i in 0 1 2; do echo "http://127.0.0.1:$((base + i))" >>"$tmp/ip_list.txt"; done
# shellcheck disable=SC2086
start() { "$vesperd" "$1" "$tmp/ip_list.txt" --data-dir "$tmp/d$1" --log-level warn \
              ${CATCHUP_ARGS:-} >>"$tmp/log$1" 2>&1 & pids[$1]=$!; }
status() { curl -s "http://127.0.0.1:$((base + $1))/status"; }
field() { python3 -c "import sys,json; print(json.load(sys.stdin)[\"$1\"])"; }
rss_kb() { awk '/VmRSS/{print $2}' "/proc/$1/status"; }
for i in 0 1 2; do start "$i"; done
leader=""
for _ in $(seq 100); do
    leader=$(status 0 | field leader 2>/dev/null || true)
    [ -n "$leader" ] && [ "$leader" != None ] && break
    sleep 0.1
done
[ -n "$leader" ] && [ "$leader" != None ] || { echo "catchup: no leader"; exit 1; }
behind=$(((leader + 1) % 3))
kill -STOP "${pids[$behind]}"
start_index=$(status "$leader" | field applied_index)
t0=$(date +%s.%N)
wrk -t2 -c64 -d$((N / 2000 + 60))s -s "$top/bench/wrk/load.lua" \
    "http://127.0.0.1:$((base + leader))" -- "$N" "$VB" 2 >"$tmp/wrk.out" 2>&1 &
wrk_pid=$!
bench_wait_load "$wrk_pid" "http://127.0.0.1:$((base + leader))/status" $((start_index + N))
t1=$(date +%s.%N)
target=$(status "$leader" | field applied_index)
sleep 2
steady=$(rss_kb "${pids[$leader]}")
peak=$steady
c0=$(date +%s%N)
kill -CONT "${pids[$behind]}"
caught=0
slowest_us=0
while [ $(( ($(date +%s%N) - c0) / 1000000000 )) -lt "$timeout_s" ]; do
    kb=$(rss_kb "${pids[$leader]}")
    [ "$kb" -gt "$peak" ] && peak=$kb
    # The follower's answer time: how long its loop was busy when the request came.
    out=$(curl -s -w '\n%{time_total}' "http://127.0.0.1:$((base + behind))/status" || true)
    us=$(printf '%s\n' "$out" | tail -1 | awk '{printf "%d", $1 * 1000000}')
    [ "${us:-0}" -gt "$slowest_us" ] && slowest_us=$us
    applied=$(printf '%s\n' "$out" | head -n -1 | field applied_index 2>/dev/null || echo 0)
    if [ "$applied" -ge "$target" ] 2>/dev/null; then caught=1; break; fi
    sleep 0.05
done
c1=$(date +%s%N)
snap=$(status "$behind" | field snapshot_index 2>/dev/null || echo "?")
installs=$(curl -s "http://127.0.0.1:$((base + behind))/metrics" |
    awk '/^vesper_snapshots_installed_total/{print $2}')
cat <<MD
Command: \`bench/catchup.sh $N $VB\`${CATCHUP_ARGS:+ with CATCHUP_ARGS="$CATCHUP_ARGS"} ($(date -u '+%Y-%m-%d %H:%M UTC')), 3 nodes; $N writes of $VB bytes loaded in $(python3 -c "print('%.0f' % ($t1 - $t0))") s with one follower stopped.

| measure | value |
|---|---|
| leader RSS, steady state with the follower $N entries behind | $((steady / 1024)) MiB |
| leader RSS, peak while it catches up (sampled every 50 ms) | $((peak / 1024)) MiB ($(python3 -c "print('%.2f' % ($peak / $steady))")x) |
| catch-up time (resume until it applied index $target) | $([ $caught = 1 ] && echo "$(( (c1 - c0) / 1000000 )) ms" || echo "not within ${timeout_s} s") |
| snapshots installed by the follower | ${installs:-?} (its snapshot index $snap) |
| the follower's slowest \`GET /status\` answer while it catches up (sampled every 50 ms: its loop's longest stall) | $((slowest_us / 1000)) ms |
MD
