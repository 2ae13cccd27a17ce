//! The agent in a cluster (`run --kubernetes`): rules from the operator's ConfigMaps, pod metadata
//! for this node, alerts as FalcoAlerts and pod Events, and a Lease heartbeat saying which rule set
//! this node runs. All of it on one Kubernetes thread with its own tokio runtime; the event thread
//! only sees an atomic rule-set swap and a bounded channel of pod updates.

pub mod alerts;
pub mod bundle;
pub mod pods;
pub mod sinks_watch;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kestrel_api::constants::{
    AGENT_FIELD_MANAGER, ANNOTATION_LOAD_ERROR, ANNOTATION_LOADED_HASH,
    ANNOTATION_LOADED_RENDER_GENERATION, ANNOTATION_NODE, ANNOTATION_RENDER_GENERATION,
    LABEL_AGENT, RULES_SELECTOR, agent_lease_name,
};
use kestrel_engine::CompileOptions;
use kestrel_probe::ProbeControl;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher;
use tokio::sync::{Mutex, mpsc};

use crate::alert::writer::AlertOutput;
use crate::error_chain::Chain;
use crate::rules::LiveRules;

/// What `run --kubernetes` needs to know.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    pub namespace: String,
    pub node: String,
    /// The agent's local rule files (name, text), loaded before the cluster's.
    pub local_rules: Vec<(String, String)>,
    pub compile: CompileOptions,
}

/// Handles the event thread and the output thread use.
pub struct KubeHandles {
    pub pods: Receiver<pods::PodUpdate>,
    pub alert_output: Box<dyn AlertOutput>,
    pub counters: Arc<alerts::KubeAlertCounters>,
    pub thread: std::thread::JoinHandle<()>,
}

#[derive(Debug, Default, Clone)]
struct LoadState {
    hash: String,
    render_generation: Option<String>,
    error: Option<String>,
}

