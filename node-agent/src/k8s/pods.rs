//! Pods on this node → container metadata (`k8s.*` fields, `container.name`, `container.image`).
//! The watch runs on the Kubernetes thread; updates reach the event thread through a bounded
//! channel and are applied between batches of events.

use std::sync::mpsc::SyncSender;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher;

use crate::state::containers::PodMeta;

/// One container of a pod, by runtime id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodContainer {
    /// The 64-hex id, without the `containerd://` scheme.
    pub full_id: String,
    pub name: String,
    pub image: String,
    /// `securityContext.privileged` of its spec (false when not set).
    pub privileged: Option<bool>,
    /// `state.running.startedAt`, ns since the epoch.
    pub started_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodUpdate {
    Upsert {
        pod: PodMeta,
        containers: Vec<PodContainer>,
    },
    Delete {
        uid: String,
    },
}

/// `containerd://abc...` → `abc...`.
pub fn strip_runtime(id: &str) -> &str {
    id.split_once("://").map_or(id, |(_, rest)| rest)
}

pub fn update_of(pod: &Pod) -> PodUpdate {
    let meta = &pod.metadata;
    let status = pod.status.as_ref();
    let pm = PodMeta {
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        labels: meta
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        ip: status.and_then(|s| s.pod_ip.clone()),
    };
    let spec = pod.spec.as_ref();
    let privileged = |name: &str| -> Option<bool> {
        let spec = spec?;
        let regular = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == name)
            .map(|c| c.security_context.as_ref().and_then(|s| s.privileged));
        let ephemeral = || {
            spec.ephemeral_containers
                .iter()
                .flatten()
                .find(|c| c.name == name)
                .map(|c| c.security_context.as_ref().and_then(|s| s.privileged))
        };
        Some(regular.or_else(ephemeral)?.unwrap_or(false))
    };
    let mut containers = Vec::new();
    if let Some(s) = status {
        for cs in s
            .container_statuses
            .iter()
            .flatten()
            .chain(s.init_container_statuses.iter().flatten())
            .chain(s.ephemeral_container_statuses.iter().flatten())
        {
            if let Some(id) = cs
                .container_id
                .as_deref()
                .map(strip_runtime)
                .filter(|i| !i.is_empty())
            {
                let started_ns = cs
                    .state
                    .as_ref()
                    .and_then(|st| st.running.as_ref())
                    .and_then(|r| r.started_at.as_ref())
                    .and_then(|t| u64::try_from(t.0.as_nanosecond()).ok());
                containers.push(PodContainer {
                    full_id: id.to_owned(),
                    name: cs.name.clone(),
                    image: cs.image.clone(),
                    privileged: privileged(&cs.name),
                    started_ns,
                });
            }
        }
    }
    PodUpdate::Upsert {
        pod: pm,
        containers,
    }
}

/// Watch the pods of `node` and send updates until the channel closes.
pub async fn watch(client: kube::Client, node: String, tx: SyncSender<PodUpdate>) {
    let api: Api<Pod> = Api::all(client);
    let cfg = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    let mut stream = watcher(api, cfg).boxed();
    while let Some(ev) = stream.next().await {
        let update = match ev {
            Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => update_of(&p),
            Ok(watcher::Event::Delete(p)) => PodUpdate::Delete {
                uid: p.metadata.uid.unwrap_or_default(),
            },
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "pod watch error (retrying)");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if tx.send(update).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_status_to_containers() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "web"}},
            "spec": {"containers": [
                {"name": "nginx", "securityContext": {"privileged": true}},
                {"name": "sidecar"},
                {"name": "pending"}
            ]},
            "status": {"podIP": "10.1.2.3", "containerStatuses": [
                {"name": "nginx", "image": "nginx:1.27", "imageID": "", "ready": true, "restartCount": 0,
                 "containerID": format!("containerd://{}", "a".repeat(64)),
                 "state": {"running": {"startedAt": "2026-12-03T10:00:01Z"}}},
                {"name": "sidecar", "image": "busybox", "imageID": "", "ready": true, "restartCount": 0,
                 "containerID": format!("cri-o://{}", "b".repeat(64)),
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                {"name": "pending", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0}
            ]}
        }))
        .unwrap();
        let PodUpdate::Upsert {
            pod: meta,
            containers,
        } = update_of(&pod)
        else {
            panic!()
        };
        assert_eq!(
            (
                meta.name.as_str(),
                meta.namespace.as_str(),
                meta.ip.as_deref()
            ),
            ("web-0", "shop", Some("10.1.2.3"))
        );
        assert_eq!(meta.labels, vec![("app".to_owned(), "web".to_owned())]);
        assert_eq!(
            containers,
            vec![
                PodContainer {
                    full_id: "a".repeat(64),
                    name: "nginx".into(),
                    image: "nginx:1.27".into(),
                    privileged: Some(true),
                    // date -d 2026-12-03T10:00:01Z +%s
                    started_ns: Some(1_796_292_001_000_000_000),
                },
                PodContainer {
                    full_id: "b".repeat(64),
                    name: "sidecar".into(),
                    image: "busybox".into(),
                    privileged: Some(false),
                    started_ns: None,
                }
            ]
        );
        assert_eq!(strip_runtime("cri-o://abc"), "abc");
    }
}
