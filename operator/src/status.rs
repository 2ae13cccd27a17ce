//! Status of FalcoRules and FalcoAlertSinks: conditions with reasons and plain-words messages,
//! computed as pure functions, and compared before writing so an unchanged status costs no write.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kestrel_api::conditions::{self, ACCEPTED, FALSE, LOADED, READY, TRUE, UNKNOWN, reason};
use kestrel_api::constants::{
    AGENT_LEASE_PREFIX, ANNOTATION_LOAD_ERROR, ANNOTATION_LOADED_HASH,
    ANNOTATION_LOADED_RENDER_GENERATION, ANNOTATION_NODE,
};
use kestrel_api::{FalcoAlertSinkStatus, FalcoRuleStatus};

use crate::validate::{RuleOutcome, Verdict};

/// What one node agent reports through its Lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentReport {
    pub node: String,
    /// Render generation of the rule set the agent runs.
    pub loaded_generation: Option<u64>,
    /// Content hash of the rule set the agent runs.
    pub loaded_hash: Option<String>,
    /// Why the agent could not load the newest set.
    pub error: Option<String>,
}

/// The live agents' reports: Leases renewed within their duration at `now`.
pub fn agent_reports(leases: &[&Lease], now: Timestamp) -> Vec<AgentReport> {
    let mut out: Vec<AgentReport> = leases
        .iter()
        .filter(|l| {
            let Some(spec) = &l.spec else { return false };
            let (Some(renew), Some(secs)) = (&spec.renew_time, spec.lease_duration_seconds) else {
                return false;
            };
            renew.0 + SignedDuration::from_secs(i64::from(secs)) >= now
        })
        .map(|l| {
            let annotations = l.metadata.annotations.clone().unwrap_or_default();
            let name = l.metadata.name.clone().unwrap_or_default();
            AgentReport {
                node: annotations
                    .get(ANNOTATION_NODE)
                    .cloned()
                    .unwrap_or_else(|| {
                        name.strip_prefix(AGENT_LEASE_PREFIX)
                            .unwrap_or(&name)
                            .to_string()
                    }),
                loaded_generation: annotations
                    .get(ANNOTATION_LOADED_RENDER_GENERATION)
                    .and_then(|g| g.trim().parse().ok()),
                loaded_hash: annotations.get(ANNOTATION_LOADED_HASH).cloned(),
                error: annotations
                    .get(ANNOTATION_LOAD_ERROR)
                    .cloned()
                    .filter(|e| !e.is_empty()),
            }
        })
        .collect();
    out.sort();
    out
}

/// The `Loaded` condition's (status, reason, message) for a FalcoRule whose deployed version first
/// appeared in render generation `since` (None: not deployed).
pub fn loaded(since: Option<u64>, agents: &[AgentReport]) -> (&'static str, &'static str, String) {
    let Some(since) = since else {
        return (
            FALSE,
            reason::NOT_DEPLOYED,
            "not part of the deployed rules".into(),
        );
    };
    if agents.is_empty() {
        return (
            UNKNOWN,
            reason::NO_AGENTS,
            "no node agent has reported yet".into(),
        );
    }
    let total = agents.len();
    let runs = |a: &AgentReport| a.loaded_generation.is_some_and(|g| g >= since);
    let current = agents.iter().filter(|a| runs(a)).count();
    if current == total {
        return (
            TRUE,
            reason::ALL_NODES_LOADED,
            format!("{current}/{total} nodes run it"),
        );
    }
    let failed: Vec<&AgentReport> = agents
        .iter()
        .filter(|a| !runs(a) && a.error.is_some())
        .collect();
    if let Some(first) = failed.first() {
        return (
            FALSE,
            reason::LOAD_FAILED,
            format!(
                "{current}/{total} nodes run it; {} failed to load the newest rules, node {}: {}",
                failed.len(),
                first.node,
                first.error.as_deref().unwrap_or_default()
            ),
        );
    }
    (
        FALSE,
        reason::ROLLING_OUT,
        format!("{current}/{total} nodes run it"),
    )
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// `Invalid` becomes `Withdrawn` when the FalcoRule was deployed before and the spec did not
/// change since: what broke it is a cluster-wide definition, not its own edit. The operator reads
/// it from the status it wrote (deployed before, or already withdrawn at this generation), so the
/// reason survives the passes that follow.
fn withdrawn_reason(
    why: &'static str,
    outcome: &RuleOutcome,
    current: Option<&FalcoRuleStatus>,
) -> &'static str {
    if why != reason::INVALID || outcome.deployed_generation.is_some() {
        return why;
    }
    let Some(cur) = current else {
        return why;
    };
    let was_deployed = cur.deployed_generation == Some(outcome.generation);
    let already_withdrawn = cur.observed_generation == Some(outcome.generation)
        && cur
            .conditions
            .iter()
            .any(|c| c.type_ == ACCEPTED && c.reason == reason::WITHDRAWN);
    if was_deployed || already_withdrawn {
        reason::WITHDRAWN
    } else {
        why
    }
}

