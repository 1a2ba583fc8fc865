#!/usr/bin/env bash
# bench/bench.sh: the Vesper benchmark (`make bench`) and the side-by-side
# comparison with etcd (`make bench-compare`).
#
#   bench/bench.sh vesper    3-node Vesper: PUT, linearizable GET, 90/10 mix at
#                            1/16/64/256 connections, plus the physical limits
#   bench/bench.sh compare   etcd 3.4 (3 and 5 nodes) and Vesper (3 and 5 nodes),
#                            the same wrk workload, one table with Vesper/etcd ratios;
#                            with BENCH_ROUNDS=n (n > 1) the two alternate for n rounds
#                            and the table holds medians and their spread
#   bench/bench.sh tls       the cost of TLS: 3-node Vesper plain and with HTTPS + mutual
#                            TLS, alternating, BENCH_ROUNDS rounds (3), medians per row
#                            (defaults here: BENCH_MODES="put get", BENCH_CONNS="16 64")
#   bench/bench.sh ab        two vesperd builds side by side: VESPERD (A, build/vesperd)
#                            and VESPERD_B (B), 3 nodes, alternating, BENCH_ROUNDS rounds,
#                            medians per row (defaults: BENCH_MODES="put get",
#                            BENCH_CONNS="1 16 64"); for before/after measurements
#
# Environment: BENCH_DURATION (s per wrk run, default 5), BENCH_CONNS
# ("1 16 64 256"), BENCH_MODES ("put get mix"), BENCH_NODES (compare: "3 5"),
# BENCH_KEYS (10000), BENCH_VALUE_BYTES (100), BENCH_PORT_BASE (27100),
# BENCH_KEEP=1 (keep the data directory and logs), VESPERD (build/vesperd), FSYNC_FLOOR,
# BENCH_TMPDIR (/tmp: where the data directories go; on a tmpfs such as /dev/shm,
# fdatasync costs nothing, so a run there measures the write path without its disk).
#
# The tables are printed and saved to build/bench-last.md in the format of
# bench/RESULTS.md, which holds the current results: replace its section with them.
#
# Everything runs on 127.0.0.1 with data under a mktemp directory in $BENCH_TMPDIR; the
# EXIT trap kills the servers this script started and removes that directory.
# Each wrk run is bounded by its duration; start-up waits are bounded by 30 s.
# The whole comparison takes about 4 x (12 x duration + ~20 s) + 30 s.
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

MODE=${1:-}
# Workload overrides given by the caller, to record the exact command with the results.
OVERRIDES=""
for v in BENCH_DURATION BENCH_CONNS BENCH_MODES BENCH_NODES BENCH_KEYS BENCH_VALUE_BYTES; do
    [ -n "${!v:-}" ] && OVERRIDES+="$v=\"${!v}\" "
done
BENCH_DURATION=${BENCH_DURATION:-5}
BENCH_CONNS=${BENCH_CONNS:-1 16 64 256}
BENCH_MODES=${BENCH_MODES:-put get mix}
BENCH_KEYS=${BENCH_KEYS:-10000}
BENCH_VALUE_BYTES=${BENCH_VALUE_BYTES:-100}
VESPERD=${VESPERD:-$ROOT/build/vesperd}
FSYNC_FLOOR=${FSYNC_FLOOR:-$ROOT/build/fsync-floor}
SECTION_MD=$ROOT/build/bench-last.md

case $MODE in
vesper) NODES_LIST=3 ;;
compare) NODES_LIST=${BENCH_NODES:-3 5} ;;
tls)
    NODES_LIST=3
    [[ $OVERRIDES == *BENCH_CONNS=* ]] || BENCH_CONNS="16 64"
    [[ $OVERRIDES == *BENCH_MODES=* ]] || BENCH_MODES="put get"
    ;;
ab)
    NODES_LIST=3
    [[ $OVERRIDES == *BENCH_CONNS=* ]] || BENCH_CONNS="1 16 64"
    [[ $OVERRIDES == *BENCH_MODES=* ]] || BENCH_MODES="put get"
    [ -x "${VESPERD_B:-}" ] || { echo "bench.sh ab: set VESPERD_B to the second vesperd" >&2; exit 2; }
    ;;
*)
    echo "usage: bench/bench.sh vesper|compare|tls|ab" >&2
    exit 2
    ;;
esac

trap bench_cleanup EXIT
trap 'exit 143' TERM INT HUP

ensure_tool wrk wrk
ensure_tool curl curl
[ "$MODE" = compare ] && ensure_tool etcd etcd-server
[ -x "$FSYNC_FLOOR" ] || bench_die "$FSYNC_FLOOR missing (make build/fsync-floor)"

VESPER_OK=1
if ! bench_have_vesperd; then
    VESPER_OK=0
    if [ "$MODE" != compare ]; then
        bench_die "$VESPERD is missing: build it (make build/vesperd) and rerun make bench"
    fi
    bench_log "NOTE: $VESPERD is missing; running the etcd half only"
fi

BENCH_TMP=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/vesper-bench.XXXXXX") || bench_die "mktemp failed"
BENCH_TSV=$BENCH_TMP/results.tsv
bench_tsv_init
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
T0=$SECONDS
bench_log "data and logs in $BENCH_TMP; ${BENCH_DURATION}s per run"

bench_fsync_floor

