#!/usr/bin/env bash
# `make fuzz`: run each cargo-fuzz target of engine/fuzz for FUZZ_SECONDS (default 60) seconds.
# Works on stable Rust: cargo-fuzz is installed (pinned) when missing, the targets are built with
# RUSTC_BOOTSTRAP=1 and without a sanitizer (the engine has no unsafe code; a panic is the bug
# being looked for). Seeds: our default rules and the upstream stable rules for the YAML target,
# their conditions for the condition target. A crash leaves its input in engine/fuzz/artifacts/
# and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
CARGO_FUZZ_VERSION=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
	echo "fuzz: installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
	cargo install -q --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

corpus=engine/fuzz/corpus
mkdir -p "$corpus/rules_yaml" "$corpus/condition"
seeds=(config/rules/*.yaml config/samples/falco-customrules.yaml)
for stable in ../shared/corpus/falco-rules/falco_rules.yaml /work/shared/corpus/falco-rules/falco_rules.yaml; do
	if [[ -f $stable ]]; then
		seeds+=("$stable")
		break
	fi
done
for f in "${seeds[@]}"; do
	cp "$f" "$corpus/rules_yaml/seed-$(basename "$f")"
	# one seed per condition line of the file
	grep -E '^\s+condition:' "$f" | sed -E 's/^\s+condition:\s*>?\s*//' | grep -v '^$' |
		while IFS= read -r c; do
			printf '%s' "$c" >"$corpus/condition/seed-$(printf '%s' "$c" | sha1sum | cut -c1-16)"
		done
done

log=$(mktemp /tmp/kestrel-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
for target in rules_yaml condition; do
	echo "== fuzz $target for ${SECONDS_EACH}s"
	rc=0
	(cd engine && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$target" "fuzz/corpus/$target" -- \
		-max_total_time="$SECONDS_EACH" -print_final_stats=1) >"$log" 2>&1 || rc=$?
	grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb|thread .* panicked|SUMMARY|Test unit written)' "$log" || true
	if [[ $rc != 0 ]]; then
		tail -n 40 "$log" >&2
		echo "fuzz: $target failed (exit $rc); crashing inputs are in engine/fuzz/artifacts/$target/" >&2
		exit 1
	fi
done
echo "fuzz: no crash"
