#!/usr/bin/env bash
# Checks the Helm chart and what must stay in step with it; exits non-zero, saying what drifted.
#
#   1. charts/kestrel/crds/ holds exactly the files of crds/, byte for byte
#   2. charts/kestrel/files/rules/ holds exactly the rules files of config/rules/, byte for byte
#   3. docs/crds.md and the values table of docs/helm.md are what docs/gen-docs.sh generates (from
#      crds/ and values.yaml); every value is documented; every .Values the templates read exists
#   4. helm lint --strict, with the default values and with every non-default switch; bad values
#      (typos, wrong types, bad durations) are refused by values.schema.json with a clear message
#   5. helm template renders, and the manifests hold what Kestrel relies on (chart_assert.py)
#   6. every flag the chart passes exists in kestrel-operator / kestrel-agent (when built)
#   7. images/*.Dockerfile: COPY sources exist and are not ignored, stages, cargo packages, apt
#      packages (dockerfile_check.py; there is no Docker or hadolint here)
#   8. shellcheck of the deployment scripts (when shellcheck is installed)
#
# Usage: e2e/local/chart-check.sh [--sync]
#   --sync  first copy crds/ and config/rules/ into the chart and regenerate docs/ (gen-docs.sh)
#           (then commit the result), so that only real failures remain.
# Needs helm (on PATH, in KESTREL_TOOLS_BIN, or built by e2e/cluster/tools.sh) and python3 with
# PyYAML. No cluster.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
chart="$repo/charts/kestrel"
here="$repo/e2e/local"
sync=0
case ${1:-} in
--sync) sync=1 ;;
"") ;;
-h | --help)
	sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "chart-check.sh: unknown argument '$1' (use --sync or nothing)" >&2
	exit 2
	;;
esac

failures=0
fail() {
	printf 'FAIL %s\n' "$*"
	failures=$((failures + 1))
}
ok() { printf 'ok   %s\n' "$*"; }
note() { printf 'note %s\n' "$*"; }

# helm: PATH, then the tool cache of e2e/cluster.
if ! command -v helm >/dev/null 2>&1; then
	bin=${KESTREL_TOOLS_BIN:-$("$repo/e2e/cluster/tools.sh" --bin-dir 2>/dev/null || true)}
	if [[ -n $bin && -x $bin/helm ]]; then
		PATH="$bin:$PATH"
	else
		echo "chart-check.sh: helm not found: run e2e/cluster/tools.sh (or make tools) first" >&2
		exit 2
	fi
fi
python3 -c 'import yaml' 2>/dev/null || {
	echo "chart-check.sh: python3 with PyYAML is needed (apt-get install python3-yaml)" >&2
	exit 2
}

# mirror SRC DST GLOB...: copy SRC's files matching the globs into DST, removing DST's extras.
mirror() {
	local src=$1 dst=$2 f
	shift 2
	mkdir -p "$dst"
	for f in "$dst"/*; do
		[[ -e $f ]] || continue
		[[ -e $src/${f##*/} ]] || rm -f "$f"
	done
	for g in "$@"; do
		for f in "$src"/$g; do
			if [[ -e $f ]]; then cp "$f" "$dst/"; fi
		done
	done
}

if [[ $sync == 1 ]]; then
	mirror "$repo/crds" "$chart/crds" '*.yaml'
	mirror "$repo/config/rules" "$chart/files/rules" '*.yaml' '*.yml'
	"$repo/docs/gen-docs.sh" >/dev/null
	echo "synced charts/kestrel/crds, charts/kestrel/files/rules, docs/crds.md and docs/helm.md; now checking"
fi

