# scen_tls.sh: the scenarios of tests/tls/run.sh (sourced). Each starts its own cluster on
# its own ports (17700 + 10 x scenario), except the configuration checks, which start none.

# expect_exit2 WHAT WANT ARGS...: vesperd exits 2 and its one line of stderr contains WANT.
expect_exit2() {
    local what=$1 want=$2 out rc
    shift 2
    out=$("$VESPERD" "$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc = 2 ] || { fail "$what: exit $rc, not 2 ($out)"; return; }
    [[ $out == *"$want"* ]] || fail "$what: stderr '$out' lacks '$want'"
    [ "$(echo "$out" | grep -c .)" -le 2 ] || fail "$what: more than one line of error: $out"
}

t1_config() {
    local d=$TOP/t1 c=$CERTS
    mkdir -p "$d"
    printf 'https://127.0.0.1:17701\nhttps://127.0.0.1:17702\nhttps://127.0.0.1:17703\n' \
        >"$d/ip.txt"
    local base=(0 "$d/ip.txt" --data-dir "$d/data")
    expect_exit2 "cert without key" "--tls-cert-file given without --tls-key-file" \
        "${base[@]}" --tls-cert-file "$c/node0.pem"
    expect_exit2 "peer TLS half configured" "missing --peer-key-file" \
        "${base[@]}" --peer-ca-file "$c/ca.pem" --peer-cert-file "$c/node0.pem"
    expect_exit2 "https URL without a certificate" "is https:// but no certificate" "${base[@]}"
    expect_exit2 "unreadable certificate" "$d/missing.pem: cannot read: No such file" \
        "${base[@]}" --tls-cert-file "$d/missing.pem" --tls-key-file "$c/node0.key"
    expect_exit2 "key of another certificate" "does not match certificate" \
        "${base[@]}" --tls-cert-file "$c/node0.pem" --tls-key-file "$c/node1.key"
    echo "not a certificate" >"$d/junk.pem"
    expect_exit2 "not PEM" "not a PEM certificate" \
        "${base[@]}" --tls-cert-file "$d/junk.pem" --tls-key-file "$c/node0.key"
    VESPER_PEER_CA_FILE="$d/none.pem" VESPER_PEER_CERT_FILE="$c/node0.pem" \
        VESPER_PEER_KEY_FILE="$c/node0.key" \
        expect_exit2 "unreadable CA through the environment" "CA $d/none.pem: cannot read" \
        "${base[@]}"
    local help
    help=$("$VESPERD" --help)
    for opt in TLS_CERT_FILE TLS_KEY_FILE PEER_CA_FILE PEER_CERT_FILE PEER_KEY_FILE; do
        [[ $help == *"VESPER_$opt"* ]] || fail "--help does not show VESPER_$opt"
    done
    [ -d "$d/data" ] && fail "a refused configuration created its data directory"
    log "7 bad configurations refused with exit 2; --help lists every TLS variable"
}

t2_cluster() {
    tls_init "$TOP/t2" 17720
    tls_start_all
    local L pid out ms
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    put k1 v1 >/dev/null || fail "put over https failed"
    out=$(get k1) && [[ $out == *'"value":"v1"'* ]] || fail "get over https: $out"
    bg "$HISTGEN" -x -c 3 -d 8 -k 6 -t 1000 -p t2k -s "$SEED" -o "$CL_DIR/hist.txt" \
        "$CL_IPLIST" >"$CL_DIR/histgen.out" 2>&1
    local hg=$BG_LAST
    sleep 2
    L=$(wait_leader 10) || { fail "no leader under load"; return; }
    pid=${NODE_PID[L]}
    out=$("$TOOL" failover "$CL_IPLIST" "$L" "$pid" KILL t2fo)
    NODE_PID[L]=""
    reap "$pid"
    ms=$(echo "$out" | sed -nE 's/^failover_ms=([0-9]+).*/\1/p')
    [ -n "$ms" ] || fail "no write succeeded after kill -9 of leader $L: $out"
    log "kill -9 of leader $L: first acknowledged write after ${ms:-?} ms"
    tls_start "$L"
    wait_bg "$hg" 30 || fail "histgen: exit $?: $(tail -n 3 "$CL_DIR/histgen.out")"
    log "$(tail -n 1 "$CL_DIR/histgen.out")"
    wait_caught_up "$L" 15 || fail "restarted node $L did not catch up over TLS"
    "$TOOL" finalread "$CL_IPLIST" "$CL_DIR/hist.txt" t2k 6 || fail "final reads failed"
    out=$("$LINCHECK" "$CL_DIR/hist.txt" 2>&1) || fail "history not linearizable: $(echo "$out" | tail -n 3)"
    log "lincheck: $(echo "$out" | tail -n 1)"
    grep -q "POST /raft from .* refused" "$CL_DIR"/node*.log &&
        fail "a member's peer request was refused"
}

t3_plain() {
    tls_init "$TOP/t3" 17730
    tls_start_all
    local L out code i
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    # Plain HTTP to the TLS port: the handshake fails, the connection closes, nothing crashes.
    for i in 0 1 2; do
        out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 \
            "http://127.0.0.1:$((CL_PORT0 + i))/status")
        code=$?
        [ "$code" = 52 ] || [ "$code" = 56 ] || [ "$out" = 400 ] ||
            fail "plain HTTP to node $i: curl exit $code, status $out (want a closed connection or 400)"
    done
    python3 - "$((CL_PORT0 + L))" <<'EOF' || fail "raw plain-text request was not closed cleanly"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"POST /raft HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" * 50)
