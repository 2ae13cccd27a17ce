#!/usr/bin/env bash
# Regenerates docs/crds.md from crds/*.yaml and docs/examples/*.yaml (examples are validated
# against the CRD schemas). `--check` writes nothing and fails when docs/crds.md is out of date.
# Usage: docs/gen-crd-reference.sh [--check]
set -euo pipefail
exec python3 "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/gen_crd_reference.py" "$@"
