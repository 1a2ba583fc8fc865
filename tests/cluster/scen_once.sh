# scen_once.sh: scenario 9 of tests/cluster/run.sh (sourced): exactly-once writes.
#
# a) Duplicates by raw HTTP: the same (client_id, seq) sent again after another client changed
#    the key must be answered with the first answer and change nothing (put, a failed cas,
#    delete; once more at a new leader after a transfer), and an older seq gets stale_seq.
# b) The CAS chain (cluster-tool casrun): one client with a fixed client_id runs
#    K: absent -> 1 -> 2 -> ... retrying each CAS with the same seq through lost replies
#    (some cut short on purpose) while the leader is killed with -9 and restarted several
#    times. Every CAS must succeed exactly once and K must end at the number of CAS: a retry
#    applied again would answer cas_failed or break the chain.

# once_req NODE BODY: a raw PUT to node NODE's /request.
once_req() { raw PUT "$1" "$2"; }

# once_value KEY: the value of KEY read linearizably through the CLI ("absent" if none).
once_value() {
    local out
    out=$(get "$1") || { [[ $out == *not_found* ]] && echo absent || echo "error: $out"; return; }
    echo "$out" | python3 -c 'import sys, json; print(json.load(sys.stdin)["payload"]["value"])'
}

# once_expect WHAT GOT WANT: asserts a raw reply.
once_expect() { [ "$2" = "$3" ] || fail "$1: got $2, want $3"; }

s9_duplicates() {
    local L L2 out id=424242 put1 cas2 del3 t
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return 1; }
    put1="{\"type\":\"put\",\"payload\":{\"key\":\"dup\",\"value\":\"first\"},\"client_id\":$id,\"seq\":5}"
    out=$(once_req "$L" "$put1")
    once_expect "put (client $id, seq 5)" "$out" '{"code":"success"}'
    out=$(put dup second) || fail "put dup=second by another client: $out"
    out=$(once_req "$L" "$put1")
    once_expect "duplicate put (seq 5) after another client wrote" "$out" '{"code":"success"}'
    once_expect "dup after the duplicate put" "$(once_value dup)" second
    out=$(once_req "$L" "{\"type\":\"put\",\"payload\":{\"key\":\"dup\",\"value\":\"older\"},\"client_id\":$id,\"seq\":4}")
    once_expect "put with an older seq (4)" "$out" '{"code":"fail","error":"stale_seq"}'
    once_expect "dup after the stale put" "$(once_value dup)" second
    # A cas that failed is answered "cas_failed" again, even once it would now succeed.
    cas2="{\"type\":\"cas\",\"payload\":{\"key\":\"dup\",\"value\":\"third\",\"expected\":\"nope\"},\"client_id\":$id,\"seq\":6}"
    out=$(once_req "$L" "$cas2")
    once_expect "cas expecting nope (seq 6)" "$out" \
        '{"code":"fail","error":"cas_failed","payload":{"key":"dup","value":"second"}}'
    out=$(put dup nope) || fail "put dup=nope by another client: $out"
    out=$(once_req "$L" "$cas2")
    [[ $out == *'"error":"cas_failed"'* ]] || fail "duplicate cas (seq 6) now matching: got $out, want cas_failed"
    once_expect "dup after the duplicate cas" "$(once_value dup)" nope
    # A delete, then its duplicate at a new leader (the table is replicated state).
    del3="{\"type\":\"delete\",\"payload\":{\"key\":\"dup\"},\"client_id\":$id,\"seq\":7}"
    out=$(once_req "$L" "$del3")
    once_expect "delete (seq 7)" "$out" '{"code":"success"}'
    out=$(put dup again) || fail "put dup=again by another client: $out"
    L2=$(((L + 1) % CL_N))
    out=$("$VESPER" --endpoints "$(endpoints_except)" transfer "$L2" 2>&1) ||
        fail "transfer to $L2: $out"
    for ((t = 0; t < 100; t++)); do
        [ "$(node_state "$L2" | cut -d' ' -f1)" = leader ] && break
        sleep 0.05
    done
    [ "$(node_state "$L2" | cut -d' ' -f1)" = leader ] || { fail "node $L2 did not take over"; return 1; }
    out=$(once_req "$L2" "$del3")
    once_expect "duplicate delete (seq 7) at the new leader $L2" "$out" '{"code":"success"}'
    once_expect "dup after the duplicate delete" "$(once_value dup)" again
    out=$(once_req "$L2" "{\"type\":\"delete\",\"payload\":{\"key\":\"dup\"},\"client_id\":$id,\"seq\":6}")
    once_expect "delete with an older seq (6) at $L2" "$out" '{"code":"fail","error":"stale_seq"}'
    once_expect "dup at the end" "$(once_value dup)" again
    log "a) duplicates of put/cas/delete answered as the first time and applied once (leader $L," \
        "then $L2); older seqs refused with stale_seq"
}

s9_exactly_once() {
    cl_init "$TOP/s9" 5 17170 --snapshot-entries 1000
    start_cluster
    s9_duplicates || return
    local run L L2 pid k ms t0 out stats final
    bg "$TOOL" casrun "$CL_IPLIST" chain 777 10 25 >"$CL_DIR/casrun.out" 2>&1
    run=$BG_LAST
    for k in 1 2 3 4; do
        sleep 1.2 # the chain runs against the current leader before it dies
        L=$(wait_leader 10) || { fail "kill $k: no leader"; break; }
        pid=${NODE_PID[L]}
        t0=$(now_ms)
        kill_node "$L"
        L2=$(wait_leader 10 "$L") || { fail "kill $k: no new leader among the other four"; break; }
        ms=$(($(now_ms) - t0))
        start_node "$L"
        log "kill $k: kill -9 leader $L (pid $pid) -> leader $L2 after $ms ms; $L restarted"
    done
    wait_bg "$run" 60
    local rc=$?
    stats=$(grep '^casrun:' "$CL_DIR/casrun.out" | tail -n 1)
    [ $rc = 0 ] || { sed 's/^/   | /' "$CL_DIR/casrun.out" | tail -n 5; fail "casrun: exit $rc"; }
    log "b) $stats"
    final=$(once_value chain)
    out=$(echo "$stats" | sed -nE 's/.*cas_ok=([0-9]+).*/\1/p')
    [ -n "$out" ] && [ "$final" = "$out" ] || fail "chain reads $final after $out successful CAS"
    log "   chain = $final after $out CAS, each answered success once"
}
