//! Alerts → Kubernetes: an aggregated `FalcoAlert` per (rule, pod container or host) with count,
//! firstSeen and lastSeen, and an Event on the pod. Alerts are batched: the output thread hands
//! them over without blocking; a task flushes every `FLUSH` to the API server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kestrel_api::alert::{
    AlertContainer, AlertProcess, AlertSubject, FalcoAlert, FalcoAlertSpec, FalcoRuleRef,
};
use kestrel_api::constants::{AGENT_FIELD_MANAGER, LABEL_ALERT_NODE, LABEL_ALERT_PRIORITY};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use tokio::sync::mpsc;

use crate::alert::Alert;
use crate::alert::writer::AlertOutput;

const FLUSH: Duration = Duration::from_secs(2);

/// Counters of the Kubernetes alert path.
#[derive(Debug, Default)]
pub struct KubeAlertCounters {
    pub queued_dropped: AtomicU64,
    pub alerts_written: AtomicU64,
    pub events_written: AtomicU64,
    pub errors: AtomicU64,
}

/// The output-thread side: never blocks.
pub struct KubeAlertOutput {
    pub tx: mpsc::Sender<Alert>,
    pub counters: Arc<KubeAlertCounters>,
}

impl AlertOutput for KubeAlertOutput {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        if self.tx.try_send(alert.clone()).is_err() {
            self.counters.queued_dropped.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn time(ns: u64) -> Time {
    Time(Timestamp::from_nanosecond(ns as i128).unwrap_or(Timestamp::UNIX_EPOCH))
}

struct Pending {
    alert: Alert,
    namespace: String,
    new: i64,
    first_ns: u64,
    last_ns: u64,
    /// count and firstSeen of the object in the API server, once read.
    base: Option<(i64, Time)>,
}

/// Where alerts of host processes go.
pub struct Target {
    pub node: String,
    pub install_namespace: String,
}

fn subject_namespace<'a>(a: &'a Alert, t: &'a Target) -> (AlertSubject<'a>, &'a str) {
    match (&a.context.pod_namespace, &a.context.pod_name) {
        (Some(ns), Some(pod)) => (
            AlertSubject::Container {
                namespace: ns,
                pod,
                container_id: &a.context.container_id,
            },
            ns.as_str(),
        ),
        _ => (
            AlertSubject::Host { node: &t.node },
            t.install_namespace.as_str(),
        ),
    }
}

pub fn spec_of(a: &Alert, node: &str, count: i64, first: Time, last_ns: u64) -> FalcoAlertSpec {
    let output_fields: BTreeMap<String, String> = a
        .output_fields
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().unwrap_or_else(|| "<NA>".into())))
        .collect();
    FalcoAlertSpec {
        rule: a.rule.clone(),
        priority: a
            .priority
            .as_str()
            .parse()
            .unwrap_or(kestrel_api::priority::Priority::Warning),
        output: a.output.clone(),
        output_fields,
        tags: a.tags.clone(),
        source: Some(a.source.clone()),
        falco_rule: a.falco_rule.as_ref().map(|(namespace, name)| FalcoRuleRef {
            namespace: namespace.clone(),
            name: name.clone(),
        }),
        node: node.to_owned(),
        namespace: a.context.pod_namespace.clone(),
        pod: a.context.pod_name.clone(),
        container: (a.context.container_id != "host").then(|| AlertContainer {
            id: a.context.container_id.clone(),
            name: a.context.container_name.clone(),
            image: a.context.container_image.clone(),
        }),
        process: Some(AlertProcess {
            name: a.context.proc_name.clone(),
            cmdline: Some(a.context.proc_cmdline.clone()),
            pid: Some(a.context.pid as i64),
            user: a.output_fields.get("user.name").cloned().flatten(),
        }),
        count,
        first_seen: first,
        last_seen: time(last_ns),
    }
}

