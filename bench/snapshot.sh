#!/usr/bin/env bash
# bench/snapshot.sh: request latency while snapshots of a large state are taken
# (`make bench-snapshot`).
#
#   bench/snapshot.sh [N] [VALUE_BYTES]   N keys (default 1,000,000) of VALUE_BYTES
#                                         (default 100)
#
# Each round starts a fresh 3-node cluster of $VESPERD with --snapshot-entries
# $SNAP_ENTRIES (default 100,000), loads N keys (bench/wrk/load.lua), then runs
# PUTs at 64 connections over the N keys for $BENCH_DURATION s (default 30): every
# node takes a snapshot of the whole state about every SNAP_ENTRIES writes, several
# times during the run. Printed per round: PUT/s, p50, p99, p99.9 and max latency, the
# snapshots taken during the run, elections (leader changes) during the run, and the
# WAL fdatasyncs over 10 ms and over 25 ms during the run, summed over the nodes
# (their vesper_disk_wal_fsync_duration_seconds histograms): how long the disk made
# the commits wait while the snapshots were written.
# With VESPERD_B set, rounds alternate between the two builds (BENCH_ROUNDS each,
# default 3), for a before/after comparison; the medians close the table.
#
# Everything runs on 127.0.0.1 (ports from BENCH_PORT_BASE, default 27700) with
# data under a mktemp directory in /tmp that the EXIT trap removes (BENCH_KEEP=1
# keeps it). Saves the table to build/bench-last.md.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

N=${1:-1000000}
VB=${2:-100}
VESPERD=${VESPERD:-$ROOT/build/vesperd}
BENCH_DURATION=${BENCH_DURATION:-30}
SNAP_ENTRIES=${SNAP_ENTRIES:-100000}
BENCH_PORT_BASE=${BENCH_PORT_BASE:-27700}
export BENCH_VESPERD_ARGS="--snapshot-entries $SNAP_ENTRIES"

trap bench_cleanup EXIT
trap 'exit 143' TERM INT HUP
ensure_tool wrk wrk
ensure_tool curl curl
[ -x "$VESPERD" ] || bench_die "$VESPERD missing (make build/vesperd)"
builds=("A:$VESPERD")
[ -n "${VESPERD_B:-}" ] && builds+=("B:$VESPERD_B")
rounds=${BENCH_ROUNDS:-$([ ${#builds[@]} -gt 1 ] && echo 3 || echo 1)}
BENCH_TMP=$(mktemp -d /tmp/vesper-bench-snap.XXXXXX) || bench_die "mktemp failed"
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
rows=$BENCH_TMP/rows.tsv
: >"$rows"

# count_logs PATTERN: matching lines over this cluster's node logs.
count_logs() { cat "$BENCH_TMP"/vesper3-*.log 2>/dev/null | grep -c "$1"; }

# slow_fsyncs: "over10 over25", the WAL fdatasyncs so far over 10 and over 25 ms,
# summed over this cluster's nodes.
slow_fsyncs() {
    local u
    for u in "${BENCH_URLS[@]}"; do curl -s "$u/metrics"; done | awk '
        /^vesper_disk_wal_fsync_duration_seconds_bucket/ {
            if ($1 ~ /le="0\.01"/) b10 += $2
            if ($1 ~ /le="0\.025"/) b25 += $2
            if ($1 ~ /le="\+Inf"/) all += $2
        }
        END { printf "%d %d\n", all - b10, all - b25 }'
}

applied() {
    curl -s "$BENCH_LEADER/status" | python3 -c 'import sys,json; print(json.load(sys.stdin)["applied_index"])' 2>/dev/null || echo 0
}

# load: N keys once each, through the leader; wrk is stopped when all are applied.
load() {
    local out=$BENCH_TMP/load.out pid
    wrk -t2 -c64 -d$((N / 2000 + 60))s -s "$BENCH_DIR/wrk/load.lua" "$BENCH_LEADER" -- "$N" "$VB" 2 \
        >"$out" 2>&1 &
    pid=$!
    until [ "$(applied)" -ge "$N" ] 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -INT "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ "$(applied)" -ge "$N" ] || bench_die "load stopped before $N keys: $(tail -n 3 "$out")"
}

for ((r = 1; r <= rounds; r++)); do
    for b in "${builds[@]}"; do
        label=${b%%:*}
        VESPERD=${b#*:}
        rm -rf "$BENCH_TMP"/vesper3-*
        bench_start_vesper 3
        t0=$SECONDS
        load
        bench_log "$label round $r: $N keys loaded in $((SECONDS - t0)) s"
        snaps0=$(count_logs "snapshot taken at")
        elect0=$(count_logs "election won")
        read -r slow10_0 slow25_0 <<<"$(slow_fsyncs)"
        out=$(wrk -t2 -c64 -d"${BENCH_DURATION}s" --timeout 10s -s "$BENCH_DIR/wrk/kv.lua" \
            "$BENCH_LEADER" -- vesper put "$N" "$VB" 2>&1)
        line=$(grep '^BENCH ' <<<"$out") || bench_die "wrk gave no result: $(tail -n 3 <<<"$out")"
        sleep 1
        snaps=$(($(count_logs "snapshot taken at") - snaps0))
        elect=$(($(count_logs "election won") - elect0))
        read -r slow10 slow25 <<<"$(slow_fsyncs)"
        unset requests duration_us p50_us p99_us p999_us max_us errors
        for kv in ${line#BENCH }; do declare "$kv"; done
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$r" \
            "$(awk -v q="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", q * 1e6 / d}')" \
            "$p50_us" "$p99_us" "$p999_us" "$max_us" "$errors" "$snaps" "$elect" \
            $((slow10 - slow10_0)) $((slow25 - slow25_0)) >>"$rows"
        bench_log "$label round $r: $(tail -n 1 "$rows")"
        bench_stop_cluster
    done
done

python3 - "$rows" "$N" "$SNAP_ENTRIES" "$BENCH_DURATION" "$STARTED" "${VESPERD_B:-}" "$VB" <<'PY' |
import statistics, sys
path, n, every, dur, started, b, vb = sys.argv[1:8]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
ms = lambda us: "%.1f" % (int(us) / 1000)
print("Command: `bench/snapshot.sh %s %s` (%s), 3 nodes, %s keys of %s B, --snapshot-entries %s,"
      % (n, vb, started, format(int(n), ","), vb, format(int(every), ",")))
print("PUT at 64 connections for %s s per round%s." % (dur, "; B: " + b if b else ""))
print()
print("| build | round | PUT/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | snapshots"
      " | elections | WAL fsyncs > 10 ms | > 25 ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
          % (r[0], r[1], format(int(r[2]), ","), ms(r[3]), ms(r[4]), ms(r[5]), ms(r[6]), r[7], r[8],
             r[9], r[10], r[11]))
for label in sorted({r[0] for r in rows}):
    rs = [r for r in rows if r[0] == label]
    med = lambda i: statistics.median(int(r[i]) for r in rs)
    print("| %s | median | %s | %s | %s | %s | %s | | | %s | %s | %s |"
          % (label, format(int(med(2)), ","), ms(med(3)), ms(med(4)), ms(med(5)), ms(med(6)),
             sum(int(r[9]) for r in rs), int(med(10)), int(med(11))))
PY
    tee "$ROOT/build/bench-last.md"
