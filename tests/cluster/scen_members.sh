# scen_members.sh: scenario 8 of tests/cluster/run.sh (sourced): membership changes under
# load. Three nodes grow to five (two nodes started with --join are added as learners and
# promoted once caught up), then shrink back to three by removing a follower and the leader
# itself, which must hand over at once (TimeoutNow) rather than leave the cluster to an
# election timeout. histgen and the unique-key writer run through all of it; afterwards every
# acknowledged write must read back and the history must be linearizable. Last, restarted
# nodes must come back with the replicated three-member configuration, not their ip_list's,
# and say so in their log.

# wait_members TIMEOUT_S WANT NODE...: every NODE reports the configuration WANT
# ("voters=.. learners=..") in its /status; returns 1 at the deadline.
wait_members() {
    local deadline=$(($(now_ms) + $1 * 1000)) want=$2 bad
    shift 2
    while :; do
        bad=$(members "$@" | awk -v w="$want" '{c = $2 " " $3} c != w {print $1}' | xargs)
        [ -z "$bad" ] && return 0
        [ "$(now_ms)" -lt "$deadline" ] || break
        sleep 0.05
    done
    log "members after $1 s: $(members "$@" | tr '\n' ';')"
    return 1
}

# members_cli ARGS...: the CLI's membership subcommand against every node (it follows the
# redirect to the leader).
members_cli() { "$VESPER" --endpoints "$(endpoints_except)" --timeout 5 members "$@" 2>&1; }

# promote_when_caught_up ID TIMEOUT_S: polls promote until it succeeds (a lagging learner is
# refused with 503 "learner has not caught up"); the number of attempts is left in PROMOTE_N.
promote_when_caught_up() {
    local deadline=$(($(now_ms) + $2 * 1000)) out
    PROMOTE_N=0
    while [ "$(now_ms)" -lt "$deadline" ]; do
        PROMOTE_N=$((PROMOTE_N + 1))
        out=$(members_cli promote "$1") && return 0
        [[ $out == *"caught up"* || $out == *no_leader* || $out == *not_leader* ||
            $out == *unavailable* || $out == *timeout* ]] ||
            log "promote $1, attempt $PROMOTE_N: unexpected answer: $(echo "$out" | head -n 2 | tr '\n' ' ')"
        sleep 0.1
    done
    log "promote $1: last answer after $PROMOTE_N attempts: $out"
    return 1
}

# log_ms FILE PATTERN [START]: the timestamp (ms since the epoch) of the first line of FILE
# matching PATTERN (an extended regex) at or after line START (default 1).
log_ms() {
    sed -n "${3:-1},\$p" "$1" | grep -m 1 -E "$2" | python3 -c 'import sys, datetime
line = sys.stdin.readline()
if line:
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    print(int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))'
}

# grow: nodes 3 and 4 (already running with --join) become learners, then voters.
s8_grow() {
    local i out t0
    for i in 3 4; do
        out=$(members_cli add "$i" "$(url "$i")") || { fail "members add $i: $out"; return 1; }
        log "added node $i as a learner: $out"
    done
    wait_members 5 "voters=0,1,2 learners=3,4" 0 1 2 3 4 || fail "learners 3, 4 not in every /status"
    for i in 3 4; do
        t0=$(now_ms)
        promote_when_caught_up "$i" 15 || { fail "promote $i never succeeded in 15 s"; return 1; }
        log "promoted node $i after $PROMOTE_N attempt(s), $(($(now_ms) - t0)) ms"
    done
    wait_members 5 "voters=0,1,2,3,4 learners=" 0 1 2 3 4 || fail "5 voters not in every /status"
}

# shrink: removes an original follower S8_R, then the leader S8_L itself; S8_N is the new
# leader and S8_GAP the hand-over gap in ms, from the logs.
s8_shrink() {
    local L R i t0 t1 out N lines term applied won
    L=$(wait_leader 10) || { fail "no leader before the shrink"; return 1; }
    for i in 0 1 2; do [ "$i" != "$L" ] && { R=$i; break; }; done
    out=$(members_cli remove "$R") || { fail "members remove $R: $out"; return 1; }
    log "removed follower $R: $out"
    read -r _ _ term _ < <(node_state "$L")
    lines=$(wc -l <"$CL_DIR/node$L.log")
    t0=$(now_ms)
    out=$(members_cli remove "$L") || { fail "members remove $L (the leader): $out"; return 1; }
    t1=$(now_ms)
    local role last
    read -r role _ _ _ _ last _ < <(node_state "$L")
    log "removed leader $L right after the answer: $role, last log index $last (removal at" \
        "$(echo "$out" | sed -nE 's/.*"index":([0-9]+).*/\1/p'))"
    N=$(wait_leader 5 "$L" "$R") || { fail "no new leader within 5 s of removing leader $L"; return 1; }
    log "removed leader $L (term $term): answered in $((t1 - t0)) ms: $out; new leader $N seen" \
        "by the poll $(($(now_ms) - t0)) ms after the request"
    S8_R=$R S8_L=$L S8_N=$N
    # Requests that were waiting on L when it stepped down: nothing it learns any more answers
    # them, so they wait for their deadline (a client-visible stall, not a safety problem).
    log "removed leader $L: $(curl -s --max-time 2 "$(url "$L")/metrics" |
        grep -E '^vesper_requests_pending ' || echo 'no /metrics') ($(($(now_ms) - t1)) ms after" \
        "its removal was answered)"
    # The precise gap, from the logs: L applying its removal -> N winning its election.
    applied=$(log_ms "$CL_DIR/node$L.log" "configuration applied at" $((lines + 1)))
    won=$(log_ms "$CL_DIR/node$N.log" "election won: leader of term $((term + 1))\$")
    [ -n "$applied" ] && [ -n "$won" ] || {
        fail "hand-over: no 'configuration applied' in node $L's log or no 'election won:" \
            "leader of term $((term + 1))' in node $N's (more than one election?)"
        return 1
    }
    S8_GAP=$((won - applied))
    log "hand-over gap (leader $L applies its removal -> node $N wins term $((term + 1))): $S8_GAP ms"
    # A TimeoutNow hand-over takes a round trip or two; without one the others would wait
    # for an election timeout (>= 500 ms after their last heartbeat).
    [ "$S8_GAP" -ge 0 ] && [ "$S8_GAP" -lt 400 ] ||
        fail "leader $L removal: new leader after $S8_GAP ms (no hand-over?)"
}

