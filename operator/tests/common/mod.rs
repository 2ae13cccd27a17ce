//! Helpers for the integration tests against a real kube-apiserver (KUBECONFIG).

#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kestrel_api::constants::{INDEX_KEY, RULES_SELECTOR};
use kestrel_api::contract::RulesIndex;
use kestrel_api::{FalcoRule, FalcoRuleSpec, Rule};
use kestrel_operator::{Config, Metrics};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use tokio::sync::{Mutex, MutexGuard};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The operator watches FalcoRules cluster-wide, so tests with their own operator run one at a
/// time.
pub async fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::const_new(());
    LOCK.lock().await
}

pub async fn client() -> Client {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,kestrel_operator=info".into()),
        )
        .with_test_writer()
        .try_init();
    Client::try_default()
        .await
        .expect("a kube-apiserver through KUBECONFIG (run through e2e/cluster/with-cluster.sh)")
}

/// A name no earlier run used.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{:x}", nanos % 0xffff_ffff)
}

/// Label of the namespaces the tests create.
const TEST_LABEL: &str = "kestrel.dev/test";

/// Apply the CRDs from the api crate and wait until they are established; then remove what an
/// earlier test that failed half-way left behind (its FalcoRules would be seen by this test's
/// operator, which watches every namespace).
pub async fn ensure_crds(client: &Client) {
    apply_crds(client).await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let leftovers = namespaces
        .list(&ListParams::default().labels(&format!("{TEST_LABEL}=true")))
        .await
        .expect("listing namespaces");
    let names: Vec<String> = leftovers.items.iter().map(|ns| ns.name_any()).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    cleanup(client, &refs).await;
}

async fn apply_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (_, crd) in kestrel_api::crds() {
        let name = crd.name_any();
        api.patch(
            &name,
            &PatchParams::apply("kestrel-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("applying a CRD");
        wait_for(Duration::from_secs(30), "CRD established", || {
            let api = api.clone();
            let name = name.clone();
            async move {
                let crd = api.get(&name).await.ok()?;
                crd.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        })
        .await;
    }
}

pub async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            labels: Some([(TEST_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &ns)
        .await
        .expect("creating a namespace");
}

/// Delete every FalcoRule, FalcoAlertSink and FalcoAlert of `namespaces`, wait until they are gone,
/// then delete the namespaces.
pub async fn cleanup(client: &Client, namespaces: &[&str]) {
    for ns in namespaces {
        let rules: Api<FalcoRule> = Api::namespaced(client.clone(), ns);
        let _ = rules
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        let sinks: Api<kestrel_api::FalcoAlertSink> = Api::namespaced(client.clone(), ns);
        let _ = sinks
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        let alerts: Api<kestrel_api::FalcoAlert> = Api::namespaced(client.clone(), ns);
        let _ = alerts
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await;
        wait_for(Duration::from_secs(30), "FalcoRules deleted", || {
            let rules = rules.clone();
            async move {
                rules
                    .list(&ListParams::default())
                    .await
                    .ok()?
                    .items
                    .is_empty()
                    .then_some(())
            }
        })
        .await;
        let api: Api<Namespace> = Api::all(client.clone());
        let _ = api.delete(ns, &DeleteParams::default()).await;
    }
}

/// Poll `probe` every 10 ms until it yields a value; panic after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// An operator running in-process.
pub struct Running {
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), kestrel_operator::Error>>,
}

impl Running {
    /// Stop it (it releases leadership) and wait until it has.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.task
            .await
            .expect("operator task")
            .expect("operator stopped cleanly");
    }
}

pub fn test_config(namespace: &str, identity: &str) -> Config {
    let mut c = Config::new(namespace, identity);
    c.lease_duration = Duration::from_secs(4);
    c.lease_retry = Duration::from_millis(300);
    c.secret_recheck = Duration::from_secs(1);
    c.alert_gc_interval = Duration::from_secs(1);
    c
}

pub fn start(client: &Client, config: Config) -> Running {
    let metrics = Arc::new(Metrics::new());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(kestrel_operator::run(
        client.clone(),
        config,
        metrics.clone(),
        shutdown.clone(),
    ));
    Running {
        metrics,
        shutdown,
        task,
    }
}

pub fn rule(name: &str, condition: &str) -> Rule {
    Rule {
        name: name.into(),
        desc: Some(format!("detects {name}")),
        condition: Some(condition.into()),
        output: Some("%proc.name read %fd.name (pod=%k8s.pod.name)".into()),
        priority: Some("WARNING".into()),
        source: None,
        tags: Some(vec!["filesystem".into()]),
        enabled: None,
        exceptions: None,
        append: None,
        override_: None,
        warn_evttypes: None,
        skip_if_unknown_filter: None,
    }
}

pub fn spec_with(rules: Vec<Rule>) -> FalcoRuleSpec {
    FalcoRuleSpec {
        rules,
        ..FalcoRuleSpec::default()
    }
}

/// Server-side apply a FalcoRule as a user would (`kubectl apply --server-side`).
pub async fn apply_rule(client: &Client, ns: &str, name: &str, spec: FalcoRuleSpec) -> FalcoRule {
    let api: Api<FalcoRule> = Api::namespaced(client.clone(), ns);
    let rule = FalcoRule::new(name, spec);
    api.patch(
        name,
        &PatchParams::apply("kestrel-tests").force(),
        &Patch::Apply(&rule),
    )
    .await
    .expect("applying a FalcoRule")
}

pub async fn get_rule(client: &Client, ns: &str, name: &str) -> FalcoRule {
    Api::<FalcoRule>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .expect("reading a FalcoRule")
}

/// The Accepted condition of a FalcoRule, once it describes `generation`.
pub async fn accepted(
    client: &Client,
    ns: &str,
    name: &str,
    generation: i64,
) -> (
    FalcoRule,
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition,
) {
    wait_for(
        Duration::from_secs(30),
        "the Accepted condition",
        || async {
            let r = Api::<FalcoRule>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .ok()?;
            let status = r.status.as_ref()?;
            (status.observed_generation == Some(generation)).then_some(())?;
            let c = status
                .conditions
                .iter()
                .find(|c| c.type_ == "Accepted")?
                .clone();
            Some((r, c))
        },
    )
    .await
}

/// The rules ConfigMaps of `ns` and the index of shard 0.
pub async fn rules_configmaps(client: &Client, ns: &str) -> (Vec<ConfigMap>, Option<RulesIndex>) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let mut cms = api
        .list(&ListParams::default().labels(RULES_SELECTOR))
        .await
        .expect("listing ConfigMaps")
        .items;
    cms.sort_by_key(|cm| cm.name_any());
    let index = cms
        .iter()
        .find(|cm| cm.name_any() == "kestrel-rules-0")
        .and_then(|cm| cm.data.as_ref()?.get(INDEX_KEY))
        .map(|s| serde_json::from_str(s).expect("index.json parses"));
    (cms, index)
}

/// The YAML deployed for `key`, if any.
pub async fn deployed_yaml(client: &Client, ns: &str, key: &str) -> Option<String> {
    let (cms, index) = rules_configmaps(client, ns).await;
    let index = index?;
    let entry = index.entries.iter().find(|e| e.key == key)?;
    let cm = cms
        .iter()
        .find(|cm| cm.name_any() == format!("kestrel-rules-{}", entry.shard))?;
    cm.data.as_ref()?.get(key).cloned()
}