data = s.recv(4096)
# a TLS alert or nothing, then EOF
while True:
    more = s.recv(4096)
    if not more:
        break
print("closed after %d bytes" % len(data))
EOF
    # TLS without a client certificate may use the client API but not POST /raft.
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST --data-binary x \
        --cacert "$CERTS/ca.pem" "$(url "$L")/raft")
    [ "$code" = 403 ] || fail "POST /raft without a peer certificate answered $code, not 403"
    grep -q "POST /raft from 127.0.0.1 refused: no verified peer certificate" "$CL_DIR/node$L.log" ||
        fail "no log line for the refused POST /raft"
    # A verified peer certificate gets past the gate (the body is junk: 400).
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -X POST --data-binary x \
        --cacert "$CERTS/ca.pem" --cert "$CERTS/node1.pem" --key "$CERTS/node1.key" \
        "$(url "$L")/raft")
    [ "$code" = 400 ] || fail "POST /raft of junk with a peer certificate answered $code, not 400"
    put after-plain yes >/dev/null || fail "cluster stopped serving after the plain requests"
    [ -z "$(crashed_nodes)" ] || fail "a node died"
}

# The cluster's (leader, term) as seen by every member, e.g. "1/3 1/3 1/3".
views() { states | awk '{printf "%s/%s ", $3, $4}'; }

t4_rogue() {
    tls_init "$TOP/t4" 17740
    tls_start_all
    local L before after i r=$TOP/rogue
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    before=$(views)
    # Node 3 believes it belongs to a four-node cluster and trusts our CA, but its own
    # certificate is another CA's: its votes and appends must never reach the members.
    cp "$CL_IPLIST" "$CL_DIR/ip4.txt"
    echo "https://127.0.0.1:$((CL_PORT0 + 3))" >>"$CL_DIR/ip4.txt"
    mkdir -p "$CL_DIR/san"
    env "${SAN_ENV[@]}" "$VESPERD" 3 "$CL_DIR/ip4.txt" --data-dir "$CL_DIR/data3" \
        --listen "127.0.0.1:$((CL_PORT0 + 3))" --election-timeout-ms 100 --heartbeat-ms 20 \
        --tls-cert-file "$r/node3.pem" --tls-key-file "$r/node3.key" \
        --peer-ca-file "$CERTS/ca.pem" --peer-cert-file "$r/node3.pem" \
        --peer-key-file "$r/node3.key" >>"$CL_DIR/node3.log" 2>&1 &
    local rogue=$!
    disown "$rogue"
    BG_PIDS+=("$rogue")
    sleep 4
    after=$(views)
    [ "$before" = "$after" ] || fail "the cluster's leader/term changed: '$before' -> '$after'"
    grep -q "TLS: refused the certificate of client 127.0.0.1:.*unable to get local issuer" \
        "$CL_DIR"/node[012].log || fail "no member logged the refused certificate"
    grep -q "peer [0-2] down .*last: " "$CL_DIR/node3.log" ||
        fail "the rogue node does not log why its peers are down"
    put after-rogue yes >/dev/null || fail "the cluster stopped taking writes"
    for ((i = 0; i < 3; i++)); do
        [[ $(members "$i") == *"voters=0,1,2 "* || $(members "$i") == *"voters=0,1,2" ]] ||
            fail "node $i membership changed: $(members "$i")"
    done
    kill -TERM "$rogue" 2>/dev/null
    reap "$rogue"
    log "views before/after: $before/ $after; $(grep -h 'refused the certificate' \
        "$CL_DIR"/node[012].log | head -n 1 | cut -c1-160)"
}

t5_expired() {
    tls_init "$TOP/t5" 17750
    tls_start_all
    local L F t before after
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    F=$(((L + 1) % 3))
    stop_node "$F"
    before=$(views)
    # The follower comes back with an expired certificate signed by the right CA.
    # shellcheck disable=SC2046
    start_node_as "$F" "$CL_IPLIST" $(tls_args "$F" "$CERTS/expired.pem" "$CERTS/expired.key")
    sleep 3
    grep -q "TLS: served certificate .*expired.pem has EXPIRED" "$CL_DIR/node$F.log" ||
        fail "the node with the expired certificate does not say so at start-up"
    grep -q "TLS: refused the certificate of .*certificate has expired" \
        "$CL_DIR"/node[0-2].log || fail "no 'certificate has expired' refusal logged"
    read -r _ _ _ t _ < <(node_state "$L")
    [ "$(node_state "$L" | cut -d' ' -f1)" = leader ] || fail "leader $L lost its leadership"
    put during-expired yes >/dev/null || fail "the majority stopped taking writes"
    stop_node "$F"
    tls_start "$F"
    wait_caught_up "$F" 15 || fail "node $F did not catch up with a valid certificate"
    log "$(grep -h 'certificate has expired' "$CL_DIR"/node[0-2].log | head -n 1 | cut -c1-170)"
}

