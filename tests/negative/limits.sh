#!/usr/bin/env bash
# limits.sh: start-up and size limits against live vesperd processes.
#
#   - the original start command `vesperd 0 ip_list.txt` works in an empty directory
#     (the data directory's parents are created);
#   - an ip_list longer than a Raft configuration is refused with exit 2;
#   - on a three-node cluster a value of exactly --max-value-bytes commits and reaches
#     every node (the peer batch and /raft body limits are derived to fit it), one
#     byte more is 413, and a client body past --max-body-bytes is 413 although peer
#     batches may be larger; both with the default limits and with 16 MiB values.
#
# Ports LIMITS_PORT.. (default 17640-17643); run it under the shared port lock.
# Prints "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
vesperd=$top/build/vesperd
vesper=$top/build/vesper
port0=${LIMITS_PORT:-17640}
dir=$(mktemp -d /tmp/vesper-limits.XXXXXX)
declare -a pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    if [ "${LIMITS_KEEP:-0}" = 1 ]; then echo "# kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT INT TERM
passed=0 failed=0
ok() { echo "ok   $1 (${SECONDS}s)"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

stop_all() {
    local p
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    pids=()
}

# wait_ready PORT: /ready answers 200 within 10 s.
wait_ready() {
    local t
    for ((t = 0; t < 200; t++)); do
        curl -sf -m 1 "http://127.0.0.1:$1/ready" >/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# ---- the original start command in an empty directory ----
empty=$dir/empty
mkdir -p "$empty"
echo "http://127.0.0.1:$port0" >"$empty/ip_list.txt"
(cd "$empty" && exec "$vesperd" 0 ip_list.txt) >"$dir/empty.log" 2>&1 &
pids+=($!)
if wait_ready "$port0" && [ -f "$empty/data/0/FORMAT" ]; then
    ok "vesperd 0 ip_list.txt starts in an empty directory and creates ./data/0"
else
    bad "vesperd 0 ip_list.txt in an empty directory: $(tail -n 2 "$dir/empty.log" | tr '\n' ' ')"
fi
stop_all

# ---- more members than a Raft configuration holds ----
for ((i = 0; i < 17; i++)); do echo "http://127.0.0.1:$((port0 + 100 + i))"; done >"$dir/ip17.txt"
timeout 10 "$vesperd" 0 "$dir/ip17.txt" --data-dir "$dir/d17" >"$dir/ip17.log" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q "more than 16 nodes" "$dir/ip17.log"; then
    ok "a 17-line ip_list is refused with exit 2"
else
    bad "a 17-line ip_list: exit $rc, $(head -c 200 "$dir/ip17.log")"
fi

# ---- values at the limit on a three-node cluster ----
cluster_list=$dir/ip3.txt
for ((i = 1; i <= 3; i++)); do echo "http://127.0.0.1:$((port0 + i))"; done >"$cluster_list"

# start_cluster NAME [vesperd options...]
start_cluster() {
    local name=$1 i
    shift
    for ((i = 0; i < 3; i++)); do
        "$vesperd" "$i" "$cluster_list" --data-dir "$dir/$name/d$i" \
            --listen "127.0.0.1:$((port0 + 1 + i))" "$@" >>"$dir/$name.log" 2>&1 &
        pids+=($!)
    done
    for ((i = 1; i <= 3; i++)); do wait_ready "$((port0 + i))" || return 1; done
}

# value_file BYTES: a file of BYTES 'v' bytes; prints its path.
value_file() {
    local f=$dir/value.$1
    [ -f "$f" ] || head -c "$1" /dev/zero | tr '\0' 'v' >"$f"
    echo "$f"
}

# stored_len NODE KEY: the length of KEY's value in NODE's local state ("-" if absent).
stored_len() {
    curl -s -m 10 -X GET "http://127.0.0.1:$((port0 + $1))/request" \
        -d "{\"type\":\"get\",\"payload\":{\"key\":\"$2\",\"consistency\":\"stale\"}}" |
        python3 -c 'import sys, json
try:
    d = json.load(sys.stdin)
    print(len(d["payload"]["value"]) if d.get("code") == "success" else "-")
except Exception:
    print("-")'
}

# replicated KEY BYTES: every node's local state holds KEY with BYTES bytes (20 s bound).
replicated() {
    local t i n
    for ((t = 0; t < 200; t++)); do
        n=0
        for ((i = 1; i <= 3; i++)); do [ "$(stored_len "$i" "$2" 2>/dev/null)" = "$1" ] && n=$((n + 1)); done
        [ "$n" = 3 ] && return 0
        sleep 0.1
    done
    return 1
}

# check_limits NAME MAX_VALUE MAX_BODY [vesperd options...]
check_limits() {
    local name=$1 max=$2 body=$3 reply
    shift 3
    if ! start_cluster "$name" "$@"; then
        bad "$name: the cluster did not start: $(tail -n 3 "$dir/$name.log" | tr '\n' ' ')"
        stop_all
        return
    fi
    reply=$("$vesper" put at-limit --value-file "$(value_file "$max")" --ip-list "$cluster_list" \
        --timeout 60 2>&1)
    if [ "$reply" = '{"code":"success"}' ] && replicated "$max" at-limit; then
        ok "$name: a $max-byte value commits and reaches all three nodes"
    else
        bad "$name: a $max-byte value: ${reply:0:160}; stored lengths" \
            "$(stored_len 1 at-limit) $(stored_len 2 at-limit) $(stored_len 3 at-limit)"
    fi
    reply=$("$vesper" put over --value-file "$(value_file $((max + 1)))" \
        --ip-list "$cluster_list" --timeout 60 2>&1)
    if [[ $reply == *'"error":"too_large"'* ]]; then
        ok "$name: one byte more is too_large"
    else
        bad "$name: a $((max + 1))-byte value: ${reply:0:160}"
    fi
    local status
    status=$(head -c $((body + 1)) /dev/zero | tr '\0' ' ' |
        curl -s -m 60 -o "$dir/over.body" -w '%{http_code}' -X PUT --data-binary @- \
            "http://127.0.0.1:$((port0 + 1))/request")
    if [ "$status" = 413 ] && grep -q '"too_large"' "$dir/over.body"; then
        ok "$name: a client body of --max-body-bytes + 1 is 413"
    else
        bad "$name: a $((body + 1))-byte body: HTTP $status $(head -c 100 "$dir/over.body")"
    fi
    stop_all
}

[ -n "${LIMITS_ONLY:-}" ] || check_limits defaults 1048576 4194304
# Values past 8 MiB, so a peer batch must be sized from the limits, not fixed. A large entry
# keeps a loop busy for a while on a loaded machine (write, fsync, apply): generous election
# timing keeps this about limits, not failover.
check_limits large-values 10485760 11534336 --max-value-bytes 10485760 --max-body-bytes 11534336 \
    --heartbeat-ms 200 --election-timeout-ms 3000

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
