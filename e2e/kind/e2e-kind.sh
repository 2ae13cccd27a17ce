#!/usr/bin/env bash
# Kestrel end to end in a kind cluster, for machines with Docker:
#   kind create cluster → docker build both images → kind load → helm install charts/kestrel →
#   apply the "Read Passwd File" FalcoRule → `cat /etc/passwd` in a busybox pod → wait for the
#   FalcoAlert naming the pod and the Event on it → print them → delete the cluster.
#
# UNTESTED in Kestrel's development environment, which has no Docker: there, the same scenario
# runs against a local control plane with the real binaries on the host (make e2e,
# e2e/local/e2e.sh). Report problems with this script as bugs.
#
# Needs: docker (running, able to run privileged containers), kind >= 0.24, kubectl, helm (v3.8+
# or v4), a Linux kernel >= 5.8 with BTF (/sys/kernel/btf/vmlinux) on the Docker host: the agent
# loads its eBPF probe into the host's kernel through the kind node.
#
# Usage: e2e/kind/e2e-kind.sh
# Environment:
#   KIND_CLUSTER      cluster name (default kestrel-e2e); an existing cluster of that name is reused
#   KIND_NODE_IMAGE   node image (default: kind's own for its version)
#   KEEP_CLUSTER=1    leave the cluster running at the end (default: delete it, even on failure)
#   IMAGE_TAG         tag of the locally built images (default e2e)
#   KESTREL_BTF       BTF file inside the repository, for Docker builders without /sys/kernel/btf
#   TIMEOUT           seconds per wait (default 180)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cluster=${KIND_CLUSTER:-kestrel-e2e}
tag=${IMAGE_TAG:-e2e}
timeout=${TIMEOUT:-180}
ns=kestrel
apps=default
pod=passwd-reader
started=$SECONDS

log() { printf '\n=== %s (%ss)\n' "$*" "$((SECONDS - started))"; }
die() {
	printf 'e2e-kind: FAIL: %s\n' "$*" >&2
	diagnostics
	exit 1
}

for cmd in docker kind kubectl helm; do
	command -v "$cmd" >/dev/null 2>&1 || {
		echo "e2e-kind: $cmd is not installed (needs docker, kind, kubectl, helm)" >&2
		exit 2
	}
done
docker info >/dev/null 2>&1 || {
	echo "e2e-kind: cannot talk to the Docker daemon (is it running? may this user use it?)" >&2
	exit 2
}

created=0
# shellcheck disable=SC2317 # called through the trap
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [[ $created == 1 && ${KEEP_CLUSTER:-0} != 1 ]]; then
		log "kind delete cluster --name $cluster"
		kind delete cluster --name "$cluster" || true
	elif [[ ${KEEP_CLUSTER:-0} == 1 ]]; then
		echo "e2e-kind: cluster $cluster kept: kind delete cluster --name $cluster"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck disable=SC2317 # called from die
diagnostics() {
	kubectl get nodes -o wide 2>/dev/null || return 0
	echo "--- pods in $ns"
	kubectl get pods -n "$ns" -o wide 2>/dev/null || true
	echo "--- operator log"
	kubectl logs -n "$ns" deployment/kestrel-operator --tail=40 2>/dev/null || true
	echo "--- agent logs"
	kubectl logs -n "$ns" daemonset/kestrel-agent --tail=40 --all-containers 2>/dev/null || true
	echo "--- FalcoRules"
	kubectl get falcorules -A -o wide 2>/dev/null || true
}

# wait_until DESC CMD...: retry CMD (a command or a function of this script) until it succeeds or
# $timeout seconds pass.
wait_until() {
	local desc=$1 deadline=$((SECONDS + timeout))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $desc"
		sleep 2
	done
}

log "kind cluster $cluster"
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
	echo "reusing the existing cluster $cluster (it is not deleted at the end)"
else
	args=(create cluster --name "$cluster" --config "$repo/e2e/kind/kind-config.yaml" --wait 180s)
	[[ -n ${KIND_NODE_IMAGE:-} ]] && args+=(--image "$KIND_NODE_IMAGE")
	kind "${args[@]}"
	created=1