t6_reload() {
    tls_init "$TOP/t6" 17760
    tls_start_all
    local L i=0 old new want out
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    old=$(served_serial "$CL_PORT0")
    [ -n "$old" ] || { fail "no certificate served on node 0"; return; }
    # A fresh certificate for node0 under the same file names, then SIGHUP.
    "$ROOT/deploy/make-certs.sh" "$CERTS" leaf node0 >/dev/null || { fail "make-certs"; return; }
    cp "$CERTS/node0.pem" "$CL_DIR/node0.pem"
    cp "$CERTS/node0.key" "$CL_DIR/node0.key"
    want=$(openssl x509 -in "$CL_DIR/node0.pem" -noout -serial)
    kill -HUP "${NODE_PID[0]}"
    for ((i = 0; i < 100; i++)); do
        new=$(served_serial "$CL_PORT0")
        [ "$new" = "$want" ] && break
        sleep 0.05
    done
    [ "$new" = "$want" ] || fail "after SIGHUP node 0 serves $new, not the new $want (was $old)"
    grep -q "SIGHUP: certificates reloaded" "$CL_DIR/node0.log" || fail "no reload log line"
    # The new certificate also works between peers: restart the others so they reconnect.
    stop_node 1
    tls_start 1
    stop_node 2
    tls_start 2
    wait_leader 15 >/dev/null || fail "no leader after the peers reconnected"
    put after-reload yes >/dev/null || fail "no write after the reload"
    # A broken key: the reload is refused and the served certificate stays.
    echo junk >"$CL_DIR/node0.key"
    kill -HUP "${NODE_PID[0]}"
    for ((i = 0; i < 100; i++)); do
        grep -q "certificates not reloaded" "$CL_DIR/node0.log" && break
        sleep 0.05
    done
    grep -q "SIGHUP: certificates not reloaded, keeping the old ones: key .*node0.key" \
        "$CL_DIR/node0.log" || fail "no log line for the refused reload"
    out=$(served_serial "$CL_PORT0")
    [ "$out" = "$want" ] || fail "after a bad reload node 0 serves $out, not $want"
    log "served serial ${old#serial=} -> ${want#serial=}; bad reload kept it"
}

t7_cli() {
    tls_init "$TOP/t7" 17770
    tls_start_all
    local L out rc list=$CL_DIR/ip_list.txt
    L=$(wait_leader 15) || { fail "no leader within 15 s"; return; }
    out=$(env -u VESPER_CACERT "$VESPER" put c1 v1 --ip-list "$list" --cacert "$CERTS/ca.pem")
    [ "$out" = '{"code":"success"}' ] || fail "put --cacert: $out"
    out=$(env -u VESPER_CACERT "$VESPER" get c1 --ip-list "$list" --cacert "$CERTS/ca.pem" \
        --cert "$CERTS/client.pem" --key "$CERTS/client.key")
    [[ $out == *'"value":"v1"'* ]] || fail "get --cacert --cert --key: $out"
    out=$(VESPER_CACERT=$CERTS/ca.pem "$VESPER" get c1 --ip-list "$list")
    [[ $out == *'"value":"v1"'* ]] || fail "get with VESPER_CACERT: $out"
    out=$(env -u VESPER_CACERT "$VESPER" get c1 --ip-list "$list" --timeout 5 2>&1)
    rc=$?
    [ $rc = 2 ] && [[ $out == *"certificate"* ]] ||
        fail "get without the CA: exit $rc, want 2 and a certificate error: $out"
    out=$(env -u VESPER_CACERT "$VESPER" status --ip-list "$list" --cacert "$CERTS/ca.pem")
    [[ $out == *leader* ]] || fail "vesper status --cacert: $out"
    # Redirects name https URLs and the CLI follows them.
    out=$("$VESPER" put c2 v2 --endpoints "$(url $(((L + 1) % 3)))" -v 2>&1)
    [[ $out == *"https://127.0.0.1:$((CL_PORT0 + L))"* ]] ||
        fail "no https redirect to the leader in: $(echo "$out" | tail -n 3)"
    # Forwarding through the relay pool over https.
    out=$("$VESPER" get c2 --endpoints "$(url $(((L + 1) % 3)))" --forward)
    [[ $out == *'"value":"v2"'* ]] || fail "forwarded get over https: $out"
    # The probe: unverified without a CA, verified with one, refused with another CA.
    "$VESPERD" --probe "$(url "$L")" 2>/dev/null || fail "probe https without a CA"
    VESPER_PEER_CA_FILE=$CERTS/ca.pem "$VESPERD" --probe "$(url "$L")" || fail "probe with the CA"
    VESPER_PEER_CA_FILE=$TOP/rogue/ca.pem "$VESPERD" --probe "$(url "$L")" 2>/dev/null &&
        fail "probe verified the node against another CA"
    log "CLI over https with --cacert, env, client certificate; probe checked"
}
