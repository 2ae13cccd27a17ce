#!/usr/bin/env bash
# Install what building and testing Kestrel needs on a fresh Debian 12 machine, skipping what is
# already there: clang-22 + bpftool + libbpf headers (the eBPF probe), openssl (test certificates),
# rustfmt/clippy. Go (for the local control plane) must already be on PATH.
set -euo pipefail

need=()
command -v clang-22 >/dev/null || need+=(clang-22 llvm-22)
command -v bpftool >/dev/null || [ -x /usr/sbin/bpftool ] || need+=(bpftool)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
[ -f /usr/include/libelf.h ] || need+=(libelf-dev)
command -v openssl >/dev/null || need+=(openssl)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v shellcheck >/dev/null || need+=(shellcheck)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# the chart checks read rendered manifests with PyYAML
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "install-deps: installing PyYAML" >&2
  python3 -m pip install -q pyyaml
fi

if command -v rustup >/dev/null; then
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
fi
if ! command -v go >/dev/null; then
  echo "install-deps: go is not on PATH; the local control plane (make cluster-up, make test) needs Go 1.26+" >&2
fi