# The tree's commit, and whether it had local changes; a file's build time.
tree_rev() {
    local rev
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev+local changes"
    echo "$rev"
}
built() { date -u -r "$1" '+%Y-%m-%d %H:%M UTC'; }

# pair_section KIND ROUNDS NOTE: the table of a run of rounds (pair_table.py), printed
# and saved; ends the script.
pair_section() {
    cp "$BENCH_TSV" "$ROOT/build/bench-last.tsv" 2>/dev/null
    python3 "$BENCH_DIR/pair_table.py" --kind "$1" --title "$STARTED" \
        --command "${OVERRIDES}make bench-$MODE" --rounds "$2" --note "$3" \
        "$BENCH_TSV" >"$BENCH_TMP/section.md" ||
        bench_die "formatting the results failed (raw rows in $BENCH_TSV)"
    cat "$BENCH_TMP/section.md"
    cp "$BENCH_TMP/section.md" "$SECTION_MD"
    bench_log "saved to $SECTION_MD; bench/RESULTS.md holds the current results"
    exit 0
}

if [ "$MODE" = tls ] || [ "$MODE" = ab ]; then
    rounds=${BENCH_ROUNDS:-3}
    labels="vesper vesper-tls"
    if [ "$MODE" = tls ]; then
        "$ROOT/deploy/make-certs.sh" "$BENCH_TMP/certs" >/dev/null || bench_die "make-certs.sh failed"
        export VESPER_CACERT=$BENCH_TMP/certs/ca.pem # for preload.py
    else
        labels="vesper-a vesper-b"
        VESPERD_A=$VESPERD
    fi
    for ((round = 1; round <= rounds; round++)); do
        for BENCH_LABEL in $labels; do
            BENCH_TLS_CERTS=""
            [ "$BENCH_LABEL" = vesper-tls ] && BENCH_TLS_CERTS=$BENCH_TMP/certs
            [ "$BENCH_LABEL" = vesper-a ] && VESPERD=$VESPERD_A
            [ "$BENCH_LABEL" = vesper-b ] && VESPERD=$VESPERD_B
            bench_log "round $round of $rounds: $BENCH_LABEL ($VESPERD)"
            # Every round starts from empty data directories: no run inherits another
            # one's log, and a build never opens files of another format.
            rm -rf "$BENCH_TMP"/vesper3-*
            bench_start_vesper 3
            bench_workloads vesper 3
            bench_stop_cluster
        done
    done
    note="build/vesperd from $(tree_rev)"
    # Which builds: path and build time of each (the two trees' commits belong in the text).
    [ "$MODE" = ab ] && note="A (VESPERD) built $(built "$VESPERD_A"), B (VESPERD_B) built $(built "$VESPERD_B")"
    pair_section "$MODE" "$rounds" "$note"
fi

# With BENCH_ROUNDS > 1 the comparison alternates the systems round by round and
# prints medians with their spread (pair_table.py) instead of one run's table.
if [ "$MODE" = compare ] && [ "${BENCH_ROUNDS:-1}" -gt 1 ] && [ $VESPER_OK = 1 ]; then
    rounds=$BENCH_ROUNDS
    for ((round = 1; round <= rounds; round++)); do
        for n in $NODES_LIST; do
            bench_log "round $round of $rounds: etcd and Vesper, $n nodes"
            rm -rf "$BENCH_TMP"/etcd"$n"-* "$BENCH_TMP"/vesper"$n"-*
            bench_start_etcd "$n"
            bench_workloads etcd "$n"
            bench_stop_cluster
            bench_start_vesper "$n"
            bench_workloads vesper "$n"
            bench_stop_cluster
        done
    done
    pair_section compare "$rounds" "build/vesperd from $(tree_rev), built $(built "$VESPERD")"
fi

if [ "$MODE" = compare ]; then
    for n in $NODES_LIST; do
        bench_start_etcd "$n"
        bench_workloads etcd "$n"
        bench_stop_cluster
    done
fi

if [ $VESPER_OK = 1 ]; then
    for n in $NODES_LIST; do
        bench_start_vesper "$n"
        if [ "$n" = 3 ]; then
            # The no-op ceiling: the server's own loop answering without Raft.
            for c in $BENCH_CONNS; do bench_wrk noop "$n" noop "$c" "$BENCH_LEADER"; done
        fi
        bench_workloads vesper "$n"
        bench_stop_cluster
    done
fi

bench_log "all runs done in $((SECONDS - T0)) s"
cmd="make bench"
[ "$MODE" = compare ] && cmd="make bench-compare"
note=""
if [ $VESPER_OK = 1 ]; then
    note="Measured build/vesperd from $(tree_rev), built $(built "$VESPERD")"
fi
cp "$BENCH_TSV" "$ROOT/build/bench-last.tsv" 2>/dev/null
python3 "$BENCH_DIR/format.py" --title "$STARTED" --command "$OVERRIDES$cmd" --note "$note" \
    --keys "$BENCH_KEYS" --value-bytes "$BENCH_VALUE_BYTES" --vesper-pending $((1 - VESPER_OK)) \
    "$BENCH_TSV" >"$BENCH_TMP/section.md" ||
    bench_die "formatting the results failed (raw rows in $BENCH_TSV)"
cat "$BENCH_TMP/section.md"
if mkdir -p "$(dirname "$SECTION_MD")" && cp "$BENCH_TMP/section.md" "$SECTION_MD"; then
    bench_log "saved to $SECTION_MD; bench/RESULTS.md holds the current results"
fi
