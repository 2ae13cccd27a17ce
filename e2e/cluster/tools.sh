#!/usr/bin/env bash
# Builds the control-plane tools Kestrel's tests need (etcd, kube-apiserver,
# kube-controller-manager, kubectl, helm) from their Go modules, pinned by tools/go.mod, into
# ~/.cache/kestrel/<kubernetes-version>/bin. Idempotent: a tool already built from the same
# pins, recipe and Go version is reused. Prints one "name path" line per tool, then the bin dir
# as the last line of stdout.
#
# Usage: tools.sh [--rebuild] [--bin-dir]
#   --rebuild  build every tool again even when cached
#   --bin-dir  print the bin directory and exit (builds nothing)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

# Bump when the build commands below change: cached binaries built by an older recipe are rebuilt.
readonly BUILD_RECIPE=1

rebuild=0
for arg in "$@"; do
	case $arg in
	--rebuild) rebuild=1 ;;
	--bin-dir)
		printf '%s\n' "$KESTREL_TOOLS_BIN"
		exit 0
		;;
	-h | --help)
		sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$arg' (see --help)" ;;
	esac
done

# --- preconditions -------------------------------------------------------------------------

command -v go >/dev/null 2>&1 ||
	die "the Go toolchain is not on PATH: Go >= 1.26 is needed to build the cluster tools"

go_version=$(go env GOVERSION) || die "'go env GOVERSION' failed"
go_minor=$(sed -nE 's/^go1\.([0-9]+).*/\1/p' <<<"$go_version")
[[ -n $go_minor && $go_minor -ge 26 ]] ||
	die "Go $go_version is too old: k8s.io/kubernetes $KUBERNETES_VERSION needs Go >= 1.26"

# The versions in versions.env and the pins in tools/go.mod must agree, or the binaries
# would silently be another release than the one the scripts and the Rust side expect.
pinned_version() {
	awk -v m="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' \
		"$TOOLS_MODULE_DIR/go.mod"
}
check_pin() {
	local module=$1 want=$2 got
	got=$(pinned_version "$module")
	[[ $got == "$want" ]] ||
		die "tools/go.mod pins $module ${got:-<nothing>} but versions.env says $want; run e2e/cluster/pin-versions.sh after editing versions.env"
}
check_pin k8s.io/kubernetes "$KUBERNETES_VERSION"
check_pin go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
check_pin "$HELM_MODULE" "$HELM_VERSION"
stale_replaces=$(awk -v v="$KUBERNETES_STAGING_VERSION" \
	'$1 ~ /^k8s\.io\// && $2 == "=>" && $4 != v { print $1 " " $4 }' "$TOOLS_MODULE_DIR/go.mod")
[[ -z $stale_replaces ]] ||
	die "tools/go.mod replaces staging modules with versions other than $KUBERNETES_STAGING_VERSION: $stale_replaces; run e2e/cluster/pin-versions.sh"

mkdir -p "$KESTREL_TOOLS_BIN" "$KESTREL_TOOLS_LOGS" "$KESTREL_TOOLS_DIR/stamps"

# One build at a time per cache, also across concurrent up.sh runs.
exec 9>"$KESTREL_TOOLS_DIR/.lock"
if ! flock -n 9; then
	log "another tools.sh is building into $KESTREL_TOOLS_DIR; waiting for it"
	flock 9
fi

# Everything a binary depends on: a change to any of these rebuilds it.
recipe_key=$(
	{
		echo "recipe=$BUILD_RECIPE go=$go_version"
		cat "$CLUSTER_SCRIPTS_DIR/versions.env" "$TOOLS_MODULE_DIR/go.mod" "$TOOLS_MODULE_DIR/go.sum"
		cat "$TOOLS_MODULE_DIR/etcd/main.go"
	} | sha256sum | cut -d' ' -f1
)

# --- what to build and how -----------------------------------------------------------------

k8s_major=$(sed -nE 's/^v([0-9]+)\..*/\1/p' <<<"$KUBERNETES_VERSION")
k8s_minor=$(sed -nE 's/^v[0-9]+\.([0-9]+)\..*/\1/p' <<<"$KUBERNETES_VERSION")
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Version stamping as Kubernetes' hack/lib/version.sh does it (without a git commit: the
# module zip carries none), so `kubectl version`, /version and Helm's capabilities report the
# real release instead of v0.0.0-master.
k8s_ldflags() {
	local pkg out=""
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		out+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$k8s_major"
		out+=" -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
	done
	printf '%s' "$out"
}

