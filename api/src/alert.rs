//! `FalcoAlert`: aggregated alerts, written by the node agents.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::priority::Priority;

/// Alerts of one rule about one container (or one host), aggregated: the agent creates the
/// FalcoAlert on the first alert and bumps `count` and `lastSeen` on the next ones.
///
/// It lives in the pod's namespace, or in Kestrel's install namespace for activity on a host
/// outside any pod. It is a record written whole by the agent, so it has no status: the data is
/// the spec. The operator deletes FalcoAlerts past the retention period and above the
/// per-namespace cap, oldest `lastSeen` first.
// `printcolumn(...)` repeats `type_ = ...` by design; clippy reads that as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kestrel.dev",
    version = "v1alpha1",
    kind = "FalcoAlert",
    plural = "falcoalerts",
    singular = "falcoalert",
    namespaced,
    shortname = "falert",
    shortname = "falerts",
    category = "kestrel",
    derive = "PartialEq",
    doc = "Alerts of one Falco rule about one container or host, aggregated by the Kestrel node agent (count, firstSeen, lastSeen).",
    selectable = ".spec.rule",
    selectable = ".spec.priority",
    selectable = ".spec.pod",
    selectable = ".spec.node",
    printcolumn(
        name = "Rule",
        type_ = "string",
        json_path = ".spec.rule",
        description = "Rule that fired"
    ),
    printcolumn(
        name = "Priority",
        type_ = "string",
        json_path = ".spec.priority",
        description = "Rule priority"
    ),
    printcolumn(
        name = "Pod",
        type_ = "string",
        json_path = ".spec.pod",
        description = "Pod the activity happened in (empty for the host)"
    ),
    printcolumn(
        name = "Count",
        type_ = "integer",
        json_path = ".spec.count",
        description = "Alerts aggregated here"
    ),
    printcolumn(
        name = "Last Seen",
        type_ = "date",
        json_path = ".spec.lastSeen",
        description = "Time of the newest alert"
    ),
    printcolumn(
        name = "Node",
        type_ = "string",
        json_path = ".spec.node",
        description = "Node",
        priority = 1
    ),
    printcolumn(
        name = "Container",
        type_ = "string",
        json_path = ".spec.container.name",
        description = "Container",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct FalcoAlertSpec {
    /// Name of the rule that fired.
    pub rule: String,
    /// Priority of the rule.
    pub priority: Priority,
    /// The rule's output with its `%fields` filled in, for the newest alert.
    pub output: String,
    /// Values of the fields the output names, for the newest alert (`proc.name` → `cat`; `<NA>`
    /// when the event had no value).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub output_fields: BTreeMap<String, String>,
    /// Tags of the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Event source (`syscall`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The FalcoRule that defined the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub falco_rule: Option<FalcoRuleRef>,
    /// Node where the activity happened.
    pub node: String,
    /// Namespace of the pod (absent for host activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the pod (absent for host activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The container (absent for host activity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<AlertContainer>,
    /// The process, for the newest alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<AlertProcess>,
    /// Number of alerts aggregated in this object.
    pub count: i64,
    /// Time of the first alert.
    pub first_seen: Time,
    /// Time of the newest alert.
    pub last_seen: Time,
}

/// Reference to a FalcoRule.
#[derive(
    Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub struct FalcoRuleRef {
    /// Namespace of the FalcoRule.
    pub namespace: String,
    /// Name of the FalcoRule.
    pub name: String,
}

/// The container an alert is about.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct AlertContainer {
    /// Container id (as in `container.id`, 12 hex characters).
    pub id: String,
    /// Container name in the pod spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Image reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The process an alert is about.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct AlertProcess {
    /// Process name (`proc.name`).
    pub name: String,
    /// Command line (`proc.cmdline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
    /// Process id as seen from the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    /// User name (`user.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Where the activity of an alert happened: the aggregation key of FalcoAlerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertSubject<'a> {
    /// A container of a pod.
    Container {
        namespace: &'a str,
        pod: &'a str,
        container_id: &'a str,
    },
    /// A node, outside any pod.
    Host { node: &'a str },
}

impl FalcoAlert {
    /// The object name of the FalcoAlert aggregating alerts of `rule` about `subject`:
    /// a readable slug of the rule name and a hash of the key, so the same (rule, pod, container)
    /// or (rule, host) always maps to the same object and different ones never collide in practice.
    pub fn object_name(rule: &str, subject: AlertSubject<'_>) -> String {
        let mut hasher = Sha256::new();
        hasher.update(rule.as_bytes());
        match subject {
            AlertSubject::Container {
                namespace,
                pod,
                container_id,
            } => {
                for part in ["container", namespace, pod, container_id] {
                    hasher.update([0u8]);
                    hasher.update(part.as_bytes());
                }
            }
            AlertSubject::Host { node } => {
                for part in ["host", node] {
                    hasher.update([0u8]);
                    hasher.update(part.as_bytes());
                }
            }
        }
        let digest = hasher.finalize();
        let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let mut slug = String::new();
        for c in rule.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
            if slug.len() >= 48 {
                break;
            }
        }
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            format!("alert-{hash}")
        } else {
            format!("{slug}-{hash}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_name_is_stable_readable_and_distinct() {
        let a = AlertSubject::Container {
            namespace: "default",
            pod: "web-1",
            container_id: "0123456789ab",
        };
        let name = FalcoAlert::object_name("Read Passwd File", a);
        assert!(name.starts_with("read-passwd-file-"), "{name}");
        assert_eq!(name.len(), "read-passwd-file-".len() + 12);
        assert_eq!(name, FalcoAlert::object_name("Read Passwd File", a));
        let host = FalcoAlert::object_name("Read Passwd File", AlertSubject::Host { node: "n1" });
        assert_ne!(name, host);
        let other_pod = FalcoAlert::object_name(
            "Read Passwd File",
            AlertSubject::Container {
                namespace: "default",
                pod: "web-2",
                container_id: "0123456789ab",
            },
        );
        assert_ne!(name, other_pod);
        assert_eq!(
            FalcoAlert::object_name("!!!", AlertSubject::Host { node: "n" }).len(),
            18
        );
        let long = FalcoAlert::object_name(&"x".repeat(300), AlertSubject::Host { node: "n" });
        assert!(long.len() <= 63, "{long}");
    }
}
