# syntax=docker/dockerfile:1.7
# kestrel-agent image (eBPF probe + rule engine). Build from the repository root:
#   docker build -f images/agent.Dockerfile -t ghcr.io/kestrel-dev/kestrel-agent:0.1.0 .
# images/agent.Dockerfile.dockerignore keeps target/ and .git out of the context.
#
# The probe's build script generates vmlinux.h from kernel BTF. By default it reads the build
# host's /sys/kernel/btf/vmlinux (visible in build containers on kernels with BTF, e.g. any
# recent distribution kernel and Docker Desktop). Builders without it pass a BTF file from the
# build context: --build-arg KESTREL_BTF=path/in/context/vmlinux.btf (for example one from
# BTFHub). CO-RE makes the result run on any kernel with BTF whichever kernel built it.
#
# clang-22, llvm-22 and bpftool come from Debian bookworm-security (bookworm's own clang is 14),
# libbpf-dev from bookworm main: the same packages scripts/install-deps.sh installs.

ARG RUST_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang-22 llvm-22 libbpf-dev bpftool libelf-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG KESTREL_BTF=""
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,id=kestrel-agent-target \
    if [ -n "$KESTREL_BTF" ]; then \
        KESTREL_BTF="/src/$KESTREL_BTF"; export KESTREL_BTF; \
        [ -f "$KESTREL_BTF" ] || { echo "KESTREL_BTF: $KESTREL_BTF is not in the build context" >&2; exit 1; }; \
    elif [ ! -r /sys/kernel/btf/vmlinux ]; then \
        echo "no kernel BTF at /sys/kernel/btf/vmlinux in the build container: pass --build-arg KESTREL_BTF=<BTF file in the context>" >&2; \
        exit 1; \
    fi \
 && cargo build --release --locked -p kestrel-agent \
 && objcopy --strip-debug target/release/kestrel-agent /kestrel-agent

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kestrel-agent" \
      org.opencontainers.image.description="Kestrel node agent: eBPF syscall probe evaluating Falco rules" \
      org.opencontainers.image.source="https://github.com/kestrel-dev/kestrel" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# CA roots for https sinks (webhook, Slack).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /kestrel-agent /usr/local/bin/kestrel-agent
# The default rules, for running the image outside Kubernetes:
#   docker run --rm --privileged --pid=host -v /sys/kernel/btf:/sys/kernel/btf:ro \
#     -v /sys/fs/cgroup:/sys/fs/cgroup:ro ghcr.io/kestrel-dev/kestrel-agent:0.1.0
# The chart mounts its own copy (a ConfigMap) at /etc/kestrel/rules instead.
COPY config/rules /usr/share/kestrel/rules
# Runs as root: loading eBPF programs and reading every process's /proc needs it (the chart grants
# privileged or the capabilities BPF, PERFMON, SYS_RESOURCE, SYS_ADMIN, SYS_PTRACE).
ENTRYPOINT ["/usr/local/bin/kestrel-agent"]
CMD ["run", "--rules", "/usr/share/kestrel/rules"]
