#!/usr/bin/env bash
# bench/api.sh: `make bench-api`, the data API beyond get and put, side by side with etcd.
#
#   1. range:  100 consecutive keys from a random one of k00001..k10000 (100-byte values,
#              all written first), linearizable, at BENCH_CONNS connections (wrk,
#              bench/wrk/kv.lua mode range): ops/s, p50, p99, keys/s.
#   2. watch:  BENCH_WATCHERS watchers on one prefix, spread over the three nodes, and one
#              writer PUTting under it for BENCH_WATCH_SECONDS, all in build/watch-fanout,
#              once per rate of BENCH_WATCH_RATES PUTs/s (0: as fast as one connection
#              goes): events delivered per second (events x watchers), delivery lag
#              p50/p99, and how many watchers got every event.
#   3. leased: a lease of TTL 60 s granted before each run, then PUTs attached to it
#              (kv.lua mode lput) at BENCH_CONNS connections. When Vesper refuses
#              lease_grant this part is skipped for Vesper with the server's answer.
#
# 3-node etcd 3.4 and 3-node Vesper, fresh clusters for every round, BENCH_ROUNDS rounds,
# alternating systems in the order etcd, Vesper, Vesper, etcd, ... so that a drift of the
# machine's load touches both alike. Each cell is the median over the rounds with the
# spread (min-max); cells read "etcd / Vesper (Vesper÷etcd)".
#
# Environment: BENCH_DURATION (s per run, 5), BENCH_ROUNDS (3), BENCH_CONNS ("16 64"),
# BENCH_WATCHERS (1000), BENCH_WATCH_RATES ("2 0"), BENCH_WATCH_SECONDS (10), BENCH_KEYS (10000),
# BENCH_VALUE_BYTES (100), BENCH_PORT_BASE (27100), BENCH_KEEP=1 (keep data and logs),
# VESPERD (build/vesperd), WATCH_FANOUT (build/watch-fanout).
#
# The table is printed and saved to build/bench-last.md; bench/RESULTS.md describes the
# method. Servers run on 127.0.0.1 with data in a mktemp directory; the EXIT trap (also
# on Ctrl-C and SIGTERM) kills exactly the servers this script started. One round takes
# about 2 x (start + preload + 4 x BENCH_DURATION + 2 x (watch set-up + BENCH_WATCH_SECONDS)).
set -u
BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

OVERRIDES=""
for v in BENCH_DURATION BENCH_ROUNDS BENCH_CONNS BENCH_WATCHERS BENCH_WATCH_RATES \
    BENCH_WATCH_SECONDS BENCH_KEYS BENCH_VALUE_BYTES; do
    [ -n "${!v:-}" ] && OVERRIDES+="$v=\"${!v}\" "
done
BENCH_DURATION=${BENCH_DURATION:-5}
BENCH_ROUNDS=${BENCH_ROUNDS:-3}
BENCH_CONNS=${BENCH_CONNS:-16 64}
BENCH_WATCHERS=${BENCH_WATCHERS:-1000}
BENCH_WATCH_RATES=${BENCH_WATCH_RATES:-2 0}
BENCH_WATCH_SECONDS=${BENCH_WATCH_SECONDS:-10}
BENCH_KEYS=${BENCH_KEYS:-10000}
BENCH_VALUE_BYTES=${BENCH_VALUE_BYTES:-100}
SPAN=100
VESPERD=${VESPERD:-$ROOT/build/vesperd}
WATCH_FANOUT=${WATCH_FANOUT:-$ROOT/build/watch-fanout}
SECTION_MD=$ROOT/build/bench-last.md

trap bench_cleanup EXIT
trap 'exit 143' TERM INT HUP

[ "$BENCH_KEYS" -ge "$SPAN" ] || bench_die "BENCH_KEYS must be at least $SPAN"
ensure_tool wrk wrk
ensure_tool curl curl
ensure_tool etcd etcd-server
bench_have_vesperd || bench_die "$VESPERD is missing (make build/vesperd)"
[ -x "$WATCH_FANOUT" ] || bench_die "$WATCH_FANOUT is missing (make build/watch-fanout)"
# Each watcher is a socket here and one in a server.
[ "$(ulimit -n)" -gt $((BENCH_WATCHERS + 100)) ] || ulimit -n $((2 * BENCH_WATCHERS + 1024)) ||
    bench_die "ulimit -n is too low for $BENCH_WATCHERS watchers"