/// The status a FalcoRule should have.
pub fn rule_status(
    outcome: &RuleOutcome,
    since: Option<u64>,
    agents: &[AgentReport],
    current: Option<&FalcoRuleStatus>,
    now: Timestamp,
) -> FalcoRuleStatus {
    let (rules, macros, lists) = outcome.counts;
    let deployed_note = match outcome.deployed_generation {
        Some(g) => format!("; generation {g} stays deployed"),
        None => "; nothing of it is deployed".to_string(),
    };
    let (accepted_status, accepted_reason, accepted_message) = match outcome.verdict {
        Verdict::Valid => {
            let mut m = format!(
                "{}, {}, {} compiled",
                plural(rules, "rule"),
                plural(macros, "macro"),
                plural(lists, "list")
            );
            if !outcome.warnings.is_empty() {
                m.push_str(&format!(
                    " with {}",
                    plural(outcome.warnings.len(), "warning")
                ));
            }
            (TRUE, reason::VALID, m)
        }
        Verdict::Rejected { reason: why } => {
            let why = withdrawn_reason(why, outcome, current);
            let total = outcome.errors.len() + outcome.more_errors;
            let first = outcome
                .errors
                .first()
                .map(describe_problem)
                .unwrap_or_default();
            let mut m = if total <= 1 {
                format!("{first}{deployed_note}")
            } else {
                format!("{} (first: {first}){deployed_note}", plural(total, "error"))
            };
            if why == reason::WITHDRAWN {
                m = format!(
                    "withdrawn: it was deployed, and no longer compiles with the cluster-wide definitions it uses (one changed or is gone): {m}"
                );
            }
            (FALSE, why, m)
        }
    };
    let (loaded_status, loaded_reason, loaded_message) = loaded(since, agents);
    let generation = Some(outcome.generation);
    let previous = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let conditions = vec![
        condition(
            previous,
            ACCEPTED,
            accepted_status,
            accepted_reason,
            accepted_message,
            generation,
            now,
        ),
        condition(
            previous,
            LOADED,
            loaded_status,
            loaded_reason,
            loaded_message,
            generation,
            now,
        ),
    ];
    let mut errors = outcome.errors.clone();
    if outcome.more_errors > 0 {
        errors.push(kestrel_api::RuleProblem {
            subject: kestrel_api::ProblemSubject::Spec,
            name: None,
            path: None,
            line: None,
            column: None,
            message: format!("and {} more", plural(outcome.more_errors, "error")),
        });
    }
    FalcoRuleStatus {
        observed_generation: generation,
        conditions,
        errors,
        warnings: outcome.warnings.clone(),
        rules: Some(rules as i32),
        macros: Some(macros as i32),
        lists: Some(lists as i32),
        deployed_generation: outcome.deployed_generation,
        render_generation: since.map(|g| g as i64),
        // Written by the alert collector (merge patch), never by this apply: leaving it out keeps
        // the rule controller from owning it.
        alerts: None,
    }
}

