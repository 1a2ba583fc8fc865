#!/usr/bin/env bash
# compose.sh: runs compose v2 (`docker compose`) when the docker CLI has it, else v1
# (`docker-compose`), from the repository root (docker-compose.yml, ip_list.txt).
#
#   compose.sh up [TIMEOUT_S]  `up -d`, then wait until every node answers /ready through
#                              its published port; prints the time from up to ready
#   compose.sh down [-v]       stop and remove the containers (-v: and the data volumes)
#   compose.sh ARGS...         anything else is passed through
# COMPOSE_PROJECT_NAME picks the project, as for compose itself (default: .env's vesper).
# VESPER_COMPOSE=v1 or v2 insists on one of them (to run the suite under each).
# VESPER_TLS=1 adds docker-compose.tls.yml (HTTPS and mutual TLS; `make certs` first) and
# checks readiness over https against build/certs/ca.pem.
set -euo pipefail
cd "$(dirname "$0")/../.."

scheme=http
curl_tls=()
if [ "${VESPER_TLS:-0}" = 1 ]; then
    [ -f build/certs/ca.pem ] && [ -f build/certs/ip_list.txt ] ||
        { echo "compose.sh: VESPER_TLS=1 needs build/certs: run make certs" >&2; exit 2; }
    export COMPOSE_FILE=docker-compose.yml:docker-compose.tls.yml
    scheme=https
    curl_tls=(--cacert build/certs/ca.pem)
fi

have_v2() { docker compose version >/dev/null 2>&1; }
have_v1() { command -v docker-compose >/dev/null 2>&1; }
pick=
case ${VESPER_COMPOSE:-} in
v2) have_v2 && pick=v2 ;;
v1) have_v1 && pick=v1 ;;
'') if have_v2; then pick=v2; elif have_v1; then pick=v1; fi ;;
*) echo "compose.sh: VESPER_COMPOSE is v1, v2 or unset" >&2; exit 2 ;;
esac
case $pick in
v2) compose=(docker compose) ;;
v1) compose=(docker-compose) ;;
*)
    echo "compose.sh: compose ${VESPER_COMPOSE:-v2 ('docker compose') or v1 ('docker-compose')}" \
        "is not installed" >&2
    exit 127
    ;;
esac

# Milliseconds since the epoch; BSD date (macOS) has no %N, so whole seconds there.
now_ms() {
    local t
    t=$(date +%s%N)
    case $t in
    *N) echo $(($(date +%s) * 1000)) ;;
    *) echo $((t / 1000000)) ;;
    esac
}

# Every node service (vesper0 ...) must answer 200 on /ready: it knows a leader and has
# applied everything it knows is committed. Compose is asked once for the containers
# (v1 starts a Python interpreter per call); the docker CLI does the rest.
wait_ready() {
    local timeout=$1 start now id svc addr ready total urls=()
    start=$(now_ms)
    for id in $("${compose[@]}" ps -q); do
        svc=$(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}}' "$id")
        [[ $svc =~ ^vesper[0-9]+$ ]] || continue
        addr=$(docker port "$id" 5000 | head -n 1)
        [ -n "$addr" ] || { echo "compose: $svc publishes no port 5000" >&2; return 1; }
        urls+=("$scheme://$addr/ready")
    done
    total=${#urls[@]}
    [ "$total" -gt 0 ] || { echo "compose: no vesper<i> service is running" >&2; return 1; }
    while :; do
        ready=0
        for addr in "${urls[@]}"; do
            curl -sf -o /dev/null --max-time 1 ${curl_tls[@]+"${curl_tls[@]}"} "$addr" &&
                ready=$((ready + 1))
        done
        now=$(now_ms)
        if [ "$ready" -eq "$total" ]; then
            echo "compose: $ready of $total nodes ready $((now - start)) ms after up returned"
            return 0
        fi
        if [ $(((now - start) / 1000)) -ge "$timeout" ]; then
            echo "compose: only $ready of $total nodes ready after ${timeout} s" >&2
            "${compose[@]}" ps >&2 || true
            return 1
        fi
        sleep 0.1
    done
}

case ${1:-} in
up)
    t0=$(now_ms)
    "${compose[@]}" up -d
    t1=$(now_ms)
    echo "compose: up -d took $((t1 - t0)) ms"
    wait_ready "${2:-60}"
    ;;
down)
    shift
    "${compose[@]}" --profile client --profile test down --remove-orphans "$@"
    ;;
*)
    exec "${compose[@]}" "$@"
    ;;
esac