BENCH_TMP=$(mktemp -d /tmp/vesper-bench-api.XXXXXX) || bench_die "mktemp failed"
BENCH_TSV=$BENCH_TMP/results.tsv
WATCH_TSV=$BENCH_TMP/watch.tsv
LEASE_NOTE=$BENCH_TMP/lease-skipped
bench_tsv_init
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
T0=$SECONDS
bench_log "data and logs in $BENCH_TMP; ${BENCH_DURATION}s per run, $BENCH_ROUNDS rounds"

# json_get JSON EXPRESSION: evaluates a Python expression over the parsed answer `r`.
json_get() {
    python3 -c 'import json, sys
r = json.loads(sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}

b64() { printf '%s' "$1" | base64 -w0; }

# check_range SYSTEM: one range must return SPAN keys (else the workload measures nothing).
check_range() {
    local system=$1 a b r n
    a=$(printf 'k%05d' 1)
    b=$(printf 'k%05d' $((1 + SPAN)))
    if [ "$system" = etcd ]; then
        r=$(http_call "$BENCH_LEADER/v3/kv/range" \
            "{\"key\":\"$(b64 "$a")\",\"range_end\":\"$(b64 "$b")\",\"limit\":$SPAN}")
    else
        r=$(http_call "$BENCH_LEADER/request" \
            "{\"type\":\"range\",\"payload\":{\"start\":\"$a\",\"end\":\"$b\",\"limit\":$SPAN}}")
    fi
    n=$(json_get "$r" 'len((r.get("payload") or r).get("kvs", []))')
    [ "$n" = "$SPAN" ] || bench_die "$system: a range of $SPAN keys returned ${n:-no} keys: ${r:0:300}"
}

# lease_grant SYSTEM: prints a new lease id (TTL 60 s), or nothing when the server refuses
# leases (the refusal goes to $LEASE_NOTE). Then one leased PUT must succeed.
lease_grant() {
    local system=$1 r id p
    if [ "$system" = etcd ]; then
        r=$(http_call "$BENCH_LEADER/v3/lease/grant" '{"TTL":60}')
        id=$(json_get "$r" 'r["ID"]')
        [ -n "$id" ] || bench_die "etcd: lease grant failed: ${r:0:300}"
        p=$(http_call "$BENCH_LEADER/v3/kv/put" \
            "{\"key\":\"$(b64 k00001)\",\"value\":\"$(b64 v)\",\"lease\":\"$id\"}")
        [ "$(json_get "$p" '"error" not in r')" = True ] ||
            bench_die "etcd: leased put failed: ${p:0:300}"
    else
        r=$(http_call "$BENCH_LEADER/request" '{"type":"lease_grant","payload":{"ttl":60}}')
        id=$(json_get "$r" 'r["payload"]["id"] if r.get("code") == "success" else ""')
        if [ -z "$id" ]; then
            bench_log "Vesper refused lease_grant (${r:0:200}): leased PUTs skipped for Vesper"
            printf '%s' "${r:0:200}" >"$LEASE_NOTE"
            return 0
        fi
        p=$(http_call "$BENCH_LEADER/request" \
            "{\"type\":\"put\",\"payload\":{\"key\":\"k00001\",\"value\":\"v\",\"lease\":$id}}")
        [ "$(json_get "$p" 'r.get("code")')" = success ] ||
            bench_die "vesper: leased put failed: ${p:0:300}"
    fi
    echo "$id"
}

watch_tsv_init() {
    local cols=(system round watchers established complete closed rate puts put_errors
        write_secs expected delivered dups early events_per_s lag_p50_us lag_p99_us lag_max_us
        lag_leader_p50_us lag_followers_p50_us put_p50_us put_p99_us setup_ms cpu_s)
    (IFS=$'\t'; echo "${cols[*]}") >"$WATCH_TSV"
}

# watch_run SYSTEM ROUND RATE: one fan-out run against the current cluster, one row.
watch_run() {
    local system=$1 round=$2 target=$3 urls out line before after kv cpu err
    urls=$(IFS=,; echo "${BENCH_URLS[*]}")
    before=$(cpu_ticks "${BENCH_PIDS[@]}")
    err=$BENCH_TMP/watch-$system-$round-$target.err
    out=$(timeout $((BENCH_WATCH_SECONDS + 90)) "$WATCH_FANOUT" --system "$system" \
        --put "$BENCH_LEADER" --watch "$urls" --watchers "$BENCH_WATCHERS" \
        --prefix "fanout$round-$target/" --seconds "$BENCH_WATCH_SECONDS" --rate "$target" \
        --value-bytes "$BENCH_VALUE_BYTES" --drain-seconds 10 2>"$err")
    after=$(cpu_ticks "${BENCH_PIDS[@]}")
    line=$(grep '^WATCH ' <<<"$out")
    if [ -z "$line" ]; then
        bench_log "watch-fanout $system produced no result: $(tail -n 3 "$err")"
        return 0
    fi
    local watchers established complete closed rate puts put_errors write_secs expected delivered
    local dups early events_per_s lag_p50_us lag_p99_us lag_max_us put_p50_us put_p99_us setup_ms
    local lag_leader_p50_us lag_followers_p50_us opened
    for kv in ${line#WATCH }; do local "$kv"; done
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}')
    local row=("$system" "$round" "$watchers" "$established" "$complete" "$closed" "$rate" "$puts"
        "$put_errors" "$write_secs" "$expected" "$delivered" "$dups" "$early" "$events_per_s"
        "$lag_p50_us" "$lag_p99_us" "$lag_max_us" "$lag_leader_p50_us" "$lag_followers_p50_us"
        "$put_p50_us" "$put_p99_us" "$setup_ms" "$cpu")
    (IFS=$'\t'; echo "${row[*]}") >>"$WATCH_TSV"
    bench_log "$system watch at $target/s: $established/$watchers watching, $puts PUTs, $delivered of" \
        "$expected events ($events_per_s/s), lag p50 ${lag_p50_us}us p99 ${lag_p99_us}us," \
        "$complete complete, $closed closed"
    [ -s "$err" ] && head -n 3 "$err" >&2
    return 0
}

# one_system SYSTEM ROUND: a fresh 3-node cluster through the three workloads.
one_system() {
    local system=$1 round=$2 c id rate
    bench_log "round $round of $BENCH_ROUNDS: $system"
    if [ "$system" = etcd ]; then bench_start_etcd 3; else bench_start_vesper 3; fi
    python3 "$BENCH_DIR/preload.py" "$system" "$BENCH_LEADER" "$BENCH_KEYS" \
        "$BENCH_VALUE_BYTES" 16 >&2 || bench_die "$system: preload failed"
    check_range "$system"
    for c in $BENCH_CONNS; do
        BENCH_WRK_ARGS="$SPAN" bench_wrk "$system" 3 range "$c" "$BENCH_LEADER"
    done
    for rate in $BENCH_WATCH_RATES; do watch_run "$system" "$round" "$rate"; done
    for c in $BENCH_CONNS; do
        id=$(lease_grant "$system") || exit 1
        [ -n "$id" ] || break
        BENCH_WRK_ARGS="$SPAN $id" bench_wrk "$system" 3 lput "$c" "$BENCH_LEADER"
    done
    bench_stop_cluster
}

watch_tsv_init
for ((round = 1; round <= BENCH_ROUNDS; round++)); do
    order="etcd vesper"
    [ $((round % 2)) = 0 ] && order="vesper etcd"
    for system in $order; do one_system "$system" "$round"; done
done
bench_log "all runs done in $((SECONDS - T0)) s"

rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev+local changes"
note="build/vesperd from $rev"
# A server from elsewhere (VESPERD=...) is not this tree's commit.
[ "$VESPERD" -ef "$ROOT/build/vesperd" ] || note="a vesperd given by VESPERD, not this tree's build"
note+=", built $(date -u -r "$VESPERD" '+%Y-%m-%d %H:%M UTC')"
cp "$BENCH_TSV" "$ROOT/build/bench-last.tsv" 2>/dev/null
cp "$WATCH_TSV" "$ROOT/build/bench-last-watch.tsv" 2>/dev/null
python3 "$BENCH_DIR/api_table.py" --title "$STARTED" --command "${OVERRIDES}make bench-api" \
    --rounds "$BENCH_ROUNDS" --span "$SPAN" --keys "$BENCH_KEYS" \
    --value-bytes "$BENCH_VALUE_BYTES" --note "$note" \
    --lease-skipped "$(cat "$LEASE_NOTE" 2>/dev/null)" "$BENCH_TSV" "$WATCH_TSV" \
    >"$BENCH_TMP/section.md" || bench_die "formatting the results failed (raw rows in $BENCH_TMP)"
cat "$BENCH_TMP/section.md"
mkdir -p "$(dirname "$SECTION_MD")" && cp "$BENCH_TMP/section.md" "$SECTION_MD" &&
    bench_log "saved to $SECTION_MD"
