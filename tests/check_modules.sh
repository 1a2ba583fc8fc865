#!/usr/bin/env bash
# Purity gate for src/raft: the core's objects may reference only memory and
# string helpers from libc (plus compiler support symbols). Any clock, file,
# socket, stdio or random function fails the check. Prints a runner summary line.
set -u
allowed='^(malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|strlen|strnlen|strcmp|strncmp|strncpy|memchr|__assert_fail|__stack_chk_fail|abort|qsort)$'
bad=0
for o in "$@"; do
    for sym in $(nm -u "$o" | awk '{print $2}' | sed 's/@.*//'); do
        case "$sym" in raft_*|raft__*) continue ;; esac
        if ! echo "$sym" | grep -Eq "$allowed"; then
            echo "check-core: $o references $sym"
            bad=1
        fi
    done
done
if [ "$bad" -eq 0 ]; then
    echo "ok   core purity ($# objects)"
    echo "1 passed, 0 failed"
else
    echo "FAIL core purity"
    echo "0 passed, 1 failed"
    exit 1
fi
