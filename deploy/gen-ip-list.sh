#!/usr/bin/env bash
# gen-ip-list.sh: prints the ip_list (one peer URL a line, node id = line index)
# for a containerised cluster. The committed ip_list.txt is `deploy/gen-ip-list.sh 5`;
# docker-compose.yml mounts it into every node, and deploy/check-manifests.sh checks
# that it, the compose services and the Kubernetes StatefulSet all agree.
#
#   deploy/gen-ip-list.sh [N]                      compose: http://vesper0:5000 .. vesper<N-1>
#   deploy/gen-ip-list.sh --k8s [N] [NAMESPACE]    Kubernetes: stable pod DNS names of the
#                                                  StatefulSet "vesper" behind the headless
#                                                  Service "vesper" (default namespace "vesper")
# Every node listens on port 5000 inside its own container/pod; compose maps node i
# to host port 5000+i.
set -euo pipefail

port=5000
mode=compose
if [ "${1:-}" = "--k8s" ]; then
    mode=k8s
    shift
fi
n=${1:-5}
ns=${2:-vesper}
case $n in
'' | *[!0-9]*) echo "gen-ip-list: node count must be a number, got '$n'" >&2; exit 2 ;;
esac
if [ "$n" -lt 1 ] || [ "$n" -gt 16 ]; then # a Raft configuration holds 16 members
    echo "gen-ip-list: node count must be 1..16, got $n" >&2
    exit 2
fi
for ((i = 0; i < n; i++)); do
    if [ "$mode" = k8s ]; then
        echo "http://vesper-$i.vesper.$ns.svc.cluster.local:$port"
    else
        echo "http://vesper$i:$port"
    fi
done