tool_package() {
	case $1 in
	etcd) echo ./etcd ;;
	kube-apiserver | kube-controller-manager | kubectl) echo "k8s.io/kubernetes/cmd/$1" ;;
	helm) echo "$HELM_MODULE/cmd/helm" ;;
	*) die "internal: unknown tool $1" ;;
	esac
}

tool_ldflags() {
	case $1 in
	etcd) echo "-s -w" ;;
	kube-apiserver | kube-controller-manager | kubectl) echo "-s -w$(k8s_ldflags)" ;;
	helm) echo "-s -w -X $HELM_MODULE/internal/version.version=$HELM_VERSION -X $HELM_MODULE/internal/version.gitTreeState=clean" ;;
	esac
}

# Runs the freshly built binary and checks that it reports the expected version.
# Prints the version line.
verify_tool() {
	local name=$1 bin=$2 out want
	case $name in
	etcd)
		out=$("$bin" --version 2>&1) || return 1
		want="etcd Version: ${ETCD_VERSION#v}"
		;;
	kube-apiserver | kube-controller-manager)
		out=$("$bin" --version 2>&1) || return 1
		want="Kubernetes $KUBERNETES_VERSION"
		;;
	kubectl)
		out=$("$bin" version --client 2>&1) || return 1
		want="Client Version: $KUBERNETES_VERSION"
		;;
	helm)
		out=$("$bin" version --short 2>&1) || return 1
		want="$HELM_VERSION"
		;;
	esac
	if ! grep -qF -- "$want" <<<"$out"; then
		printf 'expected "%s" in the version output, got:\n%s\n' "$want" "$out"
		return 1
	fi
	grep -F -- "$want" <<<"$out" | head -n1
}

build_tool() {
	local name=$1 bin="$KESTREL_TOOLS_BIN/$1" stamp="$KESTREL_TOOLS_DIR/stamps/$1"
	local logf="$KESTREL_TOOLS_LOGS/build-$1.log" tmp="$KESTREL_TOOLS_BIN/.$1.tmp.$$"
	local started rc version

	if [[ $rebuild -eq 0 && -x $bin && -f $stamp && $(<"$stamp") == "$recipe_key" ]]; then
		printf '%s %s\n' "$name" "$bin"
		return 0
	fi

	log "building $name ($(tool_package "$name")); log: $logf"
	started=$(now_ms)
	rc=0
	local pkg ldflags
	pkg=$(tool_package "$name")
	ldflags=$(tool_ldflags "$name")
	(
		cd "$TOOLS_MODULE_DIR"
		echo "# $(go version), in $TOOLS_MODULE_DIR"
		set -x
		# -p 2: the machine's two cores are shared; one tool at a time, at most two compiles.
		CGO_ENABLED=0 go build -p 2 -trimpath -ldflags "$ldflags" -o "$tmp" "$pkg"
	) >"$logf" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		rm -f "$tmp"
		show_log_tail "$logf"
		die "building $name failed (go build exit $rc); full log: $logf"
	fi
	if ! version=$(verify_tool "$name" "$tmp" 2>&1); then
		printf '%s\n' "$version" >>"$logf"
		rm -f "$tmp"
		show_log_tail "$logf" 10
		die "the freshly built $name does not run or reports the wrong version; log: $logf"
	fi
	mv -f "$tmp" "$bin"
	printf '%s\n' "$recipe_key" >"$stamp"
	log "built $name in $(((($(now_ms) - started) + 500) / 1000)) s: $version"
	printf '%s %s\n' "$name" "$bin"
}

total_started=$(now_ms)
for tool in "${KESTREL_TOOLS[@]}"; do
	build_tool "$tool"
done
elapsed=$((($(now_ms) - total_started) / 1000))
[[ $elapsed -lt 2 ]] || log "tools ready in $elapsed s"
printf '%s\n' "$KESTREL_TOOLS_BIN"
