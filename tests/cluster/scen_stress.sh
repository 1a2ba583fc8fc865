# scen_stress.sh: scenario 10 of tests/cluster/run.sh (sourced): a bounded stress run.
#
# A three-node cluster takes the hostile client traffic of stress.py (hang-ups over HTTP/1.1
# and HTTP/2, relays cut mid-flight, pipelines with broken parts, slow clients) for
# STRESS_SECS seconds (default 60) while this side, every 2-4 s, either asks the leader to
# transfer leadership or stops a node with SIGTERM under load and starts it again. It checks:
# stress.py saw only well-formed JSON answers; every node stopped within 5 s of SIGTERM and
# none crashed; once the load is over every node's vesper_requests_pending drops to 0 (the
# nodes run with --max-pending 64, so slots that hang-ups leaked would also show as
# "unavailable" answers) and a plain write succeeds; the recorded history is linearizable
# (build/lincheck); and, as for every scenario, no sanitizer report (run.sh). Only
# 127.0.0.1, ports 17180-17182; the random choices follow SEED.

# transfer_leader: POST /admin/transfer at the current leader, to another voter.
transfer_leader() {
    local L T out
    L=$(wait_leader 5) || { log "transfer: no leader"; return 0; }
    T=$(((L + 1 + RANDOM % (CL_N - 1)) % CL_N))
    out=$(curl -s --max-time 3 -X POST "$(url "$L")/admin/transfer" -d "{\"to\":$T}")
    python3 -c 'import json, sys; d = json.loads(sys.argv[1]); assert d["code"] in ("success", "fail")' \
        "$out" 2>/dev/null || fail "transfer $L -> $T: answer is not JSON: ${out:0:200}"
    S10_TRANSFERS=$((S10_TRANSFERS + 1))
}

# term_and_restart I: SIGTERM node I under load; it must exit within 5 s; then start it again.
term_and_restart() {
    local i=$1 pid=${NODE_PID[$1]} t
    [ -n "$pid" ] || return 0
    kill -TERM "$pid"
    for ((t = 0; t < 100; t++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "node $i still running 5 s after SIGTERM under load"
        kill -9 "$pid"
    fi
    reap "$pid"
    NODE_PID[i]=""
    S10_TERMS=$((S10_TERMS + 1))
    sleep 0.5
    start_node "$i"
}

# pending_drained TIMEOUT_S: every node reports vesper_requests_pending 0 (bounded poll);
# otherwise prints "node=value" of those that do not.
pending_drained() {
    local deadline=$(($(now_ms) + $1 * 1000)) i v left
    while :; do
        left=""
        for ((i = 0; i < CL_N; i++)); do
            v=$(curl -s --max-time 2 "$(url "$i")/metrics" |
                sed -nE 's/^vesper_requests_pending ([0-9.e+]+)$/\1/p')
            [ "$v" = 0 ] || left+="$i=${v:-?} "
        done
        [ -z "$left" ] && return 0
        [ "$(now_ms)" -lt "$deadline" ] || { echo "$left"; return 1; }
        sleep 0.2
    done
}

s10_stress() {
    # Snapshots by a forked writer (--snapshot-fork-bytes 0) while the load runs.
    cl_init "$TOP/s10" 3 17180 --snapshot-entries 500 --snapshot-fork-bytes 0 --max-pending 64
    start_cluster
    local secs=${STRESS_SECS:-60} drv end out rc c
    wait_leader 15 >/dev/null || { fail "no leader within 15 s"; return; }
    RANDOM=$SEED
    S10_TRANSFERS=0 S10_TERMS=0
    bg python3 "$HERE/stress.py" "$CL_IPLIST" "$secs" "$SEED" "$CL_DIR/hist.txt" s10k \
        >"$CL_DIR/stress.out" 2>&1
    drv=$BG_LAST
    end=$(($(now_ms) + (secs - 5) * 1000))
    while [ "$(now_ms)" -lt "$end" ]; do
        sleep "$((2 + RANDOM % 3))"
        if [ $((RANDOM % 2)) = 0 ]; then transfer_leader; else term_and_restart $((RANDOM % CL_N)); fi
        c=$(crashed_nodes)
        [ -z "$c" ] || { fail "node(s) $c exited on their own under stress"; break; }
    done
    log "$S10_TRANSFERS leadership transfers, $S10_TERMS SIGTERM stops and restarts"
    wait_bg "$drv" $((secs + 60))
    rc=$?
    sed 's/^/   /' "$CL_DIR/stress.out"
    [ $rc = 0 ] || fail "stress.py exit $rc (malformed answers are listed above)"
    wait_leader 15 >/dev/null || fail "no leader after the stress run"
    out=$(pending_drained 10) || fail "requests still pending 10 s after the load: $out"
    out=$(put s10final done) || fail "a plain write after the stress run failed: $out"
    out=$("$LINCHECK" "$CL_DIR/hist.txt" 2>&1)
    rc=$?
    log "lincheck: $(echo "$out" | tail -n 1)"
    [ $rc = 0 ] || { echo "$out" | head -n 30 | sed 's/^/   | /'; fail "stress history: lincheck exit $rc"; }
}
