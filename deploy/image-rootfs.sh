#!/usr/bin/env bash
# image-rootfs.sh: stages the files of each FROM-scratch image under build/image/; the
# Dockerfile's build stage runs it on the binaries it has just built and the final
# stages COPY from there:
#
#   build/image/vesperd/   rootfs/ with /vesperd (static, debug info stripped) and /tmp
#                          (mode 1777), and an empty data/ (COPY --chown makes it /data)
#   build/image/client/    rootfs/ with /vesper, the shared libraries ldd lists for it,
#                          the dynamic loader, /tmp and a two-line /etc/nsswitch.conf
#   build/image/itest/     the same for /vesper-itest (the integration driver)
#
#   deploy/image-rootfs.sh vesperd BUILD/vesperd
#   deploy/image-rootfs.sh client  BUILD/vesper
#   deploy/image-rootfs.sh itest   BUILD/vesper-itest
# Libraries are copied from the build stage at the paths ldd prints (glibc 2.34+ has the
# files and dns NSS modules built in, so name lookup needs no dlopen'ed module).
set -euo pipefail

kind=$1
bin=$2
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/image/$kind

fail() { echo "image-rootfs: $*" >&2; exit 1; }
[ -x "$bin" ] || fail "$bin is missing; build it first (make $bin)"

rm -rf "$out"
mkdir -p "$out"

if [ "$kind" = vesperd ]; then
    file -b "$bin" | grep -q 'statically linked' || fail "$bin is not statically linked"
    # COPY keeps the modes of what is inside a copied directory, not of its target:
    # hence /tmp inside rootfs/ rather than a COPY to /tmp.
    mkdir -p "$out/rootfs/tmp" "$out/data"
    chmod 1777 "$out/rootfs/tmp"
    objcopy --strip-debug "$bin" "$out/rootfs/vesperd"
    exit 0
fi

root=$out/rootfs
mkdir -p "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
objcopy --strip-debug "$bin" "$root/$(basename "$bin")"
# ldd lines: "libx.so => /path (0x..)" or "/lib64/ld-linux-x86-64.so.2 (0x..)".
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ -n "$libs" ] || fail "ldd found no libraries for $bin (is it dynamically linked?)"
for lib in $libs; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
# The loader's canonical path (PT_INTERP) must exist even when ldd printed a symlink.
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
if [ -n "$interp" ] && [ ! -e "$root$interp" ]; then
    mkdir -p "$root$(dirname "$interp")"
    cp -L "$interp" "$root$interp"
fi
