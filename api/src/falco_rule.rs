//! `FalcoRule`: Falco rules, macros and lists as a Kubernetes resource.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::{any_json_value, conditions_schema, int_or_string};

/// Falco rules, macros and lists, written in Falco's own rule language.
///
/// A FalcoRule in Kestrel's install namespace applies cluster-wide: to every pod and to the hosts.
/// A FalcoRule in any other namespace applies only to the pods of its namespace, narrowed by
/// `podSelector`; it may use the macros and lists of the cluster-wide FalcoRules.
/// The operator validates every FalcoRule with the rule engine the node agents run and reports
/// errors in `status` with their line and column inside the condition. An invalid edit of a
/// FalcoRule that was valid keeps the last accepted version running.
// `printcolumn(...)` repeats `type_ = ...` by design; clippy reads that as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "kestrel.dev",
    version = "v1alpha1",
    kind = "FalcoRule",
    plural = "falcorules",
    singular = "falcorule",
    namespaced,
    shortname = "frule",
    shortname = "frules",
    category = "kestrel",
    status = "FalcoRuleStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Falco rules, macros and lists, validated by the Kestrel operator and run by the Kestrel node agents. In the install namespace it applies cluster-wide (all pods and hosts); elsewhere it applies to the pods of its own namespace selected by podSelector.",
    printcolumn(
        name = "Accepted",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].status",
        description = "Whether the current spec compiled"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Accepted\")].reason",
        description = "Why (Valid, Invalid, InvalidKeptPrevious...)"
    ),
    printcolumn(
        name = "Rules",
        type_ = "integer",
        json_path = ".status.rules",
        description = "Rules in the spec"
    ),
    printcolumn(
        name = "Alerts",
        type_ = "integer",
        json_path = ".status.alerts.total",
        description = "Alerts counted in existing FalcoAlerts"
    ),
    printcolumn(
        name = "Loaded",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Loaded\")].message",
        description = "Nodes running the rule set",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct FalcoRuleSpec {
    /// Falco lists (`- list: name` / `items: [...]`), rendered first, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lists: Vec<FalcoList>,
    /// Falco macros (`- macro: name` / `condition: ...`), rendered after the lists, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<FalcoMacro>,
    /// Falco rules (`- rule: name` / `desc`, `condition`, `output`, `priority`, ...), rendered
    /// after the macros, in this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// Only for FalcoRules outside the install namespace: the rules apply only to the pods of this
    /// namespace whose labels match. Absent means every pod of the namespace. Not allowed on
    /// cluster-wide FalcoRules (they apply to all pods and hosts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
}

/// How an `override` entry combines a field with the earlier definition of the same name.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OverrideMode {
    /// Add to the earlier value (conditions are joined, lists and tags extended).
    Append,
    /// Replace the earlier value.
    Replace,
}

/// A Falco list: a named set of values usable in conditions (`proc.name in (shell_binaries)`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct FalcoList {
    /// Name of the list.
    pub list: String,
    /// Values of the list: strings, numbers, or names of other lists.
    #[serde(default)]
    pub items: Vec<ListItem>,
    /// Deprecated Falco form of `override: {items: append}`: add these items to the list of the
    /// same name defined earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
    /// How fields combine with the earlier list of the same name.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<ListOverride>,
}

/// One value of a Falco list: a string, or an integer such as a port number.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(untagged)]
#[schemars(schema_with = "int_or_string")]
pub enum ListItem {
    /// An integer item (`80`).
    Int(i64),
    /// A string item (`/bin/sh`, or the name of another list).
    Str(String),
}

/// `override` of a list.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct ListOverride {
    /// `append` adds the items to the earlier list; `replace` replaces them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<OverrideMode>,
}

/// A Falco macro: a named condition fragment usable in other conditions.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct FalcoMacro {
    /// Name of the macro.
    #[serde(rename = "macro")]
    pub name: String,
    /// The condition fragment, in Falco's filter syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Deprecated Falco form of `override: {condition: append}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
    /// How fields combine with the earlier macro of the same name.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<MacroOverride>,
}

/// `override` of a macro.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct MacroOverride {
    /// `append` joins the condition to the earlier one; `replace` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<OverrideMode>,
}

