//! FalcoRule controller: validates every FalcoRule, renders the deployed set into the rules
//! ConfigMaps and writes each FalcoRule's status.
//!
//! Triggers: FalcoRule spec changes (generation), creations and deletions (status-only updates
//! are ignored); changes to the rules ConfigMaps made by anyone else; changes in what the agents
//! report; a periodic resync.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kestrel_api::constants::{
    AGENT_SELECTOR, ANNOTATION_CONTENT_HASH, ANNOTATION_RENDER_GENERATION, OPERATOR_FIELD_MANAGER,
    RULES_SELECTOR, rules_configmap_name,
};
use kestrel_api::{FalcoRule, FalcoRuleStatus};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{Context, OwnWrites, PassOutcome, Trigger, sync_loop, watch};
use crate::Error;
use crate::render::{self, DeployedRules, configmap_up_to_date, parse_deployed, render_rules};
use crate::status::{AgentReport, agent_reports, rule_status, same_rule_status, verdict_counts};
use crate::validate::Validator;

const CONTROLLER: &str = "rule";

/// Run the FalcoRule controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let trigger = Trigger::new();
    let own_writes = OwnWrites::default();
    let ns = ctx.config.namespace.clone();

    let (rules, rules_writer) = reflector::store::<FalcoRule>();
    let mut generations: HashMap<String, i64> = HashMap::new();
    let t = trigger.clone();
    let rules_watch = watch(
        Api::<FalcoRule>::all(ctx.client.clone()),
        watcher::Config::default(),
        rules_writer,
        shutdown.clone(),
        move |event: &Event<FalcoRule>| match event {
            // Only spec changes (generation), creations and deletions matter: status updates,
            // ours included, do not.
            Event::Apply(r) | Event::InitApply(r) => {
                let generation = r.metadata.generation.unwrap_or(0);
                let deleting = r.metadata.deletion_timestamp.is_some();
                let key = r.uid().unwrap_or_default();
                let seen = generations.insert(key, if deleting { -1 } else { generation });
                if matches!(event, Event::Apply(_))
                    && seen != Some(if deleting { -1 } else { generation })
                {
                    t.fire();
                }
            }
            Event::Delete(r) => {
                generations.remove(&r.uid().unwrap_or_default());
                t.fire();
            }
            Event::InitDone => t.fire(),
            Event::Init => {}
        },
    );

    let (_configmaps, cm_writer) = reflector::store::<ConfigMap>();
    let t = trigger.clone();
    let ow = own_writes.clone();
    let cm_watch = watch(
        Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns),
        watcher::Config::default().labels(RULES_SELECTOR),
        cm_writer,
        shutdown.clone(),
        move |event: &Event<ConfigMap>| match event {
            Event::Apply(cm) => {
                if !ow.take(&cm.name_any(), cm.metadata.resource_version.as_deref()) {
                    t.fire();
                }
            }
            Event::Delete(cm) => {
                if !ow.take(&cm.name_any(), Some("deleted")) {
                    t.fire();
                }
            }
            Event::InitDone => t.fire(),
            Event::Init | Event::InitApply(_) => {}
        },
    );

    let (leases, lease_writer) = reflector::store::<Lease>();
    let t = trigger.clone();
    let lease_reader = leases.clone();
    let mut last_reports: Option<Vec<AgentReport>> = None;
    let lease_watch = watch(
        Api::<Lease>::namespaced(ctx.client.clone(), &ns),
        watcher::Config::default().labels(AGENT_SELECTOR),
        lease_writer,
        shutdown.clone(),
        move |event: &Event<Lease>| {
            if matches!(event, Event::Init | Event::InitApply(_)) {
                return;
            }
            // Heartbeats change nothing we report; fire only when a node's loaded hash, error,
            // or presence changes.
            let state = lease_reader.state();
            let reports = agent_reports(
                &state.iter().map(|l| l.as_ref()).collect::<Vec<_>>(),
                Timestamp::now(),
            );
            if last_reports.as_ref() != Some(&reports) {
                last_reports = Some(reports);
                t.fire();
            }
        },
    );

    let controller = Arc::new(tokio::sync::Mutex::new(RuleController {
        ctx: ctx.clone(),
        rules: rules.clone(),
        leases: leases.clone(),
        validator: Validator::with_base(ctx.config.base_rules.clone()),
        own_writes,
    }));
    let ready = async {
        // Never render from a partial view: an empty store would withdraw every rule.
        let _ = rules.wait_until_ready().await;
        let _ = leases.wait_until_ready().await;
    };
    let sync = async {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ready => {}
        }
        trigger.fire();
        sync_loop(
            CONTROLLER,
            trigger.clone(),
            ctx.config.debounce,
            ctx.config.resync,
            ctx.metrics.clone(),
            shutdown.clone(),
            || {
                let controller = controller.clone();
                async move { controller.lock().await.pass().await }
            },
        )
        .await;
    };
    tokio::join!(rules_watch, cm_watch, lease_watch, sync);
}

