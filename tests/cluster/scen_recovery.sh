# scen_recovery.sh: scenarios 4, 5 and 6 of tests/cluster/run.sh (sourced): nodes that
# come back. A restarted follower catching up from the log and from a snapshot; a cluster
# that lost its quorum failing writes promptly and recovering; and the crash test, random
# minority kill -9 / restart rounds under load after which every acknowledged write must be
# readable through the cluster and from every replica's own state.

s4_restart() {
    # --snapshot-fork-bytes 0: even this small state is snapshotted by a forked writer.
    cl_init "$TOP/s4" 5 17130 --snapshot-entries 200 --snapshot-fork-bytes 0
    start_cluster
    local L F F2 out f2_last lsnap f2snap
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    # a) a short absence: the follower catches up from the leader's log.
    F=$(((L + 1) % 5))
    stop_node "$F"
    out=$("$TOOL" write "$CL_IPLIST" s4a 2 20 60 "$CL_DIR/a.txt") || fail "writes (a): $out"
    start_node "$F"
    wait_caught_up "$F" 20 || fail "restarted follower $F did not catch up in 20 s"
    out=$("$TOOL" verify "$CL_IPLIST" "$CL_DIR/a.txt" "$(url "$F")") ||
        fail "restarted follower $F: stale reads miss acknowledged writes"
    log "a) follower $F stopped for 60 writes, restarted: $(echo "$out" | tail -n 1)"
    # b) behind compaction: only a snapshot can bring the follower back. The leader keeps
    # SNAPSHOT_TRAILING entries behind each snapshot for slow followers, so the follower
    # must miss more than that plus a snapshot interval.
    local trailing writes
    trailing=$(sed -nE 's/^#define SNAPSHOT_TRAILING ([0-9]+).*/\1/p' "$ROOT/src/node/boot.c")
    writes=$((${trailing:-5000} + 1200))
    L=$(wait_leader 10) || { fail "no leader"; return; }
    F2=$(((L + 2) % 5))
    read -r _ _ _ _ _ f2_last _ < <(node_state "$F2")
    kill_node "$F2"
    out=$("$TOOL" write "$CL_IPLIST" s4b 4 60 "$writes" "$CL_DIR/b.txt") || fail "writes (b): $out"
    log "b) follower $F2 (last index $f2_last) killed; $out"
    L=$(wait_leader 10) || { fail "no leader"; return; }
    read -r _ _ _ _ _ _ lsnap < <(node_state "$L")
    [ "$lsnap" != "-" ] && [ "$lsnap" -gt $((f2_last + ${trailing:-5000})) ] ||
        fail "leader $L snapshot index $lsnap: its log still reaches follower $F2's ($f2_last)"
    start_node "$F2"
    wait_caught_up "$F2" 30 || fail "follower $F2 did not catch up in 30 s"
    read -r _ _ _ _ _ _ f2snap < <(node_state "$F2")
    [ "$f2snap" != "-" ] && [ "$f2snap" -gt 0 ] || fail "follower $F2: snapshot_index $f2snap"
    grep -q 'snapshot installed at' "$CL_DIR/node$F2.log" ||
        fail "follower $F2 log shows no snapshot install"
    log "   leader snapshot $lsnap; follower $F2 snapshot_index $f2snap;" \
        "$(grep -o 'snapshot installed at.*' "$CL_DIR/node$F2.log" | tail -n 1)"
    out=$("$TOOL" verify "$CL_IPLIST" "$CL_DIR/b.txt" "$(url "$F2")") ||
        fail "follower $F2 after snapshot: stale reads miss acknowledged writes"
    log "   $out"
    out=$("$TOOL" verify "$CL_IPLIST" "$CL_DIR/a.txt" "$(url "$F2")") ||
        fail "follower $F2 after snapshot: older writes missing"
}

# judge_refusal REPLY: a write without a quorum must be refused with a clear error.
judge_refusal() {
    python3 -c 'import sys, json
try:
    d = json.loads(sys.argv[1])
except Exception:
    print("no JSON answer: %r" % sys.argv[1][:80]); sys.exit(1)
ok = d.get("code") == "fail" and d.get("error") in ("no_leader", "timeout", "unavailable")
print(d.get("error")); sys.exit(0 if ok else 1)' "$1"
}

