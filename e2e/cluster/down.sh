#!/usr/bin/env bash
# Stops the cluster that up.sh started in ${KESTREL_CLUSTER_DIR:-/tmp/kestrel-cluster} and removes
# that directory. Only processes whose pid up.sh recorded there (and whose command line names that
# directory) are signalled: first SIGTERM, SIGKILL after 15 s (KESTREL_STOP_GRACE). Safe to run twice, or when nothing
# runs.
#
# Usage: down.sh [--keep-logs]   (--keep-logs: stop everything but keep the directory)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
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
stop_components "$STATE" kube-controller-manager kube-apiserver etcd ||
	die "could not stop every process of the cluster in $STATE; its directory is kept"

if [[ $keep -eq 1 ]]; then
	rm -f "$PIDS"/*.pid
	log "processes stopped; state kept in $STATE"
else
	rm -rf -- "$STATE"
	log "removed $STATE"
fi
