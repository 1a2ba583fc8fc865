#!/usr/bin/env bash
# run.sh: the backup suite. Real vesperd processes (build/vesperd-san, as tests/cluster)
# on 127.0.0.1 ports 17800-17849, driven with the helpers of tests/cluster/lib.sh and the
# data tool tests/backup/kvtool.py. Everything lives in one mktemp -d directory removed at
# exit (BACKUP_KEEP=1 keeps it).
#
#   tests/backup/run.sh [SCENARIO...]     all scenarios (1-4) or the ones named
#
#   1 save and restore: write, `vesper snapshot save`, write more (new keys, overwrites,
#     deletes), restore into a new three-node cluster on other ports: every key holds
#     exactly its value at the backup's index, on every node; the new cluster accepts writes
#   2 leader killed during a save: a throttled raw download cut by kill -9 of the leader is
#     refused by `snapshot status`; a `snapshot save` racing the kill either succeeds with a
#     file that checks or fails with exit 2 and no FILE; a retry succeeds and restores
#   3 damaged files: truncated, one flipped bit, trailing garbage, not a backup: status and
#     --restore refuse each with exit 2 and one line, leaving no directory behind; restore
#     over a non-empty data directory is refused
#   4 cluster identity: a node restored from a backup of a running cluster, on the address
#     of one of its (stopped) members and with its ip_list: neither side accepts the other's
#     peer traffic (403, counted), the old cluster keeps its leader, term and data, the
#     restored node keeps its term and data and finds no leader
#
# Prints one ok/FAIL line per scenario and closes with "N passed, N failed".
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${ROOT:-$(cd "$HERE/../.." && pwd)}
# shellcheck source=tests/cluster/lib.sh
. "$ROOT/tests/cluster/lib.sh"
KV="python3 $HERE/kvtool.py"

