# Kestrel — build, run and test entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
RULES ?= config/rules
AGENT_FLAGS ?=
AGENT := target/release/kestrel-agent

.PHONY: help deps build run validate test test-unit lint fmt bench crds tools cluster-up cluster-down cluster-smoke chart-check docs e2e e2e-kind images fuzz

help: ## list targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: ## install build prerequisites (clang-22, bpftool, libbpf-dev...) when missing
	scripts/install-deps.sh

build: deps ## build every crate (release)
	$(CARGO) build --release --workspace

$(AGENT): FORCE deps
	$(CARGO) build --release -p kestrel-agent

run: $(AGENT) ## run the agent on this host with the default rules, printing alerts (needs root)
	@if [ "$$(id -u)" != 0 ]; then echo "make run: run it as root (the agent needs root or CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (and CAP_SYS_RESOURCE on kernels before 5.11))" >&2; exit 1; fi
	$(AGENT) run --rules $(RULES) --rules config/samples/falco-customrules.yaml $(AGENT_FLAGS)

validate: $(AGENT) ## load and compile the default rules without attaching anything
	$(AGENT) validate --rules $(RULES) --rules config/samples/falco-customrules.yaml

test-unit: ## unit tests only (no root, no cluster)
	$(CARGO) test --workspace

test: deps ## everything: unit, real-kernel probe and agent tests, operator against a real kube-apiserver
	$(CARGO) build --workspace --all-targets
	KESTREL_CLUSTER_CRDS=crds e2e/cluster/with-cluster.sh $(CARGO) test --workspace --no-fail-fast -- --include-ignored --test-threads=2
	e2e/local/chart-check.sh

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: deps ## engine, probe, agent and replay figures, each against a baseline of the same run (root)
	scripts/bench.sh

crds: ## regenerate crds/ from the Rust types
	$(CARGO) run -q -p kestrel-api --bin crdgen

tools: ## build/install kube-apiserver, etcd, kubectl, helm into ~/.cache/kestrel
	e2e/cluster/tools.sh

cluster-up: ## start a local etcd + kube-apiserver + controller-manager, print the kubeconfig path
	KESTREL_CLUSTER_CRDS=crds e2e/cluster/up.sh

cluster-down: ## stop the local control plane
	e2e/cluster/down.sh

cluster-smoke: ## smoke-check a fresh local control plane
	e2e/cluster/with-cluster.sh e2e/cluster/smoke.sh

chart-check: ## lint/render the chart; fail when its CRDs, default rules or docs drift
	e2e/cluster/tools.sh >/dev/null && e2e/local/chart-check.sh

docs: ## regenerate docs/crds.md and the values table of docs/helm.md
	docs/gen-docs.sh

e2e: deps ## the chart in a local control plane + the real operator and agent as its ServiceAccounts (root)
	e2e/local/e2e.sh

e2e-kind: ## the demo in kind (needs Docker, kind, kubectl, helm; untested in our CI)
	e2e/kind/e2e-kind.sh

fuzz: ## run the engine's cargo-fuzz targets for FUZZ_SECONDS each (default 60; stable Rust)
	scripts/fuzz.sh

images: ## build both images (needs Docker)
	docker build -f images/operator.Dockerfile -t kestrel-operator:dev .
	docker build -f images/agent.Dockerfile -t kestrel-agent:dev .

FORCE:
