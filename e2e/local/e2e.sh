#!/usr/bin/env bash
# Kestrel end to end against the local control plane (e2e/cluster): the kind scenario without
# Docker. Pods never run there (no kubelet), so the real binaries run on this host instead, each
# with the token of the chart's own ServiceAccount, which proves the chart's RBAC is enough:
#
#   1. helm install charts/kestrel (CRDs, RBAC, Deployment, DaemonSet, ConfigMaps are created)
#   2. the CRD reference examples (docs/examples) pass the apiserver's validation (dry run)
#   3. kestrel-operator runs as the operator ServiceAccount, with the Deployment's own args
#   4. the sample FalcoRule is Accepted and rendered into kestrel-rules-0; a FalcoRule with an
#      unknown field is rejected with line:column; sinks get their Ready condition
#   5. (root, and an agent with --kubernetes) kestrel-agent runs as the agent ServiceAccount with
#      the DaemonSet's args; a Pod object bound to this node gets a containerd container id whose
#      cgroup is created here; `cat /etc/passwd` in that cgroup must give a FalcoAlert naming the
#      pod and an Event on the pod; FalcoRule status says the node loaded the rules
#   6. helm upgrade and helm uninstall
#
# Usage: e2e/local/e2e.sh            (starts a fresh cluster through e2e/cluster/with-cluster.sh)
#        e2e/cluster/with-cluster.sh e2e/local/e2e.sh
# Environment: KESTREL_E2E_PROFILE=release|debug (default release; binaries are built with cargo
# when out of date), KESTREL_E2E_NO_BUILD=1 (use target/<profile> as it is),
# KESTREL_E2E_TIMEOUT (seconds per wait, default 60), KESTREL_E2E_CHART (chart directory, default
# charts/kestrel), KESTREL_KEEP_CLUSTER_LOGS=1 (keep the logs of a failed run).
# Exit status: 0 when every step that ran passed (a step that cannot run here prints SKIPPED),
# 1 on a failure (with the logs that explain it), 2 on a usage error.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
self="$repo/e2e/local/e2e.sh"

profile=${KESTREL_E2E_PROFILE:-release}
case $profile in release | debug) ;; *)
	echo "e2e.sh: KESTREL_E2E_PROFILE must be release or debug, not '$profile'" >&2
	exit 2
	;;
esac

# build: cargo build both binaries unless KESTREL_E2E_NO_BUILD=1 (cargo does nothing when they
# are current).
build() {
	[[ ${KESTREL_E2E_NO_BUILD:-0} == 1 ]] && return 0
	local args=(build -p kestrel-operator -p kestrel-agent) log t0
	[[ $profile == release ]] && args+=(--release)
	log=$(mktemp /tmp/kestrel-e2e-build.XXXXXX)
	t0=$(date +%s)
	echo "--- cargo ${args[*]}"
	if ! (cd "$repo" && cargo "${args[@]}") >"$log" 2>&1; then
		tail -n 30 "$log"
		rm -f "$log"
		echo "FAIL cargo ${args[*]}"
		exit 1
	fi
	rm -f "$log"
	echo "ok   built in $(($(date +%s) - t0))s"
}

# Only ever against a cluster of e2e/cluster: this script installs cluster-wide objects and runs
# the agent as root. Without one, build first (a cluster would idle meanwhile), then start one.
if [[ -z ${KESTREL_CLUSTER_DIR:-} || ${KUBECONFIG:-} != "$KESTREL_CLUSTER_DIR/kubeconfig" ]]; then
	if [[ ${1:-} == --in-cluster ]]; then
		echo "e2e.sh: KUBECONFIG is not the kubeconfig of an e2e/cluster cluster" >&2
		exit 2
	fi
	build
	KESTREL_E2E_NO_BUILD=1 exec "$repo/e2e/cluster/with-cluster.sh" "$self" --in-cluster
