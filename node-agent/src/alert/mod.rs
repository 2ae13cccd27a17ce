//! Alerts: what a matching rule produces, and where alerts go.

pub mod format;
pub mod sinks;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use kestrel_engine::Priority;

/// Where an alert happened, beyond the rule's own output: used by the Kubernetes outputs
/// (Event on the pod, aggregated FalcoAlert) and the sinks' filters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertContext {
    /// `host` for host processes, as Falco prints `container.id`.
    pub container_id: String,
    pub container_name: Option<String>,
    pub container_image: Option<String>,
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_uid: Option<String>,
    pub proc_name: String,
    pub proc_cmdline: String,
    pub pid: u32,
}

/// One alert: a rule matched an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Wall-clock time of the event, ns since the Unix epoch.
    pub time_ns: u64,
    pub rule: String,
    pub priority: Priority,
    pub source: String,
    pub tags: Vec<String>,
    /// The rule's output template rendered for the event.
    pub output: String,
    /// Every `%field` of the template with its value (`None` when Falco would print `<NA>`).
    pub output_fields: BTreeMap<String, Option<String>>,
    pub hostname: Arc<str>,
    pub context: AlertContext,
    /// The rules file (or, in a cluster, the FalcoRule's rendered key `<namespace>.<name>.yaml`)
    /// the rule came from.
    pub rule_file: String,
    /// In a cluster: the FalcoRule (namespace, name) the rule came from.
    pub falco_rule: Option<(String, String)>,
}
