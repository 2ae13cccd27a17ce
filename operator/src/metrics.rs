//! Prometheus metrics of the operator, served on `/metrics` with `/healthz`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Labels of reconcile metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `rule`, `sink`, `alert_gc`.
    pub controller: String,
    /// `success` or `error`.
    pub result: String,
}

/// Labels naming a controller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    pub controller: String,
}

/// Labels of write metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WriteLabels {
    /// `configmap`, `status`, `delete_configmap`, `delete_alert`.
    pub kind: String,
    pub controller: String,
}

/// Labels of the FalcoRule verdict gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

/// Every metric of the operator.
pub struct Metrics {
    registry: Registry,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub reconcile_duration: Family<ControllerLabel, Histogram>,
    pub writes: Family<WriteLabels, Counter>,
    pub falcorules: Family<ReasonLabel, Gauge>,
    pub rule_compiles: Counter,
    pub rules_shards: Gauge,
    pub rules_bytes: Gauge,
    pub alerts_deleted: Family<ReasonLabel, Counter>,
    pub leader: Gauge,
    healthy: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kestrel_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconcile passes by controller and result",
            reconciles.clone(),
        );
        let reconcile_duration: Family<ControllerLabel, Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.001, 2.0, 16)));
        registry.register(
            "reconcile_duration_seconds",
            "Duration of reconcile passes",
            reconcile_duration.clone(),
        );
        let writes = Family::<WriteLabels, Counter>::default();
        registry.register("writes", "Writes to the API server by kind", writes.clone());
        let falcorules = Family::<ReasonLabel, Gauge>::default();
        registry.register(
            "falcorules",
            "FalcoRules by Accepted reason",
            falcorules.clone(),
        );
        let rule_compiles = Counter::default();
        registry.register(
            "rule_compiles",
            "Rule sets compiled (cache misses)",
            rule_compiles.clone(),
        );
        let rules_shards = Gauge::default();
        registry.register(
            "rules_shards",
            "Rules ConfigMaps in the deployed set",
            rules_shards.clone(),
        );
        let rules_bytes = Gauge::default();
        registry.register(
            "rules_bytes",
            "Bytes of rendered rules in the deployed set",
            rules_bytes.clone(),
        );
        let alerts_deleted = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "alerts_deleted",
            "FalcoAlerts deleted by reason (retention, cap)",
            alerts_deleted.clone(),
        );
        let leader = Gauge::default();
        registry.register("leader", "1 while this replica leads", leader.clone());
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            writes,
            falcorules,
            rule_compiles,
            rules_shards,
            rules_bytes,
            alerts_deleted,
            leader,
            healthy: AtomicBool::new(true),
        }
    }

    /// Count one reconcile pass of `controller`.
    pub fn reconciled(&self, controller: &str, ok: bool, took: Duration) {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                controller: controller.into(),
                result: if ok { "success" } else { "error" }.into(),
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&ControllerLabel {
                controller: controller.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Count one write of `kind` by `controller`.
    pub fn wrote(&self, controller: &str, kind: &str) {
        self.writes
            .get_or_create(&WriteLabels {
                kind: kind.into(),
                controller: controller.into(),
            })
            .inc();
    }

    /// Writes of `kind` by `controller` so far.
    pub fn writes_of(&self, controller: &str, kind: &str) -> u64 {
        self.writes
            .get_or_create(&WriteLabels {
                kind: kind.into(),
                controller: controller.into(),
            })
            .get()
    }

    /// All writes so far.
    pub fn total_writes(&self) -> u64 {
        let mut total = 0;
        for controller in ["rule", "sink", "alert_gc"] {
            for kind in ["configmap", "status", "delete_configmap", "delete_alert"] {
                total += self.writes_of(controller, kind);
            }
        }
        total
    }

    /// Successful passes of `controller` so far.
    pub fn passes(&self, controller: &str) -> u64 {
        self.reconciles
            .get_or_create(&ReconcileLabels {
                controller: controller.into(),
                result: "success".into(),
            })
            .get()
    }

    /// Mark the process unhealthy (`/healthz` answers 503).
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Serve `/metrics` and `/healthz` on `addr` until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics and /healthz");
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a metrics connection failed");
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(respond(&req, &metrics)) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
}

fn respond(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        "/healthz" | "/readyz" if metrics.healthy.load(Ordering::Relaxed) => {
            (StatusCode::OK, "text/plain", "ok\n".to_string())
        }
        "/healthz" | "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "unhealthy\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}
