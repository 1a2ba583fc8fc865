#!/usr/bin/env bash
# build-images.sh: the one way Vesper's images are built (`make images`, `make up` and
# the integration suite run it):
#   1. deploy/base-image.sh: debian:bookworm is present, pulled, or made locally;
#   2. compose build of one service per image (vesper0 -> vesper/vesperd, client ->
#      vesper/client, itest -> vesper/itest): Docker compiles everything in the
#      Dockerfile's build stage, so the host needs nothing but Docker and compose.
# The build output goes to BUILD_DIR/image-build.log (its end is printed on failure);
# prints the build time and the resulting image sizes.
#
#   deploy/build-images.sh [BUILD_DIR] [TAG]       (defaults: build, latest)
set -euo pipefail
build=${1:-build}
export VESPER_TAG=${2:-latest}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

"$top/deploy/base-image.sh" "$build"

mkdir -p "$build"
log=$build/image-build.log
t0=$(date +%s)
# The other vesper<i> services name the same image as vesper0; building it once is enough.
# v1's classic builder keeps the container of a failed step unless told otherwise.
rm_flag=()
case $(tests/integration/compose.sh version --short 2>/dev/null) in 1.*) rm_flag=(--force-rm) ;; esac
if ! tests/integration/compose.sh --profile client --profile test \
    build ${rm_flag[@]+"${rm_flag[@]}"} vesper0 client itest >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "build-images: the image build failed; full output in $log" >&2
    exit 1
fi
echo "build-images: images built in $(($(date +%s) - t0)) s (output in $log)"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^vesper/.*:$VESPER_TAG " | sort
