#!/usr/bin/env python3
"""Assertions on the manifests `helm template` renders from charts/kestrel.

Usage: chart_assert.py VALUE_SET NAMESPACE RENDERED.yaml
VALUE_SET is one of the sets chart-check.sh renders (default, all-switches, no-rules); each has
its own expectations. Prints one line per failed assertion and exits 1, or prints a summary.
"""

import glob
import os
import sys

import yaml

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
# Flags the agent's Kubernetes mode is started with (node-agent `run --kubernetes`).
AGENT_FLAGS = ["run", "--kubernetes", "--namespace=$(POD_NAMESPACE)", "--node-name=$(NODE_NAME)", "--host-root=/host"]

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def rules_of(objs, kind, name):
    for o in objs:
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o.get("rules", [])
    return None


def grants(rules, group, resource, verb):
    return any(
        group in r.get("apiGroups", []) and resource in r.get("resources", []) and verb in r.get("verbs", [])
        for r in rules or []
    )


def main():
    value_set, namespace, path = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(path) as f:
        objs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for o in objs:
        check(all(k in o for k in ("apiVersion", "kind", "metadata")), f"object without apiVersion/kind/metadata: {o}")
        by_kind.setdefault(o["kind"], []).append(o)
        name = o["metadata"].get("name", "")
        check(0 < len(name) <= 63 or o["kind"] == "CustomResourceDefinition", f"{o['kind']} name {name!r} is empty or over 63 characters")
        if o["kind"] not in CLUSTER_SCOPED:
            check(o["metadata"].get("namespace") == namespace, f"{o['kind']}/{name} is not in the release namespace {namespace}")
        labels = o["metadata"].get("labels") or {}
        if o["kind"] != "CustomResourceDefinition":
            check(labels.get("app.kubernetes.io/part-of") == "kestrel", f"{o['kind']}/{name} lacks app.kubernetes.io/part-of=kestrel")
        # The operator deletes labelled rules ConfigMaps it did not render.
        check("kestrel.dev/rules" not in labels, f"{o['kind']}/{name} carries kestrel.dev/rules, which the operator owns")

    prefix = "sec" if value_set == "all-switches" else "kestrel"

    # CRDs: the chart ships exactly the repo's.
    crds = {c["metadata"]["name"] for c in by_kind.get("CustomResourceDefinition", [])}
    want_crds = set()
    for f in glob.glob(os.path.join(REPO, "crds", "*.yaml")):
        with open(f) as fh:
            want_crds.add(yaml.safe_load(fh)["metadata"]["name"])
    check(crds == want_crds, f"CRDs rendered {sorted(crds)}, crds/ has {sorted(want_crds)}")

    deployments = by_kind.get("Deployment", [])
    daemonsets = by_kind.get("DaemonSet", [])
    if not (check(len(deployments) == 1, "expected one Deployment") and check(len(daemonsets) == 1, "expected one DaemonSet")):
        return report(value_set, objs)
    op, ds = deployments[0], daemonsets[0]
    op_pod, ds_pod = op["spec"]["template"]["spec"], ds["spec"]["template"]["spec"]
    op_c, ds_c = op_pod["containers"][0], ds_pod["containers"][0]

    # Operator.
    env = {e["name"]: e for e in op_c.get("env", [])}
    check(env.get("POD_NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace", "operator POD_NAMESPACE is not from metadata.namespace")
    check(env.get("POD_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name", "operator POD_NAME is not from metadata.name")
    check("--namespace=$(POD_NAMESPACE)" in op_c["args"] and "--identity=$(POD_NAME)" in op_c["args"], f"operator args lack namespace/identity: {op_c['args']}")
    check(op_c["livenessProbe"]["httpGet"]["path"] == "/healthz", "operator liveness probe is not /healthz")
    check(op_c["securityContext"].get("readOnlyRootFilesystem") is True, "operator root filesystem is writable")
    check(op_pod["securityContext"].get("runAsNonRoot") is True, "operator may run as root")
    selector = op["spec"]["selector"]["matchLabels"]
    check(all(op["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in selector.items()), "operator selector does not match its pod labels")
    services = by_kind.get("Service", [])
    check(len(services) == 1 and services[0]["spec"]["selector"] == selector, "the metrics Service does not select the operator pods")

    # Agent.
    check(ds_pod.get("hostPID") is True, "agent DaemonSet is not hostPID")
    check(ds_c["args"][: len(AGENT_FLAGS)] == AGENT_FLAGS, f"agent args {ds_c['args']} do not start with {AGENT_FLAGS}")
    ports = {p["name"]: p["containerPort"] for p in ds_c.get("ports", [])}
    if check("metrics" in ports, "agent has no metrics port"):
        check(f"--metrics-addr=0.0.0.0:{ports['metrics']}" in ds_c["args"], f"agent args {ds_c['args']} do not serve metrics on its metrics port {ports['metrics']}")
    for probe, path in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
        get = ds_c.get(probe, {}).get("httpGet", {})
        check(get.get("path") == path and get.get("port") == "metrics", f"agent {probe} is not GET {path} on the metrics port: {get}")
    denv = {e["name"]: e for e in ds_c.get("env", [])}
    check(denv.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName", "agent NODE_NAME is not from spec.nodeName")
    check(denv.get("POD_NAMESPACE", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace", "agent POD_NAMESPACE is not from metadata.namespace")
    mounts = {m["mountPath"]: m for m in ds_c["volumeMounts"]}
    vols = {v["name"]: v for v in ds_pod["volumes"]}
    for mount_path, host_path in [("/host", "/"), ("/sys/kernel/btf", "/sys/kernel/btf"), ("/sys/fs/cgroup", "/sys/fs/cgroup")]:
        m = mounts.get(mount_path)
        if check(m is not None, f"agent does not mount {mount_path}"):
            check(m.get("readOnly") is True, f"agent mount {mount_path} is not read-only")
            check(vols[m["name"]].get("hostPath", {}).get("path") == host_path, f"agent {mount_path} is not hostPath {host_path}")
    check({"operator": "Exists"} in (ds_pod.get("tolerations") or []) or value_set != "default", "agent does not tolerate every taint by default")
    sc = ds_c["securityContext"]
    if value_set == "all-switches":
        check(sc.get("privileged") is False, "agent is privileged with agent.privileged=false")
        check(set(sc["capabilities"]["add"]) == {"BPF", "PERFMON", "SYS_RESOURCE", "SYS_ADMIN", "SYS_PTRACE"}, f"agent capabilities {sc['capabilities']}")
        check("--json" in ds_c["args"], "agent.json=true does not pass --json")
        check("--rules=/etc/kestrel/rules.d" in ds_c["args"] and "/etc/kestrel/rules.d" in mounts, "agent.customRules not mounted and passed")
        check(ds_pod.get("priorityClassName") == "system-node-critical", "agent priorityClassName not set")
        check(op_c["image"].endswith("@sha256:" + "0" * 64), f"operator digest not used: {op_c['image']}")
        check("--log-format=json" in op_c["args"], "operator.logFormat=json not passed")
        check(op["spec"]["replicas"] == 1, "operator.replicas not applied")
        check("PodDisruptionBudget" not in by_kind, "a PodDisruptionBudget with a single replica blocks node drains")
        sm = by_kind.get("ServiceMonitor", [])
        check(len(sm) == 1 and sm[0]["metadata"]["labels"].get("release") == "prometheus", "ServiceMonitor missing or without its labels")
        check(all(o["metadata"].get("labels", {}).get("team") == "security" for o in objs if o["kind"] != "CustomResourceDefinition"), "commonLabels not on every object")
    else:
        check(sc.get("privileged") is True, "agent is not privileged by default")
        check("--json" not in ds_c["args"], "agent passes --json by default")
        check(op["spec"]["replicas"] == 2, "operator does not run 2 replicas by default")
        check("ServiceMonitor" not in by_kind, "a ServiceMonitor is rendered by default")

    # Default rules ConfigMap: byte-identical to config/rules, mounted where --rules points.
    cms = {c["metadata"]["name"]: c for c in by_kind.get("ConfigMap", [])}
    default_cm = f"{prefix}-default-rules"
    if value_set == "no-rules":
        check(default_cm not in cms, "default rules ConfigMap rendered with agent.defaultRules.enabled=false")
        check(not any(a.startswith("--rules") for a in ds_c["args"]), f"agent passes --rules without rules: {ds_c['args']}")
    elif check(default_cm in cms, f"no ConfigMap {default_cm}"):
        data = cms[default_cm]["data"]
        files = sorted(glob.glob(os.path.join(REPO, "config", "rules", "*.y*ml")))
        check(sorted(data) == [os.path.basename(f) for f in files], f"default rules ConfigMap keys {sorted(data)} != config/rules files")
        for f in files:
            with open(f) as fh:
                check(data.get(os.path.basename(f)) == fh.read(), f"default rules ConfigMap {os.path.basename(f)} differs from config/rules")
        check("--rules=/etc/kestrel/rules" in ds_c["args"], "agent does not load /etc/kestrel/rules")
        rules_mount = mounts.get("/etc/kestrel/rules")
        check(rules_mount is not None and vols[rules_mount["name"]]["configMap"]["name"] == default_cm, "default rules ConfigMap not mounted at /etc/kestrel/rules")

    # RBAC.
    if value_set == "no-rules":
        check(not any(k in by_kind for k in ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")), "RBAC rendered with rbac.create=false")
        check(op_pod["serviceAccountName"] == "op", "operator.serviceAccount.name not used")
        check(not any(s["metadata"]["name"] == "op" for s in by_kind.get("ServiceAccount", [])), "ServiceAccount created with create=false")
    else:
        op_cr = rules_of(objs, "ClusterRole", f"{prefix}-operator")
        op_r = rules_of(objs, "Role", f"{prefix}-operator")
        ag_cr = rules_of(objs, "ClusterRole", f"{prefix}-agent")
        ag_r = rules_of(objs, "Role", f"{prefix}-agent")
        for what, rules, group, res, verb in [
            ("operator", op_cr, "kestrel.dev", "falcorules", "watch"),
            ("operator", op_cr, "kestrel.dev", "falcorules/status", "patch"),
            ("operator", op_cr, "kestrel.dev", "falcoalertsinks/status", "patch"),
            ("operator", op_cr, "kestrel.dev", "falcoalerts", "delete"),
            ("operator", op_r, "", "configmaps", "delete"),
            ("operator", op_r, "", "configmaps", "patch"),
            ("operator", op_r, "coordination.k8s.io", "leases", "update"),
            ("agent", ag_cr, "", "pods", "watch"),
            ("agent", ag_cr, "", "events", "create"),
            ("agent", ag_cr, "kestrel.dev", "falcoalerts", "create"),
            ("agent", ag_cr, "kestrel.dev", "falcoalerts", "patch"),
            ("agent", ag_r, "", "configmaps", "watch"),
            ("agent", ag_r, "coordination.k8s.io", "leases", "create"),
        ]:
            check(grants(rules, group, res, verb), f"{what} RBAC does not grant {verb} {group or 'core'}/{res}")
        check(not grants(ag_r, "", "configmaps", "create"), "agent may write ConfigMaps")
        cluster_secrets = grants(op_cr, "", "secrets", "get") and grants(ag_cr, "", "secrets", "get")
        if value_set == "all-switches":
            check(not cluster_secrets, "Secrets readable cluster-wide with rbac.secretsClusterWide=false")
            check(grants(op_r, "", "secrets", "get") and grants(ag_r, "", "secrets", "get"), "install-namespace Secrets not readable")
        else:
            check(cluster_secrets, "Secrets not readable cluster-wide by default")
        for b in by_kind.get("ClusterRoleBinding", []) + by_kind.get("RoleBinding", []):
            subj = b["subjects"][0]
            check(subj["namespace"] == namespace, f"{b['kind']}/{b['metadata']['name']} binds a ServiceAccount of {subj['namespace']}")
            want_sa = op_pod["serviceAccountName"] if b["metadata"]["name"].endswith("-operator") else ds_pod["serviceAccountName"]
            check(subj["name"] == want_sa, f"{b['kind']}/{b['metadata']['name']} binds {subj['name']}, the pods run as {want_sa}")
    return report(value_set, objs)


def report(value_set, objs):
    if problems:
        for p in problems:
            print(p)
        sys.exit(1)
    kinds = {}
    for o in objs:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    print(f"{len(objs)} objects ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), all assertions hold")


if __name__ == "__main__":
    main()
