#!/usr/bin/env bash
# Starts a local Kubernetes control plane for Kestrel's tests: etcd, kube-apiserver (RBAC,
# service-account issuer, freshly generated certificates) and kube-controller-manager (namespace
# deletion, garbage collection of ownerReferences, default ServiceAccounts), all on loopback
# with free ports chosen now, so several clusters can run side by side.
#
# Everything lives in the state directory ${KESTREL_CLUSTER_DIR:-/tmp/kestrel-cluster}:
#   kubeconfig          admin kubeconfig (user in group system:masters), certificates embedded
#   env                 `. $dir/env` exports KUBECONFIG and puts kubectl/helm on PATH
#   pki/                CA, serving and client certificates, service-account key pair
#   logs/<name>.log     each process's output;  pids/<name>.pid  their pids
# The processes run in the background; stop them with down.sh. Progress goes to stderr; the
# last line of stdout is the kubeconfig path.
#
# Environment:
#   KESTREL_CLUSTER_DIR       state directory (default /tmp/kestrel-cluster)
#   KESTREL_CLUSTER_TIMEOUT   seconds to wait for each component to become ready (default 90)
#   KESTREL_CACHE_DIR         tool cache (default ~/.cache/kestrel), see tools.sh
#   KESTREL_CLUSTER_CRDS      optional file or directory of CustomResourceDefinitions to apply
#                             before the controller manager starts, so that its garbage collector
#                             knows them from the start (it discovers CRDs created later only
#                             at its next 30 s resync)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -eq 0 ]] || {
	[[ $1 == -h || $1 == --help ]] && {
		sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
	}
	die "up.sh takes no arguments (see --help)"
}

started_at=$(now_ms)
timeout_s=${KESTREL_CLUSTER_TIMEOUT:-90}
[[ $timeout_s =~ ^[0-9]+$ && $timeout_s -gt 0 ]] || die "KESTREL_CLUSTER_TIMEOUT must be a positive number of seconds, got '$timeout_s'"

[[ -z ${KESTREL_CLUSTER_CRDS:-} || -e ${KESTREL_CLUSTER_CRDS:-} ]] ||
	die "KESTREL_CLUSTER_CRDS names '$KESTREL_CLUSTER_CRDS', which does not exist"

for cmd in openssl ss setsid flock curl; do
	command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is needed and not on PATH (Debian packages: openssl, iproute2, util-linux, curl)"
done

# --- tools -----------------------------------------------------------------------------------

"$CLUSTER_SCRIPTS_DIR/tools.sh" >&2 || die "the cluster tools could not be built (see above)"
BIN=$KESTREL_TOOLS_BIN

# --- state directory -------------------------------------------------------------------------

STATE=$KESTREL_CLUSTER_DIR
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
MARKER="$STATE/.kestrel-cluster"
PKI="$STATE/pki"
LOGS="$STATE/logs"
PIDS="$STATE/pids"

