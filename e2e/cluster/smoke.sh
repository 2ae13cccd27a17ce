#!/usr/bin/env bash
# Checks that a cluster from up.sh does what Kestrel's tests rely on. Run it inside one:
#   e2e/cluster/with-cluster.sh e2e/cluster/smoke.sh
# Needs KUBECONFIG, and kubectl and helm on PATH (with-cluster.sh provides all three).
# Each check asserts a value read back from the apiserver; the last line is "N passed, N failed".
set -uo pipefail

[[ -n ${KUBECONFIG:-} ]] || {
	echo "smoke.sh: KUBECONFIG is not set; run it through with-cluster.sh" >&2
	exit 2
}
for cmd in kubectl helm; do
	command -v "$cmd" >/dev/null 2>&1 || {
		echo "smoke.sh: $cmd is not on PATH; run it through with-cluster.sh" >&2
		exit 2
	}
done

ns="kestrel-smoke-$$"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
last_check=$SECONDS

# check NAME EXPECTED COMMAND...: the command's trimmed stdout must equal EXPECTED.
check() {
	local name=$1 want=$2 got
	shift 2
	got=$("$@" 2>"$work/stderr")
	local rc=$?
	if [[ $rc -eq 0 && $got == "$want" ]]; then
		printf 'ok   %s (%ss)\n' "$name" "$((SECONDS - last_check))"
		passed=$((passed + 1))
	else
		printf 'FAIL %s: expected "%s", got "%s" (exit %s) %s\n' "$name" "$want" "$got" "$rc" "$(head -c 400 "$work/stderr")"
		failed=$((failed + 1))
	fi
	last_check=$SECONDS
}

# eventually TIMEOUT NAME EXPECTED COMMAND...: like check, retried until it holds or time is up.
eventually() {
	local timeout=$1 name=$2 want=$3 got deadline
	shift 3
	deadline=$((SECONDS + timeout))
	while :; do
		got=$("$@" 2>/dev/null)
		[[ $got == "$want" ]] && break
		((SECONDS >= deadline)) && break
		sleep 0.5
	done
	check "$name" "$want" printf '%s' "$got"
}

k() { kubectl --request-timeout=10s "$@"; }

check "apiserver version is the pinned release" "$(awk -F= '/^KUBERNETES_VERSION=/ { print $2 }' "$(dirname "$0")/versions.env")" \
	bash -c "kubectl version -o json | sed -nE 's/.*\"gitVersion\": \"([^\"]+)\".*/\1/p' | tail -n1"
check "system namespaces exist" "default kube-node-lease kube-public kube-system" \
	bash -c "kubectl get ns -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | grep -E '^(default|kube-)' | sort | tr '\n' ' ' | sed 's/ \$//'"
check "create namespace" "namespace/$ns" k create namespace "$ns" -o name

check "create ConfigMap" "configmap/settings" k -n "$ns" create configmap settings --from-literal=rules=falco -o name
check "read ConfigMap back" "falco" k -n "$ns" get configmap settings -o 'jsonpath={.data.rules}'

cat >"$work/crd.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.smoke.kestrel.dev
spec:
  group: smoke.kestrel.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
    subresources: {status: {}}
EOF
check "apply CRD" "customresourcedefinition.apiextensions.k8s.io/widgets.smoke.kestrel.dev" k apply -f "$work/crd.yaml" -o name
check "CRD becomes Established" "condition met" \
	bash -c "kubectl wait --for=condition=Established crd/widgets.smoke.kestrel.dev --timeout=30s | sed 's/^[^ ]* //'"
eventually 30 "CRD served by discovery" "widgets" \
	bash -c "kubectl api-resources --api-group=smoke.kestrel.dev -o name | sed 's/\..*//'"
printf 'apiVersion: smoke.kestrel.dev/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\nspec: {size: 3}\n' "$ns" >"$work/w1.yaml"
check "create custom object" "widget.smoke.kestrel.dev/w1" k create -f "$work/w1.yaml" -o name
check "read custom object back" "3" k -n "$ns" get widget w1 -o 'jsonpath={.spec.size}'
printf 'apiVersion: smoke.kestrel.dev/v1\nkind: Widget\nmetadata: {name: bad, namespace: %s}\nspec: {size: 0}\n' "$ns" >"$work/bad.yaml"
check "schema validation rejects size 0" "rejected" \
	bash -c "kubectl create -f '$work/bad.yaml' >/dev/null 2>&1 && echo accepted || echo rejected"