s8_members() {
    cl_init "$TOP/s8" 5 17160 --snapshot-entries 1000
    head -n 3 "$CL_IPLIST" >"$CL_DIR/ip_list3.txt"
    local i L R three t0 rc
    for i in 0 1 2; do start_node_as "$i" "$CL_DIR/ip_list3.txt"; done
    for i in 3 4; do start_node_as "$i" "$CL_IPLIST" --join; done
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    wait_members 5 "voters=0,1,2 learners=" 0 1 2 || fail "initial configuration"
    wait_members 5 "voters= learners=" 3 4 || fail "--join nodes should start with no members"
    start_load 8 14
    sleep 1
    t0=$(now_ms)
    s8_grow || { finish_load 8; return; }
    log "grew 3 -> 5 voters in $(($(now_ms) - t0)) ms"
    sleep 1
    s8_shrink || { finish_load 8; return; }
    R=$S8_R L=$S8_L
    three=$(printf '%s\n' 0 1 2 3 4 | grep -vx -e "$R" -e "$L" | paste -sd, -)
    wait_members 5 "voters=$three learners=" ${three//,/ } || fail "3 voters not in every /status"
    log "shrank to voters $three; removed nodes: $(members "$R" "$L" | tr '\n' ';')"
    finish_load 8
    "$LINCHECK" "$CL_DIR/hist.txt" >"$CL_DIR/lincheck.out" 2>&1
    rc=$?
    [ $rc = 0 ] || {
        head -n 30 "$CL_DIR/lincheck.out" | sed 's/^/   | /'
        fail "history: lincheck exit $rc"
    }
    log "$(tail -n 1 "$CL_DIR/lincheck.out")"
    # The removed nodes are done; a write pause while they lived is the writers' longest gap.
    log "longest gap between acknowledged unique-key writes: $(awk '$8 == "ok" {print $7}' \
        "$CL_DIR/acked.txt" | sort -n | awk 'NR > 1 && $1 - p > g {g = $1 - p} {p = $1}
        END {printf "%d ms", g / 1000}')"
    stop_node "$R"
    stop_node "$L"
    s8_restart "$three"
}

# s8_restart VOTERS: kill -9 and restart each remaining original node (ip_list of 3 that
# disagrees with the configuration) and one joined node (--join again): each must come back
# with the replicated configuration, and the original must warn about its ip_list.
s8_restart() {
    local three=$1 i lines id out
    for i in ${three//,/ }; do
        [ "$i" -lt 3 ] || continue
        lines=$(wc -l <"$CL_DIR/node$i.log")
        kill_node "$i"
        start_node_as "$i" "$CL_DIR/ip_list3.txt"
        wait_caught_up "$i" 20 || fail "restarted node $i did not catch up in 20 s"
        wait_members 5 "voters=$three learners=" "$i" || fail "restarted node $i configuration"
        out=$(sed -n "$((lines + 1)),\$p" "$CL_DIR/node$i.log" | grep -E 'disagrees with the replicated configuration')
        [ -n "$out" ] || fail "restarted node $i did not warn that its ip_list disagrees"
        log "node $i restarted: $(members "$i"); $(sed -n "$((lines + 1)),\$p" \
            "$CL_DIR/node$i.log" | grep -m 1 -o 'recovered: .*')"
        log "  warned: ${out#* warn }"
        break
    done
    for id in ${three//,/ }; do
        [ "$id" -ge 3 ] || continue
        lines=$(wc -l <"$CL_DIR/node$id.log")
        kill_node "$id"
        start_node_as "$id" "$CL_IPLIST" --join
        wait_caught_up "$id" 20 || fail "restarted node $id (--join) did not catch up in 20 s"
        wait_members 5 "voters=$three learners=" "$id" || fail "restarted node $id configuration"
        out=$(sed -n "$((lines + 1)),\$p" "$CL_DIR/node$id.log" | grep -c 'disagrees with')
        log "node $id restarted with --join: $(members "$id"); ip_list warning lines: $out"
        break
    done
    out=$(put s8after restart) || fail "write after the restarts: $out"
}
