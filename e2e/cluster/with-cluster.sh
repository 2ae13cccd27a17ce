#!/usr/bin/env bash
# Runs a command against a fresh local cluster: starts one (up.sh), exports KUBECONFIG,
# KESTREL_CLUSTER_DIR and KESTREL_TOOLS_BIN and puts kubectl/helm first on PATH, runs the command,
# and always tears the cluster down (down.sh), on success, failure or interrupt (SIGINT, SIGTERM
# or SIGHUP are passed on to the command as SIGTERM). Exits with the command's exit code (1 when the
# cluster did not start, 128+N after signal N).
#
# Usage: with-cluster.sh CMD [ARGS...]
#   e.g. e2e/cluster/with-cluster.sh cargo test --workspace -- --include-ignored
# The cluster's directory is a new /tmp/kestrel-cluster.XXXXXX unless KESTREL_CLUSTER_DIR is set,
# so it never collides with a cluster started by hand. KESTREL_KEEP_CLUSTER_LOGS=1 keeps the
# directory (logs) after a failed command.
set -euo pipefail
caller_cluster_dir=${KESTREL_CLUSTER_DIR:-} # before lib.sh puts its default in
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ $# -gt 0 ]] || die "usage: with-cluster.sh CMD [ARGS...]"
if [[ $1 == -h || $1 == --help ]]; then
	sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
	exit 0
fi

if [[ -n $caller_cluster_dir ]]; then
	export KESTREL_CLUSTER_DIR=$caller_cluster_dir
else
	KESTREL_CLUSTER_DIR=$(mktemp -d /tmp/kestrel-cluster.XXXXXX)
	export KESTREL_CLUSTER_DIR
fi

cmd_rc=1 # until the command has run: a failed start keeps the logs too with KESTREL_KEEP_CLUSTER_LOGS=1
# shellcheck disable=SC2317 # called through the trap
teardown() {
	local rc=$?
	trap - EXIT INT TERM HUP
	local args=()
	if [[ ${KESTREL_KEEP_CLUSTER_LOGS:-0} == 1 && $cmd_rc -ne 0 ]]; then
		args=(--keep-logs)
	fi
	if [[ -d $KESTREL_CLUSTER_DIR && -z $(ls -A "$KESTREL_CLUSTER_DIR") ]]; then
		rmdir "$KESTREL_CLUSTER_DIR" # up.sh failed before using it
	elif [[ -e $KESTREL_CLUSTER_DIR ]]; then
		"$CLUSTER_SCRIPTS_DIR/down.sh" "${args[@]}" || log "down.sh failed: processes may be left in $KESTREL_CLUSTER_DIR"
	fi
	exit "$rc"
}
trap teardown EXIT
# On a signal, exit with the conventional 128+N: the EXIT trap then tears down.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

kubeconfig=$("$CLUSTER_SCRIPTS_DIR/up.sh" | tail -n1) || die "the cluster did not start (see above)"
export KUBECONFIG=$kubeconfig
export KESTREL_TOOLS_BIN
export PATH="$KESTREL_TOOLS_BIN:$PATH"

log "running: $* (KUBECONFIG=$KUBECONFIG)"
# The command runs as a child that this script waits for, so that a signal sent to this script
# alone (not to its process group) is passed on to the command, and the cluster is torn down
# once the command has exited. Stdin is passed explicitly: interactive commands keep working.
sig_rc=0
# shellcheck disable=SC2317 # called through the traps
pass_on() {
	sig_rc=$1
	kill -TERM "$child" 2>/dev/null || true
}
"$@" <&0 &
child=$!
trap 'pass_on 130' INT
trap 'pass_on 143' TERM
trap 'pass_on 129' HUP
while :; do
	cmd_rc=0
	wait "$child" || cmd_rc=$?
	kill -0 "$child" 2>/dev/null || break # wait was cut short by a signal: wait again
done
[[ $sig_rc -eq 0 ]] || cmd_rc=$sig_rc
exit "$cmd_rc"
