//! `FalcoAlertSink`: where alerts go.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::schema::conditions_schema;

/// A destination for Kestrel alerts: a webhook, Slack, the agent's log, a file or syslog.
///
/// A FalcoAlertSink in the install namespace receives alerts from the whole cluster (pods and
/// hosts); one in any other namespace receives only alerts about pods of its namespace.
/// Credentials are never written in the spec: `credentials.secretKeyRef` names a key of a Secret
/// in the sink's namespace, which the node agents read themselves.
// `printcolumn(...)` repeats `type_ = ...` by design; clippy reads that as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "kestrel.dev",
    version = "v1alpha1",
    kind = "FalcoAlertSink",
    plural = "falcoalertsinks",
    singular = "falcoalertsink",
    namespaced,
    shortname = "fsink",
    shortname = "fsinks",
    category = "kestrel",
    status = "FalcoAlertSinkStatus",
    derive = "PartialEq",
    doc = "A destination for Kestrel alerts (webhook, slack, log, file, syslog). In the install namespace it receives alerts from the whole cluster; elsewhere only alerts about pods of its own namespace.",
    printcolumn(
        name = "Type",
        type_ = "string",
        json_path = ".spec.type",
        description = "Sink type"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether the sink is complete"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        description = "Why"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self.type != 'webhook' || has(self.url)").message("a webhook sink needs url"))]
#[x_kube(validation = Rule::new("self.type != 'slack' || has(self.url) || has(self.credentials)").message("a slack sink needs url or credentials.secretKeyRef holding the Slack webhook URL"))]
#[x_kube(validation = Rule::new("self.type != 'file' || has(self.path)").message("a file sink needs path"))]
#[x_kube(validation = Rule::new("self.type != 'syslog' || has(self.address)").message("a syslog sink needs address (host:port)"))]
#[serde(rename_all = "camelCase")]
pub struct FalcoAlertSinkSpec {
    /// Sink type: `webhook` (HTTP POST of each alert as Falco JSON), `slack` (Slack incoming
    /// webhook), `log` (the agent's log), `file` (append JSON lines to a file on the node),
    /// `syslog` (RFC 5424 to host:port).
    #[serde(rename = "type")]
    pub type_: SinkType,
    /// webhook, slack: the URL alerts are POSTed to. For slack it may instead come from
    /// `credentials.secretKeyRef`, since a Slack webhook URL is itself a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// file: path of the file on the node, appended to (one JSON alert per line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// syslog: `host:port` of the syslog server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// syslog: transport, `udp` (default) or `tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<SyslogProtocol>,
    /// A credential kept in a Secret of this namespace: for webhook, a bearer token sent as
    /// `Authorization: Bearer <value>`; for slack, the incoming-webhook URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SinkCredentials>,
    /// Least severe priority sent (emergency, alert, critical, error, warning, notice,
    /// informational, debug; any case). Default: debug (everything).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.lowerAscii() in ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'info', 'debug']").message("minimumPriority must be one of emergency, alert, critical, error, warning, notice, informational, debug"))]
    pub minimum_priority: Option<String>,
    /// Send only alerts that match every filter given (each filter matches when it is empty or
    /// one of its values matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<SinkFilters>,
    /// webhook: extra HTTP headers (not secret; use credentials for tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    /// webhook: TLS options for https URLs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SinkTls>,
}

/// Kind of sink.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SinkType {
    /// HTTP POST of each alert (Falco JSON) to `url`.
    Webhook,
    /// Slack incoming webhook.
    Slack,
    /// The node agent's log.
    Log,
    /// A file on the node, one JSON alert per line.
    File,
    /// A syslog server.
    Syslog,
}

impl SinkType {
    /// The name used in the spec (`webhook`).
    pub fn as_str(self) -> &'static str {
        match self {
            SinkType::Webhook => "webhook",
            SinkType::Slack => "slack",
            SinkType::Log => "log",
            SinkType::File => "file",
            SinkType::Syslog => "syslog",
        }
    }
}

/// Syslog transport.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyslogProtocol {
    /// UDP datagrams (RFC 5426).
    Udp,
    /// TCP with octet counting (RFC 6587).
    Tcp,
}

/// Where a sink's credential lives.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SinkCredentials {
    /// The key of a Secret in the sink's namespace holding the credential.
    pub secret_key_ref: SecretKeyRef,
    /// webhook: the HTTP header that carries the credential, its value sent as is (`X-Api-Key`,
    /// `Cookie`...). Default: `Authorization: Bearer <value>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// A key of a Secret in the same namespace as the referring object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, schemars::JsonSchema)]
pub struct SecretKeyRef {
    /// Name of the Secret.
    pub name: String,
    /// Key inside the Secret's data.
    pub key: String,
}

/// Which alerts a sink receives.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SinkFilters {
    /// Only alerts of these rule names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// Only alerts of rules carrying at least one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Only alerts about pods of these namespaces (meaningful for cluster-wide sinks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
}

/// TLS options of a webhook sink.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SinkTls {
    /// Skip verification of the server certificate (testing only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    /// A key of a Secret in the sink's namespace holding PEM CA certificates to trust instead of
    /// the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<SecretKeyRef>,
    /// Server name to verify the certificate against, when it differs from the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
}

/// Observed state of a FalcoAlertSink, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FalcoAlertSinkStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (reasons SinkReady, InvalidSpec, SecretNotFound, SecretKeyNotFound).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
}
