#!/usr/bin/env bash
# build-h2o.sh: compiles libh2o-evloop.a (static) from an unpacked Debian h2o source
# tree without cmake. Called by deploy/deps.sh; usable alone:
#   deploy/build-h2o.sh SRC_DIR OUT_DIR [CC] [JOBS] [VARIANT]
# Output: OUT_DIR/lib/libh2o-evloop.a and OUT_DIR/include (h2o headers plus the
# bundled headers they include: yoml.h, khash.h, picohttpparser.h).
# VARIANT "san" builds OUT_DIR/lib/libh2o-evloop-san.a instead: the same files and
# patch, compiled with ASan+UBSan for build/vesperd-san (mk/91-vesperd-san.mk), so
# the sanitizers see h2o's own buffers too. It leaves the release archive and the
# headers alone.
#
# The file list is h2o 2.2.5's CMake LIB_SOURCE_FILES (lib/ plus the bundled
# cloexec, libgkc, libyrmcds, picohttpparser), built with -DH2O_USE_LIBUV=0 as the
# CMake libh2o-evloop target does. Left out on purpose:
#   - lib/websocket.c: needs wslay and Vesper speaks no websocket;
#   - yaml: only the configurator parser (yoml-parser.h) calls libyaml and vesperd
#     builds its configuration in code, so no libyaml symbol is ever referenced
#     (checked by the static probe link; libyaml.a exists anyway if that changes);
#   - brotli, mruby, neverbleed, picotls: the h2o server binary's, not libh2o's.
# Rebuilt only when the stamp (source dir + this script's checksum) changes.
set -euo pipefail

SRC=${1:?source dir}
OUT=${2:?output dir}
CC=${3:-gcc}
JOBS=${4:-2}
VARIANT=${5:-}
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd) # the build below runs inside SRC

case $VARIANT in
"") SUFFIX="" OPT="-O2" ;;
san) SUFFIX="-san" OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined
    -fno-sanitize-recover=all" ;;
*) echo "deps: unknown h2o variant '$VARIANT'" >&2; exit 2 ;;
esac
LIB="$OUT/lib/libh2o-evloop$SUFFIX.a"

