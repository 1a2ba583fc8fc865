# lib.sh: process, cluster and scenario helpers for tests/cluster/run.sh and
# tests/tls/run.sh (sourced, bash only).
#
# Owns the life of the vesperd processes a scenario starts: their ports, data dirs,
# logs and pids, and the polls that wait for a leader or for a node to catch up.
# Every wait is bounded and polls /status rather than sleeping a fixed time, so a
# slow machine only makes the suite slower, not flaky. Only pids this file started
# are ever signalled (NODE_PID and BG_PIDS); cl_cleanup kills what is left.
#
# A cluster is described by globals set by cl_init: CL_DIR (its own directory),
# CL_N nodes, CL_PORT0 (node i serves on CL_PORT0+i), CL_IPLIST, CL_ARGS (extra
# vesperd options). Node logs are CL_DIR/node<i>.log, appended across restarts.
#
# The server is $VESPERD, by default build/vesperd-san (ASan+UBSan, mk/91-vesperd-san.mk);
# VESPERD=build/vesperd runs the release binary. Every node runs with the sanitizer options
# in SAN_ENV (set by cl_init): the first error stops the node; ASan and LSan reports go to
# CL_DIR/san/asan.<pid>, UBSan's to the node's stderr (its log: the UBSan runtime linked
# beside ASan ignores log_path); san_check (run.sh, after each scenario) fails on either.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VESPERD=${VESPERD:-$ROOT/build/vesperd-san}
VESPER=$ROOT/build/vesper
LINCHECK=$ROOT/build/lincheck
HISTGEN=$ROOT/build/histgen
TOOL=$ROOT/build/cluster-tool

# What counts as a sanitizer report, in CL_DIR/san/* and in the node logs.
SAN_PATTERN='ERROR: [A-Za-z]*Sanitizer|runtime error:|LeakSanitizer'
declare -a SAN_ENV=()
declare -a NODE_PID=()
declare -a BG_PIDS=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }

log() { echo "   $*"; }

# cl_init DIR N PORT0 [vesperd options...]: writes the ip_list (one URL per line, as in the v1 protocol's project).
cl_init() {
    CL_DIR=$1 CL_N=$2 CL_PORT0=$3
    shift 3
    CL_ARGS=("$@")
    CL_IPLIST=$CL_DIR/ip_list.txt
    mkdir -p "$CL_DIR"
    # Stop at the first error (abort: ASan disables core files itself), leak check on every
    # clean exit.
    SAN_ENV=("ASAN_OPTIONS=log_path=$CL_DIR/san/asan:halt_on_error=1:abort_on_error=1:detect_leaks=1"
        "UBSAN_OPTIONS=log_path=$CL_DIR/san/ubsan:halt_on_error=1:abort_on_error=1:print_stacktrace=1")
    : >"$CL_IPLIST"
    local i
    for ((i = 0; i < CL_N; i++)); do
        echo "http://127.0.0.1:$((CL_PORT0 + i))" >>"$CL_IPLIST"
        NODE_PID[i]=""
    done
}

url() { echo "http://127.0.0.1:$((CL_PORT0 + $1))"; }

# Comma-separated URLs of every node except those given.
endpoints_except() {
    local i out="" skip
    for ((i = 0; i < CL_N; i++)); do
        for skip in "$@"; do [ "$skip" = "$i" ] && continue 2; done
        out+="${out:+,}$(url "$i")"
    done
    echo "$out"
}

start_node() { start_node_as "$1" "$CL_IPLIST"; }

# start_node_as I IP_LIST [vesperd options...]: start_node with another ip_list and extra
# options (the membership scenario's joining nodes).
start_node_as() {
    local i=$1 list=$2
    shift 2
    mkdir -p "$CL_DIR/san"
    env "${SAN_ENV[@]}" "$VESPERD" "$i" "$list" --data-dir "$CL_DIR/data$i" \
        --listen "127.0.0.1:$((CL_PORT0 + i))" "${CL_ARGS[@]}" "$@" \
        >>"$CL_DIR/node$i.log" 2>&1 &
    NODE_PID[i]=$!
    # Out of the job table: bash then reaps it silently (no "Killed" lines on kill -9), and
    # once reaped kill -0 fails, which is how reap and crashed_nodes see that it is gone.
    disown "$!"
}

start_cluster() {
    local i
    for ((i = 0; i < CL_N; i++)); do start_node "$i"; done
}