fi
for cmd in kubectl helm python3 curl; do
	command -v "$cmd" >/dev/null 2>&1 || {
		echo "e2e.sh: $cmd is not on PATH" >&2
		exit 2
	}
done

timeout=${KESTREL_E2E_TIMEOUT:-60}
ns=kestrel-e2e
apps=e2e-apps
release=kestrel
chart=${KESTREL_E2E_CHART:-$repo/charts/kestrel}
work=$(mktemp -d /tmp/kestrel-e2e.XXXXXX)
started=$(date +%s%3N)
step_started=$started
operator_pid=""
agent_pid=""
cgroup_dir=""
skipped=()
defects=() # failed assertions that do not stop the scenario; the run still fails at the end

elapsed() { # ms since $1, as seconds with one decimal
	local ms=$(($(date +%s%3N) - $1))
	printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}
step() {
	step_started=$(date +%s%3N)
	printf -- '--- %s\n' "$*"
}
ok() { printf 'ok   %s (%ss)\n' "$*" "$(elapsed "$step_started")"; }
skip() {
	printf 'SKIPPED: %s\n' "$*"
	skipped+=("$*")
}
show() { # show FILE TITLE: last lines of a log
	[[ -s $1 ]] || return 0
	printf -- '---- %s (last 40 lines of %s) ----\n' "$2" "$1"
	tail -n 40 "$1" | sed 's/\x1b\[[0-9;]*m//g'
}
# defect WHAT: a wrong value that later steps do not depend on: reported now, fails the run at
# the end, so one run shows every problem.
defect() {
	printf 'FAIL %s\n' "$*"
	defects+=("$*")
}
fail() {
	printf 'FAIL %s (after %ss)\n' "$*" "$(elapsed "$step_started")"
	show "$work/operator.log" "operator log"
	show "$work/agent.log" "agent log (stderr)"
	show "$work/agent.out" "agent alerts (stdout)"
	exit 1
}

# shellcheck disable=SC2317 # called through the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in $agent_pid $operator_pid; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	if [[ -n $cgroup_dir && -d $cgroup_dir ]]; then
		rmdir "$cgroup_dir" 2>/dev/null || true
		rmdir "${cgroup_dir%/*}" 2>/dev/null || true
	fi
	if [[ $rc -ne 0 && ${KESTREL_KEEP_CLUSTER_LOGS:-0} == 1 ]]; then
		echo "e2e.sh: logs kept in $work"
	else
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

k() { kubectl --request-timeout=20s "$@"; }

# wait_for DESC CMD...: retry CMD (quietly) until it succeeds or $timeout seconds pass.
wait_for() {
	local desc=$1 deadline=$((SECONDS + timeout))
	shift
	until "$@" >"$work/wait.out" 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "last attempt of: $*"
			sed 's/^/  /' "$work/wait.out" | tail -n 20
			fail "timed out after ${timeout}s waiting for $desc"
		fi
		sleep 0.5
	done
}

# jsonpath NS KIND NAME PATH
jsonpath() { k get -n "$1" "$2" "$3" -o "jsonpath=$4"; }

# A kubeconfig for ServiceAccount $1 of $ns: the cluster's server and CA, a fresh token.
sa_kubeconfig() {
	local sa=$1 out="$work/$1.kubeconfig" server ca token
	server=$(k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.server}')
	ca=$(k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}')
	if [[ -z $ca ]]; then
		ca=$(base64 -w0 <"$(k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority}')")
	fi
	token=$(k create token "$sa" -n "$ns" --duration=2h)
	cat >"$out" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: $sa
  user: {token: "$token"}
contexts:
- name: $sa
  context: {cluster: e2e, user: $sa, namespace: $ns}
current-context: $sa
EOF
	chmod 600 "$out"
	printf '%s' "$out"
}

