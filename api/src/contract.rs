//! What the operator writes for the node agents (and what the agents report back), as types both
//! sides (de)serialize. `operator/README.md` has the same contract with examples.
//!
//! # Rules ConfigMaps
//! In the install namespace, ConfigMaps `kestrel-rules-0` .. `kestrel-rules-<n-1>`, each labelled
//! `kestrel.dev/rules=true` (and `app.kubernetes.io/managed-by=kestrel-operator`) and annotated:
//! - `kestrel.dev/content-hash`: hex sha256 of the whole rendered set (same on every shard);
//! - `kestrel.dev/shard`: `i/n`;
//! - `kestrel.dev/render-generation`: decimal counter, bumped each time the content hash changes.
//!
//! `data` holds one key per deployed FalcoRule, [`entry_key`] = `<namespace>.<name>.yaml`: that
//! FalcoRule as a Falco rules file (its lists, then its macros, then its rules, each in the order
//! of its spec; an empty FalcoRule is an empty file). Shard 0 also holds `index.json`, a
//! [`RulesIndex`]: `{hash, generation, shards, entries: [{key, shard, since, namespace, name, uid,
//! generation, scope, podSelector}]}`, entries with scope `cluster` first, then by namespace, then
//! by name. Each ConfigMap's data stays under 900 KiB ([`crate::constants::CONFIGMAP_DATA_BUDGET`]).
//!
//! An agent loads a set only when shards `0..n` all exist and carry the content hash of
//! `index.json` (shards are written one by one: shards 1.. first, shard 0 last, stale shards
//! deleted after). Then:
//! - all entries with scope `cluster` (in index order) form one rule set applied to every event
//!   (every pod and the host);
//! - each entry with scope `namespace` forms one rule set made of [`shared_definitions`] of every
//!   cluster entry (in index order) followed by the entry, applied only to events of pods of
//!   `namespace` whose labels match `podSelector` (absent: every pod of the namespace).
//!
//! The operator writes nothing when nothing changed; the same FalcoRules always render to the same
//! bytes. An invalid edit of a deployed FalcoRule leaves its entry (key, YAML, `generation`)
//! exactly as it was.
//!
//! # What the agents report
//! Each agent keeps a Lease `kestrel-agent-<node>` in the install namespace, labelled
//! `kestrel.dev/agent=true`, renewing `spec.renewTime` within `spec.leaseDurationSeconds`, with
//! annotations `kestrel.dev/node`, `kestrel.dev/loaded-render-generation` (the
//! `kestrel.dev/render-generation` of the set it runs), `kestrel.dev/loaded-rules-hash` and, when
//! it could not load the newest set, `kestrel.dev/load-error` (plain words). A FalcoRule is loaded
//! on a node when the node's loaded render generation is at least its entry's `since`; the
//! operator writes that count into the FalcoRule's `Loaded` condition.
//!
//! # Sinks ConfigMap
//! `kestrel-sinks` in the install namespace, labelled `kestrel.dev/sinks=true`, key `sinks.json`:
//! a JSON array of [`SinkEntry`] (cluster scope first, then namespace, then name), annotated with
//! `kestrel.dev/content-hash` (sha256 of `sinks.json`). Credentials are never in it: `secretRef`
//! (and `tls.caSecretRef`) name the Secret key the agent reads itself, in the sink's namespace.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

use crate::sink::{SinkFilters, SinkType, SyslogProtocol};

/// Where a FalcoRule applies.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// A FalcoRule or sink of the install namespace: every pod and the hosts.
    Cluster,
    /// A FalcoRule or sink of another namespace: pods of that namespace only.
    Namespace,
}

/// `index.json` of rules shard 0.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RulesIndex {
    /// Same value as the `kestrel.dev/content-hash` annotation of every shard.
    pub hash: String,
    /// Same value as the `kestrel.dev/render-generation` annotation of every shard.
    pub generation: u64,
    /// Number of shards (`n`).
    pub shards: usize,
    /// Deployed FalcoRules: scope `cluster` first, then by namespace, then by name.
    pub entries: Vec<IndexEntry>,
}

/// One deployed FalcoRule.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IndexEntry {
    /// Data key holding the rendered Falco YAML.
    pub key: String,
    /// Shard (ConfigMap `kestrel-rules-<shard>`) holding the key.
    pub shard: usize,
    /// Namespace of the FalcoRule.
    pub namespace: String,
    /// Name of the FalcoRule.
    pub name: String,
    /// UID of the FalcoRule.
    pub uid: String,
    /// `metadata.generation` of the deployed version (older than the FalcoRule's current
    /// generation while an invalid edit is kept out).
    pub generation: i64,
    /// Where the rules apply.
    pub scope: Scope,
    /// The render generation that first carried this version of the entry: a node whose loaded
    /// render generation is at least this runs it.
    #[serde(default)]
    pub since: u64,
    /// For scope `namespace`: the pods the rules apply to (absent: all pods of the namespace).
    /// Always absent for scope `cluster`.
    #[serde(default)]
    pub pod_selector: Option<LabelSelector>,
}

