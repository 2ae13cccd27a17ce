//! The agent in a cluster, for real: a real kube-apiserver (`make test` starts one), the real probe
//! and kernel. Rules come from ConfigMaps in the operator's format, the pod's container is a cgroup
//! named like containerd's, and the alert comes back as stdout, a FalcoAlert and a pod Event.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn kubectl(args: &[&str]) -> std::process::Output {
    Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl on PATH (make test runs tests inside e2e/cluster/with-cluster.sh)")
}

fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn apply_json(v: &serde_json::Value) {
    let mut child = Command::new("kubectl")
        .args(["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(v.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn poll<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

const CLUSTER_RULE: &str = "- rule: K8s Passwd Read\n  desc: d\n  condition: evt.type in (open, openat, openat2) and fd.name=/etc/passwd and container\n  output: \"k8s passwd read pod=%k8s.pod.name ns=%k8s.ns.name container=%container.name image=%container.image privileged=%container.privileged started=%container.start_ts\"\n  priority: WARNING\n";
const TEAM_RULE: &str = "- rule: Team Passwd Read\n  desc: d\n  condition: evt.type in (open, openat, openat2) and fd.name=/etc/passwd\n  output: \"team rule saw %k8s.pod.name\"\n  priority: NOTICE\n";
const OTHER_RULE: &str = "- rule: Other Team Passwd Read\n  desc: d\n  condition: evt.type in (open, openat, openat2) and fd.name=/etc/passwd\n  output: \"other team rule saw %k8s.pod.name\"\n  priority: NOTICE\n";

#[test]
#[ignore = "needs root, eBPF and a kube-apiserver: make test"]
fn pod_alert_reaches_stdout_falcoalert_and_event() {
    assert!(
        std::env::var_os("KUBECONFIG").is_some(),
        "KUBECONFIG must point at the test cluster (make test)"
    );
    let pid = std::process::id();
    let install_ns = format!("kagent-{pid}");
    let pod_ns = format!("kagent-pods-{pid}");
    let node = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    kubectl_ok(&["create", "namespace", &install_ns]);
    kubectl_ok(&["create", "namespace", &pod_ns]);

    // the operator's render format: one shard, an index, one cluster and two namespaced entries
    let index = serde_json::json!({
        "hash": "h1", "generation": 1, "shards": 1,
        "entries": [
            {"key": "k.passwd.yaml", "shard": 0, "namespace": install_ns, "name": "passwd", "uid": "u1", "generation": 1, "scope": "cluster"},
            {"key": "team.yaml", "shard": 0, "namespace": pod_ns, "name": "team", "uid": "u2", "generation": 1, "scope": "namespace",
             "podSelector": {"matchLabels": {"app": "web"}}},
            {"key": "other.yaml", "shard": 0, "namespace": "someone-else", "name": "other", "uid": "u3", "generation": 1, "scope": "namespace"}
        ]
    });
    apply_json(&serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kestrel-rules-0", "namespace": install_ns,
                     "labels": {"kestrel.dev/rules": "true"},
                     "annotations": {"kestrel.dev/content-hash": "h1", "kestrel.dev/shard": "0/1", "kestrel.dev/render-generation": "1"}},
        "data": {"index.json": index.to_string(), "k.passwd.yaml": CLUSTER_RULE, "team.yaml": TEAM_RULE, "other.yaml": OTHER_RULE}
    }));

    // a pod on this node whose container is our fake cgroup
    let container = FakeContainer::new(0xc4);
    poll(
        "the default ServiceAccount",
        Duration::from_secs(60),
        || {
            kubectl(&["get", "sa", "default", "-n", &pod_ns])
                .status
                .success()
                .then_some(())
        },
    );
    apply_json(&serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": pod_ns, "labels": {"app": "web"}},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": "busybox:1.36", "securityContext": {"privileged": true}}]}
    }));
    let status = serde_json::json!({"status": {"phase": "Running", "podIP": "10.244.0.7", "containerStatuses": [{
        "name": "app", "image": "busybox:1.36", "imageID": "", "ready": true, "restartCount": 0,
        "containerID": format!("containerd://{}", container.id), "state": {"running": {"startedAt": "2026-12-03T10:00:01Z"}}}]}});
    kubectl_ok(&[
        "patch",
        "pod",
        "web-0",
        "-n",
        &pod_ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);

    let mut agent = Agent::start(
        &[default_rules()],
        &[
            "--kubernetes",
            "--namespace",
            &install_ns,
            "--node-name",
            &node,
            "--rule-matching",
            "all",
        ],
    );
    agent
        .wait_for_log(&["namespaced rule sets"], Duration::from_secs(30))
        .expect("cluster rules loaded");

    let st = container
        .command("/bin/cat")
        .arg("/etc/passwd")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let line = agent.expect(
        &[&format!(
            "k8s passwd read pod=web-0 ns={pod_ns} container=app image=busybox:1.36 privileged=true started=1796292001000000000"
        )],
        Duration::from_secs(5),
    );
    assert!(line.contains(": Warning "), "{line}");
    agent.expect(&["Notice team rule saw web-0"], Duration::from_secs(2));
    assert!(
        agent
            .wait_for(&["other team rule saw"], Duration::from_millis(500))
            .is_none(),
        "a namespaced rule of another namespace fired"
    );

    // aggregated FalcoAlert in the pod's namespace
    let alert = poll("the FalcoAlert", Duration::from_secs(20), || {
        let out = kubectl_ok(&["get", "falcoalerts", "-n", &pod_ns, "-o", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["spec"]["rule"] == "K8s Passwd Read")
            .cloned()
    });
    assert_eq!(alert["spec"]["pod"], "web-0");
    assert_eq!(alert["spec"]["namespace"], pod_ns.as_str());
    assert_eq!(alert["spec"]["node"], node.as_str());
    assert_eq!(alert["spec"]["priority"], "Warning");
    assert_eq!(alert["spec"]["container"]["name"], "app");
    assert!(alert["spec"]["count"].as_i64().unwrap() >= 1);
    assert!(
        alert["spec"]["output"]
            .as_str()
            .unwrap()
            .contains("pod=web-0")
    );
    // the FalcoRule it came from, for the FalcoRule's alert counters
    assert_eq!(alert["spec"]["falcoRule"]["namespace"], install_ns.as_str());
    assert_eq!(alert["spec"]["falcoRule"]["name"], "passwd");

    // a second read bumps the count of the same object
    let first_count = alert["spec"]["count"].as_i64().unwrap();
    container
        .command("/bin/cat")
        .arg("/etc/passwd")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    let name = alert["metadata"]["name"].as_str().unwrap().to_owned();
    poll("the count to grow", Duration::from_secs(20), || {
        let out = kubectl_ok(&[
            "get",
            "falcoalert",
            &name,
            "-n",
            &pod_ns,
            "-o",
            "jsonpath={.spec.count}",
        ]);
        (out.trim().parse::<i64>().unwrap_or(0) > first_count).then_some(())
    });

    // an Event on the pod
    let events = poll("the pod Event", Duration::from_secs(20), || {
        let out = kubectl_ok(&[
            "get",
            "events",
            "-n",
            &pod_ns,
            "--field-selector",
            "involvedObject.name=web-0",
            "-o",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let items = v["items"].as_array().unwrap().clone();
        items
            .iter()
            .any(|e| e["reason"] == "K8sPasswdRead")
            .then_some(items)
    });
    let e = events
        .iter()
        .find(|e| e["reason"] == "K8sPasswdRead")
        .unwrap();
    assert_eq!(e["type"], "Warning");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("k8s passwd read pod=web-0")
    );

    // the heartbeat Lease says which rule set this node runs
    let lease = poll("the agent Lease", Duration::from_secs(20), || {
        let out = kubectl(&[
            "get",
            "lease",
            &format!("kestrel-agent-{node}"),
            "-n",
            &install_ns,
            "-o",
            "json",
        ]);
        out.status
            .success()
            .then(|| serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap())
    });
    assert_eq!(
        lease["metadata"]["annotations"]["kestrel.dev/loaded-rules-hash"],
        "h1"
    );

    assert!(agent.stop().success());
    drop(container);
    kubectl(&["delete", "namespace", &install_ns, &pod_ns, "--wait=false"]);
}
