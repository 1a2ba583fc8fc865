#!/usr/bin/env bash
# local-cluster.sh: runs an N-node Vesper cluster of local processes on
# 127.0.0.1:5000.. in the foreground (Ctrl-C stops it). Data under ./data/<id>.
#   deploy/local-cluster.sh [N]        default 5
set -euo pipefail
n=${1:-5}
top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/build/local-cluster
mkdir -p "$run"
: > "$run/ip_list.txt"
for ((i = 0; i < n; i++)); do echo "http://127.0.0.1:$((5000 + i))" >> "$run/ip_list.txt"; done
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for ((i = 0; i < n; i++)); do
    "$top/build/vesperd" "$i" "$run/ip_list.txt" --data-dir "$top/data/$i" &
    pids+=($!)
done
echo "cluster of $n nodes: $run/ip_list.txt; try: build/vesper --ip-list $run/ip_list.txt put name Ada"
wait
