# scen_failover.sh: scenarios 2 and 3 of tests/cluster/run.sh (sourced): the leader dies
# (kill -9) or freezes (SIGSTOP) under concurrent load.
#
# Both keep histgen (recorded history for scenario 7) and cluster-tool's unique-key writer
# (direct "every acknowledged write is readable" check) running across the faults, and
# time each failover from the signal to the first acknowledged write (cluster-tool
# failover), which is what a client experiences.

# start_load SCEN SECONDS: histgen (get, put, delete, cas, range, txn) on keys s<SCEN>k0..7
# and the unique-key writer.
start_load() {
    bg "$HISTGEN" -x -m -c 3 -d "$2" -k 8 -t 1000 -p "s$1k" -s "$((SEED + $1))" \
        -o "$CL_DIR/hist.txt" "$CL_IPLIST" >"$CL_DIR/histgen.out" 2>&1
    LOAD_HG=$BG_LAST
    LOAD_END=$(($(now_ms) + $2 * 1000))
    bg "$TOOL" write "$CL_IPLIST" "s$1u" 2 "$2" 0 "$CL_DIR/acked.txt" >"$CL_DIR/writer.out" 2>&1
    LOAD_WR=$BG_LAST
}

# finish_load SCEN: waits for the load, then checks every acknowledged unique-key write
# and records histgen's history (plus final reads of its keys) for scenario 7.
finish_load() {
    wait_bg "$LOAD_HG" 30 || fail "histgen: exit $?: $(tail -n 3 "$CL_DIR/histgen.out")"
    wait_bg "$LOAD_WR" 30 || fail "cluster-tool write: exit $?: $(cat "$CL_DIR/writer.out")"
    log "$(tail -n 1 "$CL_DIR/histgen.out")"
    log "$(tail -n 1 "$CL_DIR/writer.out")"
    wait_leader 15 >/dev/null || fail "no leader after the load"
    local out
    out=$("$TOOL" verify "$CL_IPLIST" "$CL_DIR/acked.txt") || fail "acknowledged writes lost"
    echo "$out" | sed 's/^/   /'
    "$TOOL" finalread "$CL_IPLIST" "$CL_DIR/hist.txt" "s$1k" 8 ||
        fail "final reads of histgen's keys failed"
    HISTS+=("$1:$CL_DIR/hist.txt")
}

# ok puts in a history invoked after monotonic time $2 (µs).
ok_writes_after() { awk -v t="$2" '$2 == "put" && $8 == "ok" && $6 > t {n++} END {print n + 0}' "$1"; }

s2_kill_leader() {
    cl_init "$TOP/s2" 5 17110
    start_cluster
    local L L2 trial out ms sig_us pid t0
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    start_load 2 12
    for trial in 1 2 3; do
        # Each trial needs the load running through its failover and catch-up.
        [ "$(now_ms)" -lt $((LOAD_END - 5000)) ] || break
        sleep 1 # let the load run against the current leader before it dies
        L=$(wait_leader 10) || { fail "trial $trial: no leader"; break; }
        pid=${NODE_PID[L]}
        out=$("$TOOL" failover "$CL_IPLIST" "$L" "$pid" KILL "s2fo$trial")
        NODE_PID[L]=""
        reap "$pid"
        ms=$(echo "$out" | sed -nE 's/^failover_ms=([0-9]+).*/\1/p')
        sig_us=$(echo "$out" | sed -nE 's/.*signal_us=([0-9]+).*/\1/p')
        if [ -z "$ms" ]; then
            fail "trial $trial: no write succeeded after kill -9 of leader $L: $out"
            break
        fi
        FO_KILL+=("$ms")
        L2=$(wait_leader 10 "$L") || fail "trial $trial: no new leader among the other four"
        log "trial $trial: kill -9 leader $L -> leader $L2, first acknowledged write after $ms ms"
        [ "$L2" != "$L" ] || fail "trial $trial: killed node $L still reported as leader"
        t0=$(now_ms)
        start_node "$L"
        wait_caught_up "$L" 20 || fail "trial $trial: restarted node $L did not catch up in 20 s"
        log "trial $trial: node $L restarted and caught up in $(($(now_ms) - t0)) ms"
    done
    [ ${#FO_KILL[@]} -gt 0 ] || fail "no failover trial ran"
    finish_load 2
    [ -n "${sig_us:-}" ] && {
        local n
        n=$(ok_writes_after "$CL_DIR/hist.txt" "$sig_us")
        log "histgen: $n acknowledged writes after the last kill"
        [ "$n" -gt 0 ] || fail "no histgen write succeeded after the last kill"
    }
}

s3_pause_leader() {
    cl_init "$TOP/s3" 5 17120
    start_cluster
    local L L2 trial out ms pid key early late v
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    start_load 3 12
    for trial in 1 2 3; do
        [ "$(now_ms)" -lt $((LOAD_END - 5000)) ] || break
        L=$(wait_leader 10) || { fail "trial $trial: no leader"; break; }
        key=s3stale$trial
        put "$key" "old-$trial" >/dev/null || { fail "trial $trial: put old value"; break; }
        pid=${NODE_PID[L]}
        out=$("$TOOL" failover "$CL_IPLIST" "$L" "$pid" STOP "s3fo$trial")
        ms=$(echo "$out" | sed -nE 's/^failover_ms=([0-9]+).*/\1/p')
        [ -n "$ms" ] && FO_STOP+=("$ms")
        [ -n "$ms" ] || fail "trial $trial: no write committed while leader $L was paused: $out"
        L2=$(wait_leader 10 "$L") || fail "trial $trial: the other four elected no leader"
        out=$("$VESPER" put "$key" "new-$trial" --endpoints "$(endpoints_except "$L")" \
            --timeout 5) || fail "trial $trial: write while $L paused: $out"
        log "trial $trial: SIGSTOP leader $L -> leader $L2 after $ms ms; $key=new-$trial committed"
        # One linearizable GET already queued at the frozen node, one sent right after SIGCONT.
        bg curl -s --max-time 6 -X GET "$(url "$L")/request" \
            -d "{\"type\":\"get\",\"payload\":{\"key\":\"$key\"}}" >"$CL_DIR/early$trial.json"
        early=$BG_LAST
        sleep 0.2 # time for curl to connect and send; the kernel queues it for the frozen node
        resume_node "$L"
        late=$(raw GET "$L" "{\"type\":\"get\",\"payload\":{\"key\":\"$key\"}}" 6)
        wait_bg "$early" 10 || fail "trial $trial: curl to the resumed node: exit $?"
        for v in "$(cat "$CL_DIR/early$trial.json")" "$late"; do
            out=$(judge_read "$v" "old-$trial" "new-$trial") ||
                fail "trial $trial: resumed old leader $L: $out"
            log "  GET at resumed node $L: $out"
        done
        wait_caught_up "$L" 15 || fail "trial $trial: resumed node $L did not catch up"
        out=$("$VESPER" get "$key" --endpoints "$(url "$L")" --timeout 5)
        [[ $out == *"\"value\":\"new-$trial\""* ]] || fail "trial $trial: get via $L: $out"
    done
    finish_load 3
}