/// Start the Kubernetes thread. Fails fast when no client can be built (no kubeconfig, no
/// in-cluster service account).
pub fn start(
    opts: KubeOptions,
    live: Arc<LiveRules>,
    control: ProbeControl,
    stop: Arc<AtomicBool>,
    on_rules: Arc<dyn Fn(&crate::rules::LoadedRules) + Send + Sync>,
    sinks: crate::alert::sinks::SinkSet,
) -> anyhow::Result<KubeHandles> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("kestrel-kube")
        .build()?;
    let client = rt
        .block_on(kube::Client::try_default())
        .map_err(|e| anyhow::anyhow!("connecting to Kubernetes: {e}"))?;
    let (pod_tx, pod_rx) = sync_channel(4096);
    let (alert_tx, alert_rx) = mpsc::channel(10_000);
    let counters = Arc::new(alerts::KubeAlertCounters::default());
    let c2 = counters.clone();
    let thread = std::thread::Builder::new()
        .name("kestrel-kube".into())
        .spawn(move || {
            rt.block_on(async move {
                let state = Arc::new(Mutex::new(LoadState::default()));
                let target = alerts::Target {
                    node: opts.node.clone(),
                    install_namespace: opts.namespace.clone(),
                };
                tokio::spawn(pods::watch(client.clone(), opts.node.clone(), pod_tx));
                tokio::spawn(alerts::run(client.clone(), target, alert_rx, c2));
                tokio::spawn(heartbeat(client.clone(), opts.clone(), state.clone()));
                tokio::spawn(sinks_watch::watch(
                    client.clone(),
                    opts.namespace.clone(),
                    sinks,
                ));
                tokio::spawn(watch_rules(
                    client.clone(),
                    opts.clone(),
                    live,
                    control,
                    state,
                    on_rules,
                ));
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        })?;
    Ok(KubeHandles {
        pods: pod_rx,
        alert_output: Box::new(alerts::KubeAlertOutput {
            tx: alert_tx,
            counters: counters.clone(),
        }),
        counters,
        thread,
    })
}

async fn watch_rules(
    client: kube::Client,
    opts: KubeOptions,
    live: Arc<LiveRules>,
    control: ProbeControl,
    state: Arc<Mutex<LoadState>>,
    on_rules: Arc<dyn Fn(&crate::rules::LoadedRules) + Send + Sync>,
) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &opts.namespace);
    let (reader, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector(
        writer,
        watcher(api, watcher::Config::default().labels(RULES_SELECTOR)),
    );
    let mut stream = stream.boxed();
    let mut ready = false;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(watcher::Event::InitDone) => ready = true,
            Ok(watcher::Event::Init) | Ok(watcher::Event::InitApply(_)) => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "rules ConfigMap watch error (retrying)");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        }
        if !ready {
            continue;
        }
        let cms: Vec<bundle::RulesConfigMap> = reader
            .state()
            .iter()
            .map(|c| bundle::RulesConfigMap::from_k8s(c))
            .collect();
        let generation = reader.state().iter().find_map(|c| {
            c.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_RENDER_GENERATION).cloned())
        });
        let b = match bundle::assemble(&cms) {
            Ok(b) => b,
            Err(bundle::BundleError::NoIndex) if cms.is_empty() => continue,
            Err(e) => {
                tracing::info!("rules ConfigMaps not loaded yet: {e}");
                continue;
            }
        };
        if live.load().hash == b.hash {
            continue;
        }
        let local = opts.local_rules.clone();
        let copts = opts.compile.clone();
        let compiled =
            tokio::task::spawn_blocking(move || bundle::compile(&local, &b, &copts)).await;
        let mut st = state.lock().await;
        match compiled {
            Ok(Ok((loaded, problems))) => {
                for p in &problems {
                    tracing::error!("{p}");
                }
                on_rules(&loaded);
                let plan = crate::wanted::plan_all(&loaded);
                if let Err(e) = control.set_wanted_syscalls(&plan.wanted) {
                    tracing::error!(error = %Chain(&e), "updating the probe filter failed; keeping the previous rule set");
                    st.error = Some(format!("probe filter update failed: {}", Chain(&e)));
                    live.record_failed_reload();
                    continue;
                }
                tracing::info!("loaded {}", loaded.summary);
                if let Some(w) =
                    crate::rules::shrink_warning(live.load().rule_counts(), loaded.rule_counts())
                {
                    tracing::warn!("cluster rules: {w}");
                }
                st.hash = loaded.hash.clone();
                st.render_generation = generation;
                st.error = (!problems.is_empty()).then(|| problems.join("; "));
                live.swap(loaded);
            }
            Ok(Err(e)) => {
                tracing::error!(
                    "cluster rule set does not compile, keeping the last good one:\n{}",
                    Chain(&e)
                );
                st.error = Some(Chain(&e).to_string());
                live.record_failed_reload();
            }
            Err(e) => {
                tracing::error!(error = %e, "rule compilation task failed");
                live.record_failed_reload();
            }
        }
        drop(st);
        write_lease(&client, &opts, &*state.lock().await).await;
    }
}

async fn heartbeat(client: kube::Client, opts: KubeOptions, state: Arc<Mutex<LoadState>>) {
    loop {
        let st = state.lock().await.clone();
        write_lease(&client, &opts, &st).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

async fn write_lease(client: &kube::Client, opts: &KubeOptions, st: &LoadState) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &opts.namespace);
    let name = agent_lease_name(&opts.node);
    let mut annotations = BTreeMap::new();
    annotations.insert(ANNOTATION_NODE.to_owned(), opts.node.clone());
    annotations.insert(ANNOTATION_LOADED_HASH.to_owned(), st.hash.clone());
    if let Some(g) = &st.render_generation {
        annotations.insert(ANNOTATION_LOADED_RENDER_GENERATION.to_owned(), g.clone());
    }
    if let Some(e) = &st.error {
        annotations.insert(
            ANNOTATION_LOAD_ERROR.to_owned(),
            e.chars().take(4000).collect(),
        );
    }
    let lease = Lease {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(opts.namespace.clone()),
            labels: Some([(LABEL_AGENT.to_owned(), "true".to_owned())].into()),
            annotations: Some(annotations),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(opts.node.clone()),
            lease_duration_seconds: Some(30),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        }),
    };
    let mut value = match serde_json::to_value(&lease) {
        Ok(v) => v,
        Err(_) => return,
    };
    value["apiVersion"] = "coordination.k8s.io/v1".into();
    value["kind"] = "Lease".into();
    if let Err(e) = api
        .patch(
            &name,
            &PatchParams::apply(AGENT_FIELD_MANAGER).force(),
            &Patch::Apply(value),
        )
        .await
    {
        tracing::warn!(error = %e, "agent heartbeat Lease update failed");
    }
}
