#!/usr/bin/env bash
# `make bench`: Kestrel's performance figures, each a ratio against a baseline measured in the
# same run on this machine. Needs root (the probe). Prints:
#   1. engine: events/s per core evaluating the upstream stable rules (criterion), vs reading the
#      fields those rules use (the event access alone) and vs an empty rule set
#   2. probe: slowdown of an openat+close loop, nothing attached vs empty probe vs capturing
#   3. agent: slowdown of the same loop with the whole agent attached (default + stable rules),
#      and the agent's memory (RSS)
#   4. replay: events/s of the stable rules over a capture of a busy workload recorded now, vs
#      replaying the same capture through an empty rule set
set -euo pipefail
cd "$(dirname "$0")/.."
N=${BENCH_ITERATIONS:-1000000}
REPS=${BENCH_REPS:-3}
WORK=$(mktemp -d /tmp/kestrel-bench.XXXXXX)
AGENT_PID=""
cleanup() {
	if [[ -n $AGENT_PID ]]; then kill "$AGENT_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

if [[ $(id -u) != 0 ]]; then
	echo "bench: the probe needs root" >&2
	exit 1
fi
stable=${FALCO_RULES:-}
for p in "$stable" ../shared/corpus/falco-rules/falco_rules.yaml /work/shared/corpus/falco-rules/falco_rules.yaml; do
	if [[ -n $p && -f $p ]]; then
		stable=$p
		break
	fi
done
[[ -f $stable ]] || {
	echo "bench: set FALCO_RULES to the upstream falco_rules.yaml" >&2
	exit 1
}

cargo build -q --release -p kestrel-agent --bin kestrel-agent
cargo build -q --release -p kestrel-probe --example overhead
AGENT=target/release/kestrel-agent
LOOP=target/release/examples/overhead

echo "== 1. engine: stable Falco rules, 3 realistic events per iteration (criterion)"
cargo bench -q -p kestrel-engine --bench evaluate -- --noplot >"$WORK/criterion.txt" 2>&1 || true
grep -E "^evaluate/|time:|thrpt:" "$WORK/criterion.txt" || true
# Median time per iteration (3 events) of each benchmark, in ns; events/s per core and the ratio
# of the stable rules to reading the fields they use (the cost of the event access alone).
awk '
	/^evaluate\// { split($1, a, "/"); name = a[2] }
	/time:/ {
		sub(/.*time: *\[/, ""); v = $3; u = $4
		m = (u == "ps") ? 1e-3 : (u == "ns") ? 1 : (u == "µs" || u == "us") ? 1e3 : (u == "ms") ? 1e6 : 1e9
		ns[name] = v * m
	}
	END {
		if (!("stable_rules" in ns)) { print "bench: no criterion figures" > "/dev/stderr"; exit 1 }
		printf "stable rules: %.0f events/s per core (%.0f ns per event); reading the fields they use: %.0f events/s; stable rules cost %.2fx the field reads alone\n", \
			3e9 / ns["stable_rules"], ns["stable_rules"] / 3, 3e9 / ns["extract_fields_used"], ns["stable_rules"] / ns["extract_fields_used"]
	}' "$WORK/criterion.txt"

echo
echo "== 2. probe: $N openat+close, best of $REPS"
"$LOOP" "$N" "$REPS"

loop_ms() { # best of REPS runs of the openat+close loop, in ms (the loop times itself: "pid ns")
	local best="" f="$WORK/loopfile" ns
	echo x >"$f"
	for _ in $(seq "$REPS"); do
		ns=$("$LOOP" --openat-close-loop "$f" "$N" | awk '{print $2}')
		[[ $ns =~ ^[0-9]+$ ]] || {
			echo "bench: the openat+close loop printed no timing" >&2
			exit 1
		}
		if [[ -z $best || $ns -lt $best ]]; then best=$ns; fi
	done
	echo $((best / 1000000))
}

echo
echo "== 3. agent attached (default rules + sample + upstream stable rules)"
base=$(loop_ms)
"$AGENT" run --rules config/rules --rules config/samples/falco-customrules.yaml --rules "$stable" \
	--stats-interval 0 >"$WORK/alerts.txt" 2>"$WORK/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do
	grep -q "watching syscalls" "$WORK/agent.log" 2>/dev/null && break
	sleep 0.2
done
if ! kill -0 "$AGENT_PID" 2>/dev/null; then
	echo "bench: the agent exited:" >&2
	cat "$WORK/agent.log" >&2
	exit 1
fi
with_agent=$(loop_ms)
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PID=""
awk -v b="$base" -v a="$with_agent" -v n="$N" -v rss="$rss_kb" -v hwm="$hwm_kb" 'BEGIN {
	printf "nothing attached : %6d ms  (%.0f ns per openat+close)\n", b, b * 1e6 / n
	printf "agent attached   : %6d ms  (%.0f ns per openat+close)  slowdown %.2fx\n", a, a * 1e6 / n, a / b
	printf "agent memory     : RSS %.1f MiB, peak %.1f MiB\n", rss / 1024, hwm / 1024
}'
grep -E "counters" "$WORK/agent.log" | tail -1 | sed 's/\x1b\[[0-9;]*m//g' || true

echo
echo "== 4. replay: stable rules over a capture of a busy workload"
"$AGENT" capture --output "$WORK/busy.kcap" --duration 6s >"$WORK/capture.txt" 2>"$WORK/capture.log" &
cap=$!
sleep 2.5
(
	find /usr/lib /etc -maxdepth 3 -type f -name '*.conf' -exec cat {} + >/dev/null 2>&1 || true
	for i in $(seq 300); do
		cat /etc/hostname >/dev/null
		ls /tmp >/dev/null
		sh -c 'echo $$ >/dev/null'
		mkdir -p "$WORK/d$i" && rmdir "$WORK/d$i"
	done
	tar cf - /usr/share/doc 2>/dev/null | wc -c >/dev/null
	printf 'int main(void){return 0;}\n' >"$WORK/t.c"
	for i in $(seq 5); do gcc -o "$WORK/t$i" "$WORK/t.c" 2>/dev/null || true; done
	for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/1) 2>/dev/null || true; done
) >/dev/null 2>&1
wait "$cap"
cat "$WORK/capture.txt"
echo "[]" >"$WORK/empty.yaml"
"$AGENT" replay --rules "$WORK/empty.yaml" --events "$WORK/busy.kcap" >/dev/null 2>"$WORK/replay-empty.txt"
"$AGENT" replay --rules "$stable" --events "$WORK/busy.kcap" --rule-matching all >/dev/null 2>"$WORK/replay-stable.txt"
grep replayed "$WORK/replay-empty.txt" | sed 's/^kestrel-agent: /empty rule set : /'
grep replayed "$WORK/replay-stable.txt" | sed 's/^kestrel-agent: /stable rules   : /'
e=$(grep -o '([0-9]* events/s' "$WORK/replay-empty.txt" | tr -dc 0-9)
s=$(grep -o '([0-9]* events/s' "$WORK/replay-stable.txt" | tr -dc 0-9)
awk -v e="$e" -v s="$s" 'BEGIN { printf "stable rules cost %.2fx the empty-rule-set replay (%.0f vs %.0f events/s per core)\n", e / s, s, e }'