# manifest_args KIND: the container args of the release's KIND, one per line.
manifest_args() {
	python3 - "$work/manifest.yaml" "$1" <<'EOF'
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == sys.argv[2]:
        print("\n".join(doc["spec"]["template"]["spec"]["containers"][0]["args"]))
EOF
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---------------------------------------------------------------------------------------------
step "kestrel-operator and kestrel-agent ($profile)"
build
bin="$repo/target/$profile"
[[ -x $bin/kestrel-operator ]] || fail "$bin/kestrel-operator is not built"
# Private copies: a concurrent cargo build must not swap a binary under a running step.
mkdir -p "$work/bin"
cp "$bin/kestrel-operator" "$work/bin/"
[[ -x $bin/kestrel-agent ]] && cp "$bin/kestrel-agent" "$work/bin/"
ok "binaries from ${bin#"$repo"/}"
bin="$work/bin"

# ---------------------------------------------------------------------------------------------
step "helm install $release ${chart#"$repo"/} -n $ns"
helm install "$release" "$chart" -n "$ns" --create-namespace >"$work/helm-install.txt" 2>&1 ||
	{
		cat "$work/helm-install.txt"
		fail "helm install"
	}
grep -q "kubectl get falcoalerts" "$work/helm-install.txt" || fail "helm install printed no NOTES (kubectl get falcoalerts missing)"
helm get manifest "$release" -n "$ns" >"$work/manifest.yaml"
for crd in falcorules falcoalertsinks falcoalerts; do
	wait_for "CRD $crd.kestrel.dev Established" \
		bash -c "[[ \$(kubectl get crd $crd.kestrel.dev -o 'jsonpath={.status.conditions[?(@.type==\"Established\")].status}') == True ]]"
done
for obj in deployment/kestrel-operator daemonset/kestrel-agent serviceaccount/kestrel-operator serviceaccount/kestrel-agent \
	configmap/kestrel-default-rules service/kestrel-operator-metrics role/kestrel-operator role/kestrel-agent; do
	k get -n "$ns" "$obj" -o name >/dev/null || fail "helm install did not create $obj in $ns"
done
for obj in clusterrole/kestrel-operator clusterrole/kestrel-agent clusterrolebinding/kestrel-operator clusterrolebinding/kestrel-agent; do
	k get "$obj" -o name >/dev/null || fail "helm install did not create $obj"
done
[[ $(jsonpath "$ns" deployment kestrel-operator '{.spec.replicas}') == 2 ]] || fail "operator Deployment does not ask for 2 replicas"
ok "helm install: $(grep -c '^kind:' "$work/manifest.yaml") objects, CRDs established"

# ---------------------------------------------------------------------------------------------
step "docs/examples pass the apiserver's validation (server-side dry run)"
k create namespace "$apps" >/dev/null
for ex in "$repo"/docs/examples/*.yaml; do
	# Into namespaces that exist here; everything else as written.
	python3 -c '
import sys, yaml
d = yaml.safe_load(open(sys.argv[1])); d["metadata"]["namespace"] = sys.argv[2]
print(yaml.safe_dump(d))' "$ex" "$apps" >"$work/example.yaml"
	k apply --dry-run=server -f "$work/example.yaml" >/dev/null 2>"$work/example.err" || {
		cat "$work/example.err"
		fail "${ex#"$repo"/} is rejected by the apiserver"
	}
done
ok "$(find "$repo/docs/examples" -name '*.yaml' | wc -l) examples valid"

# ---------------------------------------------------------------------------------------------
step "kestrel-operator as ServiceAccount $ns/kestrel-operator, with the Deployment's args"
op_kubeconfig=$(sa_kubeconfig kestrel-operator)
# the chart's default rules, which the operator validates FalcoRules after (--base-rules)
mkdir -p "$work/default-rules"
k get -n "$ns" configmap kestrel-default-rules -o json | python3 -c '
import json, os, sys
for name, text in json.load(sys.stdin)["data"].items():
    open(os.path.join(sys.argv[1], name), "w").write(text)' "$work/default-rules"
metrics_port=$(free_port)
mapfile -t op_args < <(manifest_args Deployment | sed -e "s/\$(POD_NAMESPACE)/$ns/g" -e "s/\$(POD_NAME)/kestrel-operator-e2e-0/g" \
	-e "s/^--metrics-addr=.*/--metrics-addr=127.0.0.1:$metrics_port/" \
	-e "s|^--base-rules=/etc/kestrel/rules$|--base-rules=$work/default-rules|")
[[ ${#op_args[@]} -gt 0 ]] || fail "no operator args in the release manifest"
echo "kestrel-operator ${op_args[*]}"
KUBECONFIG=$op_kubeconfig RUST_LOG=info,kestrel_operator=debug "$bin/kestrel-operator" "${op_args[@]}" >"$work/operator.log" 2>&1 &
operator_pid=$!
wait_for "the operator's /healthz" curl -fsS "http://127.0.0.1:$metrics_port/healthz"
wait_for "the operator to lead (kestrel_operator_leader 1)" \
	bash -c "curl -fsS http://127.0.0.1:$metrics_port/metrics | grep -qx 'kestrel_operator_leader 1'"
holder=$(jsonpath "$ns" lease kestrel-operator-leader '{.spec.holderIdentity}')
[[ $holder == kestrel-operator-e2e-0 ]] || fail "leader Lease held by '$holder'"
wait_for "the sinks ConfigMap" k get -n "$ns" configmap kestrel-sinks
ok "operator leads (Lease kestrel-operator-leader), /healthz and /metrics served"

# ---------------------------------------------------------------------------------------------
step "sample FalcoRule config/samples/falcorule-read-passwd.yaml: Accepted, rendered"
applied=$(date +%s%3N)
k apply -n "$ns" -f "$repo/config/samples/falcorule-read-passwd.yaml" >/dev/null
wait_for "FalcoRule read-passwd Accepted=True" \
	bash -c "[[ \$(kubectl get -n $ns falcorule read-passwd -o 'jsonpath={.status.conditions[?(@.type==\"Accepted\")].status}/{.status.conditions[?(@.type==\"Accepted\")].reason}') == True/Valid ]]"
accepted_ms=$(($(date +%s%3N) - applied))
key="$ns.read-passwd.yaml"
wait_for "the rule in ConfigMap kestrel-rules-0 ($key)" \
	bash -c "kubectl get -n $ns configmap kestrel-rules-0 -o json | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"data\"]; assert \"- rule: Read Passwd File\" in d[\"$key\"], d.keys()'"
labels=$(jsonpath "$ns" configmap kestrel-rules-0 '{.metadata.labels.kestrel\.dev/rules}')
[[ $labels == true ]] || fail "kestrel-rules-0 lacks label kestrel.dev/rules=true"
[[ $(jsonpath "$ns" falcorule read-passwd '{.status.rules}') == 1 ]] || fail "status.rules is not 1"
k get -n "$ns" configmap kestrel-default-rules -o name >/dev/null || fail "the operator deleted the chart's default rules ConfigMap"
ok "Accepted in $((accepted_ms))ms, rendered into kestrel-rules-0"

# ---------------------------------------------------------------------------------------------
step "invalid FalcoRule: Accepted=False with line:column, not deployed"
cat >"$work/bad-rule.yaml" <<'EOF'
apiVersion: kestrel.dev/v1alpha1
kind: FalcoRule
metadata:
  name: shadow-typo
spec:
  rules:
    - rule: Read Shadow File
      desc: a typo on the second line of the condition
      condition: |-
        evt.type in (open, openat)
        and fd.nmae = /etc/shadow
      output: "shadow read by %proc.name"
      priority: ERROR
EOF
k apply -n "$ns" -f "$work/bad-rule.yaml" >/dev/null
wait_for "FalcoRule shadow-typo Accepted=False" \
	bash -c "[[ \$(kubectl get -n $ns falcorule shadow-typo -o 'jsonpath={.status.conditions[?(@.type==\"Accepted\")].status}') == False ]]"
k get -n "$ns" falcorule shadow-typo -o json >"$work/bad.json"
python3 - "$work/bad.json" <<'EOF' || fail "the rejected FalcoRule's status is not what a user needs (above)"
import json, sys
st = json.load(open(sys.argv[1]))["status"]
cond = next(c for c in st["conditions"] if c["type"] == "Accepted")
errs = st.get("errors") or []
problems = []
if cond["reason"] != "Invalid":
    problems.append(f"reason {cond['reason']!r}, expected Invalid")
if not errs:
    problems.append("no status.errors")
else:
    e = errs[0]
    # `fd.nmae` starts at line 2, column 5 of the condition.
    if (e.get("line"), e.get("column")) != (2, 5):
        problems.append(f"error at {e.get('line')}:{e.get('column')}, expected 2:5: {e}")
    if "fd.nmae" not in e.get("message", ""):
        problems.append(f"message does not name fd.nmae: {e.get('message')!r}")
    if e.get("name") != "Read Shadow File" or e.get("path") != "spec.rules[0].condition":
        problems.append(f"error does not name the rule and path: {e}")
    print(f"status.errors[0]: {e['path']} {e['line']}:{e['column']}: {e['message']}")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
if k get -n "$ns" configmap kestrel-rules-0 -o json | grep -q 'Read Shadow File'; then
	fail "the invalid FalcoRule was rendered into kestrel-rules-0"
fi
ok "rejected with its position, kept out of the rules ConfigMaps"

# ---------------------------------------------------------------------------------------------
step "FalcoAlertSinks: Ready with its Secret, SecretNotFound in another namespace"
k create secret generic soc-token -n "$ns" --from-literal=token=s3cr3t >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: kestrel.dev/v1alpha1
kind: FalcoAlertSink
metadata: {name: soc, namespace: $ns}
spec:
  type: webhook
  url: http://127.0.0.1:9/alerts
  minimumPriority: warning
  credentials: {secretKeyRef: {name: soc-token, key: token}}
---
apiVersion: kestrel.dev/v1alpha1
kind: FalcoAlertSink
metadata: {name: team, namespace: $apps}
spec:
  type: webhook
  url: http://127.0.0.1:9/team
  credentials: {secretKeyRef: {name: missing-secret, key: token}}
EOF
cond='{.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}'
wait_for "sink $ns/soc Ready=True" bash -c "[[ \$(kubectl get -n $ns falcoalertsink soc -o 'jsonpath=$cond') == True/SinkReady ]]"
wait_for "sink $apps/team Ready=False SecretNotFound" \
	bash -c "[[ \$(kubectl get -n $apps falcoalertsink team -o 'jsonpath=$cond') == False/SecretNotFound ]]"
wait_for "both sinks in kestrel-sinks" \
	bash -c "kubectl get -n $ns configmap kestrel-sinks -o 'jsonpath={.data.sinks\.json}' | python3 -c 'import json,sys; s=json.load(sys.stdin); assert len(s) == 2, s'"
if k get -n "$ns" configmap kestrel-sinks -o yaml | grep -q s3cr3t; then
	fail "a Secret value leaked into the sinks ConfigMap"
fi
# They would send every alert of the next steps to a closed port: remove them, and see the
# sinks ConfigMap emptied.
k delete falcoalertsink -n "$ns" soc >/dev/null
k delete falcoalertsink -n "$apps" team >/dev/null
wait_for "kestrel-sinks to be emptied" \
	bash -c "kubectl get -n $ns configmap kestrel-sinks -o 'jsonpath={.data.sinks\.json}' | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s == [], s'"
ok "sinks checked, rendered without their secrets, removed"

# ---------------------------------------------------------------------------------------------
step "the operator never hit a permission it lacks"
if grep -iE 'forbidden|\b403\b' "$work/operator.log"; then
	fail "the operator's ServiceAccount was refused something (lines above): the chart's RBAC is short"
fi
ok "no forbidden requests in the operator log"

# ---------------------------------------------------------------------------------------------
step "kestrel-agent as ServiceAccount $ns/kestrel-agent: cat /etc/passwd in a pod's cgroup"
agent_ran=0
if [[ ! -x $bin/kestrel-agent ]]; then
	fail "$bin/kestrel-agent is not built"
elif ! "$bin/kestrel-agent" run --help 2>/dev/null | grep -q -- '--kubernetes'; then
	skip "agent has no --kubernetes mode"
elif [[ $(id -u) != 0 ]]; then
	skip "the agent step needs root (the eBPF probe)"
elif ! cg_root=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo) || [[ -z $cg_root ]]; then
	skip "no cgroup v2 hierarchy is mounted"
else
	agent_ran=1
fi

if [[ $agent_ran == 1 ]]; then
	node=$(hostname)
	cid=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
	pod=passwd-reader
	# The Pod as the kubelet would report it: bound to this node, running container with the id.
	k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $pod, namespace: $apps, labels: {app: passwd-reader}}
spec:
  nodeName: $node
  containers:
    - name: reader
      image: docker.io/library/busybox:1.36
      command: [sh, -c, "cat /etc/passwd; sleep 3600"]
EOF
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	k patch pod "$pod" -n "$apps" --subresource=status --type=merge -p "$(
		cat <<EOF
{"status": {"phase": "Running", "podIP": "10.244.0.10", "hostIP": "127.0.0.1", "startTime": "$now",
 "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "$now"}],
 "containerStatuses": [{"name": "reader", "ready": true, "started": true, "restartCount": 0,
   "image": "docker.io/library/busybox:1.36",
   "imageID": "docker.io/library/busybox@sha256:$(printf '%064d' 0)",
   "containerID": "containerd://$cid", "state": {"running": {"startedAt": "$now"}}}]}}
EOF
	)" >/dev/null
	[[ $(jsonpath "$apps" pod "$pod" '{.status.containerStatuses[0].containerID}') == "containerd://$cid" ]] ||
		fail "the Pod's status patch did not stick"
	cgroup_dir="$cg_root/kestrel-e2e-$$.slice/cri-containerd-$cid.scope"
	mkdir -p "$cgroup_dir"

	# The chart's default rules as the DaemonSet mounts them, from the ConfigMap in the cluster.
	mkdir -p "$work/default-rules"
	k get -n "$ns" configmap kestrel-default-rules -o json | python3 -c '
import json, os, sys
for name, text in json.load(sys.stdin)["data"].items():
    open(os.path.join(sys.argv[1], name), "w").write(text)' "$work/default-rules"
	agent_kubeconfig=$(sa_kubeconfig kestrel-agent)
	mapfile -t agent_args < <(manifest_args DaemonSet | sed -e "s/\$(POD_NAMESPACE)/$ns/g" -e "s/\$(NODE_NAME)/$node/g" \
		-e 's|^--host-root=.*|--host-root=/|' -e "s|^--rules=/etc/kestrel/rules$|--rules=$work/default-rules|")
	agent_args+=(--stats-interval 5)
	echo "kestrel-agent ${agent_args[*]}"
	KUBECONFIG=$agent_kubeconfig KESTREL_LOG=info,kestrel_agent=debug KESTREL_HOSTNAME=$node \
		"$bin/kestrel-agent" "${agent_args[@]}" >"$work/agent.out" 2>"$work/agent.log" &
	next_read=0
	agent_pid=$!
	deadline=$((SECONDS + timeout))
	until grep -q 'watching syscalls' "$work/agent.log"; do
		kill -0 "$agent_pid" 2>/dev/null || fail "the agent exited before attaching the probe"
		((SECONDS < deadline)) || fail "the agent did not attach the probe within ${timeout}s"
		sleep 0.2
	done
	hash=$(jsonpath "$ns" configmap kestrel-rules-0 '{.metadata.annotations.kestrel\.dev/content-hash}')
	wait_for "the agent's Lease kestrel-agent-$node to report rules hash ${hash:0:12}" \
		bash -c "[[ \$(kubectl get -n $ns lease kestrel-agent-$node -o 'jsonpath={.metadata.annotations.kestrel\.dev/loaded-rules-hash}') == $hash ]]"
	wait_for "FalcoRule read-passwd Loaded=True" \
		bash -c "[[ \$(kubectl get -n $ns falcorule read-passwd -o 'jsonpath={.status.conditions[?(@.type==\"Loaded\")].status}') == True ]]"
	loaded_msg=$(jsonpath "$ns" falcorule read-passwd '{.status.conditions[?(@.type=="Loaded")].message}')
	echo "Loaded: $loaded_msg"
	# The agent learns the pod from its watch: wait until it has seen the container id before the
	# syscall (a real kubelet reports the id before the container's process starts too).
	sleep 1

	alert_sel='{range .items[?(@.spec.pod=="'$pod'")]}{.metadata.name} {.spec.rule} {.spec.count}{"\n"}{end}'
	has_alert() { k get falcoalerts -n "$apps" -o "jsonpath=$alert_sel" | grep -q ' Read Passwd File '; }
	# One read, then another every 10 s: on a loaded host the kernel ring buffer may drop the
	# event (counted: kernel_ringbuf_full in the agent's counters), which is not what this checks.
	reads=0
	deadline=$((SECONDS + timeout))
	until has_alert; do
		if ((reads == 0 || SECONDS >= next_read)); then
			((SECONDS < deadline)) || fail "no FalcoAlert naming pod $apps/$pod within ${timeout}s of $reads reads"
			triggered=$(date +%s%3N)
			sh -c 'echo 0 >"$1/cgroup.procs" && exec cat /etc/passwd' sh "$cgroup_dir" >/dev/null
			reads=$((reads + 1))
			next_read=$((SECONDS + 10))
		fi
		sleep 0.2
	done
	alert_ms=$(($(date +%s%3N) - triggered))
	if ((reads > 1)); then
		echo "note: the alert came after $reads reads; the agent's counters:"
		grep 'counters' "$work/agent.log" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g'
	fi
	alert=$(k get falcoalerts -n "$apps" -o "jsonpath=$alert_sel" | awk '/ Read Passwd File / { print $1; exit }')
	k get falcoalert -n "$apps" "$alert" -o json >"$work/alert.json"
	python3 - "$work/alert.json" "$node" "$cid" "$ns" <<'EOF' || defect "FalcoAlert $apps/$alert: fields above are wrong"
import json, sys
a = json.load(open(sys.argv[1]))
spec, node, cid, install = a["spec"], sys.argv[2], sys.argv[3], sys.argv[4]
want = {
    "rule": "Read Passwd File", "priority": "Warning", "node": node, "namespace": "e2e-apps",
    "pod": "passwd-reader",
}
problems = [f"spec.{k} = {spec.get(k)!r}, expected {v!r}" for k, v in want.items() if spec.get(k) != v]
if not (spec.get("container") or {}).get("id") or not cid.startswith(spec["container"]["id"]):
    problems.append(f"spec.container.id {spec.get('container')} is not a prefix of {cid}")
if (spec.get("process") or {}).get("name") != "cat":
    problems.append(f"spec.process {spec.get('process')} is not cat")
if "/etc/passwd" not in spec.get("output", "") or "pod=passwd-reader" not in spec.get("output", ""):
    problems.append(f"spec.output {spec.get('output')!r} does not name the file and the pod")
if spec.get("falcoRule") != {"namespace": install, "name": "read-passwd"}:
    problems.append(f"spec.falcoRule {spec.get('falcoRule')} is not {install}/read-passwd")
print(f"FalcoAlert {a['metadata']['namespace']}/{a['metadata']['name']}: {spec.get('output')!r} count={spec.get('count')}")
for p in problems:
    print("  " + p)
sys.exit(1 if problems else 0)
EOF
	ev_sel='{range .items[?(@.involvedObject.name=="'$pod'")]}{.type} {.reason}: {.message}{"\n"}{end}'
	wait_for "an Event on pod $apps/$pod" bash -c "kubectl get events -n $apps -o 'jsonpath=$ev_sel' | grep -q 'passwd file read'"
	k get events -n "$apps" -o "jsonpath=$ev_sel" | grep 'passwd file read' | head -n 1
	grep -q 'passwd file read.*pod=passwd-reader' "$work/agent.out" || fail "the agent printed no alert line naming the pod"

	# More reads are aggregated into the same FalcoAlert (again one every 10 s until one is seen).
	count_of() { k get falcoalert -n "$apps" "$alert" -o 'jsonpath={.spec.count}'; }
	before=$(count_of)
	next_read=0
	deadline=$((SECONDS + timeout))
	until (($(count_of) > before)); do
		if ((SECONDS >= next_read)); then
			((SECONDS < deadline)) || fail "FalcoAlert $alert still counts $before ${timeout}s after more reads"
			sh -c 'echo 0 >"$1/cgroup.procs" && exec cat /etc/passwd' sh "$cgroup_dir" >/dev/null
			next_read=$((SECONDS + 10))
		fi
		sleep 0.2
	done
	n=$(k get falcoalerts -n "$apps" -o "jsonpath=$alert_sel" | grep -c ' Read Passwd File ')
	((n == 1)) || defect "$n FalcoAlerts for one rule, pod and container: they should aggregate into one"
	if grep -iE 'forbidden|\b403\b' "$work/agent.log"; then
		fail "the agent's ServiceAccount was refused something (lines above): the chart's RBAC is short"
	fi
	ok "FalcoAlert $alert and an Event on the pod ${alert_ms}ms after cat; aggregated; no forbidden requests"
fi

# ---------------------------------------------------------------------------------------------
step "helm upgrade (agent.json=true) and helm uninstall"
helm upgrade "$release" "$chart" -n "$ns" --set agent.json=true >/dev/null 2>"$work/helm.err" || {
	cat "$work/helm.err"
	fail "helm upgrade"
}
manifest_args_json=$(k get -n "$ns" daemonset kestrel-agent -o 'jsonpath={.spec.template.spec.containers[0].args}')
[[ $manifest_args_json == *'"--json"'* ]] || fail "helm upgrade --set agent.json=true did not add --json: $manifest_args_json"
helm uninstall "$release" -n "$ns" >/dev/null 2>"$work/helm.err" || {
	cat "$work/helm.err"
	fail "helm uninstall"
}
for obj in deployment/kestrel-operator daemonset/kestrel-agent serviceaccount/kestrel-operator configmap/kestrel-default-rules; do
	wait_for "$obj to be deleted" bash -c "! kubectl get -n $ns $obj -o name 2>/dev/null | grep -q ."
done
k get crd falcorules.kestrel.dev -o name >/dev/null || fail "helm uninstall deleted the CRDs (Helm keeps them, and with them the users' FalcoRules)"
k get -n "$ns" falcorule read-passwd -o name >/dev/null || fail "the FalcoRules went with the release"
ok "upgrade applied, uninstall removed the release and kept the CRDs and FalcoRules"

total=$(elapsed "$started")
if [[ ${#defects[@]} -gt 0 ]]; then
	printf 'e2e: FAILED after %ss: %s\n' "$total" "${defects[*]}"
	show "$work/agent.log" "agent log (stderr)"
	exit 1
fi
if [[ ${#skipped[@]} -gt 0 ]]; then
	printf 'e2e: passed in %ss, with SKIPPED steps: %s\n' "$total" "${skipped[*]}"
else
	printf 'e2e: all steps passed in %ss\n' "$total"
fi