/// `rule "Read Passwd" condition 1:23: unknown field ...` / `podSelector: ...`.
pub fn describe_problem(p: &kestrel_api::RuleProblem) -> String {
    let mut s = String::new();
    if let Some(name) = &p.name {
        let kind = match p.subject {
            kestrel_api::ProblemSubject::Macro => "macro",
            kestrel_api::ProblemSubject::List => "list",
            _ => "rule",
        };
        s.push_str(&format!("{kind} {name:?}"));
        if let (Some(path), Some(line), Some(col)) = (&p.path, p.line, p.column) {
            let field = path.rsplit('.').next().unwrap_or("condition");
            s.push_str(&format!(" {field} {line}:{col}"));
        }
        s.push_str(": ");
    }
    s.push_str(&p.message);
    s
}

/// The status a FalcoAlertSink should have: `Ready` with `reason` and `message`.
pub fn sink_status(
    generation: Option<i64>,
    ready: bool,
    why: &'static str,
    message: String,
    current: Option<&FalcoAlertSinkStatus>,
    now: Timestamp,
) -> FalcoAlertSinkStatus {
    let previous = current.map(|s| s.conditions.as_slice()).unwrap_or_default();
    FalcoAlertSinkStatus {
        observed_generation: generation,
        conditions: vec![condition(
            previous,
            READY,
            if ready { TRUE } else { FALSE },
            why,
            message,
            generation,
            now,
        )],
    }
}

/// A condition; `lastTransitionTime` is kept from `previous` when the status did not change.
fn condition(
    previous: &[Condition],
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: Timestamp,
) -> Condition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time,
    }
}

/// True when `a` and `b` say the same thing (condition times aside), so no write is needed.
/// `alerts` is left out: the alert collector owns it.
pub fn same_rule_status(a: &FalcoRuleStatus, b: &FalcoRuleStatus) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    a.alerts = None;
    b.alerts = None;
    strip_times(&mut a.conditions);
    strip_times(&mut b.conditions);
    a == b
}

/// True when `a` and `b` say the same thing (condition times aside).
pub fn same_sink_status(a: &FalcoAlertSinkStatus, b: &FalcoAlertSinkStatus) -> bool {
    let mut a = a.clone();
    let mut b = b.clone();
    strip_times(&mut a.conditions);
    strip_times(&mut b.conditions);
    a == b
}

fn strip_times(conditions: &mut [Condition]) {
    for c in conditions.iter_mut() {
        c.last_transition_time = Time(Timestamp::UNIX_EPOCH);
    }
    conditions.sort_by(|x, y| x.type_.cmp(&y.type_));
}

