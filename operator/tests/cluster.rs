//! The operator against a real kube-apiserver: run through
//! `e2e/cluster/with-cluster.sh cargo test -p kestrel-operator -- --include-ignored`.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kestrel_api::contract::{Scope, SinkEntry};
use kestrel_api::{
    FalcoAlert, FalcoAlertSink, FalcoAlertSinkSpec, FalcoAlertSpec, FalcoMacro, FalcoRule,
    FalcoRuleSpec, Priority, SecretKeyRef, SinkCredentials, SinkType,
};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn valid_invalid_fixed_deleted() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    create_namespace(&client, &install).await;
    let op = start(&client, test_config(&install, "op-1"));
    let key = format!("{install}.passwd.yaml");

    // A valid FalcoRule is accepted and deployed.
    let applied = Instant::now();
    let r = apply_rule(
        &client,
        &install,
        "passwd",
        spec_with(vec![rule(
            "Read Passwd File",
            "evt.type in (open, openat) and fd.name = /etc/passwd",
        )]),
    )
    .await;
    assert_eq!(r.metadata.generation, Some(1));
    let yaml = wait_for(Duration::from_secs(30), "the rule in the ConfigMap", || {
        deployed_yaml(&client, &install, &key)
    })
    .await;
    println!(
        "latency apply -> ConfigMap (first rule, cold operator): {:?}",
        applied.elapsed()
    );
    assert!(yaml.contains("- rule: Read Passwd File\n"), "{yaml}");
    assert!(yaml.contains("fd.name = /etc/passwd"), "{yaml}");
    let (r, c) = accepted(&client, &install, "passwd", 1).await;
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "Valid"),
        "{}",
        c.message
    );
    let status = r.status.unwrap();
    assert_eq!(status.rules, Some(1));
    assert_eq!(status.deployed_generation, Some(1));
    let loaded = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Loaded")
        .unwrap();
    assert_eq!(loaded.reason, "NoAgents");
    let (cms, index) = rules_configmaps(&client, &install).await;
    let index = index.unwrap();
    let entry = index.entries.iter().find(|e| e.key == key).unwrap();
    assert_eq!((entry.scope, entry.generation), (Scope::Cluster, 1));
    assert_eq!(status.render_generation, Some(entry.since as i64));

    // A node agent reports through its Lease that it runs this render generation: Loaded=True.
    let now = Timestamp::now();
    let agent_lease = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some("kestrel-agent-node-1".into()),
            labels: Some([("kestrel.dev/agent".to_string(), "true".to_string())].into()),
            annotations: Some(
                [
                    (
                        "kestrel.dev/loaded-render-generation".to_string(),
                        index.generation.to_string(),
                    ),
                    (
                        "kestrel.dev/loaded-rules-hash".to_string(),
                        index.hash.clone(),
                    ),
                    ("kestrel.dev/node".to_string(), "node-1".to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some("kestrel-agent-abcde".into()),
            lease_duration_seconds: Some(60),
            renew_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                now,
            )),
            ..Default::default()
        }),
    };
    Api::<Lease>::namespaced(client.clone(), &install)
        .create(&PostParams::default(), &agent_lease)
        .await
        .unwrap();
    let loaded = wait_for(Duration::from_secs(30), "Loaded=True", || async {
        let r = get_rule(&client, &install, "passwd").await;
        let c = r
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Loaded")?;
        (c.status == "True").then_some(c)
    })
    .await;
    assert_eq!(
        (loaded.reason.as_str(), loaded.message.as_str()),
        ("AllNodesLoaded", "1/1 nodes run it")
    );
    let before: BTreeMap<String, String> = cms
        .iter()
        .map(|cm| (cm.name_any(), cm.resource_version().unwrap()))
        .collect();

    // An invalid edit is rejected with its position; the deployed version stays, untouched.
    let r = apply_rule(
        &client,
        &install,
        "passwd",
        spec_with(vec![rule(
            "Read Passwd File",
            "evt.type in (open, openat) and\n  fd.nmae = /etc/passwd",
        )]),
    )
    .await;
    assert_eq!(r.metadata.generation, Some(2));
    let (r, c) = accepted(&client, &install, "passwd", 2).await;
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "InvalidKeptPrevious"),
        "{}",
        c.message
    );
    assert!(
        c.message.contains("generation 1 stays deployed"),
        "{}",
        c.message
    );
    let status = r.status.unwrap();
    let e = &status.errors[0];
    assert_eq!(e.name.as_deref(), Some("Read Passwd File"));
    assert_eq!(e.path.as_deref(), Some("spec.rules[0].condition"));
    assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e:?}");
    assert!(e.message.contains("fd.nmae"), "{}", e.message);
    println!("status message of the invalid edit: {}", c.message);
    assert_eq!(status.deployed_generation, Some(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cms, _) = rules_configmaps(&client, &install).await;
    let after: BTreeMap<String, String> = cms
        .iter()
        .map(|cm| (cm.name_any(), cm.resource_version().unwrap()))
        .collect();
    assert_eq!(before, after, "an invalid edit wrote no ConfigMap");
    assert_eq!(deployed_yaml(&client, &install, &key).await.unwrap(), yaml);

    // A FalcoRule that never compiled is not deployed at all.
    apply_rule(
        &client,
        &install,
        "broken",
        spec_with(vec![rule("Broken", "evt.type = = open")]),
    )
    .await;
    let (_, c) = accepted(&client, &install, "broken", 1).await;
    assert_eq!((c.status.as_str(), c.reason.as_str()), ("False", "Invalid"));
    assert!(
        deployed_yaml(&client, &install, &format!("{install}.broken.yaml"))
            .await
            .is_none()
    );

    // Fixing the edit deploys it.
    let fixed_at = Instant::now();
    apply_rule(
        &client,
        &install,
        "passwd",
        spec_with(vec![rule(
            "Read Passwd File",
            "evt.type in (open, openat) and fd.name = /etc/shadow",
        )]),
    )
    .await;
    wait_for(
        Duration::from_secs(30),
        "the fixed rule deployed",
        || async {
            deployed_yaml(&client, &install, &key)
                .await
                .filter(|y| y.contains("/etc/shadow"))
        },
    )
    .await;
    println!(
        "latency apply -> ConfigMap (fix of an edit): {:?}",
        fixed_at.elapsed()
    );
    let (_, c) = accepted(&client, &install, "passwd", 3).await;
    assert_eq!(c.reason, "Valid");

    // Deleting removes it.
    Api::<FalcoRule>::namespaced(client.clone(), &install)
        .delete("passwd", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(Duration::from_secs(30), "the rule removed", || async {
        let (_, index) = rules_configmaps(&client, &install).await;
        index
            .filter(|i| i.entries.iter().all(|e| e.key != key))
            .map(|_| ())
    })
    .await;

    op.stop().await;
    cleanup(&client, &[&install]).await;
}

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn namespaced_rule_uses_cluster_macros_and_carries_its_scope() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    let team = unique("team");
    create_namespace(&client, &install).await;
    create_namespace(&client, &team).await;
    let op = start(&client, test_config(&install, "op-1"));

    apply_rule(
        &client,
        &install,
        "base-macros",
        FalcoRuleSpec {
            macros: vec![FalcoMacro {
                name: "open_read".into(),
                condition: Some("evt.type in (open, openat) and evt.is_open_read = true".into()),
                append: None,
                override_: None,
            }],
            ..FalcoRuleSpec::default()
        },
    )
    .await;
    let mut spec = spec_with(vec![rule(
        "Team Reads Passwd",
        "open_read and fd.name = /etc/passwd",
    )]);
    spec.pod_selector = Some(LabelSelector {
        match_labels: Some([("app".to_string(), "web".to_string())].into()),
        match_expressions: None,
    });
    apply_rule(&client, &team, "team-rules", spec).await;
    let (_, c) = accepted(&client, &team, "team-rules", 1).await;
    assert_eq!(c.reason, "Valid", "{}", c.message);

    let key = format!("{team}.team-rules.yaml");
    let index = wait_for(Duration::from_secs(30), "the namespaced entry", || async {
        let (_, index) = rules_configmaps(&client, &install).await;
        index.filter(|i| i.entries.iter().any(|e| e.key == key))
    })
    .await;
    let keys: Vec<&str> = index.entries.iter().map(|e| e.key.as_str()).collect();
    let cluster_key = format!("{install}.base-macros.yaml");
    assert_eq!(
        keys,
        [cluster_key.as_str(), key.as_str()],
        "cluster scope first"
    );
    let e = &index.entries[1];
    assert_eq!(
        (e.scope, e.namespace.as_str()),
        (Scope::Namespace, team.as_str())
    );
    assert_eq!(
        e.pod_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app"],
        "web"
    );
    assert_eq!(index.entries[0].scope, Scope::Cluster);
    assert!(index.entries[0].pod_selector.is_none());

    // A podSelector on a cluster-wide FalcoRule is refused.
    let mut spec = spec_with(vec![rule("Cluster Selected", "open_read")]);
    spec.pod_selector = Some(LabelSelector {
        match_labels: Some([("app".to_string(), "web".to_string())].into()),
        match_expressions: None,
    });
    apply_rule(&client, &install, "selected", spec).await;
    let (_, c) = accepted(&client, &install, "selected", 1).await;
    assert_eq!(c.reason, "InvalidPodSelector", "{}", c.message);

    op.stop().await;
    cleanup(&client, &[&team, &install]).await;
}

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn three_hundred_rules_shard_and_a_restart_writes_nothing() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    let team = unique("team");
    create_namespace(&client, &install).await;
    create_namespace(&client, &team).await;
    let op = start(&client, test_config(&install, "op-1"));

    // 300 FalcoRules of 30 rules each (~10 KiB rendered): about 3 MB of rules.
    let started = Instant::now();
    for i in 0..300 {
        let rules = (0..30)
            .map(|j| {
                rule(
                    &format!("rule {i}-{j} watching a list of sensitive paths"),
                    &format!(
                        "evt.type in (open, openat) and fd.name in (/etc/secret-{i}-{j}, /etc/other-{j}, /var/lib/app-{i}/db, /root/.ssh/id_rsa)"
                    ),
                )
            })
            .collect();
        let ns = if i % 2 == 0 { &install } else { &team };
        apply_rule(&client, ns, &format!("bulk-{i:03}"), spec_with(rules)).await;
    }
    println!("applied 300 FalcoRules in {:?}", started.elapsed());
    let index = wait_for(Duration::from_secs(180), "300 entries deployed", || async {
        let (_, index) = rules_configmaps(&client, &install).await;
        index.filter(|i| {
            i.entries
                .iter()
                .filter(|e| e.namespace == install || e.namespace == team)
                .count()
                == 300
        })
    })
    .await;
    println!(
        "300 FalcoRules deployed {:?} after the first apply, in {} shards",
        started.elapsed(),
        index.shards
    );
    assert!(index.shards >= 3, "{} shards", index.shards);
    let (cms, _) = rules_configmaps(&client, &install).await;
    assert_eq!(cms.len(), index.shards);
    let bytes_total: usize = cms
        .iter()
        .map(|cm| {
            cm.data
                .as_ref()
                .unwrap()
                .values()
                .map(String::len)
                .sum::<usize>()
        })
        .sum();
    println!("{} bytes of rules in {} ConfigMaps", bytes_total, cms.len());
    for cm in &cms {
        let bytes = serde_json::to_vec(cm).unwrap().len();
        assert!(bytes < 1024 * 1024, "{} is {bytes} bytes", cm.name_any());
        println!("{}: {bytes} bytes", cm.name_any());
    }
    for ns in [&install, &team] {
        let rules = wait_for(Duration::from_secs(60), "150 statuses", || async {
            let rules = Api::<FalcoRule>::namespaced(client.clone(), ns)
                .list(&ListParams::default())
                .await
                .ok()?;
            rules
                .items
                .iter()
                .all(|r| {
                    r.status
                        .as_ref()
                        .is_some_and(|s| s.observed_generation == Some(1))
                })
                .then_some(rules)
        })
        .await;
        assert_eq!(rules.items.len(), 150);
        for r in &rules.items {
            let s = r.status.as_ref().unwrap();
            let c = s.conditions.iter().find(|c| c.type_ == "Accepted").unwrap();
            assert_eq!(c.reason, "Valid", "{}: {}", r.name_any(), c.message);
        }
    }

    // Restart: a new operator finds everything in place and writes nothing.
    op.stop().await;
    let before = versions(&client, &install).await;
    let op = start(&client, test_config(&install, "op-2"));
    wait_for(
        Duration::from_secs(60),
        "the new leader's first passes",
        || async {
            (op.metrics.passes("rule") >= 1 && op.metrics.passes("sink") >= 1).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        op.metrics.total_writes(),
        0,
        "writes after a restart:\n{}",
        op.metrics.encode()
    );
    let after = versions(&client, &install).await;
    assert_eq!(before.len(), after.len());
    let changed: Vec<&String> = before.keys().filter(|k| before[*k] != after[*k]).collect();
    assert!(
        changed.is_empty(),
        "objects written after the restart: {changed:?}"
    );
    println!(
        "restart: 0 writes, {} resourceVersions unchanged",
        before.len()
    );

    op.stop().await;
    cleanup(&client, &[&team, &install]).await;
}

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn reconcile_latency() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    create_namespace(&client, &install).await;
    let op = start(&client, test_config(&install, "op-1"));
    // Warm up: the operator is leading and has done its first pass.
    wait_for(Duration::from_secs(30), "the first pass", || async {
        (op.metrics.passes("rule") >= 1).then_some(())
    })
    .await;
    let mut samples = Vec::new();
    for i in 0..20 {
        let key = format!("{install}.lat-{i}.yaml");
        let t = Instant::now();
        apply_rule(
            &client,
            &install,
            &format!("lat-{i}"),
            spec_with(vec![rule(
                &format!("Latency {i}"),
                "evt.type = open and fd.name = /etc/hosts",
            )]),
        )
        .await;
        wait_for(Duration::from_secs(30), "the rule deployed", || {
            deployed_yaml(&client, &install, &key)
        })
        .await;
        samples.push(t.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "reconcile latency apply -> ConfigMap over {} applies: min {:.0} ms, median {:.0} ms, p90 {:.0} ms, max {:.0} ms (debounce {:?}, polled every 10 ms)",
        samples.len(),
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 9 / 10]),
        ms(samples[samples.len() - 1]),
        test_config(&install, "x").debounce,
    );
    assert!(samples[samples.len() / 2] < Duration::from_secs(5));
    op.stop().await;
    cleanup(&client, &[&install]).await;
}

