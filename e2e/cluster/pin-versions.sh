#!/usr/bin/env bash
# Rewrites tools/go.mod and tools/go.sum from versions.env: after editing versions.env, run this,
# then tools.sh, and commit versions.env, tools/go.mod and tools/go.sum together.
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go, ...) as v0.0.0 and
# replaces them with ./staging/... in its own repository; a module that depends on it must pin every
# one of them to the matching published release, which is what the replace block here does.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 0 ]] || {
	sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
}
command -v go >/dev/null 2>&1 || die "the Go toolchain is not on PATH"
cd "$TOOLS_MODULE_DIR"

# Outside any module, so that a broken tools/go.mod cannot get in the way.
k8s_gomod=$(cd / && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
	sed -nE 's/^\s*"GoMod": "(.*)",?$/\1/p') || true
[[ -f $k8s_gomod ]] || die "could not download k8s.io/kubernetes@$KUBERNETES_VERSION from the module proxy"
staging=$(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" { print $1 }' "$k8s_gomod" | LC_ALL=C sort -u)
[[ -n $staging ]] || die "k8s.io/kubernetes@$KUBERNETES_VERSION lists no v0.0.0 staging requirements: has the layout changed?"

k8s_go=$(awk '$1 == "go" { print $2; exit }' "$k8s_gomod")

# go.mod from scratch: the staging pins, then the tools and etcd added by go get, then tidy.
{
	printf 'module kestrel.local/e2e/cluster/tools\n\ngo %s\n\n' "$k8s_go"
	printf '// Every k8s.io staging module that k8s.io/kubernetes requires as v0.0.0 (it replaces them with\n'
	printf '// ./staging in its own repo) pinned to the matching release.\n'
	printf 'replace (\n'
	for module in $staging; do
		printf '\t%s => %s %s\n' "$module" "$module" "$KUBERNETES_STAGING_VERSION"
	done
	printf ')\n'
} >go.mod

go get -tool \
	"k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
	"k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION" \
	"k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION" \
	"$HELM_MODULE/cmd/helm@$HELM_VERSION"
# etcd is built from ./etcd, a wrapper main around etcdmain: a plain requirement, not a tool.
go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
go mod tidy

for check in "k8s.io/kubernetes $KUBERNETES_VERSION" "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$HELM_MODULE $HELM_VERSION"; do
	read -r module want <<<"$check"
	got=$(go list -m -f '{{.Version}}' "$module")
	[[ $got == "$want" ]] || die "after go mod tidy, $module is at $got, not $want: another requirement needs a newer one; raise it in versions.env"
done
log "tools/go.mod now pins kubernetes $KUBERNETES_VERSION (staging $KUBERNETES_STAGING_VERSION), etcd $ETCD_VERSION, helm $HELM_VERSION"
