//! FalcoAlert garbage collection: deletes FalcoAlerts whose `lastSeen` is older than the retention
//! period, then, in each namespace holding more than the cap, the oldest `lastSeen` first until the
//! cap is met. Deletes carry the resourceVersion that was judged, so an alert an agent has just
//! bumped is not deleted.
//!
//! The same pass sums the remaining FalcoAlerts per FalcoRule (`spec.falcoRule`) into each
//! FalcoRule's `status.alerts` (a merge patch of that field only, written when it changes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kestrel_api::{AlertCounters, FalcoAlert, FalcoRule, FalcoRuleRef};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, Preconditions};
use tokio_util::sync::CancellationToken;

use super::{Context, PassOutcome, Trigger, sync_loop};
use crate::Error;
use crate::metrics::ReasonLabel;

const CONTROLLER: &str = "alert_gc";

/// One FalcoAlert as the collector sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRef {
    pub namespace: String,
    pub name: String,
    pub resource_version: Option<String>,
    pub last_seen: Timestamp,
    /// Rule name, count and source FalcoRule, for the FalcoRules' alert counters.
    pub rule: String,
    pub count: i64,
    pub falco_rule: Option<FalcoRuleRef>,
}

/// Alert counters per FalcoRule (pure): totals, newest `lastSeen` and per-rule counts of `alerts`.
pub fn alert_counters(alerts: &[&AlertRef]) -> BTreeMap<FalcoRuleRef, AlertCounters> {
    let mut out: BTreeMap<FalcoRuleRef, AlertCounters> = BTreeMap::new();
    for a in alerts {
        let Some(source) = &a.falco_rule else {
            continue;
        };
        let c = out.entry(source.clone()).or_default();
        c.total += a.count;
        *c.by_rule.entry(a.rule.clone()).or_insert(0) += a.count;
        if c.last_seen.as_ref().is_none_or(|t| t.0 < a.last_seen) {
            c.last_seen = Some(Time(a.last_seen));
        }
    }
    out
}

/// Why an alert is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcReason {
    Retention,
    Cap,
}

impl GcReason {
    pub fn as_str(self) -> &'static str {
        match self {
            GcReason::Retention => "retention",
            GcReason::Cap => "cap",
        }
    }
}

/// Which alerts to delete (pure): older than `retention` at `now`, then the oldest above `cap` per
/// namespace (ties broken by name, so the choice is deterministic).
pub fn plan_gc(
    alerts: &[AlertRef],
    now: Timestamp,
    retention: Duration,
    cap: usize,
) -> Vec<(AlertRef, GcReason)> {
    let cutoff = now - SignedDuration::try_from(retention).unwrap_or(SignedDuration::MAX);
    let mut out = Vec::new();
    let mut kept: BTreeMap<&str, Vec<&AlertRef>> = BTreeMap::new();
    for a in alerts {
        if a.last_seen < cutoff {
            out.push((a.clone(), GcReason::Retention));
        } else {
            kept.entry(a.namespace.as_str()).or_default().push(a);
        }
    }
    for (_, mut list) in kept {
        if list.len() <= cap {
            continue;
        }
        list.sort_by(|x, y| (x.last_seen, &x.name).cmp(&(y.last_seen, &y.name)));
        let excess = list.len() - cap;
        out.extend(
            list.into_iter()
                .take(excess)
                .map(|a| (a.clone(), GcReason::Cap)),
        );
    }
    out
}

/// Run the collector every `Config::alert_gc_interval` until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let trigger = Trigger::new();
    trigger.fire();
    sync_loop(
        CONTROLLER,
        trigger,
        Duration::ZERO,
        ctx.config.alert_gc_interval,
        ctx.metrics.clone(),
        shutdown,
        || {
            let ctx = ctx.clone();
            async move { pass(&ctx).await }
        },
    )
    .await;
}

