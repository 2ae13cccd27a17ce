#!/usr/bin/env bash
# Stops the cluster that up.sh started in ${KESTREL_CLUSTER_DIR:-/tmp/kestrel-cluster} and removes
# that directory. Only processes whose pid up.sh recorded there (and whose command line names that
# directory) are signalled: first SIGTERM, SIGKILL after 15 s. Safe to run twice, or when nothing
# runs.
#
# Usage: down.sh [--keep-logs]   (--keep-logs: stop everything but keep the directory)
set -euo pipefail
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

keep=0
for arg in "$@"; do
	case $arg in
	--keep-logs) keep=1 ;;
	-h | --help)
		sed -n '2,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown argument '$arg' (see --help)" ;;
	esac
done

STATE=$KESTREL_CLUSTER_DIR
[[ $STATE == /* ]] || STATE="$PWD/$STATE"
PIDS="$STATE/pids"

if [[ ! -e $STATE ]]; then
	log "no cluster in $STATE: nothing to stop"
	exit 0
fi
[[ -e $STATE/.kestrel-cluster ]] ||
	die "$STATE is not a Kestrel cluster directory (no .kestrel-cluster marker); not touching it"

# Clients before servers: the controller manager, then the apiserver, then etcd.
stop_order=(kube-controller-manager kube-apiserver etcd)
running=()
for name in "${stop_order[@]}"; do
	pidfile="$PIDS/$name.pid"
	[[ -s $pidfile ]] || continue
	pid=$(<"$pidfile")
	if pid_is_ours "$pid" "$STATE"; then
		kill -TERM "$pid" 2>/dev/null || true
		running+=("$name:$pid")
	fi
done

# Wait for each to exit; a process still there after the grace period gets SIGKILL.
grace_ms=15000
for entry in "${running[@]}"; do
	name=${entry%%:*}
	pid=${entry#*:}
	deadline=$(($(now_ms) + grace_ms))
	while pid_is_ours "$pid" "$STATE" && (($(now_ms) < deadline)); do
		sleep 0.1
	done
	if pid_is_ours "$pid" "$STATE"; then
		log "$name (pid $pid) ignored SIGTERM for $((grace_ms / 1000)) s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 50); do
			pid_is_ours "$pid" "$STATE" || break
			sleep 0.1
		done
		pid_is_ours "$pid" "$STATE" && die "$name (pid $pid) survived SIGKILL"
	fi
	log "stopped $name (pid $pid)"
done

if [[ $keep -eq 1 ]]; then
	rm -f "$PIDS"/*.pid
	log "processes stopped; state kept in $STATE"
else
	rm -rf -- "$STATE"
	log "removed $STATE"
fi