/// The aggregating writer task.
pub async fn run(
    client: kube::Client,
    target: Target,
    mut rx: mpsc::Receiver<Alert>,
    counters: Arc<KubeAlertCounters>,
) {
    let mut pending: HashMap<String, Pending> = HashMap::new();
    let mut bases: HashMap<String, (i64, Time)> = HashMap::new();
    let mut tick = tokio::time::interval(FLUSH);
    loop {
        tokio::select! {
            a = rx.recv() => {
                let Some(a) = a else { break };
                let (subject, ns) = subject_namespace(&a, &target);
                let name = FalcoAlert::object_name(&a.rule, subject);
                let ns = ns.to_owned();
                let t = a.time_ns;
                let p = pending.entry(name.clone()).or_insert_with(|| Pending {
                    alert: a.clone(), namespace: ns, new: 0, first_ns: t, last_ns: t, base: bases.get(&name).cloned(),
                });
                p.new += 1;
                p.last_ns = p.last_ns.max(t);
                p.alert = a;
            }
            _ = tick.tick() => {
                for (name, p) in pending.drain() {
                    match flush_one(&client, &target, &name, &p).await {
                        Ok(base) => {
                            bases.insert(name, base);
                            counters.alerts_written.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            counters.errors.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(error = %e, alert = %name, "writing FalcoAlert failed");
                        }
                    }
                    if p.alert.context.pod_name.is_some() {
                        match pod_event(&client, &target, &p).await {
                            Ok(()) => { counters.events_written.fetch_add(1, Ordering::Relaxed); }
                            Err(e) => {
                                counters.errors.fetch_add(1, Ordering::Relaxed);
                                tracing::warn!(error = %e, "writing the pod Event failed");
                            }
                        }
                    }
                }
            }
        }
    }
}

async fn flush_one(
    client: &kube::Client,
    t: &Target,
    name: &str,
    p: &Pending,
) -> Result<(i64, Time), kube::Error> {
    let api: Api<FalcoAlert> = Api::namespaced(client.clone(), &p.namespace);
    let (base_count, first) = match &p.base {
        Some(b) => b.clone(),
        None => match api.get_opt(name).await? {
            Some(existing) => (existing.spec.count, existing.spec.first_seen),
            None => (0, time(p.first_ns)),
        },
    };
    let count = base_count + p.new;
    let spec = spec_of(&p.alert, &t.node, count, first.clone(), p.last_ns);
    let mut obj = FalcoAlert::new(name, spec);
    obj.metadata.namespace = Some(p.namespace.clone());
    obj.metadata.labels = Some(
        [
            (LABEL_ALERT_NODE.to_owned(), t.node.clone()),
            (
                LABEL_ALERT_PRIORITY.to_owned(),
                p.alert.priority.as_str().to_ascii_lowercase(),
            ),
        ]
        .into(),
    );
    let mut value = serde_json::to_value(&obj).map_err(kube::Error::SerdeError)?;
    value["apiVersion"] = "kestrel.dev/v1alpha1".into();
    value["kind"] = "FalcoAlert".into();
    api.patch(
        name,
        &PatchParams::apply(AGENT_FIELD_MANAGER).force(),
        &Patch::Apply(value),
    )
    .await?;
    Ok((count, first))
}

async fn pod_event(client: &kube::Client, t: &Target, p: &Pending) -> Result<(), kube::Error> {
    let ctx = &p.alert.context;
    let (Some(ns), Some(pod)) = (&ctx.pod_namespace, &ctx.pod_name) else {
        return Ok(());
    };
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let mut message = format!("{} {}", p.alert.priority.as_str(), p.alert.output);
    if message.len() > 1000 {
        let mut cut = 1000;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    let reason: String = p
        .alert
        .rule
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(120)
        .collect();
    let ev = Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{pod}.kestrel-")),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            kind: Some("Pod".into()),
            api_version: Some("v1".into()),
            name: Some(pod.clone()),
            namespace: Some(ns.clone()),
            uid: ctx.pod_uid.clone(),
            field_path: ctx
                .container_name
                .as_ref()
                .map(|c| format!("spec.containers{{{c}}}")),
            ..Default::default()
        },
        reason: Some(if reason.is_empty() {
            "FalcoRule".into()
        } else {
            reason
        }),
        message: Some(message),
        type_: Some(
            if p.alert.priority >= kestrel_engine::Priority::Warning {
                "Warning"
            } else {
                "Normal"
            }
            .into(),
        ),
        count: Some(p.new as i32),
        first_timestamp: Some(time(p.first_ns)),
        last_timestamp: Some(time(p.last_ns)),
        event_time: None::<MicroTime>,
        source: Some(EventSource {
            component: Some("kestrel-agent".into()),
            host: Some(t.node.clone()),
        }),
        reporting_component: Some("kestrel.dev/agent".into()),
        reporting_instance: Some(t.node.clone()),
        action: Some("Detected".into()),
        ..Default::default()
    };
    api.create(&PostParams::default(), &ev).await?;
    Ok(())
}