TOP=$(mktemp -d /tmp/vesper-backup.XXXXXX) || exit 2
finish() {
    cl_cleanup
    if [ "${BACKUP_KEEP:-0}" = 1 ]; then echo "# kept $TOP"; else rm -rf "$TOP"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM
PASSED=0 FAILED=0 SCEN_ERR=""

# restore_cluster FILE DIR PORT0: a new three-node cluster from FILE, started; the cluster
# globals (CL_*) then describe it.
restore_cluster() {
    local file=$1 i out
    cl_init "$2" 3 "$3" --snapshot-entries 64
    mkdir -p "$CL_DIR/data0" # an existing empty directory (a volume's mount point) too
    for i in 0 1 2; do
        out=$("$VESPERD" --restore "$file" "$i" "$CL_IPLIST" --data-dir "$CL_DIR/data$i" 2>&1) ||
            { fail "restore of node $i: $out"; return 1; }
    done
    log "${out%%$'\n'*}"
    start_cluster
    wait_leader 15 >/dev/null || { fail "restored cluster elected no leader in 15 s"; return 1; }
}

# status_field FILE NAME: a field of `vesper snapshot status`.
status_field() { "$VESPER" snapshot status "$1" | awk -v k="$2" '$1 == k {print $2}'; }

s1_save_restore() {
    local A=$TOP/s1a file=$TOP/s1.bak out keys idx
    cl_init "$A" 3 17800 --snapshot-entries 64
    start_cluster
    wait_leader 15 >/dev/null || { fail "no leader"; return; }
    $KV fill "$CL_IPLIST" "$TOP/s1.state" k 0 300 100 || { fail "fill"; return; }
    $KV delete "$CL_IPLIST" "$TOP/s1.state" k7 k8 k9 || { fail "delete"; return; }
    out=$("$VESPER" snapshot save "$file" --ip-list "$CL_IPLIST" --timeout 10 2>&1) ||
        { fail "snapshot save: $out"; return; }
    [ -e "$file.tmp" ] && fail "save left $file.tmp behind"
    cp "$TOP/s1.state" "$TOP/s1.expected"
    keys=$(status_field "$file" keys) idx=$(status_field "$file" index)
    [ "$keys" = "$($KV count "$TOP/s1.expected")" ] ||
        fail "status says $keys keys, $($KV count "$TOP/s1.expected") were written"
    log "backup at index $idx with $keys keys, $(stat -c %s "$file") bytes"
    # After the backup: new keys, overwrites and deletes that must not be restored.
    $KV fill "$CL_IPLIST" "$TOP/s1.state" k 250 100 120 || { fail "fill after"; return; }
    $KV delete "$CL_IPLIST" "$TOP/s1.state" k1 k2 || { fail "delete after"; return; }
    python3 - "$TOP/s1.expected" "$TOP/s1.state" <<'PY'
import json, sys
exp, now = (json.load(open(p)) for p in sys.argv[1:3])
for k in now:
    exp.setdefault(k, None)   # written only after the backup: must be absent
json.dump(exp, open(sys.argv[1], "w"))
PY
    $KV check "$CL_IPLIST" "$TOP/s1.state" "$(wait_leader 5)" >/dev/null ||
        fail "old leader lost writes"
    c=$(stop_all)
    [ -n "$c" ] && fail "old node(s) $c needed SIGKILL"
    san_check "$A" || fail "sanitizer report(s) in the old cluster"
    restore_cluster "$file" "$TOP/s1b" 17810 || return
    out=$($KV check "$CL_IPLIST" "$TOP/s1.expected") || { fail "restored state: $out"; return; }
    log "restored cluster: $out"
    $KV fill "$CL_IPLIST" "$TOP/s1.expected" n 0 20 10 >/dev/null ||
        fail "restored cluster does not accept writes"
}

# The leader of the running cluster.
leader_or_fail() { wait_leader 15 || { fail "no leader"; return 1; }; }

s2_failover() {
    local L file=$TOP/s2.bak raw=$TOP/s2.raw out rc
    cl_init "$TOP/s2a" 3 17820 --snapshot-entries 200
    start_cluster
    L=$(leader_or_fail) || return
    # 24 MB of state: more than the socket buffers between the two ends hold, so a download
    # throttled to 2 MB/s is still running when the leader is killed once 3 MB arrived.
    $KV fill "$CL_IPLIST" "$TOP/s2.state" big 0 24 1000000 || { fail "fill"; return; }
    $KV fill "$CL_IPLIST" "$TOP/s2.state" small 0 100 100 || { fail "fill"; return; }
    L=$(leader_or_fail) || return
    bg curl -s --limit-rate 2M -o "$raw" "$(url "$L")/admin/snapshot"
    local dl=$BG_LAST t
    for ((t = 0; t < 400; t++)); do # the stream has begun: a few MB arrived
        [ "$(stat -c %s "$raw" 2>/dev/null || echo 0)" -gt 3000000 ] && break
        sleep 0.05
    done
    kill_node "$L"
    wait_bg "$dl" 20 || true
    if out=$("$VESPER" snapshot status "$raw" 2>&1); then
        fail "a download cut by kill -9 checks as valid: $out"
    else
        log "cut download ($(stat -c %s "$raw") bytes) refused: $out"
    fi
    start_node "$L"
    L=$(leader_or_fail) || return
    # A save racing a kill -9 of the leader: all or nothing.
    bg bash -c '"$0" snapshot save "$1" --ip-list "$2" --timeout 10 >"$3" 2>&1' \
        "$VESPER" "$file" "$CL_IPLIST" "$TOP/s2.save.log"
    local sv=$BG_LAST
    kill_node "$L"
    rc=0
    wait_bg "$sv" 30 || rc=$?
    if [ $rc = 0 ]; then
        "$VESPER" snapshot status "$file" >/dev/null || fail "save succeeded with a bad file"
        log "save racing the kill succeeded: $(grep saved "$TOP/s2.save.log")"
    else
        [ -e "$file" ] && fail "failed save (exit $rc) left $file"
        log "save racing the kill failed clearly (exit $rc), no file: $(tail -1 "$TOP/s2.save.log")"
    fi
    [ -e "$file.tmp" ] && fail "save left $file.tmp"
    start_node "$L"
    wait_leader 15 >/dev/null || { fail "no leader after restart"; return; }
    out=$("$VESPER" snapshot save "$file" --ip-list "$CL_IPLIST" --timeout 10 2>&1) ||
        { fail "retry of save: $out"; return; }
    c=$(stop_all)
    [ -n "$c" ] && fail "node(s) $c needed SIGKILL"
    san_check "$TOP/s2a" || fail "sanitizer report(s) in the old cluster"
    restore_cluster "$file" "$TOP/s2b" 17830 || return
    out=$($KV check "$CL_IPLIST" "$TOP/s2.state") || { fail "restored state: $out"; return; }
    log "restored cluster: $out"
}

# refused WHAT CMD...: CMD must exit 2 with exactly one line on stderr.
refused() {
    local what=$1 rc=0 err
    shift
    err=$("$@" 2>&1 >/dev/null) || rc=$?
    [ $rc = 2 ] || fail "$what: exit $rc, expected 2 ($err)"
    [ "$(printf '%s\n' "$err" | grep -c .)" = 1 ] || fail "$what: not one line: $err"
    log "$what: $err"
}

s3_damaged() {
    local file=$TOP/s3.bak D=$TOP/s3r size f
    cl_init "$TOP/s3a" 3 17840
    start_cluster
    wait_leader 15 >/dev/null || { fail "no leader"; return; }
    $KV fill "$CL_IPLIST" "$TOP/s3.state" d 0 50 50 || { fail "fill"; return; }
    "$VESPER" snapshot save "$file" --ip-list "$CL_IPLIST" --timeout 10 >/dev/null 2>&1 ||
        { fail "save"; return; }
    size=$(stat -c %s "$file")
    head -c $((size - 100)) "$file" >"$TOP/trunc.bak"
    head -c 30 "$file" >"$TOP/short.bak"
    cp "$file" "$TOP/flip.bak"
    python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x10; open(p, "wb").write(b)' "$TOP/flip.bak"
    cat "$file" - <<<"garbage" >"$TOP/long.bak"
    echo "not a backup" >"$TOP/text.bak"
    for f in trunc short flip long text; do
        refused "status $f" "$VESPER" snapshot status "$TOP/$f.bak"
        refused "restore $f" "$VESPERD" --restore "$TOP/$f.bak" 0 "$CL_IPLIST" --data-dir "$D"
        [ -e "$D" ] && fail "restore of $f left $D"
        [ -e "$D.restore.tmp" ] && fail "restore of $f left $D.restore.tmp"
    done
    mkdir -p "$D" && touch "$D/something"
    refused "restore over a non-empty directory" \
        "$VESPERD" --restore "$file" 0 "$CL_IPLIST" --data-dir "$D"
    [ "$(ls "$D")" = something ] || fail "refused restore changed $D"
}

# peer_refused NODE: vesper_peer_wrong_cluster_total of node NODE.
peer_refused() {
    curl -s --max-time 2 "$(url "$1")/metrics" |
        awk '$1 == "vesper_peer_wrong_cluster_total" {print int($2)}'
}

s4_identity() {
    local file=$TOP/s4.bak L F a0 a1 r before after
    cl_init "$TOP/s4" 3 17845
    start_cluster
    L=$(leader_or_fail) || return
    F=$(((L + 1) % 3))
    $KV fill "$CL_IPLIST" "$TOP/s4.state" i 0 40 20 || { fail "fill"; return; }
    "$VESPER" snapshot save "$file" --ip-list "$CL_IPLIST" --timeout 10 >/dev/null 2>&1 ||
        { fail "save"; return; }
    $KV fill "$CL_IPLIST" "$TOP/s4.state" j 0 10 20 || { fail "fill after"; return; }
    # The restored node takes F's place: same address, same ip_list, same token.
    kill_node "$F"
    "$VESPERD" --restore "$file" "$F" "$CL_IPLIST" --data-dir "$CL_DIR/restored" >/dev/null ||
        { fail "restore"; return; }
    before=$(states "$L" "$((3 - L - F))" | awk '{print $1, $2, $3, $4}')
    env "${SAN_ENV[@]}" "$VESPERD" "$F" "$CL_IPLIST" --data-dir "$CL_DIR/restored" \
        --listen "127.0.0.1:$((CL_PORT0 + F))" >>"$CL_DIR/node$F.log" 2>&1 &
    NODE_PID[F]=$!
    disown "$!"
    sleep 4 # several election timeouts of the restored node, heartbeats of the old leader
    after=$(states "$L" "$((3 - L - F))" | awk '{print $1, $2, $3, $4}')
    [ "$before" = "$after" ] || fail "old cluster changed: '$before' -> '$after'"
    read -r _ r_role r_leader r_term _ < <(states "$F")
    log "restored node: role $r_role leader $r_leader term $r_term; old: $after"
    [ "$r_leader" = "-1" ] || [ "$r_leader" = "-" ] || fail "restored node follows $r_leader"
    [ "$r_term" = "$(status_field "$file" term)" ] || fail "restored node's term moved to $r_term"
    a0=$(peer_refused "$L") r=$(peer_refused "$F")
    [ "${a0:-0}" -gt 0 ] || fail "old leader refused no batch of the restored node"
    [ "${r:-0}" -gt 0 ] || fail "restored node refused no batch of the old leader"
    log "batches refused: old leader $a0, restored node $r"
    $KV check "$CL_IPLIST" "$TOP/s4.state" "$L" "$((3 - L - F))" >/dev/null ||
        fail "old cluster's data changed"
    # The restored node holds the backup's state only: the j keys came later.
    python3 - "$TOP/s4.state" "$TOP/s4.restored" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
json.dump({k: (None if k.startswith("j") else v) for k, v in s.items()}, open(sys.argv[2], "w"))
PY
    $KV check "$CL_IPLIST" "$TOP/s4.restored" "$F" >/dev/null || fail "restored node's data"
    $KV fill "$CL_IPLIST" "$TOP/s4.state" z 0 5 10 >/dev/null || fail "old cluster stopped writing"
}

ALL=(1 2 3 4)
[ $# -gt 0 ] && ALL=("$@")
for s in "${ALL[@]}"; do
    case $s in
    1) run_scenario 1 "save, write more, restore into a new cluster" s1_save_restore ;;
    2) run_scenario 2 "leader killed during a save" s2_failover ;;
    3) run_scenario 3 "damaged backups are refused" s3_damaged ;;
    4) run_scenario 4 "a restored node and the old cluster ignore each other" s4_identity ;;
    *) echo "unknown scenario $s" && FAILED=$((FAILED + 1)) ;;
    esac
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