/// One collection pass.
pub async fn pass(ctx: &Context) -> Result<PassOutcome, Error> {
    let api: Api<FalcoAlert> = Api::all(ctx.client.clone());
    let mut alerts = Vec::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await?;
        for a in &page.items {
            alerts.push(AlertRef {
                namespace: a.namespace().unwrap_or_default(),
                name: a.name_any(),
                resource_version: a.resource_version(),
                last_seen: a.spec.last_seen.0,
                rule: a.spec.rule.clone(),
                count: a.spec.count,
                falco_rule: a.spec.falco_rule.clone(),
            });
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    let doomed = plan_gc(
        &alerts,
        Timestamp::now(),
        ctx.config.alert_retention,
        ctx.config.alerts_per_namespace,
    );
    let mut deleted = 0usize;
    for (a, why) in &doomed {
        let ns_api: Api<FalcoAlert> = Api::namespaced(ctx.client.clone(), &a.namespace);
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: a.resource_version.clone(),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match ns_api.delete(&a.name, &dp).await {
            Ok(_) => {
                deleted += 1;
                ctx.metrics.wrote(CONTROLLER, "delete_alert");
                ctx.metrics
                    .alerts_deleted
                    .get_or_create(&ReasonLabel {
                        reason: why.as_str().into(),
                    })
                    .inc();
            }
            // Gone already, or bumped since we looked: leave it for the next pass.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, total = alerts.len(), "deleted FalcoAlerts");
    }

    // Alert counters of the FalcoRules, from the alerts that remain.
    let doomed_names: std::collections::HashSet<(&str, &str)> = doomed
        .iter()
        .map(|(a, _)| (a.namespace.as_str(), a.name.as_str()))
        .collect();
    let remaining: Vec<&AlertRef> = alerts
        .iter()
        .filter(|a| !doomed_names.contains(&(a.namespace.as_str(), a.name.as_str())))
        .collect();
    let counters = alert_counters(&remaining);
    let rules = Api::<FalcoRule>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?;
    for rule in rules.items {
        let key = FalcoRuleRef {
            namespace: rule.namespace().unwrap_or_default(),
            name: rule.name_any(),
        };
        let want = counters.get(&key);
        let have = rule.status.as_ref().and_then(|s| s.alerts.as_ref());
        if want == have {
            continue;
        }
        let api: Api<FalcoRule> = Api::namespaced(ctx.client.clone(), &key.namespace);
        let patch = serde_json::json!({ "status": { "alerts": want } });
        let params = PatchParams {
            field_manager: Some(kestrel_api::constants::OPERATOR_FIELD_MANAGER.to_string()),
            ..PatchParams::default()
        };
        match api
            .patch_status(&key.name, &params, &Patch::Merge(&patch))
            .await
        {
            Ok(_) => ctx.metrics.wrote(CONTROLLER, "status"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(PassOutcome::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(ns: &str, name: &str, last_seen: i64) -> AlertRef {
        AlertRef {
            namespace: ns.into(),
            name: name.into(),
            resource_version: Some("1".into()),
            last_seen: Timestamp::from_second(last_seen).unwrap(),
            rule: "Read Passwd File".into(),
            count: 2,
            falco_rule: Some(FalcoRuleRef {
                namespace: "kestrel".into(),
                name: "base".into(),
            }),
        }
    }

    #[test]
    fn counters_sum_per_falco_rule() {
        let mut other = alert("a", "x", 9_500);
        other.rule = "Shell In Container".into();
        other.count = 5;
        let mut orphan = alert("a", "y", 9_900);
        orphan.falco_rule = None;
        let alerts = [alert("a", "w", 9_000), other, orphan];
        let refs: Vec<&AlertRef> = alerts.iter().collect();
        let counters = alert_counters(&refs);
        assert_eq!(counters.len(), 1);
        let c = &counters[&FalcoRuleRef {
            namespace: "kestrel".into(),
            name: "base".into(),
        }];
        assert_eq!(c.total, 7);
        assert_eq!(c.by_rule["Read Passwd File"], 2);
        assert_eq!(c.by_rule["Shell In Container"], 5);
        assert_eq!(
            c.last_seen,
            Some(Time(Timestamp::from_second(9_500).unwrap()))
        );
    }

    #[test]
    fn deletes_expired_then_oldest_above_cap() {
        let now = Timestamp::from_second(10_000).unwrap();
        let alerts = vec![
            alert("a", "old", 1_000),
            alert("a", "n1", 9_000),
            alert("a", "n2", 9_500),
            alert("a", "n3", 9_100),
            alert("b", "only", 9_900),
        ];
        let plan = plan_gc(&alerts, now, Duration::from_secs(3_600), 2);
        let got: Vec<(&str, GcReason)> = plan.iter().map(|(a, r)| (a.name.as_str(), *r)).collect();
        assert_eq!(
            got,
            vec![("old", GcReason::Retention), ("n1", GcReason::Cap)]
        );
    }

    #[test]
    fn keeps_everything_within_limits() {
        let now = Timestamp::from_second(10_000).unwrap();
        let alerts = vec![alert("a", "x", 9_999), alert("a", "y", 9_000)];
        assert!(plan_gc(&alerts, now, Duration::from_secs(3_600), 2).is_empty());
    }

    #[test]
    fn ties_are_broken_by_name() {
        let now = Timestamp::from_second(10_000).unwrap();
        let alerts = vec![
            alert("a", "b", 9_000),
            alert("a", "a", 9_000),
            alert("a", "c", 9_000),
        ];
        let plan = plan_gc(&alerts, now, Duration::from_secs(3_600), 1);
        let names: Vec<&str> = plan.iter().map(|(a, _)| a.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b"]);
    }
}
