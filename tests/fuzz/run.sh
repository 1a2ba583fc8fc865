#!/usr/bin/env bash
# run.sh BUILD_DIR TARGET...: runs each libFuzzer target for FUZZ_SECONDS (default 10)
# and prints a summary line per target (executions, exec/s, cov, ft, corpus size).
#
# Each target reads the committed seeds (tests/fuzz/corpus/<t>, never written) and
# grows a scratch corpus in BUILD/fuzz/work/<t> that persists between runs, so a
# repeated `make fuzz` continues where the last one stopped. A crash, leak or UB
# report leaves its input in BUILD/fuzz/crashes/<t>/; minimize it with
#   BUILD/fuzz/<t> -minimize_crash=1 -runs=10000 -exact_artifact_path=OUT INPUT
# and save it under tests/fuzz/crashes/<t>/. Exits 1 when any target failed.
set -u
build=$1
shift
secs=${FUZZ_SECONDS:-10}
status=0
summary=()
for t in "$@"; do
    bin=$build/fuzz/$t
    work=$build/fuzz/work/$t
    crashes=$build/fuzz/crashes/$t
    mkdir -p "$work" "$crashes"
    log=$build/fuzz/$t.log
    echo "== fuzz $t for ${secs}s"
    # -rss_limit_mb: every target bounds its allocations; 2 GB leaves the machine usable.
    "$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 -timeout=25 \
        -max_len=8192 -artifact_prefix="$crashes/" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    eps=$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}')
    last=$(grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    ft=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
    corp=$(echo "$last" | sed -nE 's/.*corp: ([0-9]+\/[0-9a-zA-Z]+).*/\1/p')
    line="$t: execs=${execs:-?} exec/s=${eps:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?}"
    if [ "$rc" -ne 0 ]; then
        line="$line FAILED (exit $rc; see $log, artifacts in $crashes)"
        grep -E 'ERROR: |FUZZ_CHECK|runtime error|SUMMARY' "$log" | head -n 5
        status=1
    fi
    echo "$line"
    summary+=("$line")
done
echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
exit $status