/// State kept between passes.
pub struct RuleController {
    ctx: Arc<Context>,
    rules: Store<FalcoRule>,
    leases: Store<Lease>,
    validator: Validator,
    own_writes: OwnWrites,
}

impl RuleController {
    /// One pass: validate all FalcoRules, write the ConfigMaps that differ, delete stale shards,
    /// write the statuses that differ.
    pub async fn pass(&mut self) -> Result<PassOutcome, Error> {
        let ctx = self.ctx.clone();
        let ns = ctx.config.namespace.as_str();
        let cm_api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);

        let t0 = std::time::Instant::now();
        let existing = cm_api
            .list(&ListParams::default().labels(RULES_SELECTOR))
            .await?
            .items;
        let deployed = parse_deployed(&existing).or_else(|| previous_render(&existing));
        let empty = DeployedRules::default();

        let t_list = t0.elapsed();
        let rules = self.rules.state();
        let rule_refs: Vec<&FalcoRule> = rules.iter().map(|r| r.as_ref()).collect();
        let compiles_before = self.validator.compiles;
        let plan = self.validator.plan(
            ns,
            &rule_refs,
            deployed.as_ref().unwrap_or(&empty),
            ctx.config.configmap_budget,
        );
        ctx.metrics
            .rule_compiles
            .inc_by(self.validator.compiles - compiles_before);
        let t_plan = t0.elapsed();
        let rendered = render_rules(
            ns,
            &plan.entries,
            deployed.as_ref(),
            ctx.config.configmap_budget,
        )?;

