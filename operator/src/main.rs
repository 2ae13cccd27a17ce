//! `kestrel-operator`: flags, logging, the metrics server, signals; the work is in the library.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use kestrel_operator::{Config, Metrics};
use tokio_util::sync::CancellationToken;

/// Kestrel operator: validates FalcoRules and renders them (and FalcoAlertSinks) for the node
/// agents; deletes old FalcoAlerts.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Kestrel's install namespace (FalcoRules and sinks here apply cluster-wide; rendered
    /// ConfigMaps and the leader Lease live here).
    #[arg(long, env = "POD_NAMESPACE")]
    namespace: String,
    /// Leader-election identity of this replica.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Delete FalcoAlerts whose lastSeen is older than this (e.g. 7d, 12h).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    alert_retention: Duration,
    /// Keep at most this many FalcoAlerts per namespace (oldest lastSeen deleted first).
    #[arg(long, default_value_t = 1000)]
    alerts_per_namespace: usize,
    /// How often old FalcoAlerts are collected.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    alert_gc_interval: Duration,
    /// Address of /metrics and /healthz.
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Full reconcile at least this often.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    resync: Duration,
    /// Leader Lease duration.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    lease_duration: Duration,
    /// Log format: text or json.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Rule files (or directories of *.yaml, in name order) every FalcoRule is validated after:
    /// the same default rules the agents load with `--rules` (macros such as `open_read`).
    #[arg(long, value_name = "FILE|DIR")]
    base_rules: Vec<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        // colours only on a terminal: `kubectl logs` and files get plain text
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init();
    }

    let identity = match args.identity {
        Some(id) => id,
        None => format!("kestrel-operator-{}", std::process::id()),
    };
    let mut config = Config::new(args.namespace, identity);
    config.alert_retention = args.alert_retention;
    config.alerts_per_namespace = args.alerts_per_namespace;
    config.alert_gc_interval = args.alert_gc_interval;
    config.resync = args.resync;
    config.lease_duration = args.lease_duration;
    config.base_rules = read_rule_files(&args.base_rules)?;

    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API (in-cluster or KUBECONFIG)")?;
    let metrics = Arc::new(Metrics::new());
    let shutdown = CancellationToken::new();
    let server = tokio::spawn(kestrel_operator::metrics::serve(
        args.metrics_addr,
        metrics.clone(),
        shutdown.clone(),
    ));
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            tracing::info!("shutting down");
            shutdown.cancel();
        }
    });
    let result = kestrel_operator::run(client, config, metrics, shutdown.clone()).await;
    shutdown.cancel();
    match server.await {
        Ok(Err(e)) => tracing::error!(error = %e, "metrics server failed"),
        Err(e) => tracing::error!(error = %e, "metrics server task failed"),
        Ok(Ok(())) => {}
    }
    result.context("operator stopped")
}

/// `(name, text)` of rule files: files as given, directories as their *.yaml/*.yml in name order.
fn read_rule_files(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    use anyhow::Context as _;
    let mut out = Vec::new();
    for p in paths {
        let mut files = Vec::new();
        if p.is_dir() {
            for e in std::fs::read_dir(p).with_context(|| format!("reading {}", p.display()))? {
                let f = e?.path();
                if f.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                    files.push(f);
                }
            }
            files.sort();
        } else {
            files.push(p.clone());
        }
        for f in files {
            let text =
                std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
            out.push((
                f.file_name().map_or_else(
                    || f.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                ),
                text,
            ));
        }
    }
    Ok(out)
}