stamp="$OUT/lib/.h2o$SUFFIX-stamp"
PATCHES=$(cd "$(dirname "$0")/patches" && pwd)
want="$(basename "$SRC") $(cat "$0" "$PATCHES"/*.patch | sha256sum | cut -c1-16)"
if [ -f "$LIB" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "deps: $(basename "$LIB") up to date ($want)"
    exit 0
fi

cd "$SRC"
FILES=$(awk '/^SET\(LIB_SOURCE_FILES$/{p=1} p{print} p&&/\)/{exit}' CMakeLists.txt |
    grep -oE '(deps|lib)/[A-Za-z0-9_/.-]+\.c' | sort -u)
[ -n "$FILES" ] || { echo "deps: no LIB_SOURCE_FILES in $SRC/CMakeLists.txt" >&2; exit 1; }

OBJ="$OUT/obj/h2o$SUFFIX"
PATCHED="$OUT/patched$SUFFIX"
rm -rf "$OBJ" && mkdir -p "$OBJ" "$OUT/lib" "$OUT/include"
export CC OBJ
export H2O_CFLAGS="$OPT -g -fPIC -DH2O_USE_LIBUV=0 -DH2O_ROOT=\"/usr\"
    -DH2O_CONFIG_PATH=\"/etc/h2o/h2o.conf\" -Wall -Wno-unused-value -Wno-unused-function
    -Wno-unused-but-set-variable -Wno-unused-result -Wno-deprecated-declarations
    -Iinclude -Ideps/cloexec -Ideps/golombset -Ideps/libgkc -Ideps/libyrmcds -Ideps/klib
    -Ideps/picohttpparser -Ideps/yoml"
# One local change, applied to a copy in the build directory (the source tree stays
# as Debian ships it): h2o answers an over-limit body itself with a plain-text 413;
# Vesper's clients expect its JSON error shape everywhere, so that body becomes
# {"code":"fail","error":"too_large"}.
mkdir -p "$PATCHED"
sed 's|"request entity is too large"|"{\\"code\\":\\"fail\\",\\"error\\":\\"too_large\\"}"|' \
    lib/http1.c >"$PATCHED/http1.c"
grep -q 'error\\":\\"too_large' "$PATCHED/http1.c" ||
    { echo "deps: could not adapt lib/http1.c's 413 body" >&2; exit 1; }
# And a lingering close (deploy/patches/h2o-http1-lingering-close.patch, ours): after
# refusing a body (413), h2o closed with the body still arriving, so the kernel reset
# the connection and a client still sending lost the 413; now the rest of the body is
# drained (bounded in bytes and time) before the close.
patch -s "$PATCHED/http1.c" <"$PATCHES/h2o-http1-lingering-close.patch" ||
    { echo "deps: could not apply h2o-http1-lingering-close.patch" >&2; exit 1; }
# And an empty send (deploy/patches/h2o-http1-empty-send.patch, ours): a response with
# no body (HEAD) reaches the send path with no buffers, and h2o copied them with
# memcpy from a null pointer, which is undefined behaviour (UBSan stops the sanitizer
# build on any HEAD request); h2o's own h2o_memcpy allows that empty copy.
patch -s "$PATCHED/http1.c" <"$PATCHES/h2o-http1-empty-send.patch" ||
    { echo "deps: could not apply h2o-http1-empty-send.patch" >&2; exit 1; }
# And a response head written without sprintf (deploy/patches/h2o-http1-flatten-headers.patch,
# ours): formatting the status line and the fixed headers with sprintf took more
# instructions than the rest of vesperd's answer to a GET; the bytes are the same.
patch -s "$PATCHED/http1.c" <"$PATCHES/h2o-http1-flatten-headers.patch" ||
    { echo "deps: could not apply h2o-http1-flatten-headers.patch" >&2; exit 1; }
FILES=$(echo "$FILES" | sed "s|^lib/http1.c$|$PATCHED/http1.c|")
# And a disposal fix (deploy/patches/h2o-evloop-dispose-pending.patch, ours): a socket
# closed outside the loop's callbacks right after a write completed at once (vesperd
# runs its Ready loop between loop turns, and a membership change can tear a peer's
# connection down there) stayed linked in the pending list while the update phase
# freed it, and the next turn's pending run read freed memory. Such a socket is now
# freed when the pending run unlinks it. socket.c includes the patched headers from
# its own directory, so it is compiled from a copy whose ../../deps points home.
rm -rf "$PATCHED/lib" "$PATCHED/deps"
mkdir -p "$PATCHED/lib/common"
cp lib/common/socket.c "$PATCHED/lib/common/"
cp -r lib/common/socket "$PATCHED/lib/common/"
ln -s "$PWD/deps" "$PATCHED/deps"
patch -s -d "$PATCHED/lib/common" -p1 <"$PATCHES/h2o-evloop-dispose-pending.patch" ||
    { echo "deps: could not apply h2o-evloop-dispose-pending.patch" >&2; exit 1; }
# And a wake-up fix (deploy/patches/h2o-evloop-pending-wait.patch, ours): a write that
# completes at once outside the loop's callbacks leaves its callback pending, and the
# next turn slept in epoll_wait before running it. For a client that callback starts
# reading the response, so an answer that came meanwhile (a follower's acknowledgement
# in the answer to the leader's POST) waited for an unrelated event, up to a tick.
# The turn no longer sleeps while callbacks are pending.
patch -s -d "$PATCHED/lib/common" -p1 <"$PATCHES/h2o-evloop-pending-wait.patch" ||
    { echo "deps: could not apply h2o-evloop-pending-wait.patch" >&2; exit 1; }
# And fewer system calls per request (deploy/patches/h2o-evloop-keep-armed.patch,
# ours): a socket that stops reading stays registered with epoll until an event finds
# it not reading, instead of an EPOLL_CTL_DEL when a request arrives and an ADD after
# its answer; an HTTP/1 keep-alive connection then costs no epoll_ctl per request.
patch -s -d "$PATCHED/lib/common" -p1 <"$PATCHES/h2o-evloop-keep-armed.patch" ||
    { echo "deps: could not apply h2o-evloop-keep-armed.patch" >&2; exit 1; }
# And the client side of the same (deploy/patches/h2o-socketpool-keep-attached.patch,
# ours): a connection returned to a socket pool stays attached to its loop, so reusing
# it needs no export and import (an epoll_ctl and two fcntl each way). vesperd uses
# every pool from its one loop.
cp lib/common/socketpool.c "$PATCHED/lib/common/"
patch -s -d "$PATCHED/lib/common" -p1 <"$PATCHES/h2o-socketpool-keep-attached.patch" ||
    { echo "deps: could not apply h2o-socketpool-keep-attached.patch" >&2; exit 1; }
FILES=$(echo "$FILES" | sed -e "s|^lib/common/socket.c$|$PATCHED/lib/common/socket.c|" \
    -e "s|^lib/common/socketpool.c$|$PATCHED/lib/common/socketpool.c|")
start=$(date +%s)
echo "deps: compiling $(echo "$FILES" | wc -l) h2o files${VARIANT:+ ($VARIANT)} with $CC -j$JOBS"
# shellcheck disable=SC2016
echo "$FILES" | xargs -P "$JOBS" -I{} sh -c \
    'o="$OBJ/$(echo {} | sed "s|^/.*/patched[^/]*/|lib/|" | tr / _).o"; $CC $H2O_CFLAGS -c {} -o "$o" 2>"$o.log" ||
     { cat "$o.log" >&2; exit 255; }'
rm -f "$LIB"
ar rcs "$LIB" "$OBJ"/*.o

if [ -z "$VARIANT" ]; then
    rm -rf "$OUT/include" && mkdir -p "$OUT/include"
    cp -r include/. "$OUT/include/"
    cp deps/yoml/yoml.h deps/klib/khash.h deps/picohttpparser/picohttpparser.h "$OUT/include/"
fi
echo "$want" >"$stamp"
echo "deps: built $LIB in $(($(date +%s) - start)) s"
