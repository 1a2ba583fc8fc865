#!/usr/bin/env bash
# bench/syscalls.sh: system calls per PUT on each node of a 3-node cluster
# (`make bench-syscalls`).
#
#   bench/syscalls.sh              build/vesperd (or VESPERD)
#   VESPERD_B=path bench/syscalls.sh   and a second build, for before/after
#
# For each build and each connection count (BENCH_CONNS, default "1 64"): start a
# 3-node cluster, preload the keys, attach `strace -c -f` to every node, send PUTs to
# the leader with wrk for BENCH_DURATION seconds (default 3), and divide each node's
# system call counts by the PUTs wrk completed. Unlike throughput on shared cores, these
# counts barely move from run to run, so a change that saves system calls shows here
# even when the machine is too noisy for `make bench-ab` to see its time.
#
# strace stops every traced thread at every system call, so the cluster runs several
# times slower than without it: the counts are the measure, not the rates. At many
# connections a slower leader batches more per request, so the 64-connection counts
# are lower than an untraced run's would be; compare builds within one run.
#
# Prints a markdown table and saves it to build/bench-last.md.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

BENCH_DURATION=${BENCH_DURATION:-3}
BENCH_CONNS=${BENCH_CONNS:-1 64}
BENCH_KEYS=${BENCH_KEYS:-10000}
BENCH_VALUE_BYTES=${BENCH_VALUE_BYTES:-100}
VESPERD=${VESPERD:-$ROOT/build/vesperd}
SECTION_MD=$ROOT/build/bench-last.md
# The calls shown in their own column; the rest are summed in "other".
SHOWN="epoll_wait epoll_ctl read recvfrom writev write pwrite64 fdatasync futex fcntl"

trap bench_cleanup EXIT
trap 'exit 143' TERM INT HUP
ensure_tool wrk wrk
ensure_tool curl curl
ensure_tool strace strace
bench_have_vesperd || bench_die "$VESPERD is missing: make build/vesperd"

BENCH_TMP=$(mktemp -d /tmp/vesper-bench.XXXXXX) || bench_die "mktemp failed"
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
ROWS=$BENCH_TMP/rows.tsv
: >"$ROWS"

# counts FILE: "name calls" per line from strace -c output.
counts() {
    awk '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { print $NF, $4 }' "$1"
}

# measure LABEL CONNS: one traced wrk run against the running cluster; appends one row
# per node (label, conns, role, puts, then "name=calls" pairs).
measure() {
    local label=$1 conns=$2 i role out puts threads=2 tracers=()
    [ "$conns" -lt 2 ] && threads=1
    for i in 0 1 2; do
        strace -c -f -p "${BENCH_PIDS[$i]}" -o "$BENCH_TMP/strace-$i.txt" 2>/dev/null &
        tracers+=($!)
    done
    sleep 1 # strace attaches to every thread before the load starts
    out=$(timeout $((BENCH_DURATION + 30)) wrk -t"$threads" -c"$conns" -d"${BENCH_DURATION}s" \
        --timeout 5s -s "$BENCH_DIR/wrk/kv.lua" "$BENCH_LEADER" -- vesper put "$BENCH_KEYS" \
        "$BENCH_VALUE_BYTES" 2>&1)
    for i in "${tracers[@]}"; do kill -INT "$i" 2>/dev/null; done
    for i in "${tracers[@]}"; do wait "$i" 2>/dev/null; done
    puts=$(grep -o 'requests=[0-9]*' <<<"$out" | cut -d= -f2)
    grep -q 'errors=0' <<<"$out" || bench_log "$label c$conns: wrk saw errors: $(grep BENCH <<<"$out")"
    [ -n "$puts" ] && [ "$puts" -gt 0 ] || bench_die "$label c$conns: no PUT completed"
    for i in 0 1 2; do
        role=follower
        [ "${BENCH_URLS[$i]}" = "$BENCH_LEADER" ] && role=leader
        printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$conns" "$role" "$puts" \
            "$(counts "$BENCH_TMP/strace-$i.txt" | tr ' \n' '= ')" >>"$ROWS"
    done
    bench_log "$label c$conns: $puts PUTs traced"
}

builds=("A=$VESPERD")
[ -n "${VESPERD_B:-}" ] && builds+=("B=$VESPERD_B")
for b in "${builds[@]}"; do
    VESPERD=${b#*=}
    [ -x "$VESPERD" ] || bench_die "$VESPERD is missing"
    for c in $BENCH_CONNS; do
        rm -rf "$BENCH_TMP"/vesper3-*
        bench_start_vesper 3
        python3 "$BENCH_DIR/preload.py" vesper "$BENCH_LEADER" "$BENCH_KEYS" "$BENCH_VALUE_BYTES" ||
            bench_die "preload failed"
        measure "${b%%=*}" "$c"
        bench_stop_cluster
    done
done

{
    echo "## System calls per PUT — $STARTED, \`make bench-syscalls\`"
    echo
    for b in "${builds[@]}"; do echo "${b%%=*}: ${b#*=}"; done | sed 's/^/    /'
    echo
    python3 - "$ROWS" "$SHOWN" <<'EOF'
import sys
rows, shown = sys.argv[1], sys.argv[2].split()
print("| build | conns | node | total | " + " | ".join(shown) + " | other |")
print("|---|---:|---|---:|" + "---:|" * (len(shown) + 1))
lines = [line.rstrip("\n").split("\t") for line in open(rows)]
lines.sort(key=lambda r: (r[0], int(r[1]), r[2] != "leader"))  # leader first
for label, conns, role, puts, pairs in lines:
    calls = dict(p.split("=") for p in pairs.split())
    per = {k: int(v) / int(puts) for k, v in calls.items()}
    other = sum(v for k, v in per.items() if k not in shown)
    cells = [f"{per.get(k, 0):.2f}" for k in shown]
    print(f"| {label} | {conns} | {role} | {sum(per.values()):.1f} | " + " | ".join(cells)
          + f" | {other:.2f} |")
EOF
} >"$BENCH_TMP/section.md"
cat "$BENCH_TMP/section.md"
cp "$BENCH_TMP/section.md" "$SECTION_MD"
bench_log "saved to $SECTION_MD"
