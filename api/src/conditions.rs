//! Condition types and reasons written into the status of Kestrel resources.
//!
//! Conditions follow the Kubernetes convention (`metav1.Condition`): `type`, `status`
//! (`True`/`False`/`Unknown`), a CamelCase `reason` from this module, a plain-words `message`,
//! `observedGeneration` and `lastTransitionTime`.

/// `status` value of a condition that holds.
pub const TRUE: &str = "True";
/// `status` value of a condition that does not hold.
pub const FALSE: &str = "False";
/// `status` value of a condition not known yet.
pub const UNKNOWN: &str = "Unknown";

/// FalcoRule condition: the operator validated the current spec with the rule engine.
pub const ACCEPTED: &str = "Accepted";
/// FalcoRule condition: the node agents run the rule set that contains this FalcoRule.
pub const LOADED: &str = "Loaded";
/// FalcoAlertSink condition: the sink is complete (spec valid, Secret present) and rendered.
pub const READY: &str = "Ready";

/// Reasons used by the conditions above.
pub mod reason {
    /// Accepted=True: the current spec compiled and is deployed.
    pub const VALID: &str = "Valid";
    /// Accepted=False: the current spec has errors and was never accepted; nothing is deployed.
    pub const INVALID: &str = "Invalid";
    /// Accepted=False: the current spec has errors; the last accepted version stays deployed.
    pub const INVALID_KEPT_PREVIOUS: &str = "InvalidKeptPrevious";
    /// Accepted=False: a version of this FalcoRule was deployed, and was taken out because it
    /// no longer compiles with the cluster-wide definitions it uses (one changed or is gone),
    /// not because of an edit of its own. Kept until its spec changes.
    pub const WITHDRAWN: &str = "Withdrawn";
    /// Accepted=False: `podSelector` cannot be parsed or is not allowed here.
    pub const INVALID_POD_SELECTOR: &str = "InvalidPodSelector";
    /// Accepted=False: the rendered rules do not fit in one ConfigMap.
    pub const TOO_LARGE: &str = "TooLarge";

    /// Loaded=True: every agent runs the rule set with this FalcoRule.
    pub const ALL_NODES_LOADED: &str = "AllNodesLoaded";
    /// Loaded=False: some agents still run an older rule set (or failed to load the newest).
    pub const ROLLING_OUT: &str = "RollingOut";
    /// Loaded=False: some agent reported that it cannot load the newest rule set.
    pub const LOAD_FAILED: &str = "LoadFailed";
    /// Loaded=Unknown: no agent has reported yet.
    pub const NO_AGENTS: &str = "NoAgents";
    /// Loaded=False: this FalcoRule is not part of the deployed rule set.
    pub const NOT_DEPLOYED: &str = "NotDeployed";

    /// Ready=True: the sink is rendered and its Secret exists.
    pub const SINK_READY: &str = "SinkReady";
    /// Ready=False: the spec misses a field its type needs, or has a bad value.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// Ready=False: the Secret named by `credentials.secretKeyRef` (or `tls.caSecretRef`) does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// Ready=False: the Secret exists but has no such key.
    pub const SECRET_KEY_NOT_FOUND: &str = "SecretKeyNotFound";
}
