#!/usr/bin/env bash
# static_probe.sh: checks that the static probe binary is statically linked and
# serves one request on loopback. Usage: tests/net/static_probe.sh build/h2o-probe
set -euo pipefail
bin=${1:?probe binary}
desc=$(file -b "$bin")
echo "file: $desc"
case "$desc" in
*"statically linked"*) ;;
*) echo "FAIL: $bin is not statically linked"; exit 1 ;;
esac
port=$((20000 + RANDOM % 20000))
"$bin" "$port" --resolve localhost --deadline-ms 5000 &
pid=$!
for _ in $(seq 50); do
    body=$(curl -sf --max-time 1 "http://127.0.0.1:$port/ping" || true)
    [ -n "$body" ] && break
    sleep 0.1
done
wait "$pid"
echo "body: $body"
[ "$body" = '{"pong":true}' ] || { echo "FAIL: unexpected body"; exit 1; }
echo "static probe ok"