/// A Falco rule: a condition over system call events and the alert it raises.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Rule {
    /// Name of the rule (unique in the rule set; a second definition replaces the first unless it
    /// appends or overrides).
    #[serde(rename = "rule")]
    pub name: String,
    /// What the rule detects, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    /// Falco filter condition (`evt.type = open and fd.name = /etc/passwd`); may use macros and
    /// lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Alert text with `%field` references (`%proc.name read %fd.name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Falco priority: emergency, alert, critical, error, warning, notice, informational, debug
    /// (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // A pattern, not a CEL rule: CEL's estimated cost over the unbounded rules list exceeds the
    // apiserver's budget (measured: refused "by a factor of more than 100x").
    #[schemars(pattern(
        r"^\s*(?i:emergency|alert|critical|error|warning|notice|informational|info|debug)\s*$"
    ))]
    pub priority: Option<String>,
    /// Event source; Kestrel supports `syscall` (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Free-form tags, copied into alerts and usable in sink filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// `false` keeps the rule defined but never evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Falco exceptions: tuples of field values for which the rule does not fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<Vec<Exception>>,
    /// Deprecated Falco form of `override: {condition: append}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<bool>,
    /// How fields combine with the earlier rule of the same name.
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<RuleOverride>,
    /// Falco's `warn_evttypes`: `false` silences the warning about rules matching every event type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_evttypes: Option<bool>,
    /// Falco's `skip-if-unknown-filter`: `true` skips (instead of rejecting) a rule whose only
    /// errors are fields or event types the engine does not know, in its condition, exceptions,
    /// output or the macros it uses.
    #[serde(
        default,
        rename = "skip-if-unknown-filter",
        skip_serializing_if = "Option::is_none"
    )]
    pub skip_if_unknown_filter: Option<bool>,
}

/// `override` of a rule: for each field, whether it appends to or replaces the earlier rule's.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct RuleOverride {
    /// How `condition` combines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<OverrideMode>,
    /// How `output` combines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<OverrideMode>,
    /// How `desc` combines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<OverrideMode>,
    /// How `priority` combines (replace only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<OverrideMode>,
    /// How `tags` combine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<OverrideMode>,
    /// How `exceptions` combine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exceptions: Option<OverrideMode>,
    /// How `enabled` combines (replace only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<OverrideMode>,
}

/// A Falco exception: the rule does not fire when the event's `fields` match one of `values`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Exception {
    /// Name of the exception (unique within the rule).
    pub name: String,
    /// One field name, or a list of field names forming a tuple (`[proc.name, fd.directory]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json_value")]
    pub fields: Option<serde_json::Value>,
    /// Comparison operator(s) matching `fields` (`=`, `in`, `startswith`...); `=` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json_value")]
    pub comps: Option<serde_json::Value>,
    /// Values: a list of tuples (one value per field; a list for `in`/`pmatch`), or a plain list
    /// when `fields` is a single field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_json_value")]
    pub values: Option<serde_json::Value>,
}

/// Observed state of a FalcoRule, written by the operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FalcoRuleStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Accepted` (the current spec compiled; reasons Valid, Invalid, InvalidKeptPrevious, Withdrawn,
    /// InvalidPodSelector, TooLarge) and `Loaded` (the agents run it; reasons AllNodesLoaded,
    /// RollingOut, LoadFailed, NoAgents, NotDeployed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "conditions_schema")]
    pub conditions: Vec<Condition>,
    /// Errors of the current spec, each naming the rule, macro or list and, for condition errors,
    /// the line and column inside the condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RuleProblem>,
    /// Warnings of the current spec (the spec is still accepted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<RuleProblem>,
    /// Number of rules in the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<i32>,
    /// Number of macros in the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macros: Option<i32>,
    /// Number of lists in the current spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<i32>,
    /// The `metadata.generation` of the version the agents are given (older than the current one
    /// while an invalid edit is kept out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployed_generation: Option<i64>,
    /// The render generation (`kestrel.dev/render-generation` of the rules ConfigMaps) that first
    /// carried the deployed version; agents report the render generation they run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render_generation: Option<i64>,
    /// Alerts raised by this FalcoRule's rules, summed over its FalcoAlerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertCounters>,
}

/// What an error or warning is about.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ProblemSubject {
    /// A rule (`spec.rules[i]`).
    Rule,
    /// A macro (`spec.macros[i]`).
    Macro,
    /// A list (`spec.lists[i]`).
    List,
    /// `spec.podSelector`.
    PodSelector,
    /// The FalcoRule as a whole (size, structure).
    Spec,
}

/// One error or warning of a FalcoRule, in plain words.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleProblem {
    /// What the problem is about: rule, macro, list, podSelector or spec.
    pub subject: ProblemSubject,
    /// Name of the rule, macro or list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Path of the field in the FalcoRule (`spec.rules[2].condition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Line inside the field's text (the condition or output), from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i32>,
    /// Column inside that line, from 1 (in characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<i32>,
    /// What is wrong, in plain words.
    pub message: String,
}

/// Alert counters of a FalcoRule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertCounters {
    /// Alerts counted in the FalcoAlerts that still exist.
    pub total: i64,
    /// When the newest of them was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<Time>,
    /// Alerts per rule name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_rule: BTreeMap<String, i64>,
}

impl FalcoRuleSpec {
    /// Number of rules, macros and lists.
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.rules.len(), self.macros.len(), self.lists.len())
    }
}