        let t_render = t0.elapsed();
        // Shards 1.. first, then shard 0 with the index: agents wait until all shards agree.
        let by_name: BTreeMap<String, &ConfigMap> =
            existing.iter().map(|cm| (cm.name_any(), cm)).collect();
        let mut order: Vec<&ConfigMap> = rendered.configmaps.iter().skip(1).collect();
        order.extend(rendered.configmaps.first());
        let params = PatchParams::apply(OPERATOR_FIELD_MANAGER).force();
        let mut wrote = 0usize;
        for want in order {
            let name = want.name_any();
            if by_name
                .get(&name)
                .is_some_and(|have| configmap_up_to_date(have, want))
            {
                continue;
            }
            let written = cm_api.patch(&name, &params, &Patch::Apply(want)).await?;
            self.own_writes
                .record(&name, written.metadata.resource_version.as_deref());
            ctx.metrics.wrote(CONTROLLER, "configmap");
            wrote += 1;
        }
        let wanted: Vec<String> = (0..rendered.index.shards)
            .map(rules_configmap_name)
            .collect();
        for name in by_name.keys().filter(|n| !wanted.contains(n)) {
            match cm_api.delete(name, &DeleteParams::default()).await {
                Ok(_) => {
                    self.own_writes.record(name, Some("deleted"));
                    ctx.metrics.wrote(CONTROLLER, "delete_configmap");
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        if wrote > 0 {
            tracing::info!(
                hash = %rendered.hash,
                render_generation = rendered.generation,
                shards = rendered.index.shards,
                entries = rendered.index.entries.len(),
                configmaps_written = wrote,
                "deployed rule set"
            );
        }
        ctx.metrics.rules_shards.set(rendered.index.shards as i64);
        ctx.metrics
            .rules_bytes
            .set(plan.entries.iter().map(render::entry_size).sum::<usize>() as i64);

        let t_apply = t0.elapsed();
        // Statuses.
        let leases = self.leases.state();
        let now = Timestamp::now();
        let agents = agent_reports(&leases.iter().map(|l| l.as_ref()).collect::<Vec<_>>(), now);
        let by_uid: HashMap<String, &FalcoRule> = rules
            .iter()
            .map(|r| (r.uid().unwrap_or_default(), r.as_ref()))
            .collect();
        for outcome in &plan.outcomes {
            let Some(rule) = by_uid.get(&outcome.uid) else {
                continue;
            };
            let since = rendered
                .index
                .entries
                .iter()
                .find(|e| e.uid == outcome.uid)
                .map(|e| e.since);
            let want = rule_status(outcome, since, &agents, rule.status.as_ref(), now);
            if rule
                .status
                .as_ref()
                .is_some_and(|have| same_rule_status(have, &want))
            {
                continue;
            }
            if let Err(e) = write_status(&ctx.client, rule, &want).await {
                match e {
                    kube::Error::Api(s) if s.code == 404 => continue,
                    e => return Err(e.into()),
                }
            }
            ctx.metrics.wrote(CONTROLLER, "status");
            if let Some(first) = want.errors.first() {
                tracing::info!(
                    falcorule = %format!("{}/{}", outcome.namespace, outcome.name),
                    generation = outcome.generation,
                    errors = want.errors.len(),
                    first = %crate::status::describe_problem(first),
                    "FalcoRule rejected"
                );
            }
        }
        ctx.metrics.falcorules.clear();
        for (reason, n) in verdict_counts(&plan.outcomes) {
            ctx.metrics
                .falcorules
                .get_or_create(&crate::metrics::ReasonLabel {
                    reason: reason.into(),
                })
                .set(n);
        }
        tracing::debug!(
            list_ms = t_list.as_millis() as u64,
            plan_ms = (t_plan - t_list).as_millis() as u64,
            render_ms = (t_render - t_plan).as_millis() as u64,
            apply_ms = (t_apply - t_render).as_millis() as u64,
            status_ms = (t0.elapsed() - t_apply).as_millis() as u64,
            "rule pass phases"
        );
        Ok(PassOutcome::default())
    }
}

/// When the rules ConfigMaps hold no consistent set (a shard missing or torn), the hash and
/// render generation of shard 0, so the generation still only grows; no entry is trusted.
fn previous_render(existing: &[ConfigMap]) -> Option<DeployedRules> {
    let shard0 = existing
        .iter()
        .find(|cm| cm.name_any() == rules_configmap_name(0))?;
    let annotations = shard0.metadata.annotations.as_ref()?;
    Some(DeployedRules {
        hash: annotations
            .get(ANNOTATION_CONTENT_HASH)
            .cloned()
            .unwrap_or_default(),
        generation: annotations
            .get(ANNOTATION_RENDER_GENERATION)?
            .parse()
            .ok()?,
        entries: Vec::new(),
    })
}

async fn write_status(
    client: &kube::Client,
    rule: &FalcoRule,
    status: &FalcoRuleStatus,
) -> Result<(), kube::Error> {
    let api: Api<FalcoRule> =
        Api::namespaced(client.clone(), &rule.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": FalcoRule::api_version(&()),
        "kind": FalcoRule::kind(&()),
        "status": status,
    });
    api.patch_status(
        &rule.name_any(),
        &PatchParams::apply(OPERATOR_FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}
