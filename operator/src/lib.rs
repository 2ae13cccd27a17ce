//! Kestrel operator: validates FalcoRules with the rule engine the node agents run, renders the
//! accepted ones into sharded ConfigMaps (see [`kestrel_api::contract`] for the format), renders
//! FalcoAlertSinks into the sinks ConfigMap, writes statuses, and garbage-collects FalcoAlerts.
//!
//! Start it in-process with [`run`] (tests) or through the `kestrel-operator` binary.

pub mod controller;
pub mod leader;
pub mod metrics;
pub mod render;
pub mod status;
pub mod validate;

use std::sync::Arc;
use std::time::Duration;

use kestrel_api::constants::OPERATOR_LEADER_LEASE;
use tokio_util::sync::CancellationToken;

pub use metrics::Metrics;

/// Operator settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kestrel's install namespace: rendered ConfigMaps and the leader Lease live here, and
    /// FalcoRules/FalcoAlertSinks here apply cluster-wide.
    pub namespace: String,
    /// This replica's identity for leader election (the pod name).
    pub identity: String,
    /// FalcoAlerts whose lastSeen is older are deleted.
    pub alert_retention: Duration,
    /// At most this many FalcoAlerts are kept per namespace (oldest lastSeen deleted first).
    pub alerts_per_namespace: usize,
    /// How often the alert collector runs.
    pub alert_gc_interval: Duration,
    /// Quiet time after a watch event before a pass, so bursts make one pass.
    pub debounce: Duration,
    /// Full pass at least this often even without events.
    pub resync: Duration,
    /// How often sinks whose Secret is missing are re-checked.
    pub secret_recheck: Duration,
    /// Data budget of one rendered ConfigMap (keys + values).
    pub configmap_budget: usize,
    /// Leader Lease validity.
    pub lease_duration: Duration,
    /// Leader renewal / candidate retry period.
    pub lease_retry: Duration,
    /// Rule files (name, text) every FalcoRule is validated after: the default macros and lists
    /// the agents load first (`--rules` of the agents, `--base-rules` here), so a FalcoRule may
    /// use `open_read`, `spawned_process`, `container`...
    pub base_rules: Vec<(String, String)>,
}

impl Config {
    /// Defaults for `namespace` and `identity`.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        Config {
            namespace: namespace.into(),
            identity: identity.into(),
            alert_retention: Duration::from_secs(7 * 24 * 3600),
            alerts_per_namespace: 1000,
            alert_gc_interval: Duration::from_secs(60),
            debounce: Duration::from_millis(100),
            resync: Duration::from_secs(300),
            secret_recheck: Duration::from_secs(30),
            configmap_budget: kestrel_api::constants::CONFIGMAP_DATA_BUDGET,
            lease_duration: Duration::from_secs(15),
            lease_retry: Duration::from_secs(2),
            base_rules: Vec::new(),
        }
    }
}

/// Why the operator stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),
    #[error("cannot render the rules: {0}")]
    Render(#[from] render::RenderError),
    #[error(transparent)]
    Leader(#[from] leader::LeaderError),
}

/// Run the operator until `shutdown` is cancelled (Ok, after releasing leadership) or leadership
/// is lost (Err: the process should exit so it restarts as a candidate). Only the leader runs the
/// controllers.
pub async fn run(
    client: kube::Client,
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let mut elector = leader::LeaderElector::new(
        client.clone(),
        leader::LeaderConfig {
            lease_name: OPERATOR_LEADER_LEASE.to_string(),
            namespace: config.namespace.clone(),
            identity: config.identity.clone(),
            lease_duration: config.lease_duration,
            retry_period: config.lease_retry,
            renew_deadline: config.lease_duration * 2 / 3,
        },
    );
    tracing::info!(identity = %config.identity, namespace = %config.namespace, "waiting for leadership");
    if !elector.acquire(&shutdown).await {
        return Ok(());
    }
    metrics.leader.set(1);
    let ctx = Arc::new(controller::Context {
        client,
        config,
        metrics: metrics.clone(),
    });
    let stop = shutdown.child_token();
    let controllers = tokio::spawn({
        let (ctx, stop) = (ctx.clone(), stop.clone());
        async move {
            tokio::join!(
                controller::rule::run(ctx.clone(), stop.clone()),
                controller::sink::run(ctx.clone(), stop.clone()),
                controller::alert_gc::run(ctx, stop),
            );
        }
    });
    let held = elector.hold(&shutdown).await;
    stop.cancel();
    let _ = controllers.await;
    metrics.leader.set(0);
    match held {
        Ok(()) => {
            elector.release().await;
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %e, "stopping: leadership lost");
            Err(e.into())
        }
    }
}