fi
kubectl config use-context "kind-$cluster" >/dev/null
kubectl version

log "docker build images (kestrel-operator:$tag, kestrel-agent:$tag)"
docker build -f "$repo/images/operator.Dockerfile" -t "kestrel-operator:$tag" "$repo"
btf_args=()
[[ -n ${KESTREL_BTF:-} ]] && btf_args=(--build-arg "KESTREL_BTF=$KESTREL_BTF")
docker build -f "$repo/images/agent.Dockerfile" "${btf_args[@]}" -t "kestrel-agent:$tag" "$repo"

log "kind load docker-image"
kind load docker-image --name "$cluster" "kestrel-operator:$tag" "kestrel-agent:$tag"

log "helm install kestrel charts/kestrel -n $ns"
helm upgrade --install kestrel "$repo/charts/kestrel" -n "$ns" --create-namespace \
	--set operator.image.repository=kestrel-operator --set "operator.image.tag=$tag" \
	--set operator.image.pullPolicy=Never \
	--set agent.image.repository=kestrel-agent --set "agent.image.tag=$tag" \
	--set agent.image.pullPolicy=Never \
	--wait --timeout "${timeout}s"
kubectl rollout status -n "$ns" deployment/kestrel-operator --timeout "${timeout}s"
kubectl rollout status -n "$ns" daemonset/kestrel-agent --timeout "${timeout}s"
nodes=$(kubectl get nodes --no-headers | wc -l)

log "FalcoRule read-passwd (config/samples/falcorule-read-passwd.yaml)"
kubectl apply -n "$ns" -f "$repo/config/samples/falcorule-read-passwd.yaml"
# condition_is TYPE STATUS: the FalcoRule's condition TYPE has STATUS.
condition_is() {
	[[ $(kubectl get -n "$ns" falcorule read-passwd -o "jsonpath={.status.conditions[?(@.type==\"$1\")].status}") == "$2" ]]
}
wait_until "FalcoRule read-passwd Accepted=True" condition_is Accepted True
wait_until "FalcoRule read-passwd Loaded=True on all $nodes nodes" condition_is Loaded True
kubectl get -n "$ns" falcorules -o wide

log "cat /etc/passwd in pod $apps/$pod"
kubectl delete pod -n "$apps" "$pod" --ignore-not-found --wait=true >/dev/null
# A short sleep first: a real workload's process starts after the kubelet has reported the
# container, and the agent learns the container id from that report.
kubectl run "$pod" -n "$apps" --image=busybox:1.36 --restart=Never -- sh -c 'sleep 3; cat /etc/passwd; sleep 60'
kubectl wait -n "$apps" --for=condition=Ready "pod/$pod" --timeout "${timeout}s"

log "FalcoAlert naming the pod, and the Event"
alerts() {
	kubectl get falcoalerts -n "$apps" -o "jsonpath={range .items[?(@.spec.pod==\"$pod\")]}{.metadata.name} {.spec.rule}{\"\\n\"}{end}"
}
has_alert() { alerts | grep -q ' Read Passwd File$'; }
wait_until "a FalcoAlert of Read Passwd File naming pod $apps/$pod" has_alert
alert=$(alerts | awk '/ Read Passwd File$/ { print $1; exit }')
kubectl get falcoalerts -n "$apps" -o wide
kubectl get falcoalert -n "$apps" "$alert" -o yaml
events() {
	kubectl get events -n "$apps" --field-selector "involvedObject.name=$pod" \
		-o 'jsonpath={range .items[*]}{.type} {.reason} {.message}{"\n"}{end}'
}
has_event() { events | grep -q 'passwd file read'; }
wait_until "an Event on pod $apps/$pod" has_event
events | grep 'passwd file read'
kubectl logs -n "$ns" daemonset/kestrel-agent --all-containers --tail=200 | grep 'passwd file read' | head -n 3 || true

printf '\ne2e-kind: PASSED in %ss: FalcoAlert %s/%s names pod %s\n' "$((SECONDS - started))" "$apps" "$alert" "$pod"