# Waits (bounded, 5 s) for a node process this suite started to be gone.
reap() {
    local pid=$1 t
    for ((t = 0; t < 500; t++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.01
    done
    log "process $pid still exists 5 s after it was signalled"
    return 1
}

kill_node() {
    local pid=${NODE_PID[$1]}
    [ -n "$pid" ] || return 0
    kill -9 "$pid" 2>/dev/null
    reap "$pid"
    NODE_PID[$1]=""
}

# Graceful stop (SIGTERM), then SIGKILL if it does not exit within 5 s.
stop_node() {
    local pid=${NODE_PID[$1]} t
    [ -n "$pid" ] || return 0
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    for ((t = 0; t < 100; t++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    kill -0 "$pid" 2>/dev/null && { log "node $1 ignored SIGTERM for 5 s; SIGKILL"; kill -9 "$pid"; }
    reap "$pid"
    NODE_PID[$1]=""
}

# Graceful stop of every running node at once (SIGTERM, SIGKILL after 5 s): a sanitized
# node checks for leaks only on such an exit. Prints the ids of nodes that needed SIGKILL.
stop_all() {
    local i t left out=""
    for ((i = 0; i < CL_N; i++)); do
        [ -n "${NODE_PID[i]}" ] && kill -CONT "${NODE_PID[i]}" 2>/dev/null &&
            kill -TERM "${NODE_PID[i]}" 2>/dev/null
    done
    for ((t = 0; t < 100; t++)); do
        left=0
        for ((i = 0; i < CL_N; i++)); do
            [ -n "${NODE_PID[i]}" ] && kill -0 "${NODE_PID[i]}" 2>/dev/null && left=1
        done
        [ $left = 0 ] && break
        sleep 0.05
    done
    for ((i = 0; i < CL_N; i++)); do
        [ -n "${NODE_PID[i]}" ] || continue
        kill -0 "${NODE_PID[i]}" 2>/dev/null && { kill -9 "${NODE_PID[i]}"; out+="$i(SIGKILL) "; }
        reap "${NODE_PID[i]}"
        NODE_PID[i]=""
    done
    echo "$out"
}

pause_node() { kill -STOP "${NODE_PID[$1]}"; }
resume_node() { kill -CONT "${NODE_PID[$1]}"; }

# Nodes that were started and exited on their own (a crash): prints their ids.
crashed_nodes() {
    local i out=""
    for ((i = 0; i < CL_N; i++)); do
        [ -n "${NODE_PID[i]}" ] && ! kill -0 "${NODE_PID[i]}" 2>/dev/null && out+="$i "
    done
    echo "$out"
}

# states [NODE...]: one line per node (default all): "id role leader term commit applied
# last snapshot", "-" for what a node does not say (all "-" when it does not answer).
states() { "$TOOL" states "$CL_IPLIST" "$@"; }

# members [NODE...]: one line per node, "id voters=A,B,.. learners=C,.." (ids ascending) from
# its /status, "id -" when it does not answer.
members() { "$TOOL" members "$CL_IPLIST" "$@"; }

# Prints "role leader term commit applied last snapshot" of node i.
node_state() { states "$1" | cut -d' ' -f2-; }

# wait_leader TIMEOUT_S [EXCLUDED...]: prints the id of a leader that the leader itself and
# a majority of all nodes agree on (same term), looking only at non-excluded nodes;
# returns 1 at the deadline.
wait_leader() {
    local deadline=$(($(now_ms) + $1 * 1000)) i skip id role l t lead term
    shift
    local -a ids=()
    for ((i = 0; i < CL_N; i++)); do
        for skip in "$@"; do [ "$skip" = "$i" ] && continue 2; done
        ids+=("$i")
    done
    while [ "$(now_ms)" -lt "$deadline" ]; do
        local -A votes=()
        lead="" term=""
        while read -r id role l t _; do
            [ "$l" != "-" ] && [ "$l" != "-1" ] && votes["$l/$t"]=$((${votes["$l/$t"]:-0} + 1))
            [ "$role" = leader ] && lead=$id term=$t
        done < <(states "${ids[@]}")
        if [ -n "$lead" ] && [ "${votes["$lead/$term"]:-0}" -gt $((CL_N / 2)) ]; then
            echo "$lead"
            return 0
        fi
        unset votes
        sleep 0.05
    done
    return 1
}

# wait_caught_up I TIMEOUT_S: node I has applied everything the leader had committed when
# the wait began (and answers /status). Returns 1 at the deadline.
wait_caught_up() {
    local i=$1 deadline=$(($(now_ms) + $2 * 1000)) lead target applied
    lead=$(wait_leader "$2") || return 1
    read -r _ _ _ target _ < <(node_state "$lead")
    [ "$target" != "-" ] || return 1
    while [ "$(now_ms)" -lt "$deadline" ]; do
        read -r _ _ _ _ applied _ < <(node_state "$i")
        [ "$applied" != "-" ] && [ "$applied" -ge "$target" ] && return 0
        sleep 0.05
    done
    return 1
}

# wait_health I TIMEOUT_S: /health of node I answers 200.
wait_health() {
    local deadline=$(($(now_ms) + $2 * 1000))
    while [ "$(now_ms)" -lt "$deadline" ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$(url "$1")/health")" = 200 ] &&
            return 0
        sleep 0.05
    done
    return 1
}

# put KEY VALUE / get KEY through the CLI with every node as an endpoint.
put() { "$VESPER" put "$1" "$2" --ip-list "$CL_IPLIST" --timeout "${3:-5}"; }
get() { "$VESPER" get "$1" --ip-list "$CL_IPLIST" --timeout "${2:-5}"; }

# raw METHOD NODE BODY: one v1 protocol HTTP request to node NODE, no redirect following.
raw() {
    curl -s --max-time "${4:-5}" -X "$1" -H 'Content-Type: application/json' \
        "$(url "$2")/request" -d "$3"
}

# Runs a command in the background, remembering its pid for cleanup; the pid is in BG_LAST.
bg() {
    "$@" &
    BG_LAST=$!
    BG_PIDS+=("$BG_LAST")
}

# wait_bg PID TIMEOUT_S: waits for a job started by bg, SIGKILLing it at the deadline
# (then returns 124); otherwise returns its exit status. Its pid is forgotten afterwards,
# so cleanup never signals a pid the kernel may have reused.
wait_bg() {
    local deadline=$(($(now_ms) + $2 * 1000)) rc=0 late=0 p
    while kill -0 "$1" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.05; done
    kill -0 "$1" 2>/dev/null && { kill -9 "$1"; late=1; }
    wait "$1" 2>/dev/null || rc=$?
    local -a keep=()
    for p in "${BG_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    BG_PIDS=("${keep[@]}")
    [ $late = 0 ] || return 124
    return $rc
}

# Prints the tail and the warnings/errors of node I's log, indented, for a failure report.
show_log() {
    local f=$CL_DIR/node$1.log
    [ -f "$f" ] || return 0
    echo "   --- node $1 log: warnings/errors (last 15) ---"
    grep -E ' (warn|error|fatal) |panic|assert|Sanitizer' "$f" | tail -n 15 | sed 's/^/   | /'
    echo "   --- node $1 log: last 10 lines ---"
    tail -n 10 "$f" | sed 's/^/   | /'
}

# san_check DIR: returns 1 after printing every sanitizer report (from its first line, at
# most 60 lines each) found in DIR/san/* or DIR/node*.log; 0 when there is none.
san_check() {
    local f bad=0
    for f in "$1"/san/* "$1"/node*.log; do
        [ -f "$f" ] && grep -qE "$SAN_PATTERN" "$f" || continue
        bad=1
        echo "   --- sanitizer report in ${f#"$1"/} ---"
        awk -v p="$SAN_PATTERN" '$0 ~ p {on = 1} on && n++ < 60' "$f" | sed 's/^/   | /'
    done
    return $bad
}

cl_cleanup() {
    local pid
    for pid in "${NODE_PID[@]}" "${BG_PIDS[@]}"; do
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && { kill -CONT "$pid"; kill -9 "$pid"; }
    done 2>/dev/null
    for pid in "${NODE_PID[@]}"; do [ -n "$pid" ] && reap "$pid"; done
    for pid in "${BG_PIDS[@]}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null; done
    NODE_PID=()
    BG_PIDS=()
}

# A failed check of the running scenario: noted in SCEN_ERR, which fails it.
fail() {
    SCEN_ERR+="${SCEN_ERR:+; }$*"
    echo "   ASSERTION FAILED: $*"
}

# Runs scenario fn as number num: any node that crashed, did not stop on SIGTERM or left
# a sanitizer report fails it; prints "ok"/"FAIL" and counts PASSED/FAILED.
run_scenario() {
    local num=$1 name=$2 fn=$3 t0 c i
    SCEN_ERR=""
    t0=$(now_ms)
    echo "-- scenario $num: $name"
    CL_N=""
    "$fn"
    if [ -n "$CL_N" ]; then
        c=$(crashed_nodes)
        [ -n "$c" ] && fail "node(s) $c exited on their own (crash)"
        for i in $c; do NODE_PID[i]=""; done
        # SIGTERM (not kill -9) so that a sanitized node runs its leak check on the way out.
        c=$(stop_all)
        [ -n "$c" ] && fail "node(s) $c did not exit within 5 s of SIGTERM"
        san_check "$CL_DIR" || fail "sanitizer report(s), printed above"
    fi
    if [ -n "$SCEN_ERR" ] && [ -n "$CL_N" ]; then
        for ((i = 0; i < CL_N; i++)); do show_log "$i"; done
    fi
    cl_cleanup
    local secs
    secs=$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN {printf "%.1f", ms / 1000}')
    if [ -z "$SCEN_ERR" ]; then
        echo "ok $num - $name (${secs}s)"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL $num - $name (${secs}s): $SCEN_ERR"
        FAILED=$((FAILED + 1))
    fi
}