# same_dir NAME SRC DST GLOB...: SRC's matching files and DST's files are the same set with the
# same bytes.
same_dir() {
	local name=$1 src=$2 dst=$3 f base drift=0
	shift 3
	local -a want=()
	for g in "$@"; do
		for f in "$src"/$g; do
			if [[ -e $f ]]; then want+=("${f##*/}"); fi
		done
	done
	if [[ ${#want[@]} -eq 0 ]]; then
		fail "$name: no files in ${src#"$repo"/}"
		return
	fi
	for base in "${want[@]}"; do
		if [[ ! -e $dst/$base ]]; then
			fail "$name: ${dst#"$repo"/}/$base is missing (${src#"$repo"/}/$base exists)"
			drift=1
		elif ! cmp -s "$src/$base" "$dst/$base"; then
			fail "$name: ${dst#"$repo"/}/$base differs from ${src#"$repo"/}/$base:"
			diff -u "$src/$base" "$dst/$base" | head -n 20 | sed 's/^/       /'
			drift=1
		fi
	done
	for f in "$dst"/*; do
		[[ -e $f ]] || continue
		base=${f##*/}
		if [[ ! " ${want[*]} " == *" $base "* ]]; then
			fail "$name: ${dst#"$repo"/}/$base has no source in ${src#"$repo"/}"
			drift=1
		fi
	done
	if [[ $drift == 0 ]]; then
		ok "$name: ${dst#"$repo"/} matches ${src#"$repo"/} (${#want[@]} files)"
	else
		echo "       fix: e2e/local/chart-check.sh --sync, then commit"
	fi
}

same_dir "chart CRDs" "$repo/crds" "$chart/crds" '*.yaml'
same_dir "chart default rules" "$repo/config/rules" "$chart/files/rules" '*.yaml' '*.yml'

if out=$("$repo/docs/gen-docs.sh" --check 2>&1); then
	ok "docs/crds.md and docs/helm.md are current; every value documented and defined"
else
	fail "docs:"
	printf '%s\n' "$out" | sed 's/^/       /'
	echo "       fix: docs/gen-docs.sh (or e2e/local/chart-check.sh --sync), then commit"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Value sets: the defaults, then every switch away from its default, together.
cat >"$work/all-switches.yaml" <<'EOF'
fullnameOverride: sec
commonLabels: {team: security}
imagePullSecrets: [{name: regcred}]
rbac: {secretsClusterWide: false}
operator:
  replicas: 1
  logFormat: json
  image: {digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}
  extraArgs: [--resync=10m]
  priorityClassName: system-cluster-critical
agent:
  json: true
  privileged: false
  priorityClassName: system-node-critical
  customRules:
    50-site.yaml: |
      - rule: Site rule
        desc: test
        condition: evt.type = openat and fd.name = /etc/shadow
        output: shadow read by %proc.name
        priority: ERROR
  extraArgs: [--min-priority=notice]
serviceMonitor: {enabled: true, labels: {release: prometheus}}
EOF
cat >"$work/no-rules.yaml" <<'EOF'
agent: {defaultRules: {enabled: false}}
rbac: {create: false}
operator: {serviceAccount: {create: false, name: op}}
EOF
cat >"$work/bad.yaml" <<'EOF'
agent: {customRules: {"../etc/passwd": "x"}}
EOF

for set in default all-switches no-rules; do
	args=(--namespace kestrel-system)
	[[ $set == default ]] || args+=(-f "$work/$set.yaml")
	if out=$(helm lint --strict "$chart" "${args[@]}" 2>&1); then
		ok "helm lint --strict ($set values)"
	else
		fail "helm lint --strict ($set values):"
		printf '%s\n' "$out" | sed 's/^/       /'
	fi
	if helm template kestrel "$chart" "${args[@]}" --include-crds >"$work/$set.out" 2>"$work/$set.err"; then
		if python3 "$here/chart_assert.py" "$set" kestrel-system "$work/$set.out" >"$work/$set.assert" 2>&1; then
			ok "helm template ($set values): $(tail -n1 "$work/$set.assert")"
		else
			fail "helm template ($set values): rendered manifests are wrong:"
			sed 's/^/       /' "$work/$set.assert"
		fi
	else
		fail "helm template ($set values):"
		sed 's/^/       /' "$work/$set.err"
	fi
done

# Bad values must be refused at install time, with words that point at the value.
# reject DESC EXPECTED-TEXT HELM-ARGS...
reject() {
	local desc=$1 expect=$2
	shift 2
	if helm template kestrel "$chart" "$@" >/dev/null 2>"$work/bad.err"; then
		fail "helm template accepted $desc"
	elif grep -qF -- "$expect" "$work/bad.err"; then
		ok "helm template rejects $desc"
	else
		fail "helm template rejected $desc, but without \"$expect\":"
		sed 's/^/       /' "$work/bad.err"
	fi
}
reject "an agent.customRules key that is not a file name" "must be a file name" -f "$work/bad.yaml"
reject "a misspelt value (operator.replica)" "additional properties 'replica' not allowed" --set operator.replica=3
reject "agent.json=yes (not a boolean)" "/agent/json" --set-string agent.json=yes
reject "operator.alertRetention=7days" "/operator/alertRetention" --set operator.alertRetention=7days
reject "operator.replicas=0" "/operator/replicas" --set operator.replicas=0

# Flags the chart passes must exist in the binaries. The newest build of each binary is used.
newest() {
	local name=$1 best="" f
	for f in "${KESTREL_BIN_DIR:-}/$name" "$repo/target/release/$name" "$repo/target/debug/$name"; do
		[[ -x $f ]] || continue
		if [[ -z $best || $f -nt $best ]]; then best=$f; fi
	done
	printf '%s' "$best"
}
# chart_flags KIND: the --flags of the container args of the default render's KIND.
chart_flags() {
	python3 - "$work/default.out" "$1" <<'EOF'
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == sys.argv[2]:
        for a in doc["spec"]["template"]["spec"]["containers"][0]["args"]:
            if a.startswith("--"):
                print(a.split("=", 1)[0])
EOF
}
check_flags() {
	local kind=$1 bin=$2 help=$3 flag missing=()
	while read -r flag; do
		grep -qE -- "(^|[ ,])$flag([ =,]|$)" <<<"$help" || missing+=("$flag")
	done < <(chart_flags "$kind")
	if [[ ${#missing[@]} -eq 0 ]]; then
		ok "every flag of the $kind exists in ${bin#"$repo"/}"
	else
		fail "the $kind passes flags ${bin#"$repo"/} does not have: ${missing[*]}"
	fi
}
if [[ -s $work/default.out ]]; then
	op=$(newest kestrel-operator)
	if [[ -n $op ]]; then
		check_flags Deployment "$op" "$("$op" --help 2>&1)"
	else
		note "kestrel-operator is not built: its flags were not checked (cargo build -p kestrel-operator)"
	fi
	agent=$(newest kestrel-agent)
	if [[ -z $agent ]]; then
		note "kestrel-agent is not built: its flags were not checked (cargo build -p kestrel-agent)"
	else
		agent_help=$("$agent" run --help 2>&1 || true)
		if grep -q -- '--kubernetes' <<<"$agent_help"; then
			check_flags DaemonSet "$agent" "$agent_help"
		else
			note "${agent#"$repo"/} has no --kubernetes mode yet: the DaemonSet's flags were not checked"
		fi
	fi
fi

if out=$(python3 "$here/dockerfile_check.py" 2>&1); then
	ok "Dockerfiles: $(printf '%s\n' "$out" | sed 's/ (apt:.*//' | tr '\n' ' ')"
else
	fail "Dockerfiles:"
	printf '%s\n' "$out" | sed 's/^/       /'
fi

if command -v shellcheck >/dev/null 2>&1; then
	shopt -s nullglob
	scripts=("$here"/*.sh "$repo"/e2e/kind/*.sh "$repo"/docs/*.sh)
	shopt -u nullglob
	if out=$(shellcheck -x "${scripts[@]}" 2>&1); then
		ok "shellcheck: ${#scripts[@]} scripts clean"
	else
		fail "shellcheck:"
		printf '%s\n' "$out" | head -n 40 | sed 's/^/       /'
	fi
else
	note "shellcheck is not installed: scripts not linted"
fi

if [[ $failures -gt 0 ]]; then
	echo "chart-check: $failures check(s) FAILED"
	exit 1
fi
echo "chart-check: all checks passed"
