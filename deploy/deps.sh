#!/usr/bin/env bash
# deps.sh: installs Vesper's build dependencies from Debian and builds a static
# libh2o-evloop.a from Debian's h2o source package (Debian ships h2o 2.2.5 only as
# shared libraries, and vesperd is one static binary).
#
# Idempotent: every step checks first and does nothing when its result exists.
#   1. a deb-src entry (own file vesper-deb-src.sources) unless one already exists;
#   2. apt-get update only when a wanted package or the Sources index is unknown;
#   3. apt-get install of the packages not yet installed (chromium for the console's
#      browser test is optional: a failure there is logged, not fatal);
#   4. apt-get source h2o into build/deps/src (skipped when unpacked already);
#   5. build/deps/lib/libh2o-evloop.a + build/deps/include (skipped when the stamp
#      matches the source version).
# Third-party source is fetched here at build time and never committed.
#
# Usage: deploy/deps.sh [BUILD_DIR]   (default: build); needs root for 1-3.
# VESPER_DEPS=image installs only what building the shipped binaries needs (the
# Dockerfile's build stage): no clang, formatter, Python or debootstrap.
set -euo pipefail

BUILD=${1:-build}
DEPS=$(mkdir -p "$BUILD/deps" && cd "$BUILD/deps" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-gcc}
JOBS=${JOBS:-2}

# Build, format and test tools; static archives for vesperd (libjson-c-dev ships
# libjson-c.a, libssl-dev libssl.a and libcrypto.a, zlib1g-dev libz.a); libcurl for
# the client; dpkg-dev, xz-utils and patch to unpack the h2o source package;
# debootstrap for deploy/base-image.sh when no base image can be pulled.
BUILD_PKGS=(gcc make pkg-config file dpkg-dev xz-utils patch
            libjson-c-dev libssl-dev zlib1g-dev libcurl4-openssl-dev)
case ${VESPER_DEPS:-host} in
host) PKGS=("${BUILD_PKGS[@]}" clang clang-format curl python3 python3-yaml
            clang-14 libclang-rt-14-dev debootstrap) ;;
image) PKGS=("${BUILD_PKGS[@]}") ;;
*) echo "deps: VESPER_DEPS is 'host' (default) or 'image'" >&2; exit 2 ;;
esac
# Headless Chromium and a font for the console's browser test (tests/ui). Optional: where
# they cannot be installed the deps still succeed and that test skips with the reason.
OPTIONAL_PKGS=()
[ "${VESPER_DEPS:-host}" = host ] && OPTIONAL_PKGS=(chromium fonts-dejavu-core)

log() { echo "deps: $*"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ===== 1. deb-src =====
have_deb_src() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && grep -qsE '^[[:space:]]*deb-src[[:space:]]' "$f" && return 0
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && grep -qsiE '^[[:space:]]*Types:.*deb-src' "$f" && return 0
    done
    return 1
}

add_deb_src() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    log "adding deb-src for $codename in /etc/apt/sources.list.d/vesper-deb-src.sources"
    as_root tee /etc/apt/sources.list.d/vesper-deb-src.sources >/dev/null <<SRC
# Added by Vesper's deploy/deps.sh: source packages (h2o) for the static build.
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

# ===== 2-3. apt =====
have_sources_index() {
    compgen -G '/var/lib/apt/lists/*_Sources*' >/dev/null
}

missing_pkgs() {
    local p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            echo "$p"
    done
}

apt_update() {
    log "apt-get update"
    # An unreachable third-party repository must not stop us while Debian's own
    # indexes arrive; the install and source steps after this decide.
    as_root apt-get update -q || log "apt-get update reported errors; continuing"
}

have_candidates() {
    local p
    for p in "$@"; do
        apt-cache policy "$p" 2>/dev/null | grep -qE '^[[:space:]]+Candidate: [^(]' || return 1
    done
}

ensure_packages() {
    local missing
    missing=$(missing_pkgs)
    if [ -z "$missing" ]; then
        log "packages present"
        return
    fi
    # Update only when the local index has no install candidate for some missing
    # package (a fresh debian image has no index at all; `apt-cache show` alone is
    # not enough: it succeeds for a package dpkg merely knows of).
    # shellcheck disable=SC2086
    have_candidates $missing || apt_update
    log "installing:" $missing
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends $missing
}

ensure_optional_packages() {
    local missing="" p
    for p in "${OPTIONAL_PKGS[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            missing+=" $p"
    done
    [ -n "$missing" ] || return 0
    # shellcheck disable=SC2086
    have_candidates $missing || apt_update
    log "installing (optional):$missing"
    # shellcheck disable=SC2086
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends $missing ||
        log "could not install$missing; the console browser test will skip"
}

# ===== 4. h2o source =====
h2o_dir() {
    find "$DEPS/src" -maxdepth 1 -type d -name 'h2o-*' 2>/dev/null | head -n 1 || true
}

fetch_h2o() {
    local dir
    dir=$(h2o_dir)
    if [ -n "$dir" ] && [ -f "$dir/lib/core/context.c" ]; then
        log "h2o source present: $dir"
        return
    fi
    have_sources_index || apt_update
    rm -rf "$DEPS/src" && mkdir -p "$DEPS/src"
    log "apt-get source h2o"
    # Root's downloads cannot drop to the _apt user in a directory it cannot
    # write; say so instead of printing apt's sandbox warning.
    (cd "$DEPS/src" && apt-get source -q -o APT::Sandbox::User=root h2o)
}

t0=$(date +%s)
have_deb_src || add_deb_src
ensure_packages
ensure_optional_packages
fetch_h2o
"$HERE/build-h2o.sh" "$(h2o_dir)" "$DEPS" "$CC" "$JOBS"
log "done in $(($(date +%s) - t0)) s"
