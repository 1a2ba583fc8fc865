# Vesper images, built entirely by Docker from the source in the build context:
#
#   build    debian:bookworm with the build dependencies (deploy/deps.sh, which also builds
#            the static libh2o from Debian's h2o source), then the same make targets as on
#            a host: the static vesperd, the vesper CLI and the integration driver
#            vesper-itest; deploy/image-rootfs.sh stages each shipped image's files
#   vesperd  FROM scratch: the static server, an empty /tmp, /data owned by uid 65532
#   client   FROM scratch: the vesper CLI with the shared libraries ldd lists and the loader
#   itest    FROM scratch: the integration driver (tests/integration), same layout as client
#
# `docker compose build` (or `make images`) builds all three; by hand:
#   docker build --target vesperd -t vesper/vesperd:latest .
# Where no registry can be reached, deploy/base-image.sh makes debian:bookworm locally.
# Layers are ordered for the cache: the dependencies (about 3 minutes) are rebuilt only
# when deploy/deps.sh, deploy/build-h2o.sh or our h2o patches change, the binaries when
# the sources do.

FROM debian:bookworm AS build
WORKDIR /src
COPY deploy/deps.sh deploy/build-h2o.sh deploy/
COPY deploy/patches/ deploy/patches/
RUN VESPER_DEPS=image JOBS="$(nproc)" deploy/deps.sh build \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb build/deps/obj
# Only what the three binaries are built from (.dockerignore keeps build/ and .git out).
COPY Makefile ./
COPY mk/ mk/
COPY src/ src/
COPY client/ client/
COPY tests/lib/ tests/lib/
COPY tests/integration/ tests/integration/
COPY deploy/image-rootfs.sh deploy/
RUN make -j"$(nproc)" build/vesperd build/vesper build/vesper-itest \
    && deploy/image-rootfs.sh vesperd build/vesperd \
    && deploy/image-rootfs.sh client build/vesper \
    && deploy/image-rootfs.sh itest build/vesper-itest

FROM scratch AS vesperd
# rootfs/ holds /vesperd and /tmp (mode 1777: COPY keeps the modes inside a directory).
COPY --from=build /src/build/image/vesperd/rootfs/ /
# Named volumes start as a copy of this directory, owner included, so the
# non-root server can write its log and snapshots there.
COPY --from=build --chown=65532:65532 /src/build/image/vesperd/data/ /data/
ENV VESPER_DATA_DIR=/data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 5000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/vesperd", "--probe", "http://127.0.0.1:5000"]
ENTRYPOINT ["/vesperd"]

FROM scratch AS client
COPY --from=build /src/build/image/client/rootfs/ /
USER 65532:65532
ENTRYPOINT ["/vesper"]

# Runs as root: it talks to the Docker Engine through the mounted /var/run/docker.sock.
FROM scratch AS itest
COPY --from=build /src/build/image/itest/rootfs/ /
ENTRYPOINT ["/vesper-itest"]