if [[ -e $MARKER ]]; then
	for pidfile in "$PIDS"/*.pid; do
		[[ -e $pidfile ]] || continue
		if pid_is_ours "$(<"$pidfile")" "$STATE"; then
			die "a cluster is already running in $STATE (kubeconfig: $STATE/kubeconfig); stop it with e2e/cluster/down.sh or set KESTREL_CLUSTER_DIR to another directory"
		fi
	done
	log "removing the state of a stopped cluster in $STATE"
	find "$STATE" -mindepth 1 -delete
elif [[ -d $STATE && -n $(ls -A "$STATE") ]]; then
	die "$STATE exists, is not empty and is not a Kestrel cluster directory; refusing to use it (set KESTREL_CLUSTER_DIR)"
fi
mkdir -p "$PKI" "$LOGS" "$PIDS" "$STATE/etcd-data"
chmod 700 "$STATE"
printf 'kubernetes=%s etcd=%s started=%s\n' "$KUBERNETES_VERSION" "$ETCD_VERSION" "$(date -u +%FT%TZ)" >"$MARKER"

# From here on, a failure stops whatever this run started; the logs stay for a look and the next
# up.sh or down.sh cleans the directory.
started_names=()
stop_started() {
	local reversed=() i
	for ((i = ${#started_names[@]} - 1; i >= 0; i--)); do reversed+=("${started_names[$i]}"); done
	[[ ${#reversed[@]} -eq 0 ]] || stop_components "$STATE" "${reversed[@]}" || true
}
on_exit() {
	local rc=$?
	if [[ $rc -ne 0 ]]; then
		stop_started
		log "cluster start failed; processes stopped; logs kept in $LOGS (remove with down.sh)"
	fi
}
trap on_exit EXIT

# --- certificates ----------------------------------------------------------------------------

# Runs openssl quietly, showing its output only when it fails.
ossl() {
	local out
	out=$(openssl "$@" 2>&1) || die "openssl $1 failed: $out"
}

# Signs pki/$1.crt with the CA. $2: subject; $3: extensions (openssl x509v3 config lines).
issue_cert() {
	local name=$1 subject=$2 extensions=$3
	ossl genrsa -out "$PKI/$name.key" 2048
	ossl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr"
	printf '%s\n' "$extensions" >"$PKI/$name.ext"
	ossl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 30 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
	rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

generate_pki() {
	local client_ext
	ossl genrsa -out "$PKI/ca.key" 2048
	ossl req -x509 -new -key "$PKI/ca.key" -sha256 -days 30 -subj "/CN=kestrel-e2e-ca" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
		-addext "subjectKeyIdentifier=hash" -out "$PKI/ca.crt"
	issue_cert apiserver "/CN=kube-apiserver" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
authorityKeyIdentifier=keyid"
	client_ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid"
	# The tests' identity: cluster-admin through the system:masters group.
	issue_cert admin "/O=system:masters/CN=kestrel-admin" "$client_ext"
	# kube-controller-manager's own identity, bound by the bootstrap RBAC policy; with
	# --use-service-account-credentials each controller then acts as its own ServiceAccount.
	issue_cert controller-manager "/CN=system:kube-controller-manager" "$client_ext"
	# Service-account token signing key pair.
	ossl genrsa -out "$PKI/sa.key" 2048
	ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"
	chmod 600 "$PKI"/*.key
}

# Writes a kubeconfig with the certificates embedded, so it stays valid when copied.
write_kubeconfig() {
	local file=$1 user=$2 cert=$3 key=$4
	cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kestrel
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 "$cert")
    client-key-data: $(base64 -w0 "$key")
contexts:
- name: kestrel
  context:
    cluster: kestrel
    user: $user
    namespace: default
current-context: kestrel
EOF
	chmod 600 "$file"
}

# --- ports and processes -----------------------------------------------------------------------

chosen_ports=" "
# Sets variable $1 to a free TCP port below the kernel's ephemeral range (so outgoing connections cannot take
# it between now and the bind), not used by any socket and not chosen already in this run. Two
# clusters starting at once may still race for one port: start_component retries on that.
pick_port() {
	local var=$1 low=20000 high port tries
	high=$(($(cut -f1 /proc/sys/net/ipv4/ip_local_port_range) - 1))
	[[ $high -gt $((low + 1000)) ]] || high=32767
	for ((tries = 0; tries < 200; tries++)); do
		port=$((low + (RANDOM * 32768 + RANDOM) % (high - low)))
		[[ $chosen_ports == *" $port "* ]] && continue
		[[ -z $(ss -Htan "( sport = :$port )" 2>/dev/null) ]] || continue
		chosen_ports+="$port "
		printf -v "$var" '%s' "$port"
		return 0
	done
	die "found no free TCP port between $low and $high"
}

# Starts a process in its own session, output to logs/$name.log, pid to pids/$name.pid.
launch() {
	local name=$1 i
	shift
	rm -f "$PIDS/$name.pid"
	# The inner shell writes its own pid, then execs the binary: the pid is the binary's, whether
	# or not setsid had to fork.
	# shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDS/$name.pid" "$@" \
		>"$LOGS/$name.log" 2>&1 </dev/null &
	for ((i = 0; i < 100; i++)); do
		[[ -s $PIDS/$name.pid ]] && break
		sleep 0.05
	done
	[[ -s $PIDS/$name.pid ]] || die "$name did not start; log: $LOGS/$name.log"
	started_names+=("$name")
}

# Waits until "$check" succeeds while the process lives. Returns 0 when ready, 2 when the
# process exited, 1 on timeout.
wait_ready() {
	local name=$1 check=$2 deadline pid
	pid=$(<"$PIDS/$name.pid")
	deadline=$(($(now_ms) + timeout_s * 1000))
	while (($(now_ms) < deadline)); do
		pid_alive "$pid" || return 2
		if $check >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}

# start_component NAME CHECK PREPARE: PREPARE picks ports and sets the command in CMD, then the
# process is launched and CHECK polled. A lost race for a port (address already in use) is retried
# with new ports.
start_component() {
	local name=$1 check=$2 prepare=$3 attempt rc
	for attempt in 1 2 3; do
		$prepare
		launch "$name" "${CMD[@]}"
		rc=0
		wait_ready "$name" "$check" || rc=$?
		[[ $rc -eq 0 ]] && return 0
		if [[ $rc -eq 2 ]] && grep -q 'address already in use' "$LOGS/$name.log" && [[ $attempt -lt 3 ]]; then
			log "$name lost a port to another process; retrying with new ports"
			mv "$LOGS/$name.log" "$LOGS/$name.attempt$attempt.log"
			continue
		fi
		show_log_tail "$LOGS/$name.log"
		if [[ $rc -eq 2 ]]; then
			die "$name exited during startup; log: $LOGS/$name.log"
		fi
		die "$name was not ready after ${timeout_s}s; log: $LOGS/$name.log"
	done
}

# --- etcd ------------------------------------------------------------------------------------------

prepare_etcd() {
	pick_port ETCD_PORT
	pick_port ETCD_PEER_PORT
	rm -rf "$STATE/etcd-data" && mkdir -m 700 "$STATE/etcd-data"
	# Plain HTTP on loopback only; --unsafe-no-fsync: test data, never worth an fsync.
	CMD=("$BIN/etcd"
		--name=kestrel
		--data-dir="$STATE/etcd-data"
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT"
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT"
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT"
		--initial-cluster="kestrel=http://127.0.0.1:$ETCD_PEER_PORT"
		--initial-cluster-state=new
		--unsafe-no-fsync
		--log-level=warn)
}
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }

# --- kube-apiserver ----------------------------------------------------------------------------

prepare_apiserver() {
	pick_port APISERVER_PORT
	CMD=("$BIN/kube-apiserver"
		--etcd-servers="http://127.0.0.1:$ETCD_PORT"
		--bind-address=127.0.0.1
		--advertise-address=127.0.0.1
		--endpoint-reconciler-type=none
		--secure-port="$APISERVER_PORT"
		--cert-dir="$STATE/apiserver-certs"
		--tls-cert-file="$PKI/apiserver.crt"
		--tls-private-key-file="$PKI/apiserver.key"
		--client-ca-file="$PKI/ca.crt"
		--authorization-mode=RBAC
		--anonymous-auth=false
		--service-account-issuer=https://kubernetes.default.svc.cluster.local
		--service-account-key-file="$PKI/sa.pub"
		--service-account-signing-key-file="$PKI/sa.key"
		--service-cluster-ip-range=10.96.0.0/16
		--allow-privileged=true
		--profiling=false
		--v=1)
}
apiserver_ready() {
	curl -fsS --max-time 3 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
		"https://127.0.0.1:$APISERVER_PORT/readyz" | grep -qx ok
}

# --- kube-controller-manager -------------------------------------------------------------------

# Only the controllers that act on API objects alone (no nodes, pods or cloud here):
# namespace deletion, ownerReference garbage collection, default ServiceAccounts, their tokens
# and the kube-root-ca.crt ConfigMap.
readonly KCM_CONTROLLERS=namespace-controller,garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller
prepare_controller_manager() {
	CMD=("$BIN/kube-controller-manager"
		--kubeconfig="$STATE/controller-manager.kubeconfig"
		--controllers="$KCM_CONTROLLERS"
		--use-service-account-credentials=true
		--service-account-private-key-file="$PKI/sa.key"
		--root-ca-file="$PKI/ca.crt"
		--secure-port=0
		--leader-elect=false
		--v=1)
}
default_serviceaccount_exists() {
	"$BIN/kubectl" --kubeconfig="$STATE/kubeconfig" --request-timeout=3s \
		get serviceaccount default --namespace=default -o name
}

# --- bring-up ------------------------------------------------------------------------------------

log "state directory: $STATE"
generate_pki

start_component etcd etcd_healthy prepare_etcd
log "etcd ready on 127.0.0.1:$ETCD_PORT"

start_component kube-apiserver apiserver_ready prepare_apiserver
write_kubeconfig "$STATE/kubeconfig" kestrel-admin "$PKI/admin.crt" "$PKI/admin.key"
write_kubeconfig "$STATE/controller-manager.kubeconfig" system:kube-controller-manager \
	"$PKI/controller-manager.crt" "$PKI/controller-manager.key"
log "kube-apiserver ready on https://127.0.0.1:$APISERVER_PORT"

if [[ -d ${KESTREL_CLUSTER_CRDS:-} && -z $(find "$KESTREL_CLUSTER_CRDS" -maxdepth 1 -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -print -quit) ]]; then
	log "KESTREL_CLUSTER_CRDS: no manifests in $KESTREL_CLUSTER_CRDS, none applied"
elif [[ -n ${KESTREL_CLUSTER_CRDS:-} ]]; then
	crd_out=$("$BIN/kubectl" --kubeconfig="$STATE/kubeconfig" apply --server-side -f "$KESTREL_CLUSTER_CRDS" -o name 2>&1) ||
		die "applying the CRDs in $KESTREL_CLUSTER_CRDS failed: $crd_out"
	crd_names=$(grep -E '^customresourcedefinition' <<<"$crd_out" || true)
	if [[ -n $crd_names ]]; then
		# shellcheck disable=SC2086 # one argument per CRD
		"$BIN/kubectl" --kubeconfig="$STATE/kubeconfig" wait --for=condition=Established \
			--timeout="${timeout_s}s" $crd_names >/dev/null 2>&1 ||
			die "the CRDs in $KESTREL_CLUSTER_CRDS did not become Established in ${timeout_s}s"
	fi
	log "applied $(grep -c . <<<"$crd_names") CRD(s) from $KESTREL_CLUSTER_CRDS"
fi

start_component kube-controller-manager default_serviceaccount_exists prepare_controller_manager
log "kube-controller-manager ready (controllers: $KCM_CONTROLLERS)"

cat >"$STATE/env" <<EOF
# Source this file to use the Kestrel test cluster in $STATE.
export KESTREL_CLUSTER_DIR='$STATE'
export KUBECONFIG='$STATE/kubeconfig'
export KESTREL_TOOLS_BIN='$BIN'
export PATH='$BIN':"\$PATH"
EOF
cat >"$STATE/ports" <<EOF
etcd=$ETCD_PORT
etcd-peer=$ETCD_PEER_PORT
kube-apiserver=$APISERVER_PORT
EOF

log "cluster ready in $((($(now_ms) - started_at) / 1000)).$(((($(now_ms) - started_at) % 1000) / 100)) s; stop it with: KESTREL_CLUSTER_DIR='$STATE' $CLUSTER_SCRIPTS_DIR/down.sh"
printf '%s\n' "$STATE/kubeconfig"