/// Longest ConfigMap data key Kubernetes accepts.
pub const MAX_KEY_LEN: usize = 253;

/// Data key of a FalcoRule in the rules ConfigMaps: `<namespace>.<name>.yaml`. Namespaces hold no
/// dot, so the first dot separates namespace and name. When that would pass 253 characters the
/// name is cut and a hash of the full name appended (`<namespace>.<prefix>-<hash16>.yaml`).
pub fn entry_key(namespace: &str, name: &str) -> String {
    let key = format!("{namespace}.{name}.yaml");
    if key.len() <= MAX_KEY_LEN {
        return key;
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let room = MAX_KEY_LEN - namespace.len() - ".".len() - "-".len() - hash.len() - ".yaml".len();
    let prefix: String = name.chars().take(room).collect();
    format!("{namespace}.{prefix}-{hash}.yaml")
}

/// The part of a rendered FalcoRule a namespaced rule set shares: its lists and macros (in their
/// order), without its rules. Agents and the operator build each namespaced rule set from this
/// text of every cluster entry (in index order) followed by the namespaced entry.
pub fn shared_definitions(rendered_yaml: &str) -> Result<String, serde_yaml::Error> {
    let items: Vec<serde_yaml::Value> =
        serde_yaml::from_str::<Option<Vec<serde_yaml::Value>>>(rendered_yaml)?.unwrap_or_default();
    let shared: Vec<&serde_yaml::Value> = items
        .iter()
        .filter(|item| item.get("macro").is_some() || item.get("list").is_some())
        .collect();
    if shared.is_empty() {
        return Ok(String::new());
    }
    serde_yaml::to_string(&shared)
}

/// One sink in `sinks.json`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SinkEntry {
    /// Namespace of the FalcoAlertSink.
    pub namespace: String,
    /// Name of the FalcoAlertSink.
    pub name: String,
    /// `cluster` (install namespace: every alert) or `namespace` (alerts about pods of
    /// `namespace` only).
    pub scope: Scope,
    /// Sink type.
    #[serde(rename = "type")]
    pub type_: SinkType,
    /// webhook, slack: URL (absent for slack when the URL is the Secret's value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// file: path on the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// syslog: host:port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// syslog: transport.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<SyslogProtocol>,
    /// Least severe priority sent, lower case (`warning`).
    pub minimum_priority: String,
    /// Filters (all must match; an empty filter matches everything).
    #[serde(default)]
    pub filters: SinkFilters,
    /// webhook: extra non-secret headers.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// The credential (webhook: bearer token; slack: webhook URL), read by the agent from this
    /// Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// webhook: the header that carries the credential as is; absent: `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_header: Option<String>,
    /// webhook: TLS options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SinkTlsEntry>,
}

/// A Secret key, with its namespace (always the sink's namespace).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
pub struct SecretRef {
    /// Namespace of the Secret.
    pub namespace: String,
    /// Name of the Secret.
    pub name: String,
    /// Key in the Secret's data.
    pub key: String,
}

/// TLS options of a sink in `sinks.json`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SinkTlsEntry {
    /// Skip verification of the server certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// PEM CA bundle to trust, read by the agent from this Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretRef>,
    /// Server name to verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_definitions_keep_lists_and_macros_only() {
        let yaml = "- list: shells\n  items: [sh, bash]\n- macro: spawned\n  condition: evt.type = execve\n- rule: Shell\n  condition: spawned and proc.name in (shells)\n";
        let shared = shared_definitions(yaml).unwrap();
        assert_eq!(
            shared,
            "- list: shells\n  items:\n  - sh\n  - bash\n- macro: spawned\n  condition: evt.type = execve\n"
        );
        assert_eq!(
            shared_definitions("- rule: Only\n  condition: a\n").unwrap(),
            ""
        );
        assert_eq!(shared_definitions("").unwrap(), "");
    }

    #[test]
    fn entry_key_is_namespace_dot_name() {
        assert_eq!(entry_key("default", "passwd"), "default.passwd.yaml");
        assert_eq!(entry_key("kestrel", "a.b"), "kestrel.a.b.yaml");
    }

    #[test]
    fn entry_key_stays_within_the_limit_and_distinct() {
        let long_a = format!("{}a", "x".repeat(250));
        let long_b = format!("{}b", "x".repeat(250));
        let a = entry_key("team-a", &long_a);
        let b = entry_key("team-a", &long_b);
        assert!(a.len() <= MAX_KEY_LEN, "{}", a.len());
        assert!(a.starts_with("team-a.xxx") && a.ends_with(".yaml"));
        assert_ne!(a, b);
    }
}
