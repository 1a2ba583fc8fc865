#!/usr/bin/env bash
# build-images.sh: the one way Vesper's images are built (`make images` and the
# integration suite run it): stage each image's files from the host-built binaries
# (deploy/image-rootfs.sh), then `docker build --target T` of the FROM-scratch Dockerfile.
# Nothing is pulled. Prints the resulting image sizes.
#
#   deploy/build-images.sh BUILD_DIR [TAG]       (binaries: BUILD_DIR/vesperd, vesper, vesper-itest)
set -euo pipefail
build=${1:-build}
tag=${2:-latest}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/deploy/image-rootfs.sh" vesperd "$build/vesperd"
"$top/deploy/image-rootfs.sh" client "$build/vesper"
"$top/deploy/image-rootfs.sh" itest "$build/vesper-itest"
for target in vesperd client itest; do
    # The legacy builder prints a deprecation notice on every build; keep errors only.
    if ! out=$(DOCKER_BUILDKIT=0 docker build -q --target "$target" -t "vesper/$target:$tag" . 2>&1); then
        echo "$out" >&2
        exit 1
    fi
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^vesper/.*:$tag " | sort