/// Count outcomes by verdict reason, for the metrics gauge.
pub fn verdict_counts(outcomes: &[RuleOutcome]) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for o in outcomes {
        let key = match o.verdict {
            Verdict::Valid => conditions::reason::VALID,
            Verdict::Rejected { reason } => reason,
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_api::contract::Scope;
    use kestrel_api::{ProblemSubject, RuleProblem};

    fn outcome(verdict: Verdict, errors: Vec<RuleProblem>, deployed: Option<i64>) -> RuleOutcome {
        RuleOutcome {
            namespace: "team-a".into(),
            name: "passwd".into(),
            uid: "u1".into(),
            generation: 4,
            scope: Scope::Namespace,
            verdict,
            errors,
            more_errors: 0,
            warnings: vec![],
            counts: (2, 1, 0),
            deployed_generation: deployed,
        }
    }

    fn condition_of<'a>(s: &'a FalcoRuleStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    fn unknown_field() -> RuleProblem {
        RuleProblem {
            subject: ProblemSubject::Rule,
            name: Some("Read Passwd".into()),
            path: Some("spec.rules[0].condition".into()),
            line: Some(1),
            column: Some(23),
            message: "unknown field `proc.nmae`".into(),
        }
    }

    #[test]
    fn valid_rule_is_accepted_and_counted() {
        let now = Timestamp::from_second(1_000).unwrap();
        let s = rule_status(
            &outcome(Verdict::Valid, vec![], Some(4)),
            Some(5),
            &[],
            None,
            now,
        );
        let accepted = condition_of(&s, ACCEPTED);
        assert_eq!(
            (accepted.status.as_str(), accepted.reason.as_str()),
            ("True", "Valid")
        );
        assert_eq!(accepted.message, "2 rules, 1 macro, 0 lists compiled");
        assert_eq!(accepted.observed_generation, Some(4));
        let loaded = condition_of(&s, LOADED);
        assert_eq!(
            (loaded.status.as_str(), loaded.reason.as_str()),
            ("Unknown", "NoAgents")
        );
        assert_eq!(s.deployed_generation, Some(4));
        assert_eq!(s.render_generation, Some(5));
        assert_eq!(s.rules, Some(2));
    }

    #[test]
    fn invalid_edit_keeps_previous_and_says_where() {
        let now = Timestamp::from_second(1_000).unwrap();
        let o = outcome(
            Verdict::Rejected {
                reason: reason::INVALID_KEPT_PREVIOUS,
            },
            vec![unknown_field()],
            Some(3),
        );
        let s = rule_status(&o, Some(5), &[], None, now);
        let accepted = condition_of(&s, ACCEPTED);
        assert_eq!(
            (accepted.status.as_str(), accepted.reason.as_str()),
            ("False", "InvalidKeptPrevious")
        );
        assert_eq!(
            accepted.message,
            "rule \"Read Passwd\" condition 1:23: unknown field `proc.nmae`; generation 3 stays deployed"
        );
        assert_eq!(s.errors, vec![unknown_field()]);
        assert_eq!(s.deployed_generation, Some(3));
    }

    #[test]
    fn never_valid_rule_is_not_deployed() {
        let now = Timestamp::from_second(1_000).unwrap();
        let o = outcome(
            Verdict::Rejected {
                reason: reason::INVALID,
            },
            vec![unknown_field(), unknown_field()],
            None,
        );
        let s = rule_status(&o, None, &[], None, now);
        let accepted = condition_of(&s, ACCEPTED);
        assert!(
            accepted
                .message
                .starts_with("2 errors (first: rule \"Read Passwd\""),
            "{}",
            accepted.message
        );
        assert!(accepted.message.ends_with("nothing of it is deployed"));
        let loaded = condition_of(&s, LOADED);
        assert_eq!(
            (loaded.status.as_str(), loaded.reason.as_str()),
            ("False", "NotDeployed")
        );
        assert_eq!(s.render_generation, None);
    }

    #[test]
    fn a_deployed_rule_broken_by_a_cluster_change_is_withdrawn_until_its_spec_changes() {
        let now = Timestamp::from_second(1_000).unwrap();
        let valid = outcome(Verdict::Valid, vec![], Some(4));
        let deployed = rule_status(&valid, Some(2), &[], None, now);
        assert_eq!(deployed.deployed_generation, Some(4));
        // Generation 4 unchanged, but a cluster macro it uses is gone.
        let broken = outcome(
            Verdict::Rejected {
                reason: reason::INVALID,
            },
            vec![unknown_field()],
            None,
        );
        let s1 = rule_status(&broken, None, &[], Some(&deployed), now);
        let a1 = condition_of(&s1, ACCEPTED);
        assert_eq!(
            (a1.status.as_str(), a1.reason.as_str()),
            ("False", "Withdrawn")
        );
        assert!(
            a1.message
                .starts_with("withdrawn: it was deployed, and no longer compiles"),
            "{}",
            a1.message
        );
        // The next pass (nothing deployed any more) keeps saying so.
        let s2 = rule_status(&broken, None, &[], Some(&s1), now);
        assert_eq!(condition_of(&s2, ACCEPTED).reason, "Withdrawn");
        // A new, still invalid, generation is the user's own error.
        let mut edited = broken.clone();
        edited.generation = 5;
        let s3 = rule_status(&edited, None, &[], Some(&s2), now);
        assert_eq!(condition_of(&s3, ACCEPTED).reason, "Invalid");
        // Never deployed: plain Invalid.
        let s4 = rule_status(&broken, None, &[], None, now);
        assert_eq!(condition_of(&s4, ACCEPTED).reason, "Invalid");
    }

    #[test]
    fn transition_time_moves_only_on_status_change() {
        let t1 = Timestamp::from_second(1_000).unwrap();
        let t2 = Timestamp::from_second(2_000).unwrap();
        let first = rule_status(
            &outcome(Verdict::Valid, vec![], Some(4)),
            Some(5),
            &[],
            None,
            t1,
        );
        let again = rule_status(
            &outcome(Verdict::Valid, vec![], Some(4)),
            Some(5),
            &[],
            Some(&first),
            t2,
        );
        assert_eq!(
            condition_of(&again, ACCEPTED).last_transition_time,
            Time(t1)
        );
        assert!(same_rule_status(&first, &again));
        let broken = rule_status(
            &outcome(
                Verdict::Rejected {
                    reason: reason::INVALID_KEPT_PREVIOUS,
                },
                vec![unknown_field()],
                Some(4),
            ),
            Some(5),
            &[],
            Some(&again),
            t2,
        );
        assert_eq!(
            condition_of(&broken, ACCEPTED).last_transition_time,
            Time(t2)
        );
        assert!(!same_rule_status(&again, &broken));
    }

    #[test]
    fn loaded_counts_nodes_running_the_deployed_version() {
        let agent = |node: &str, generation: u64, error: Option<&str>| AgentReport {
            node: node.into(),
            loaded_generation: Some(generation),
            loaded_hash: Some(format!("hash-{generation}")),
            error: error.map(Into::into),
        };
        // Deployed since render generation 7: nodes on 7 or later run it.
        let all = [agent("a", 7, None), agent("b", 9, None)];
        assert_eq!(
            loaded(Some(7), &all),
            (TRUE, reason::ALL_NODES_LOADED, "2/2 nodes run it".into())
        );
        let rolling = [agent("a", 8, None), agent("b", 6, None)];
        assert_eq!(
            loaded(Some(7), &rolling),
            (FALSE, reason::ROLLING_OUT, "1/2 nodes run it".into())
        );
        let failed = [agent("a", 7, None), agent("b", 6, Some("out of memory"))];
        assert_eq!(
            loaded(Some(7), &failed),
            (
                FALSE,
                reason::LOAD_FAILED,
                "1/2 nodes run it; 1 failed to load the newest rules, node b: out of memory".into()
            )
        );
        // A node that failed on a later set still runs this one.
        let later_failure = [agent("a", 8, Some("bad set 9"))];
        assert_eq!(loaded(Some(7), &later_failure).1, reason::ALL_NODES_LOADED);
        assert_eq!(loaded(Some(7), &[]).1, reason::NO_AGENTS);
        assert_eq!(loaded(None, &all).1, reason::NOT_DEPLOYED);
    }

    #[test]
    fn stale_agent_leases_are_ignored() {
        use k8s_openapi::api::coordination::v1::LeaseSpec;
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
        let lease = |name: &str, renewed: i64| Lease {
            metadata: ObjectMeta {
                name: Some(format!("kestrel-agent-{name}")),
                annotations: Some(BTreeMap::from([
                    (ANNOTATION_LOADED_HASH.to_string(), "h".to_string()),
                    (
                        ANNOTATION_LOADED_RENDER_GENERATION.to_string(),
                        "3".to_string(),
                    ),
                ])),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
                lease_duration_seconds: Some(30),
                ..Default::default()
            }),
        };
        let (fresh, stale) = (lease("n1", 990), lease("n2", 900));
        let now = Timestamp::from_second(1_000).unwrap();
        let reports = agent_reports(&[&fresh, &stale], now);
        assert_eq!(
            reports,
            vec![AgentReport {
                node: "n1".into(),
                loaded_generation: Some(3),
                loaded_hash: Some("h".into()),
                error: None
            }]
        );
    }
}
