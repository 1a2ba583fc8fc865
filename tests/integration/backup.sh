#!/usr/bin/env bash
# backup.sh: backup and restore of the compose cluster (`make backup-test`):
#   1. skip (with "0 passed, 0 failed") when no Docker engine or no compose answers;
#      build the images unless --no-build (make already did);
#   2. project A: docker-compose.yml under a throwaway project name, node i published on
#      127.0.0.1:17803+i (advertised there, so the host CLI follows redirects); write keys
#      from the host (tests/backup/kvtool.py), `vesper snapshot save` from the host, write
#      more (new keys and overwrites that must not be restored);
#   3. project B: another project name, ports 17813+i, its own volumes: each node's
#      /data is made by `vesperd --restore` in a one-off container of the node's service
#      (same image, same volume, the backup mounted read-only), then the project is
#      started; every key must hold exactly its value at the backup, on every node;
#      B accepts writes, and A still holds everything written to it;
#   4. `compose down -v` of both projects, always (trap).
# Both projects use the same ip_list (http://vesper<i>:5000) and the same cluster secret:
# only the cluster id, derived from the backup's checksum, tells them apart.
# Prints one ok/FAIL line per step and "N passed, N failed".
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
compose=tests/integration/compose.sh
VESPER=$top/build/vesper
KV="python3 $top/tests/backup/kvtool.py"
PASSED=0 FAILED=0

skip() {
    echo "backup-test: SKIPPED: $*"
    echo "0 passed, 0 failed"
    exit 0
}
step() { # step OK NAME [DETAIL]
    if [ "$1" = 0 ]; then
        echo "ok   $2${3:+: $3}"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL $2${3:+: $3}"
        FAILED=$((FAILED + 1))
    fi
}
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
    exit
}

docker info >/dev/null 2>&1 || skip "no Docker engine reachable ('docker info' failed)"
$compose version >/dev/null 2>&1 || skip "no compose installed"
[ -x "$VESPER" ] || skip "no host CLI: make build/vesper"
if [ "${1:-}" != "--no-build" ]; then
    deploy/build-images.sh build || { step 1 "image build"; finish; }
fi

n=$(grep -c . ip_list.txt)
A=vesperbka$$ B=vesperbkb$$
work=$(mktemp -d /tmp/vesper-backup-itest.XXXXXX)
chmod 755 "$work" # the one-off restore container runs as the image's user
cleanup() {
    local p
    for p in "$A" "$B"; do
        COMPOSE_PROJECT_NAME=$p $compose down -v -t 5 >/dev/null 2>&1 ||
            echo "backup-test: compose down of $p failed" >&2
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# use PROJECT PORT0: the compose environment of a project, and its host ip_list.
use() {
    export COMPOSE_PROJECT_NAME=$1
    local i
    : >"$work/$1.ip_list"
    for ((i = 0; i < n; i++)); do
        export "VESPER_PUBLISH_$i=127.0.0.1:$(($2 + i))"
        export "VESPER_ADVERTISE_$i=http://127.0.0.1:$(($2 + i))"
        echo "http://127.0.0.1:$(($2 + i))" >>"$work/$1.ip_list"
    done
}

use "$A" 17803
$compose up 90 >"$work/up-a.log" 2>&1
step $? "project A up" "$(tail -1 "$work/up-a.log")"
[ "$FAILED" = 0 ] || finish
out=$($KV fill "$work/$A.ip_list" "$work/state" k 0 200 200 2>&1)
step $? "write 200 keys to A" "$out"
out=$("$VESPER" snapshot save "$work/a.vsb" --ip-list "$work/$A.ip_list" --timeout 20 2>&1)
rc=$?
step $rc "vesper snapshot save" "$(echo "$out" | grep -E '^(index|keys)' | tr '\n' ' ')"
[ "$FAILED" = 0 ] || finish
chmod 644 "$work/a.vsb"
cp "$work/state" "$work/expected"
$KV fill "$work/$A.ip_list" "$work/state" k 150 100 50 >/dev/null 2>&1 &&
    python3 - "$work/expected" "$work/state" <<'PY'
import json, sys
exp, now = (json.load(open(p)) for p in sys.argv[1:3])
for k in now:
    exp.setdefault(k, None)
json.dump(exp, open(sys.argv[1], "w"))
PY
step $? "write after the backup (k150..k249)"

use "$B" 17813
rc=0
for ((i = 0; i < n; i++)); do
    out=$($compose run --rm --no-deps -T -v "$work:/backup:ro" "vesper$i" \
        --restore /backup/a.vsb "$i" /etc/vesper/ip_list.txt 2>&1) || rc=1
    echo "   $out" | tail -1
done
step $rc "restore every node of B from the backup"
$compose up 90 >"$work/up-b.log" 2>&1
step $? "project B up" "$(tail -1 "$work/up-b.log")"
out=$($KV check "$work/$B.ip_list" "$work/expected" 2>&1)
step $? "B holds exactly the backup's state" "$out"
out=$($KV fill "$work/$B.ip_list" "$work/b-state" n 0 10 10 2>&1)
step $? "B accepts writes" "$out"
use "$A" 17803
out=$($KV check "$work/$A.ip_list" "$work/state" "$($VESPER status --ip-list "$work/$A.ip_list" |
    awk '$3 == "leader" {print $1}')" 2>&1)
step $? "A still holds every write" "$out"
finish
