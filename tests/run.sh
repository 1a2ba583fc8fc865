#!/usr/bin/env bash
# Runs every test suite given as an argument (each a command line), shows their
# output, and closes with one total line "N passed, N failed" that CI reads.
# A suite that crashes or prints no summary counts as one failure.
set -u
total_pass=0
total_fail=0
for suite in "$@"; do
    echo "== $suite"
    log=$(mktemp)
    bash -c "$suite" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "!! $suite printed no summary (exit $rc)"
        total_fail=$((total_fail + 1))
        continue
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!! $suite exited $rc"
        f=1
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
