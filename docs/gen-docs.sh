#!/usr/bin/env bash
# Regenerates the generated parts of docs/: crds.md (from crds/ and docs/examples/) and the values
# table of helm.md (from charts/kestrel/values.yaml). `--check` writes nothing and fails when
# either is out of date (e2e/local/chart-check.sh runs it).
# Usage: docs/gen-docs.sh [--check]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
"$here/gen-crd-reference.sh" "$@" || rc=1
python3 "$here/gen_helm_values.py" "$@" || rc=1
exit "$rc"
