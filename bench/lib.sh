# bench/lib.sh: cluster start/stop, measurement and result rows for bench/bench.sh.
#
# Sourced, not run. Owns the processes it starts: every server pid goes into
# BENCH_ALL_PIDS and bench_cleanup (the EXIT trap of bench.sh) kills exactly
# those pids, never processes found by name, so a benchmark can share the
# machine with other people's clusters. Ports are checked free before use.
#
# One result row per wrk run goes to $BENCH_TSV (tab-separated, header in
# bench_tsv_init); bench/format.py turns the rows into the markdown table.
# CPU is the sum of utime+stime in /proc/<pid>/stat over the cluster's server
# processes, read just before and just after the run; RSS is the mean VmRSS
# of those processes right after the run.

BENCH_ALL_PIDS=()
BENCH_PIDS=()
CLK_TCK=$(getconf CLK_TCK)

bench_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

bench_cleanup() {
    local p
    for p in "${BENCH_ALL_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${BENCH_ALL_PIDS[@]}"; do
        # Give each server 5 s to exit on SIGTERM before SIGKILL.
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    BENCH_ALL_PIDS=()
    if [ -n "${BENCH_TMP:-}" ] && [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_TMP"; fi
}

# Stops the current cluster's servers (and forgets them).
bench_stop_cluster() {
    local p
    for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${BENCH_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    BENCH_PIDS=()
}

# ensure_tool BINARY DEBIAN_PACKAGE: installs the package when BINARY is missing.
ensure_tool() {
    command -v "$1" >/dev/null && return 0
    bench_log "$1 missing; installing Debian package $2"
    if ! apt-cache policy "$2" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt-get update -q >/dev/null || bench_die "apt-get update failed"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        bench_die "apt-get install $2 failed"
    command -v "$1" >/dev/null || bench_die "$2 installed but $1 not found"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# bench_pick_base COUNT: prints a base port with COUNT free ports above it.
bench_pick_base() {
    local count=$1 base=${BENCH_PORT_BASE:-27100} i busy
    for _ in $(seq 20); do
        busy=0
        for ((i = 0; i < count; i++)); do
            if port_in_use $((base + i)); then busy=1; break; fi
        done
        if [ $busy = 0 ]; then echo "$base"; return 0; fi
        base=$((base + 100))
    done
    bench_die "no $count free ports found from ${BENCH_PORT_BASE:-27100}"
}

# http_call URL BODY [METHOD]: prints the body, fails on a connection error.
http_call() {
    curl -sS -m 2 ${BENCH_TLS_CERTS:+--cacert "$BENCH_TLS_CERTS/ca.pem"} -X "${3:-POST}" \
        -H 'Content-Type: application/json' -d "$2" "$1"
}

# --- etcd ---------------------------------------------------------------------
# etcd_is_leader STATUS_JSON: true when a /v3/maintenance/status answer comes from the leader.
etcd_is_leader() {
    python3 -c 'import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if s.get("leader") and s["leader"] == s["header"]["member_id"] else 1)' "$1" 2>/dev/null
}

# bench_start_etcd NODES: starts NODES etcd members; sets BENCH_PIDS, BENCH_URLS,
# BENCH_LEADER (the leader's client URL).
bench_start_etcd() {
    local n=$1 base i cluster=""
    base=$(bench_pick_base $((2 * n))) || exit 1
    BENCH_URLS=()
    for ((i = 0; i < n; i++)); do
        cluster+="${cluster:+,}e$i=http://127.0.0.1:$((base + n + i))"
    done
    for ((i = 0; i < n; i++)); do
        local c=$((base + i)) p=$((base + n + i)) dir="$BENCH_TMP/etcd$n-$i"
        mkdir -p "$dir"
        etcd --name "e$i" --data-dir "$dir" --log-level error \
            --listen-client-urls "http://127.0.0.1:$c" \
            --advertise-client-urls "http://127.0.0.1:$c" \
            --listen-peer-urls "http://127.0.0.1:$p" \
            --initial-advertise-peer-urls "http://127.0.0.1:$p" \
            --initial-cluster "$cluster" --initial-cluster-state new \
            --initial-cluster-token "bench-$$-$n" >"$dir.log" 2>&1 &
        BENCH_PIDS+=($!)
        BENCH_ALL_PIDS+=($!)
        BENCH_URLS+=("http://127.0.0.1:$c")
    done
    local deadline=$((SECONDS + 30)) u st
    while [ $SECONDS -lt $deadline ]; do
        for u in "${BENCH_URLS[@]}"; do
            st=$(http_call "$u/v3/maintenance/status" '{}' 2>/dev/null) || continue
            if etcd_is_leader "$st"; then
                BENCH_LEADER=$u
                bench_log "etcd x$n up, leader $u (pids ${BENCH_PIDS[*]})"
                return 0
            fi
        done
        sleep 0.3
    done
    tail -n 5 "$BENCH_TMP"/etcd$n-*.log >&2
    bench_die "etcd x$n: no leader within 30 s"
}

# --- Vesper -------------------------------------------------------------------
bench_have_vesperd() { [ -x "$VESPERD" ]; }

# bench_start_vesper NODES: like bench_start_etcd, for build/vesperd. With BENCH_TLS_CERTS
# (a deploy/make-certs.sh directory) the nodes serve HTTPS and use mutual TLS between them.
bench_start_vesper() {
    local n=$1
    local base i list="$BENCH_TMP/vesper$n-ip_list.txt" scheme=http tls=()
    base=$(bench_pick_base "$n") || exit 1
    [ -n "${BENCH_TLS_CERTS:-}" ] && scheme=https
    BENCH_URLS=()
    : >"$list"
    for ((i = 0; i < n; i++)); do
        echo "$scheme://127.0.0.1:$((base + i))" >>"$list"
        BENCH_URLS+=("$scheme://127.0.0.1:$((base + i))")
    done
    for ((i = 0; i < n; i++)); do
        local dir="$BENCH_TMP/vesper$n-$i$scheme" c=${BENCH_TLS_CERTS:-}
        mkdir -p "$dir"
        [ -n "$c" ] && tls=(--tls-cert-file "$c/node$i.pem" --tls-key-file "$c/node$i.key"
            --peer-ca-file "$c/ca.pem" --peer-cert-file "$c/node$i.pem"
            --peer-key-file "$c/node$i.key")
        # BENCH_VESPERD_ARGS: more options for every node (split on spaces).
        # shellcheck disable=SC2086
        "$VESPERD" "$i" "$list" --data-dir "$dir" ${tls[@]+"${tls[@]}"} ${BENCH_VESPERD_ARGS:-} \
            >"$dir.log" 2>&1 &
        BENCH_PIDS+=($!)
        BENCH_ALL_PIDS+=($!)
    done
    local deadline=$((SECONDS + 30)) u r p probe='{"type":"get","payload":{"key":"bench-probe"}}'
    while [ $SECONDS -lt $deadline ]; do
        for p in "${BENCH_PIDS[@]}"; do
            if ! kill -0 "$p" 2>/dev/null; then
                tail -n 20 "$BENCH_TMP"/vesper$n-*.log >&2
                bench_die "vesperd pid $p exited during start-up (logs above)"
            fi
        done
        for u in "${BENCH_URLS[@]}"; do
            r=$(http_call "$u/request" "$probe" GET 2>/dev/null) || continue
            case $r in
            *not_leader* | *no_leader* | *unavailable*) ;;
            *'"code":"success"'* | *not_found*)
                BENCH_LEADER=$u
                bench_log "vesper x$n up, leader $u (pids ${BENCH_PIDS[*]})"
                return 0
                ;;
            esac
        done
        sleep 0.3
    done
    tail -n 20 "$BENCH_TMP"/vesper$n-*.log >&2
    bench_die "vesper x$n: no leader answered a GET within 30 s (logs above)"
}

# --- measurement ----------------------------------------------------------------
cpu_ticks() {
    local p t=0 s f
    for p in "$@"; do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        read -r -a f <<<"${s##*) }"
        t=$((t + f[11] + f[12]))
    done
    echo "$t"
}

rss_mean_kib() {
    local p sum=0 k=0 v
    for p in "$@"; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
        [ -n "$v" ] || continue
        sum=$((sum + v)); k=$((k + 1))
    done
    [ $k -gt 0 ] && echo $((sum / k)) || echo 0
}

bench_tsv_init() {
    local cols=(system nodes workload conns requests secs rps p50_us p99_us p999_us errors cpu_s
        rss_kib)
    (IFS=$'\t'; echo "${cols[*]}") >"$BENCH_TSV"
}

# bench_wrk SYSTEM NODES MODE CONNS URL: one wrk run, one TSV row. BENCH_WRK_ARGS: more
# arguments for kv.lua after VALUE_BYTES (SPAN, LEASE), split on spaces.
bench_wrk() {
    local system=$1 nodes=$2 mode=$3 conns=$4 url=$5 threads=2 out line before after
    [ "$conns" -lt 2 ] && threads=1
    before=$(cpu_ticks "${BENCH_PIDS[@]}")
    out=$(timeout $((BENCH_DURATION + 30)) wrk -t"$threads" -c"$conns" -d"${BENCH_DURATION}s" \
        --timeout 5s -s "$BENCH_DIR/wrk/kv.lua" "$url" -- "$system" "$mode" "$BENCH_KEYS" \
        "$BENCH_VALUE_BYTES" ${BENCH_WRK_ARGS:-} 2>&1)
    after=$(cpu_ticks "${BENCH_PIDS[@]}")
    line=$(grep '^BENCH ' <<<"$out")
    if [ -z "$line" ]; then
        bench_log "wrk $system x$nodes $mode c$conns produced no result: $(tail -n 3 <<<"$out")"
        return 0
    fi
    local requests duration_us p50_us p99_us p999_us max_us errors kv
    for kv in ${line#BENCH }; do local "$kv"; done
    local secs rps cpu rss
    secs=$(awk -v d="$duration_us" 'BEGIN {printf "%.3f", d / 1e6}')
    rps=$(awk -v r="$requests" -v d="$duration_us" 'BEGIN {printf "%.0f", r * 1e6 / d}')
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", t / hz}')
    rss=$(rss_mean_kib "${BENCH_PIDS[@]}")
    # BENCH_LABEL names the row when the same system runs twice (plain and TLS).
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${BENCH_LABEL:-$system}" "$nodes" "$mode" \
        "$conns" "$requests" "$secs" "$rps" "$p50_us" "$p99_us" "$p999_us" "$errors" "$cpu" \
        "$rss" >>"$BENCH_TSV"
    bench_log "${BENCH_LABEL:-$system} x$nodes $mode c$conns: $rps ops/s p50 ${p50_us}us p99 ${p99_us}us" \
        "errors $errors cpu ${cpu}s"
}

# bench_workloads SYSTEM NODES: preload, then put/get/mix at every connection count.
bench_workloads() {
    local system=$1 nodes=$2 mode c
    python3 "$BENCH_DIR/preload.py" "$system" "$BENCH_LEADER" "$BENCH_KEYS" \
        "$BENCH_VALUE_BYTES" 16 >&2 || bench_die "$system x$nodes: preload failed"
    for mode in $BENCH_MODES; do
        for c in $BENCH_CONNS; do bench_wrk "$system" "$nodes" "$mode" "$c" "$BENCH_LEADER"; done
    done
}

# bench_fsync_floor: the "fsync" row (appends that grow the file), the "fsync-pre" row
# (appends into space reserved with fallocate, as vesperd's WAL segments are) and the
# "fsync-pre-3" row (three such writers at once, the replicas of a 3-node cluster on this
# one device, for 5 s: long enough to show the pauses a device may add when several
# flush at once); rps = one writer's fdatasync/s, p50/p99/p99.9 in us.
bench_fsync_floor() {
    local line writers ops secs ops_per_s avg_us p50_us p99_us p999_us max_us kv row flag
    for row in fsync fsync-pre fsync-pre-3; do
        case $row in
        fsync) flag=(--seconds 3) ;;
        fsync-pre) flag=(--seconds 3 --preallocate) ;;
        fsync-pre-3) flag=(--seconds 5 --preallocate --writers 3) ;;
        esac
        line=$("$FSYNC_FLOOR" "${flag[@]}" "$BENCH_TMP" | grep '^FSYNC ') ||
            bench_die "fsync-floor failed"
        for kv in ${line#FSYNC }; do local "$kv"; done
        printf '%s\t-\tfdatasync\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t0\t-\t-\n' "$row" "$writers" \
            "$ops" "$secs" "$ops_per_s" "$p50_us" "$p99_us" "$p999_us" >>"$BENCH_TSV"
        bench_log "fsync floor ($row) in $BENCH_TMP: $ops_per_s fdatasync/s per writer, avg" \
            "${avg_us}us, p50 ${p50_us}us, p99.9 ${p999_us}us, max ${max_us}us"
    done
}

# bench_wait_load WRK_PID STATUS_URL TARGET: waits while a wrk load (bench/wrk/load.lua)
# runs until the node at STATUS_URL (its GET /status) has applied index TARGET, or its
# applied index stood still for 3 s (a thread of wrk that stops may leave a request or
# two of its share unsent, and wrk itself waits out -d), then interrupts wrk.
bench_wait_load() {
    local pid=$1 url=$2 target=$3 applied last=-1 still=0
    while kill -0 "$pid" 2>/dev/null; do
        applied=$(curl -s "$url" | python3 -c 'import sys, json; print(json.load(sys.stdin)["applied_index"])' 2>/dev/null || echo 0)
        [ "$applied" -ge "$target" ] 2>/dev/null && break
        if [ "$applied" = "$last" ] && [ "$applied" -gt 1 ]; then
            still=$((still + 1))
            [ $still -ge 6 ] && break
        else
            still=0
        fi
        last=$applied
        sleep 0.5
    done
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