s5_no_quorum() {
    cl_init "$TOP/s5" 5 17140
    start_cluster
    local L A B C S1 S2 t0 el out rc s role t
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    start_load 5 12
    sleep 1 # load on the healthy cluster first
    A=$L B=$(((L + 1) % 5)) C=$(((L + 2) % 5)) S1=$(((L + 3) % 5)) S2=$(((L + 4) % 5))
    kill_node "$A"
    kill_node "$B"
    pause_node "$C"
    log "kill -9 leader $A and node $B, SIGSTOP node $C; $S1 and $S2 remain"
    t0=$(now_ms)
    out=$("$VESPER" put s5key during --endpoints "$(endpoints_except "$A" "$B" "$C")" \
        --timeout 2 2>&1)
    rc=$? el=$(($(now_ms) - t0))
    log "CLI put without quorum: exit $rc after $el ms: $(echo "$out" | tr '\n' ' ' | cut -c1-160)"
    [ $rc != 0 ] || fail "CLI put succeeded without a quorum"
    [ $el -le 3500 ] || fail "CLI put with --timeout 2 took $el ms"
    [[ $out =~ timeout|no_leader|unavailable|deadline ]] || fail "CLI put: unclear error: $out"
    # Once the survivors notice (bounded poll), each refuses a raw PUT promptly.
    for ((t = 0; t < 100; t++)); do
        role=$(states "$S1" "$S2" | awk '$2 == "leader" || $3 != "-" {n++} END {print n + 0}')
        [ "$role" = 0 ] && break
        sleep 0.05
    done
    [ "$role" = 0 ] || fail "survivors still report a leader 5 s after losing the quorum"
    for s in "$S1" "$S2"; do
        t0=$(now_ms)
        out=$(raw PUT "$s" '{"type":"put","payload":{"key":"s5raw","value":"x"}}' 6)
        el=$(($(now_ms) - t0))
        rc=$(judge_refusal "$out") || fail "raw PUT at survivor $s: $out"
        [ $el -le 4000 ] || fail "raw PUT at survivor $s answered after $el ms"
        log "raw PUT at survivor $s: $rc after $el ms"
        out=$(raw GET "$s" '{"type":"get","payload":{"key":"s5key"}}' 6)
        judge_refusal "$out" >/dev/null || fail "linearizable GET at survivor $s: $out"
    done
    start_node "$A"
    start_node "$B"
    resume_node "$C"
    t0=$(now_ms)
    out=$(put s5key after 15) || fail "put after the nodes returned: $out"
    log "nodes back: first CLI write acknowledged after $(($(now_ms) - t0)) ms"
    out=$(get s5key)
    [[ $out == *'"value":"after"'* ]] || fail "get s5key after recovery: $out"
    finish_load 5
}

# Random minority kill -9 / restart rounds under load; SEED drives every choice.
s6_random_kills() {
    cl_init "$TOP/s6" 5 17150 --snapshot-entries 500
    start_cluster
    local round k a b victims i end out prev
    wait_leader 15 >/dev/null || { fail "no leader within 15 s"; return; }
    RANDOM=$((SEED + 6))
    start_load 6 20
    end=$(($(now_ms) + 16000))
    for ((round = 1; round <= 6 && $(now_ms) < end; round++)); do
        sleep "0.$((2 + RANDOM % 8))"
        k=$((1 + RANDOM % 2)) a=$((RANDOM % 5)) b=$(((a + 1 + RANDOM % 4) % 5))
        victims=$a
        [ "$k" = 2 ] && victims="$a $b"
        prev=$(wait_leader 1) || prev=none
        for i in $victims; do kill_node "$i"; done
        log "round $round: kill -9 node(s) $victims (leader was $prev)"
        sleep "0.$((3 + RANDOM % 7))"
        for i in $victims; do start_node "$i"; done
        for i in $victims; do wait_health "$i" 10 || fail "round $round: node $i not healthy"; done
    done
    finish_load 6
    for ((i = 0; i < 5; i++)); do
        wait_caught_up "$i" 30 || fail "node $i did not catch up in 30 s"
        out=$("$TOOL" verify "$CL_IPLIST" "$CL_DIR/acked.txt" "$(url "$i")") ||
            fail "node $i misses acknowledged writes in its own state"
        log "node $i: $(echo "$out" | tail -n 1)"
    done
}
