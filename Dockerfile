# Vesper images, all FROM scratch: this machine (and CI) cannot pull a base image.
# The host builds the binaries (make), deploy/image-rootfs.sh stages each image's
# files under build/image/, and `make images` runs, for each target here,
#   docker build --target <target> -t vesper/<target>:latest .
# (.dockerignore limits the context to build/image/). That is the only build path.
#
#   vesperd  the server: one static binary, an empty /tmp, /data owned by uid 65532
#   client   the vesper CLI with the shared libraries ldd lists and the loader
#   itest    the integration driver (tests/integration), same layout as client

FROM scratch AS vesperd
# rootfs/ holds /vesperd and /tmp (mode 1777: COPY keeps the modes inside a directory).
COPY build/image/vesperd/rootfs/ /
# Named volumes start as a copy of this directory, owner included, so the
# non-root server can write its log and snapshots there.
COPY --chown=65532:65532 build/image/vesperd/data/ /data/
ENV VESPER_DATA_DIR=/data
USER 65532:65532
VOLUME ["/data"]
EXPOSE 5000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/vesperd", "--probe", "http://127.0.0.1:5000"]
ENTRYPOINT ["/vesperd"]

FROM scratch AS client
COPY build/image/client/rootfs/ /
USER 65532:65532
ENTRYPOINT ["/vesper"]

# Runs as root: it talks to the Docker Engine through the mounted /var/run/docker.sock.
FROM scratch AS itest
COPY build/image/itest/rootfs/ /
ENTRYPOINT ["/vesper-itest"]
