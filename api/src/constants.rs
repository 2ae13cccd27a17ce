//! Names shared by the operator and the node agents: labels, annotations, ConfigMap names, Lease
//! names, the field manager. One definition per fact: the agent reads what the operator writes
//! through these constants.

/// API group of every Kestrel resource.
pub const GROUP: &str = "kestrel.dev";
/// API version of every Kestrel resource.
pub const VERSION: &str = "v1alpha1";

/// Server-side-apply field manager of the operator.
pub const OPERATOR_FIELD_MANAGER: &str = "kestrel-operator";
/// Server-side-apply field manager the node agents use for FalcoAlerts and their Leases.
pub const AGENT_FIELD_MANAGER: &str = "kestrel-agent";

/// Label `kestrel.dev/rules=true` on every rendered rules ConfigMap (`kestrel-rules-<i>`).
pub const LABEL_RULES: &str = "kestrel.dev/rules";
/// Label `kestrel.dev/sinks=true` on the rendered sinks ConfigMap (`kestrel-sinks`).
pub const LABEL_SINKS: &str = "kestrel.dev/sinks";
/// Label selector the agents use to watch the rules ConfigMaps.
pub const RULES_SELECTOR: &str = "kestrel.dev/rules=true";
/// Label selector the agents use to watch the sinks ConfigMap.
pub const SINKS_SELECTOR: &str = "kestrel.dev/sinks=true";
/// Label `app.kubernetes.io/managed-by` value on everything the operator writes.
pub const MANAGED_BY: &str = "kestrel-operator";

/// Prefix of the rules ConfigMaps: shard `i` is `kestrel-rules-<i>` (`i` from 0).
pub const RULES_CONFIGMAP_PREFIX: &str = "kestrel-rules-";
/// Name of the sinks ConfigMap.
pub const SINKS_CONFIGMAP: &str = "kestrel-sinks";
/// Key of the sink list inside the sinks ConfigMap.
pub const SINKS_KEY: &str = "sinks.json";
/// Key of the index inside rules shard 0.
pub const INDEX_KEY: &str = "index.json";

/// Annotation on every rules shard: hex sha256 of the whole rendered rule set (all shards). All
/// shards of one consistent set carry the same value; agents load only when they agree.
pub const ANNOTATION_CONTENT_HASH: &str = "kestrel.dev/content-hash";
/// Annotation on every rules shard: `i/n` (this shard's index and the shard count).
pub const ANNOTATION_SHARD: &str = "kestrel.dev/shard";
/// Annotation on every rules shard: render generation, a counter the operator bumps each time the
/// content hash changes (decimal).
pub const ANNOTATION_RENDER_GENERATION: &str = "kestrel.dev/render-generation";
/// Annotation on the sinks ConfigMap: hex sha256 of `sinks.json`.
pub const ANNOTATION_SINKS_HASH: &str = "kestrel.dev/content-hash";

/// Name of the rules ConfigMap of shard `i`.
pub fn rules_configmap_name(shard: usize) -> String {
    format!("{RULES_CONFIGMAP_PREFIX}{shard}")
}

/// Name of the Lease the operator replicas compete for (in the install namespace).
pub const OPERATOR_LEADER_LEASE: &str = "kestrel-operator-leader";

/// Prefix of the per-node Lease each agent keeps renewed in the install namespace:
/// `kestrel-agent-<nodeName>`. `spec.renewTime` is its heartbeat.
pub const AGENT_LEASE_PREFIX: &str = "kestrel-agent-";
/// Label `kestrel.dev/agent=true` on the agents' Leases.
pub const LABEL_AGENT: &str = "kestrel.dev/agent";
/// Label selector of the agents' Leases.
pub const AGENT_SELECTOR: &str = "kestrel.dev/agent=true";
/// Annotation on an agent's Lease: the content hash of the rule set the agent runs.
pub const ANNOTATION_LOADED_HASH: &str = "kestrel.dev/loaded-rules-hash";
/// Annotation on an agent's Lease: the render generation (`kestrel.dev/render-generation`) of the
/// rule set the agent runs (decimal). The operator compares it with each index entry's `since` to
/// tell, per FalcoRule, how many nodes run its deployed version.
pub const ANNOTATION_LOADED_RENDER_GENERATION: &str = "kestrel.dev/loaded-render-generation";
/// Annotation on an agent's Lease: why the agent could not load the newest rule set (plain words),
/// absent when it loaded it.
pub const ANNOTATION_LOAD_ERROR: &str = "kestrel.dev/load-error";
/// Annotation on an agent's Lease: the node the agent runs on.
pub const ANNOTATION_NODE: &str = "kestrel.dev/node";

/// Name of an agent's Lease for `node`.
pub fn agent_lease_name(node: &str) -> String {
    format!("{AGENT_LEASE_PREFIX}{node}")
}

/// Label on FalcoAlerts: the node that saw the activity.
pub const LABEL_ALERT_NODE: &str = "kestrel.dev/node";
/// Label on FalcoAlerts: the priority, lower case (`warning`).
pub const LABEL_ALERT_PRIORITY: &str = "kestrel.dev/priority";

/// Upper bound of one rendered ConfigMap's data (keys + values), leaving margin under the 1 MiB
/// object limit for metadata and encoding.
pub const CONFIGMAP_DATA_BUDGET: usize = 900 * 1024;
