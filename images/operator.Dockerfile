# syntax=docker/dockerfile:1.7
# kestrel-operator image. Build from the repository root (the context is the whole workspace):
#   docker build -f images/operator.Dockerfile -t ghcr.io/kestrel-dev/kestrel-operator:0.1.0 .
# images/operator.Dockerfile.dockerignore keeps target/ and .git out of the context.
# The operator does not link the eBPF probe, so no clang is needed here.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Every workspace member's manifest and sources must be present for cargo to load the workspace;
# only the operator and what it depends on (engine, api) are compiled.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,id=kestrel-operator-target \
    cargo build --release --locked -p kestrel-operator \
 && objcopy --strip-debug target/release/kestrel-operator /kestrel-operator

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kestrel-operator" \
      org.opencontainers.image.description="Kestrel operator: validates FalcoRules and renders them for the node agents" \
      org.opencontainers.image.source="https://github.com/kestrel-dev/kestrel" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# CA roots for sinks' https endpoints checked by the operator; nothing else is installed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /kestrel-operator /usr/local/bin/kestrel-operator
# The chart runs it as this user with a read-only root filesystem.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/kestrel-operator"]
