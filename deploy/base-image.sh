#!/usr/bin/env bash
# base-image.sh: makes sure the Docker Engine has the base image the Dockerfile's build
# stage starts from (debian:bookworm), so `make images`, `make up` and the container
# suite work on a host that cannot reach a container registry.
#
#   1. the image is there already: nothing to do (one `docker image inspect`);
#   2. else one quick `docker pull` (the normal case on a connected host);
#   3. else build it locally: debootstrap --variant=minbase into build/base-rootfs from
#      Debian's mirror, give it the apt sources of Debian's own image, `docker import`
#      it under the same name, and remove the directory.
# Step 3 needs root and debootstrap (`make deps` installs it, and so does this script
# where apt-get exists); it takes a few minutes.
# The imported image is only a build stage: the images Vesper ships are FROM scratch.
#
#   deploy/base-image.sh [BUILD_DIR] [IMAGE]   (defaults: build, debian:bookworm)
set -euo pipefail

build=${1:-build}
image=${2:-debian:bookworm}
suite=${image#*:}
mirror=${VESPER_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "base-image: $*"; }
fail() { echo "base-image: $*" >&2; exit 1; }

if docker image inspect "$image" >/dev/null 2>&1; then
    log "$image present"
    exit 0
fi

# A registry that answers pulls it in seconds; one that is unreachable fails at once
# (no DNS) or hangs, hence the bound.
bounded() { if command -v timeout >/dev/null; then timeout "$@"; else shift; "$@"; fi; }
if bounded "${VESPER_PULL_TIMEOUT:-60}" docker pull -q "$image" >/dev/null 2>&1; then
    log "pulled $image"
    exit 0
fi
log "cannot pull $image; building it with debootstrap from $mirror"

[ "$(id -u)" -eq 0 ] || fail "debootstrap needs root: run as root (or pull $image once)"
command -v debootstrap >/dev/null || PATH=$PATH:/usr/sbin:/sbin
apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}
if ! command -v debootstrap >/dev/null && command -v apt-get >/dev/null; then
    log "installing debootstrap"
    apt_install debootstrap || { apt-get update -q >/dev/null || true; apt_install debootstrap; }
fi
command -v debootstrap >/dev/null ||
    fail "debootstrap is not installed and apt-get cannot install it; pull $image instead"

mkdir -p "$build"
rootfs=$(cd "$build" && pwd)/base-rootfs
# A directory left by an interrupted run is not trusted: start over.
rm -rf "$rootfs"
trap 'rm -rf "$rootfs"' EXIT
t0=$(date +%s)
if ! out=$(debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" 2>&1); then
    echo "$out" | tail -n 20 >&2
    fail "debootstrap $suite failed"
fi

# The same apt sources as Debian's published image (main, updates, security).
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
# The downloaded packages and indexes would only make the image bigger.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
find "$rootfs/var/log" -type f -delete

tar -C "$rootfs" --numeric-owner -c . |
    docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'CMD ["bash"]' \
        -m "debootstrap --variant=minbase $suite (deploy/base-image.sh)" - "$image" >/dev/null
log "imported $image in $(($(date +%s) - t0)) s ($(docker image inspect -f '{{.Size}}' "$image" |
    awk '{printf "%d MB", $1 / 1000000}'))"
