#!/usr/bin/env bash
# run.sh: mutation runs (`make mutate`). Each tests/mutate/*.patch plants one classic
# Raft or durability bug in a copy of the tree; the deterministic simulation must kill
# it through random seeds. Prints one table row per mutation: killed or not, the first
# random seed that killed it, the invariant that fired, and how many scripted
# scenarios also fail. Exits 1 when a mutation survives.
#
#   tests/mutate/run.sh [--seeds N] [--steps S] [PATCH ...]
#
# N (default 2000, the seed budget of `make test`) bounds the random seeds tried per
# mutation; seeds run in increasing order, two at a time, and stop at the first kill.
# The copy lives in build/mutate/tree: the real tree is never modified. It is built
# without sanitizers (MUTATE_SAN=1 keeps them), for speed.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

seeds=2000
steps=5000
patches=()
while [ $# -gt 0 ]; do
    case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) patches+=("$1"); shift ;;
    esac
done
[ ${#patches[@]} -gt 0 ] || patches=(tests/mutate/*.patch)

work=$top/build/mutate
tree=$work/tree
rm -rf "$tree"
mkdir -p "$tree/build"
# Tracked and new (not ignored) files: what a commit of the working tree would hold.
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$tree"
ln -s "$top/build/deps" "$tree/build/deps"
flags=()
if [ "${MUTATE_SAN:-0}" != 1 ]; then
    flags=(TEST_CFLAGS="-std=c11 -D_GNU_SOURCE -g -O2 -Isrc -Itests" TEST_LDFLAGS=)
fi
build() { make -C "$tree" -j2 --no-print-directory "${flags[@]}" build/test-sim >"$work/build.log" 2>&1; }

if ! build; then
    echo "mutate: the unmutated tree does not build:"
    tail -20 "$work/build.log"
    echo "0 passed, 1 failed"
    exit 1
fi

# One seed: prints "SEED INVARIANT" when it fails an invariant, "SEED assert(FILE:LINE)"
# when an assertion of the core stops the simulator, nothing when it passes.
cat >"$work/one-seed.sh" <<'ONE'
#!/bin/sh
# A seed takes about a second; one that runs for minutes has sent the simulation into
# a message flood or a loop that no correct core causes: that kills the mutation too.
out=$(timeout "${MUTATE_SEED_SECONDS:-120}" "$1" --seed "$2" --steps "$3" 2>&1)
rc=$?
line=$(printf '%s\n' "$out" | grep -E '^seed [0-9]+ FAILED' | head -1)
if [ "$rc" -eq 124 ]; then
    echo "$2 timeout(${MUTATE_SEED_SECONDS:-120}s)"
elif [ -n "$line" ]; then
    printf '%s\n' "$line" | sed -E 's/^seed ([0-9]+) FAILED \([^)]*\): ([^:]+):.*/\1 \2/'
elif [ "$rc" -ne 0 ]; then
    at=$(printf '%s\n' "$out" | grep -oE '[a-z_/]+\.c:[0-9]+: [a-z_]+: Assertion' | head -1 |
        sed -E 's/^.*\/([a-z_]+\.c):([0-9]+).*/\1:\2/')
    echo "$2 assert(${at:-exit $rc})"
fi
ONE
chmod +x "$work/one-seed.sh"

# Prints "SEED INVARIANT" for the first seed in 1..$seeds that fails, or nothing.
first_kill() {
    local from=1 chunk=20 out
    while [ "$from" -le "$seeds" ]; do
        local to=$((from + chunk - 1))
        [ "$to" -le "$seeds" ] || to=$seeds
        out=$(seq "$from" "$to" | xargs -P 2 -I{} "$work/one-seed.sh" "$tree/build/test-sim" {} "$steps")
        if [ -n "$out" ]; then
            echo "$out" | sort -n | head -1
            return
        fi
        from=$((to + 1))
        chunk=$((chunk * 2))
    done
}

printf '| %-36s | %-6s | %-10s | %-26s | %-9s |\n' mutation killed "first seed" invariant scenarios
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..38})" "--------" "------------" \
    "$(printf -- '-%.0s' {1..28})" "-----------"
survived=0
killed=0
for p in "${patches[@]}"; do
    name=$(basename "$p" .patch)
    if ! patch -p1 -s -d "$tree" <"$p" >"$work/patch.log" 2>&1; then
        printf '| %-36s | %-6s | %-10s | %-26s | %-9s |\n' "$name" "n/a" "-" "patch does not apply" "-"
        survived=$((survived + 1))
        continue
    fi
    if ! build; then
        row=("n/a" "-" "does not build" "-")
        survived=$((survived + 1))
    else
        scen=$("$tree/build/test-sim" --seeds 0 --steps "$steps" 2>&1 | grep -c '^FAIL scenario')
        kill=$(first_kill)
        if [ -n "$kill" ]; then
            row=("yes" "${kill%% *}" "${kill#* }" "$scen")
            killed=$((killed + 1))
        else
            row=("NO" "-" "survived $seeds seeds" "$scen")
            survived=$((survived + 1))
        fi
    fi
    printf '| %-36s | %-6s | %-10s | %-26s | %-9s |\n' "$name" "${row[@]}"
    patch -p1 -R -s -d "$tree" <"$p" >/dev/null 2>&1 || { echo "mutate: cannot revert $name"; exit 1; }
done
echo "$killed passed, $survived failed"
[ "$survived" -eq 0 ]
