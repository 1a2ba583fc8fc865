#!/usr/bin/env bash
# wal_bench.sh BIN DIR: the write-ahead log benchmark (make bench-wal).
# Runs the raw write+fdatasync floor, then the WAL with 1, 16 and 64 concurrent
# writers under group commit: "wal" syncs in the loop (storage_sync), "walt" on
# the background sync thread (storage_sync_begin/complete). DIR must be on a real disk: on tmpfs fsync is a no-op
# and the numbers mean nothing (the script refuses tmpfs).
# SECONDS (default 5) and PAYLOAD (default 256 bytes) can be set in the environment.
set -eu
bin=${1:?usage: wal_bench.sh BIN DIR}
dir=${2:?usage: wal_bench.sh BIN DIR}
secs=${SECONDS_PER_RUN:-5}
payload=${PAYLOAD:-256}
mkdir -p "$dir"
fstype=$(stat -f -c %T "$dir")
if [ "$fstype" = tmpfs ] || [ "$fstype" = ramfs ]; then
    echo "wal_bench: $dir is on $fstype; fsync there measures nothing" >&2
    exit 1
fi
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $dir on $fstype ($(df -P "$dir" | awk 'NR==2{print $1}')), $(nproc) cores, payload $payload B, ${secs}s per run"
run() {
    local sub
    sub=$(mktemp -d "$dir/run.XXXXXX")
    "$bin" "$1" "$sub" "$secs" "$payload" "${@:2}"
    rm -rf "$sub"
}
run raw
run raw prezeroed
run raw fallocate
for mode in wal walt; do
    for w in 1 16 64; do
        run "$mode" "$w"
    done
done
