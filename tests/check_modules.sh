#!/usr/bin/env bash
# check_modules.sh: the module boundaries, checked. Run by make check and make test.
#
#   include graph  every #include "..." in src/ and client/ names a module its file
#                  may use (ALLOWED below; a new edge fails until it is added here
#                  on purpose)
#   h2o            only net and node include h2o headers
#   core purity    src/raft objects reference only memory and string helpers from
#                  libc (no clock, file, socket, stdio or random function)
#   raft types     storage and kv objects call no raft_* function (types only)
#   storage names  src/storage objects export only storage_* and st_* (internal.h)
#
# Usage: tests/check_modules.sh OBJECT...  (the release objects of src/raft,
# src/storage and src/kv; each is picked by its path). Run from the repository
# root. Prints one ok/FAIL line per check and "N passed, N failed".
set -u

# Module -> the modules it may include (besides itself).
declare -A ALLOWED=(
    [util]=""
    [raft]=""
    [storage]="raft util"
    [kv]="raft util"
    [replica]="raft storage kv util"
    [net]="raft util"
    [api]="kv util"
    [node]="util raft storage kv replica net api config"
    [config]="util"
    [main]="node config"
    [client]="util"
)

pass=0
fail=0
result() { # result OK NAME [DETAIL...]
    if [ "$1" -eq 0 ]; then
        echo "ok   $2"
        pass=$((pass + 1))
    else
        echo "FAIL $2"
        fail=$((fail + 1))
    fi
}

# The module a source file belongs to.
module_of() {
    case "$1" in
    src/main.c) echo main ;;
    src/config*) echo config ;;
    src/*/*) echo "$1" | cut -d/ -f2 ;;
    client/*) echo client ;;
    *) echo "?" ;;
    esac
}

# The module an #include "name" of a file in module $1 refers to.
target_of() {
    case "$2" in
    config.h) echo config ;;
    */*) echo "${2%%/*}" ;;
    *) echo "$1" ;; # a header beside the includer
    esac
}

bad=0
while IFS= read -r file; do
    mod=$(module_of "$file")
    if [ -z "${ALLOWED[$mod]+set}" ]; then
        echo "check-modules: $file is in no known module"
        bad=1
        continue
    fi
    while IFS= read -r inc; do
        [ -n "$inc" ] || continue
        to=$(target_of "$mod" "$inc")
        [ "$to" = "$mod" ] && continue
        case " ${ALLOWED[$mod]} " in
        *" $to "*) ;;
        *)
            echo "check-modules: $file includes \"$inc\": $mod may not use $to"
            bad=1
            ;;
        esac
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$file")
done < <(git ls-files 'src/*.c' 'src/*.h' 'client/*.c' 'client/*.h')
result "$bad" "module include graph"

bad=0
while IFS= read -r hit; do
    file=${hit%%:*}
    case "$(module_of "$file")" in
    net | node) ;;
    *)
        echo "check-modules: $hit: only net and node use h2o"
        bad=1
        ;;
    esac
done < <(git grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*<h2o' -- 'src/*' 'client/*')
result "$bad" "h2o only in net and node"

raft_objs=()
storage_objs=()
kv_objs=()
for o in "$@"; do
    case "$o" in
    */src/raft/*.o) raft_objs+=("$o") ;;
    */src/storage/*.o) storage_objs+=("$o") ;;
    */src/kv/*.o) kv_objs+=("$o") ;;
    *) echo "check-modules: $o: not an object of src/raft, src/storage or src/kv" && exit 2 ;;
    esac
done

undefined() { nm -u "$1" | awk '{print $2}' | sed 's/@.*//'; }

allowed='^(malloc|calloc|realloc|free|memcpy|memmove|memset|memcmp|strlen|strnlen|strcmp|strncmp|strncpy|memchr|__assert_fail|__stack_chk_fail|abort|qsort)$'
bad=0
for o in "${raft_objs[@]}"; do
    for sym in $(undefined "$o"); do
        case "$sym" in raft_* | raft__*) continue ;; esac
        if ! echo "$sym" | grep -Eq "$allowed"; then
            echo "check-modules: $o references $sym"
            bad=1
        fi
    done
done
[ "${#raft_objs[@]}" -gt 0 ] || { echo "check-modules: no src/raft objects given"; bad=1; }
result "$bad" "core purity (${#raft_objs[@]} objects)"

bad=0
for o in "${storage_objs[@]}" "${kv_objs[@]}"; do
    for sym in $(undefined "$o" | grep '^raft_'); do
        echo "check-modules: $o calls $sym (storage and kv use raft types only)"
        bad=1
    done
done
[ "${#storage_objs[@]}" -gt 0 ] && [ "${#kv_objs[@]}" -gt 0 ] ||
    { echo "check-modules: no src/storage or src/kv objects given"; bad=1; }
result "$bad" "storage and kv use raft types only"

bad=0
for o in "${storage_objs[@]}"; do
    for sym in $(nm -g --defined-only "$o" | awk '{print $3}'); do
        case "$sym" in storage_* | st_*) ;; *)
            echo "check-modules: $o exports $sym (storage_* or st_*, see internal.h)"
            bad=1
            ;;
        esac
    done
done
result "$bad" "storage exports storage_* and st_* only"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
