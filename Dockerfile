# Image of the berth binary: the master (`berth master`), the node agent
# (`berth node`) and the CLI. FROM scratch, no shell, no base image to pull.
#
# No registry is reachable from Berth's machines, so nothing is built inside
# Docker: the static binary is built on the host and copied in. The build
# context is a directory that holds only
#
#   berth                 the static binary (CGO_ENABLED=0 go build ./cmd/berth)
#   Dockerfile            this file
#   rootfs/tmp/           empty directory, mode 1777
#   rootfs/var/lib/berth/ empty directory
#
# `make image` prepares it in out/image and runs
#   docker build -t berth:$(VERSION) -t berth:latest out/image
# By hand, with no registry:
#   mkdir -p ctx/rootfs/tmp ctx/rootfs/var/lib/berth && chmod 1777 ctx/rootfs/tmp
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o ctx/berth ./cmd/berth
#   cp Dockerfile ctx/ && docker build -t berth:latest ctx
# (cmd/berth/image_test.go builds the same context as a tar through the
# Docker Engine API.)
#
# Running it:
#   docker run --rm berth:latest version
#   docker run -d -p 6443:6443 -v berth-data:/var/lib/berth berth:latest master ...
# The node agent talks to the host's Docker Engine; its socket belongs to root
# and the docker group, so give the container that group (or run it as root):
#   docker run -d -v /var/run/docker.sock:/var/run/docker.sock \
#     --group-add "$(getent group docker | cut -d: -f3)" berth:latest node ...
# Scratch carries no CA bundle: pass CA files for TLS to etcd, PostgreSQL or
# the API explicitly (mounted), as Berth's own flags allow.
FROM scratch

# Writable places for an unprivileged user: a temporary directory (Go's
# os.TempDir) and the data directory (also $HOME, for the CLI's config).
# A named volume mounted on /var/lib/berth inherits its ownership.
COPY --chown=65532:65532 rootfs/tmp /tmp
COPY --chown=65532:65532 rootfs/var/lib/berth /var/lib/berth
COPY berth /berth

ENV HOME=/var/lib/berth
WORKDIR /var/lib/berth
USER 65532:65532
ENTRYPOINT ["/berth"]
