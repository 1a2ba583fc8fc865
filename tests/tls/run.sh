#!/usr/bin/env bash
# run.sh: the TLS suite. Three-node clusters of real vesperd processes on 127.0.0.1 (ports
# 17700-17779) serving HTTPS to clients and mutual TLS to each other, with certificates made
# by deploy/make-certs.sh into a mktemp -d directory removed at exit (TLS_KEEP=1 keeps it).
#
#   tests/tls/run.sh [SCENARIO...]      all scenarios (1-7) or the ones named
#
# Reuses the process helpers of tests/cluster/lib.sh (the nodes are build/vesperd-san unless
# VESPERD says otherwise; sanitizer reports fail the scenario) and its tools, which read
# VESPER_CACERT / VESPER_CERT / VESPER_KEY like the CLI. Prints "ok N - name" or
# "FAIL N - name: why" per scenario and closes with "N passed, N failed".
# Binds TCP ports: run it under `flock /tmp/vesper-ports.lock`.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${ROOT:-$(cd "$HERE/../.." && pwd)}
# shellcheck source=tests/cluster/lib.sh
. "$ROOT/tests/cluster/lib.sh"
# shellcheck source=tests/tls/scen_tls.sh
. "$HERE/scen_tls.sh"

SEED=${SEED:-$(($(date +%s%N) / 1000 % 1000000))}
TOP=$(mktemp -d /tmp/vesper-tls.XXXXXX) || exit 2
CERTS=$TOP/certs
finish() {
    cl_cleanup
    if [ "${TLS_KEEP:-0}" = 1 ]; then echo "# kept $TOP"; else rm -rf "$TOP"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

PASSED=0 FAILED=0 SCEN_ERR=""
# tls_init DIR PORT0: a three-node https cluster; node i gets its own copy of nodeI.pem/.key
# (so a scenario may rotate it) and serves it to clients and peers alike.
tls_init() {
    cl_init "$1" 3 "$2"
    local i
    : >"$CL_IPLIST"
    for ((i = 0; i < CL_N; i++)); do
        echo "https://127.0.0.1:$((CL_PORT0 + i))" >>"$CL_IPLIST"
        cp "$CERTS/node$i.pem" "$CL_DIR/node$i.pem"
        cp "$CERTS/node$i.key" "$CL_DIR/node$i.key"
    done
}

url() { echo "https://127.0.0.1:$((CL_PORT0 + $1))"; }

# tls_args I CERT KEY [CA]: the TLS options of node I with the given files.
tls_args() {
    echo "--tls-cert-file $2 --tls-key-file $3 --peer-ca-file ${4:-$CERTS/ca.pem}" \
        "--peer-cert-file $2 --peer-key-file $3"
}

tls_start() {
    local i=$1
    # shellcheck disable=SC2046
    start_node_as "$i" "$CL_IPLIST" $(tls_args "$i" "$CL_DIR/node$i.pem" "$CL_DIR/node$i.key")
}

tls_start_all() {
    local i
    for ((i = 0; i < CL_N; i++)); do tls_start "$i"; done
}

# The served certificate's serial on port PORT ("serial=..."), verified against the CA.
served_serial() {
    echo | openssl s_client -connect "127.0.0.1:$1" -CAfile "$CERTS/ca.pem" \
        -verify_return_error 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}

echo "# vesper TLS suite: SEED=$SEED, data in $TOP, server ${VESPERD#"$ROOT"/}"
for b in "$VESPERD" "$VESPER" "$LINCHECK" "$HISTGEN" "$TOOL"; do
    [ -x "$b" ] || { echo "missing $b (make test-tls builds it)"; echo "0 passed, 1 failed"; exit 1; }
done
command -v openssl >/dev/null || { echo "no openssl command"; echo "0 passed, 1 failed"; exit 1; }
"$ROOT/deploy/make-certs.sh" "$CERTS" >/dev/null &&
    "$ROOT/deploy/make-certs.sh" "$TOP/rogue" >/dev/null &&
    "$ROOT/deploy/make-certs.sh" "$CERTS" leaf expired 20200101000000Z 20200102000000Z ||
    { echo "make-certs.sh failed"; echo "0 passed, 1 failed"; exit 1; }
# The tools (cluster-tool, histgen, the CLI) verify the nodes with this CA.
export VESPER_CACERT=$CERTS/ca.pem
want=("$@")
[ ${#want[@]} -eq 0 ] && want=(1 2 3 4 5 6 7)
for n in "${want[@]}"; do
    case $n in
    1) run_scenario 1 "bad TLS configurations exit 2 with one clear line" t1_config ;;
    2) run_scenario 2 "mutual TLS cluster: elects, writes, kill -9 of the leader, lincheck" t2_cluster ;;
    3) run_scenario 3 "plain HTTP to a TLS port, /raft without a peer certificate" t3_plain ;;
    4) run_scenario 4 "a node with another CA's certificate cannot join or disrupt" t4_rogue ;;
    5) run_scenario 5 "an expired certificate: clear log lines, refused, then replaced" t5_expired ;;
    6) run_scenario 6 "SIGHUP reloads the certificates (a bad reload keeps the old)" t6_reload ;;
    7) run_scenario 7 "the CLI and the probe: --cacert, env, no CA fails verification" t7_cli ;;
    *) echo "unknown scenario $n" ;;
    esac
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