/// resourceVersions of the install namespace's ConfigMaps and of every FalcoRule.
async fn versions(client: &Client, install: &str) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    for cm in Api::<ConfigMap>::namespaced(client.clone(), install)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        v.insert(
            format!("cm/{}", cm.name_any()),
            cm.resource_version().unwrap(),
        );
    }
    for r in Api::<FalcoRule>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        v.insert(
            format!("rule/{}/{}", r.namespace().unwrap(), r.name_any()),
            r.resource_version().unwrap(),
        );
    }
    v
}

fn slack_sink(secret: &str) -> FalcoAlertSinkSpec {
    FalcoAlertSinkSpec {
        type_: SinkType::Slack,
        url: None,
        path: None,
        address: None,
        protocol: None,
        credentials: Some(SinkCredentials {
            secret_key_ref: SecretKeyRef {
                name: secret.into(),
                key: "webhook-url".into(),
            },
            header: None,
        }),
        minimum_priority: Some("Warning".into()),
        filters: None,
        headers: None,
        tls: None,
    }
}

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn sink_secrets_never_reach_a_configmap() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    let team = unique("team");
    create_namespace(&client, &install).await;
    create_namespace(&client, &team).await;
    let op = start(&client, test_config(&install, "op-1"));
    let secret_value = "https://hooks.slack.example/services/T000/B000/very-secret-token-4242";
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &team);
    let secret = |name: &str| Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        string_data: Some([("webhook-url".to_string(), secret_value.to_string())].into()),
        ..Default::default()
    };
    secrets
        .create(&PostParams::default(), &secret("slack"))
        .await
        .unwrap();

    let sinks: Api<FalcoAlertSink> = Api::namespaced(client.clone(), &team);
    let apply_sink = |name: &'static str, spec: FalcoAlertSinkSpec| {
        let sinks = sinks.clone();
        async move {
            sinks
                .patch(
                    name,
                    &PatchParams::apply("kestrel-tests").force(),
                    &Patch::Apply(&FalcoAlertSink::new(name, spec)),
                )
                .await
                .unwrap()
        }
    };
    apply_sink("slack", slack_sink("slack")).await;
    apply_sink("missing", slack_sink("not-yet")).await;
    let ready = |name: &'static str| {
        let sinks = sinks.clone();
        async move {
            wait_for(
                Duration::from_secs(30),
                "the sink's Ready condition",
                || async {
                    let s = sinks.get(name).await.ok()?;
                    let c = s
                        .status?
                        .conditions
                        .into_iter()
                        .find(|c| c.type_ == "Ready")?;
                    Some(c)
                },
            )
            .await
        }
    };
    let c = ready("slack").await;
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("True", "SinkReady"),
        "{}",
        c.message
    );
    let c = ready("missing").await;
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        ("False", "SecretNotFound")
    );
    assert!(c.message.contains("not-yet"), "{}", c.message);

    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), &install);
    let entries: Vec<SinkEntry> =
        wait_for(Duration::from_secs(30), "both sinks rendered", || async {
            let cm = cm_api.get("kestrel-sinks").await.ok()?;
            let entries: Vec<SinkEntry> = serde_json::from_str(cm.data?.get("sinks.json")?).ok()?;
            (entries.len() == 2).then_some(entries)
        })
        .await;
    let slack = entries.iter().find(|e| e.name == "slack").unwrap();
    assert_eq!(slack.scope, Scope::Namespace);
    assert_eq!(slack.minimum_priority, "warning");
    let r = slack.secret_ref.as_ref().unwrap();
    assert_eq!(
        (r.namespace.as_str(), r.name.as_str(), r.key.as_str()),
        (team.as_str(), "slack", "webhook-url")
    );
    // The value is in no ConfigMap of the install namespace.
    for cm in cm_api.list(&ListParams::default()).await.unwrap().items {
        let text = serde_json::to_string(&cm).unwrap();
        assert!(
            !text.contains("very-secret-token"),
            "{} holds the secret",
            cm.name_any()
        );
    }

    // The missing Secret appears: the sink becomes ready without any edit.
    secrets
        .create(&PostParams::default(), &secret("not-yet"))
        .await
        .unwrap();
    wait_for(
        Duration::from_secs(30),
        "the sink ready after its Secret appeared",
        || async {
            let s = sinks.get("missing").await.ok()?;
            let c = s
                .status?
                .conditions
                .into_iter()
                .find(|c| c.type_ == "Ready")?;
            (c.status == "True").then_some(())
        },
    )
    .await;

    op.stop().await;
    cleanup(&client, &[&team, &install]).await;
}

