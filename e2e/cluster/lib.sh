# Shared settings for the e2e/cluster scripts. Sourced, never run.
# shellcheck shell=bash
# The variables below are used by the scripts that source this file.
# shellcheck disable=SC2034

CLUSTER_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOOLS_MODULE_DIR="$CLUSTER_SCRIPTS_DIR/tools"

# shellcheck source-path=SCRIPTDIR source=versions.env
. "$CLUSTER_SCRIPTS_DIR/versions.env"

# Helm's module path carries its major version (helm.sh/helm/v4).
HELM_MODULE="helm.sh/helm/${HELM_VERSION%%.*}"

# Where built tools are cached: outside the repo, one directory per Kubernetes release.
KESTREL_CACHE_DIR=${KESTREL_CACHE_DIR:-"${XDG_CACHE_HOME:-$HOME/.cache}/kestrel"}
KESTREL_TOOLS_DIR="$KESTREL_CACHE_DIR/$KUBERNETES_VERSION"
KESTREL_TOOLS_BIN="$KESTREL_TOOLS_DIR/bin"
KESTREL_TOOLS_LOGS="$KESTREL_TOOLS_DIR/logs"

# Default state directory of a cluster (certificates, kubeconfig, etcd data, logs, pids).
KESTREL_CLUSTER_DIR=${KESTREL_CLUSTER_DIR:-/tmp/kestrel-cluster}

# The binaries the cluster and the tests need, in build order.
KESTREL_TOOLS=(etcd kube-apiserver kube-controller-manager kubectl helm)

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# Prints the last lines of a log file to stderr, framed, so a failure shows its cause.
show_log_tail() {
	local file=$1 lines=${2:-25}
	[[ -f $file ]] || return 0
	printf '%s: ---- last %s lines of %s ----\n' "${0##*/}" "$lines" "$file" >&2
	tail -n "$lines" "$file" >&2
	printf '%s: ----\n' "${0##*/}" >&2
}

# True when the process exists and is not a zombie.
pid_alive() {
	local pid=$1 stat
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) } # the state letter follows the command name in parentheses
	[[ ${stat:0:1} != Z ]]
}

# True when pid is alive and its command line mentions the given marker (guards against a pid
# that was reused by an unrelated process after ours exited). The command line reads empty for a
# moment while a process execs: read it again before saying no.
pid_is_ours() {
	local pid=$1 marker=$2 cmdline try
	for try in 1 2 3; do
		pid_alive "$pid" || return 1
		cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
		if [[ -n $cmdline ]]; then
			[[ $cmdline == *"$marker"* ]]
			return
		fi
		sleep 0.05
	done
	return 1
}

# Seconds since the epoch with millisecond precision, for timings.
now_ms() { date +%s%3N; }

# stop_components STATE_DIR NAME...: stops the named components of the cluster in STATE_DIR one
# after the other, in the order given (clients before the servers they need: a kube-apiserver whose
# etcd is gone can hang in its shutdown), using the pids recorded in STATE_DIR/pids. Only a live
# process whose command line names STATE_DIR is signalled: SIGTERM, then SIGKILL if it is still
# there after KESTREL_STOP_GRACE seconds (default 15). Fails if a process survives SIGKILL.
stop_components() {
	local state=$1 name pid deadline grace_ms=$((${KESTREL_STOP_GRACE:-15} * 1000))
	shift
	for name in "$@"; do
		[[ -s $state/pids/$name.pid ]] || continue
		pid=$(<"$state/pids/$name.pid")
		pid_is_ours "$pid" "$state" || continue
		kill -TERM "$pid" 2>/dev/null || true
		deadline=$(($(now_ms) + grace_ms))
		while pid_is_ours "$pid" "$state" && (($(now_ms) < deadline)); do
			sleep 0.1
		done
		if pid_is_ours "$pid" "$state"; then
			log "$name (pid $pid) ignored SIGTERM for $((grace_ms / 1000)) s; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			deadline=$(($(now_ms) + 5000))
			while pid_is_ours "$pid" "$state" && (($(now_ms) < deadline)); do
				sleep 0.1
			done
			if pid_is_ours "$pid" "$state"; then
				log "$name (pid $pid) survived SIGKILL"
				return 1
			fi
		fi
		log "stopped $name (pid $pid)"
	done
}
