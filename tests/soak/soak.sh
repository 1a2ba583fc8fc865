#!/usr/bin/env bash
# soak.sh: SOAK_MINUTES (default 10) of mixed load against a local 3-node cluster with
# faults, sampling every node's RSS and open fds into a CSV; not part of `make test`.
#
#   tests/soak/soak.sh                      # 10 minutes
#   SOAK_MINUTES=4 tests/soak/soak.sh       # shorter
#
# Environment: SOAK_MINUTES, SOAK_PORT (first of three ports, default 17600),
# SOAK_FAULT_SECONDS (~20), SOAK_SAMPLE_SECONDS (3), SOAK_WARMUP_SECONDS (30),
# SOAK_OUT (directory for soak.csv, faults.log, summary.txt; default a new
# build/soak-<time> directory), SOAK_SEED. Builds build/vesperd and build/histgen
# first if needed. Exits 0 when memory and fds stayed bounded and no unexpected
# error was seen; see tests/soak/soak.py for the rules.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
make -s build/vesperd build/histgen >/dev/null
exec python3 tests/soak/soak.py "$@"