fn alert(rule: &str, pod: &str, last_seen: Timestamp, source_ns: &str) -> FalcoAlertSpec {
    FalcoAlertSpec {
        rule: rule.into(),
        priority: Priority::Warning,
        output: format!("{rule} in {pod}"),
        output_fields: [("proc.name".to_string(), "cat".to_string())].into(),
        tags: vec![],
        source: Some("syscall".into()),
        falco_rule: Some(kestrel_api::FalcoRuleRef {
            namespace: source_ns.into(),
            name: "passwd".into(),
        }),
        node: "node-1".into(),
        namespace: None,
        pod: Some(pod.into()),
        container: None,
        process: None,
        count: 1,
        first_seen: Time(last_seen),
        last_seen: Time(last_seen),
    }
}

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn alerts_are_collected_by_retention_and_cap() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    let team = unique("team");
    create_namespace(&client, &install).await;
    create_namespace(&client, &team).await;
    apply_rule(
        &client,
        &install,
        "passwd",
        spec_with(vec![rule("Read Passwd File", "evt.type = open")]),
    )
    .await;
    let alerts: Api<FalcoAlert> = Api::namespaced(client.clone(), &team);
    let now = Timestamp::now();
    let ago = |mins: i64| now - SignedDuration::from_mins(mins);
    // One past the 1 h retention; five recent ones, two above the cap of 3.
    let specs = [
        ("expired", ago(120)),
        ("recent-1", ago(50)),
        ("recent-2", ago(40)),
        ("recent-3", ago(30)),
        ("recent-4", ago(20)),
        ("recent-5", ago(10)),
    ];
    for (name, seen) in specs {
        alerts
            .create(
                &PostParams::default(),
                &FalcoAlert::new(name, alert("Read Passwd File", name, seen, &install)),
            )
            .await
            .unwrap();
    }
    let mut config = test_config(&install, "op-1");
    config.alert_retention = Duration::from_secs(3600);
    config.alerts_per_namespace = 3;
    let op = start(&client, config);
    let left = wait_for(Duration::from_secs(30), "the collection", || async {
        let mut names: Vec<String> = alerts
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .iter()
            .map(|a| a.name_any())
            .collect();
        names.sort();
        (names.len() == 3).then_some(names)
    })
    .await;
    assert_eq!(left, ["recent-3", "recent-4", "recent-5"]);
    // The FalcoRule that defined the rule counts the remaining alerts...
    let counters = wait_for(Duration::from_secs(30), "alert counters", || async {
        let r = get_rule(&client, &install, "passwd").await;
        r.status?.alerts.filter(|a| a.total == 3)
    })
    .await;
    assert_eq!(counters.by_rule["Read Passwd File"], 3);
    // metav1.Time has whole seconds.
    assert_eq!(
        counters.last_seen.map(|t| t.0.as_second()),
        Some(ago(10).as_second())
    );
    // ...and the rule controller's own status writes leave them alone.
    apply_rule(
        &client,
        &install,
        "passwd",
        spec_with(vec![rule("Read Passwd File", "evt.type = openat")]),
    )
    .await;
    let (r, _) = accepted(&client, &install, "passwd", 2).await;
    assert_eq!(r.status.unwrap().alerts.map(|a| a.total), Some(3));
    assert_eq!(op.metrics.writes_of("alert_gc", "delete_alert"), 3);
    let metrics = op.metrics.encode();
    assert!(
        metrics.contains("kestrel_operator_alerts_deleted_total{reason=\"retention\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kestrel_operator_alerts_deleted_total{reason=\"cap\"} 2"),
        "{metrics}"
    );
    op.stop().await;
    cleanup(&client, &[&team, &install]).await;
}