# Garbage collection of ownerReferences (kube-controller-manager).
uid=$(k -n "$ns" get widget w1 -o 'jsonpath={.metadata.uid}')
cat >"$work/child.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: owned-by-w1
  namespace: $ns
  ownerReferences:
  - {apiVersion: smoke.kestrel.dev/v1, kind: Widget, name: w1, uid: "$uid"}
data: {k: v}
EOF
check "create owned ConfigMap" "configmap/owned-by-w1" k create -f "$work/child.yaml" -o name
check "delete owner" 'widget.smoke.kestrel.dev "w1" deleted' bash -c "kubectl -n '$ns' delete widget w1 | sed 's/ from .* namespace//'"
eventually 60 "garbage collector deletes the owned ConfigMap" "gone" \
	bash -c "kubectl -n '$ns' get configmap owned-by-w1 >/dev/null 2>&1 && echo present || echo gone"

# ServiceAccounts, tokens and RBAC.
eventually 30 "default ServiceAccount created in the new namespace" "serviceaccount/default" \
	k -n "$ns" get serviceaccount default -o name
check "RBAC denies the default ServiceAccount" "no" \
	bash -c "kubectl auth can-i list secrets -n '$ns' --as='system:serviceaccount:$ns:default'; true"
token=$(k -n "$ns" create token default --duration=10m)
server=$(k config view --minify -o 'jsonpath={.clusters[0].cluster.server}')
k config view --raw --minify -o 'jsonpath={.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$work/ca.crt"
# Only the token: no kubeconfig, so no client certificate is sent.
check "ServiceAccount token authenticates" "system:serviceaccount:$ns:default" \
	env KUBECONFIG=/dev/null kubectl --server="$server" --certificate-authority="$work/ca.crt" --token="$token" \
	auth whoami -o 'jsonpath={.status.userInfo.username}'
check "ServiceAccount token is denied by RBAC" "forbidden" \
	bash -c "KUBECONFIG=/dev/null kubectl --server='$server' --certificate-authority='$work/ca.crt' --token='$token' -n '$ns' get secrets 2>&1 | grep -qi forbidden && echo forbidden"
eventually 30 "kube-root-ca.crt published" "yes" \
	bash -c "kubectl -n '$ns' get configmap kube-root-ca.crt -o jsonpath='{.data.ca\.crt}' | grep -q 'BEGIN CERTIFICATE' && echo yes"

# Helm against the cluster.
check "helm version" "$(awk -F= '/^HELM_VERSION=/ { print $2 }' "$(dirname "$0")/versions.env")" \
	bash -c "helm version --template '{{.Version}}'"
mkdir -p "$work/chart/templates"
printf 'apiVersion: v2\nname: smoke\nversion: 0.1.0\n' >"$work/chart/Chart.yaml"
printf 'greeting: hello\n' >"$work/chart/values.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-helm}\ndata: {greeting: {{ .Values.greeting | quote }}}\n' \
	>"$work/chart/templates/cm.yaml"
check "helm install" "deployed" \
	bash -c "helm install smoke '$work/chart' -n '$ns' --set greeting=hi -o json | sed -nE 's/.*\"status\":\"([a-z]+)\".*/\1/p' | head -n1"
check "helm-installed ConfigMap" "hi" k -n "$ns" get configmap from-helm -o 'jsonpath={.data.greeting}'
check "helm uninstall" "gone" \
	bash -c "helm uninstall smoke -n '$ns' >/dev/null && kubectl -n '$ns' get configmap from-helm >/dev/null 2>&1 && echo present || echo gone"

# Namespace deletion finishes (namespace controller), taking its objects with it.
k delete customresourcedefinition widgets.smoke.kestrel.dev --wait=false >/dev/null 2>&1
check "delete namespace" "namespace \"$ns\" deleted" k delete namespace "$ns" --wait=false
eventually 60 "namespace deletion completes" "gone" \
	bash -c "kubectl get namespace '$ns' >/dev/null 2>&1 && echo present || echo gone"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