#[tokio::test]
#[ignore = "needs kube-apiserver: make test"]
async fn only_the_leader_reconciles_and_a_standby_takes_over() {
    let _serial = serial().await;
    let client = client().await;
    ensure_crds(&client).await;
    let install = unique("kestrel");
    create_namespace(&client, &install).await;
    let first = start(&client, test_config(&install, "replica-a"));
    wait_for(Duration::from_secs(30), "replica-a leading", || async {
        (first.metrics.passes("rule") >= 1).then_some(())
    })
    .await;
    let second = start(&client, test_config(&install, "replica-b"));
    apply_rule(
        &client,
        &install,
        "one",
        spec_with(vec![rule("One", "evt.type = open")]),
    )
    .await;
    accepted(&client, &install, "one", 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(second.metrics.passes("rule"), 0, "the standby reconciled");
    assert_eq!(second.metrics.total_writes(), 0);
    let lease = Api::<Lease>::namespaced(client.clone(), &install)
        .get("kestrel-operator-leader")
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("replica-a")
    );

    // The leader stops and releases the Lease: the standby takes over and reconciles.
    let stopped = Instant::now();
    first.stop().await;
    apply_rule(
        &client,
        &install,
        "two",
        spec_with(vec![rule("Two", "evt.type = openat")]),
    )
    .await;
    accepted(&client, &install, "two", 1).await;
    println!(
        "standby took over and reconciled {:?} after the leader stopped",
        stopped.elapsed()
    );
    let lease = Api::<Lease>::namespaced(client.clone(), &install)
        .get("kestrel-operator-leader")
        .await
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));
    second.stop().await;
    cleanup(&client, &[&install]).await;
}

#[tokio::test]
async fn metrics_and_health_are_served() {
    let metrics = std::sync::Arc::new(kestrel_operator::Metrics::new());
    metrics.reconciled("rule", true, Duration::from_millis(3));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let server = tokio::spawn(kestrel_operator::metrics::serve(
        addr,
        metrics.clone(),
        shutdown.clone(),
    ));
    let get = |path: &'static str| async move {
        for _ in 0..100 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(addr).await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                s.write_all(
                    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await
                .unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).await.unwrap();
                return out;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("metrics server did not start");
    };
    let health = get("/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = get("/metrics").await;
    assert!(
        body.contains(
            "kestrel_operator_reconciles_total{controller=\"rule\",result=\"success\"} 1"
        ),
        "{body}"
    );
    assert!(
        body.contains("kestrel_operator_reconcile_duration_seconds_bucket"),
        "{body}"
    );
    metrics.set_healthy(false);
    assert!(get("/healthz").await.starts_with("HTTP/1.1 503"));
    shutdown.cancel();
    server.await.unwrap().unwrap();
}
