//! Which version of each FalcoRule is deployed, decided by compiling rule sets with the engine the
//! agents run, the way the agents will load them.
//!
//! - Cluster-scope FalcoRules (install namespace) form one rule set: they are compiled together,
//!   each at its current spec. A FalcoRule whose file has errors falls back to its last deployed
//!   version (or to nothing); the set is compiled again until it is clean; then each rejected
//!   FalcoRule is tried once more alone against the final set, so a FalcoRule rejected only
//!   because of another one's error gets in.
//! - Each namespaced FalcoRule is compiled after the macros and lists of the deployed cluster
//!   set, as the agent loads it. Errors that appear in the cluster files only with it present are
//!   its errors too.
//!
//! Results are memoized by the exact input texts, so an unchanged FalcoRule is not compiled again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kestrel_api::FalcoRule;
use kestrel_api::conditions::reason;
use kestrel_api::contract::{Scope, shared_definitions};
use kestrel_api::{ProblemSubject, RuleProblem};
use kestrel_engine::{CompileOptions, Diagnostic, ItemKind, Loader};
use kube::ResourceExt;
use sha2::{Digest as _, Sha256};

use crate::render::{DeployedRules, Digest, RenderedRule, RulesEntry, digest, render_falco_yaml};

/// A file of a rule set: name, text, digest of the text.
type File<'a> = (&'a str, &'a str, Digest);

/// At most this many errors (and as many warnings) are kept per FalcoRule; the status says how many
/// more there were.
pub const MAX_PROBLEMS: usize = 50;

/// The outcome for one FalcoRule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub scope: Scope,
    pub verdict: Verdict,
    pub errors: Vec<RuleProblem>,
    /// Errors beyond [`MAX_PROBLEMS`].
    pub more_errors: usize,
    pub warnings: Vec<RuleProblem>,
    pub counts: (usize, usize, usize),
    /// Generation of the version in the deployed set (None: not deployed).
    pub deployed_generation: Option<i64>,
}

/// Whether the current spec is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The current spec is deployed.
    Valid,
    /// The current spec is rejected for `reason` (a `kestrel_api::conditions::reason`).
    Rejected { reason: &'static str },
}

/// The deployed set and the outcome of every FalcoRule.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// In index order.
    pub entries: Vec<RulesEntry>,
    /// In index order of the FalcoRules (cluster first, then namespace/name).
    pub outcomes: Vec<RuleOutcome>,
}

type CheckResult = Result<Vec<Diagnostic>, Vec<Diagnostic>>;

/// Compiles rule sets with the engine, memoized.
#[derive(Default)]
pub struct Validator {
    cache: HashMap<Digest, CheckResult>,
    used: HashSet<Digest>,
    /// Rendered YAML per FalcoRule uid, valid for one generation (the spec of a generation never
    /// changes).
    rendered: HashMap<String, (i64, Arc<RenderedRule>, Digest)>,
    /// Shared definitions (lists and macros) per digest of the full text.
    shared: HashMap<Digest, (Arc<String>, Digest)>,
    /// Compiles run (cache misses), for tests and metrics.
    pub compiles: u64,
    /// Rule files every set is compiled after (the default macros and lists the agents also load
    /// first, e.g. `open_read`), as (name, text, digest).
    base: Vec<(String, String, Digest)>,
}

struct Candidate<'a> {
    rule: &'a FalcoRule,
    key: String,
    uid: String,
    scope: Scope,
    rendered: Arc<RenderedRule>,
    digest: Digest,
    /// Accepted so far.
    accepted: bool,
    reason: &'static str,
    errors: Vec<RuleProblem>,
    more_errors: usize,
    warnings: Vec<RuleProblem>,
    /// The deployed version (index data + YAML) when it is still usable.
    previous: Option<RulesEntry>,
}

impl Candidate<'_> {
    /// The text this FalcoRule contributes to the rule set now: its current spec when accepted,
    /// else its last deployed version, if any.
    fn decided(&self) -> Option<(&str, Digest)> {
        if self.accepted {
            Some((&self.rendered.yaml, self.digest))
        } else {
            self.previous.as_ref().map(|p| (p.yaml.as_str(), p.digest))
        }
    }

    fn current_file(&self) -> File<'_> {
        (&self.key, &self.rendered.yaml, self.digest)
    }

    fn decided_file(&self) -> Option<File<'_>> {
        let (text, digest) = self.decided()?;
        Some((&self.key, text, digest))
    }

    fn reject(&mut self, reason: &'static str, diags: &[&Diagnostic]) {
        self.accepted = false;
        self.reason = reason;
        self.errors = diags
            .iter()
            .take(MAX_PROBLEMS)
            .map(|d| problem(d, &self.rendered))
            .collect();
        self.more_errors = diags.len().saturating_sub(MAX_PROBLEMS);
    }
}

impl Validator {
    pub fn new() -> Self {
        Validator::default()
    }

    /// A validator whose sets all start with these rule files (name, text), as the agents' do.
    pub fn with_base(base: Vec<(String, String)>) -> Self {
        Validator {
            base: base
                .into_iter()
                .map(|(n, t)| {
                    let d = digest(&t);
                    (n, t, d)
                })
                .collect(),
            ..Validator::default()
        }
    }

    /// Compile `files` in order, as one rule set.
    fn check(&mut self, files: &[File<'_>]) -> CheckResult {
        let mut h = Sha256::new();
        let base = self
            .base
            .iter()
            .map(|(n, t, d)| (n.as_str(), t.as_str(), *d));
        let all: Vec<(&str, &str, Digest)> = base
            .chain(files.iter().map(|(n, t, d)| (*n, *t, *d)))
            .collect();
        for (name, _, digest) in &all {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update(digest);
        }
        let key: Digest = h.finalize().into();
        self.used.insert(key);
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let mut loader = Loader::new();
        for (name, text, _) in &all {
            loader.add_str(*name, *text);
        }
        self.compiles += 1;
        // Two FalcoRules (or a FalcoRule and the default rules) defining one name is most often
        // a clash between teams: the last definition wins, silently in Falco; here both are told.
        let opts = CompileOptions {
            warn_redefinitions: true,
            ..CompileOptions::default()
        };
        let result = match loader.compile(&opts) {
            Ok(compiled) => Ok(compiled.warnings),
            Err(diags) => Err(diags.0),
        };
        self.cache.insert(key, result.clone());
        result
    }

    /// Decide the deployed set. `rules` are all FalcoRules of the cluster, `deployed` what the
    /// rules ConfigMaps hold now, `budget` the data budget of one ConfigMap.
    pub fn plan(
        &mut self,
        install_namespace: &str,
        rules: &[&FalcoRule],
        deployed: &DeployedRules,
        budget: usize,
    ) -> Plan {
        self.used.clear();
        let live: HashSet<String> = rules.iter().filter_map(|r| r.uid()).collect();
        self.rendered.retain(|uid, _| live.contains(uid));
        let mut cands: Vec<Candidate<'_>> = Vec::with_capacity(rules.len());
        for r in rules
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
        {
            let (rendered, rendered_digest) = self.render(r);
            cands.push(candidate(
                r,
                rendered,
                rendered_digest,
                install_namespace,
                deployed,
                budget,
            ));
        }
        cands.sort_by(|a, b| {
            (a.scope, a.rule.namespace(), a.rule.name_any()).cmp(&(
                b.scope,
                b.rule.namespace(),
                b.rule.name_any(),
            ))
        });
        let n_cluster = cands.iter().filter(|c| c.scope == Scope::Cluster).count();
        let (cluster, namespaced) = cands.split_at_mut(n_cluster);

        self.plan_cluster(cluster);
        let shared = self.shared_context(cluster);
        for cand in namespaced.iter_mut() {
            self.plan_namespaced(cand, &shared);
        }
        hint_same_namespace_macros(namespaced);

        // Forget compiles of inputs that no longer exist.
        let used = std::mem::take(&mut self.used);
        self.cache.retain(|k, _| used.contains(k));
        self.used = used;

        let mut entries = Vec::new();
        let mut outcomes = Vec::new();
        for c in &cands {
            let entry = if c.accepted {
                Some(RulesEntry {
                    namespace: c.rule.namespace().unwrap_or_default(),
                    name: c.rule.name_any(),
                    uid: c.uid.clone(),
                    generation: c.rule.metadata.generation.unwrap_or(0),
                    scope: c.scope,
                    pod_selector: match c.scope {
                        Scope::Cluster => None,
                        Scope::Namespace => c.rule.spec.pod_selector.clone(),
                    },
                    yaml: c.rendered.yaml.clone(),
                    digest: c.digest,
                })
            } else {
                c.previous.clone()
            };
            outcomes.push(RuleOutcome {
                namespace: c.rule.namespace().unwrap_or_default(),
                name: c.rule.name_any(),
                uid: c.uid.clone(),
                generation: c.rule.metadata.generation.unwrap_or(0),
                scope: c.scope,
                verdict: if c.accepted {
                    Verdict::Valid
                } else if c.previous.is_some() && c.reason == reason::INVALID {
                    Verdict::Rejected {
                        reason: reason::INVALID_KEPT_PREVIOUS,
                    }
                } else {
                    Verdict::Rejected { reason: c.reason }
                },
                errors: c.errors.clone(),
                more_errors: c.more_errors,
                warnings: c.warnings.clone(),
                counts: c.rule.spec.counts(),
                deployed_generation: entry.as_ref().map(|e| e.generation),
            });
            entries.extend(entry);
        }
        Plan { entries, outcomes }
    }

    fn plan_cluster(&mut self, cluster: &mut [Candidate<'_>]) {
        // Compile the whole set; reject the FalcoRules whose files have errors; repeat.
        let mut rejected_in_loop = Vec::new();
        for _ in 0..=cluster.len() {
            let files: Vec<File<'_>> = cluster.iter().filter_map(Candidate::decided_file).collect();
            let diags = match self.check(&files) {
                Ok(_) => break,
                Err(diags) => diags,
            };
            let mut changed = false;
            for (i, c) in cluster.iter_mut().enumerate() {
                let own: Vec<&Diagnostic> = diags
                    .iter()
                    .filter(|d| d.is_error() && d.file == c.key)
                    .collect();
                if own.is_empty() {
                    continue;
                }
                if c.accepted {
                    c.reject(reason::INVALID, &own);
                    rejected_in_loop.push(i);
                    changed = true;
                } else if c.previous.is_some() {
                    // The last accepted version no longer compiles with the rest: withdraw it.
                    let first = own[0].message.clone();
                    c.previous = None;
                    c.errors.push(spec_problem(format!(
                        "the previously deployed version no longer compiles with the other cluster-wide FalcoRules and was withdrawn: {first}"
                    )));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        // Give each rejected FalcoRule one more try against the final set.
        for i in rejected_in_loop {
            let files: Vec<File<'_>> = cluster
                .iter()
                .enumerate()
                .filter_map(|(j, c)| {
                    if j == i {
                        Some(c.current_file())
                    } else {
                        c.decided_file()
                    }
                })
                .collect();
            match self.check(&files) {
                Ok(_) => {
                    let c = &mut cluster[i];
                    c.accepted = true;
                    c.errors.clear();
                    c.more_errors = 0;
                }
                Err(diags) => {
                    let key = cluster[i].key.clone();
                    let own: Vec<&Diagnostic> = diags
                        .iter()
                        .filter(|d| d.is_error() && d.file == key)
                        .collect();
                    if !own.is_empty() {
                        cluster[i].reject(reason::INVALID, &own);
                    } else {
                        let foreign: Vec<String> = diags
                            .iter()
                            .filter(|d| d.is_error())
                            .map(|d| {
                                format!("it breaks FalcoRule file {}: {}", d.file, describe(d))
                            })
                            .collect();
                        let c = &mut cluster[i];
                        c.reason = reason::INVALID;
                        c.errors = foreign
                            .into_iter()
                            .take(MAX_PROBLEMS)
                            .map(spec_problem)
                            .collect();
                    }
                }
            }
        }
        // Warnings of the accepted ones, from the final set.
        let files: Vec<File<'_>> = cluster.iter().filter_map(Candidate::decided_file).collect();
        if let Ok(warnings) = self.check(&files) {
            for c in cluster.iter_mut().filter(|c| c.accepted) {
                c.warnings = warnings
                    .iter()
                    .filter(|d| d.file == c.key)
                    .take(MAX_PROBLEMS)
                    .map(|d| problem(d, &c.rendered))
                    .collect();
            }
        }
    }

    /// The lists and macros of the decided cluster set, as (file, text, digest) in index order.
    fn shared_context(&mut self, cluster: &[Candidate<'_>]) -> Vec<(String, Arc<String>, Digest)> {
        let mut used = HashSet::new();
        let mut out = Vec::new();
        for c in cluster {
            let Some((yaml, full_digest)) = c.decided() else {
                continue;
            };
            used.insert(full_digest);
            let (text, digest) = self
                .shared
                .entry(full_digest)
                .or_insert_with(|| {
                    let text = shared_definitions(yaml).unwrap_or_default();
                    let d = digest(&text);
                    (Arc::new(text), d)
                })
                .clone();
            if !text.is_empty() {
                out.push((c.key.clone(), text, digest));
            }
        }
        self.shared.retain(|d, _| used.contains(d));
        out
    }

    /// The rendered YAML of a FalcoRule's current spec, from the cache while its generation holds.
    fn render(&mut self, rule: &FalcoRule) -> (Arc<RenderedRule>, Digest) {
        let uid = rule.uid().unwrap_or_default();
        let generation = rule.metadata.generation.unwrap_or(0);
        if let Some((g, rendered, d)) = self.rendered.get(&uid)
            && *g == generation
        {
            return (rendered.clone(), *d);
        }
        let rendered = Arc::new(render_falco_yaml(&rule.spec));
        let d = digest(&rendered.yaml);
        self.rendered.insert(uid, (generation, rendered.clone(), d));
        (rendered, d)
    }

    fn plan_namespaced(
        &mut self,
        cand: &mut Candidate<'_>,
        shared: &[(String, Arc<String>, Digest)],
    ) {
        let files: Vec<File<'_>> = shared
            .iter()
            .map(|(k, t, d)| (k.as_str(), t.as_str(), *d))
            .collect();
        let baseline: HashSet<String> = match self.check(&files) {
            Ok(_) => HashSet::new(),
            Err(diags) => diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.to_string())
                .collect(),
        };
        if cand.accepted {
            self.check_current(cand, &files, &baseline);
        }
        // When the current spec is rejected, is the deployed version still loadable against the
        // current cluster set?
        let previous = cand
            .previous
            .as_ref()
            .filter(|_| !cand.accepted)
            .map(|p| (p.yaml.clone(), p.digest));
        if let Some((prev, prev_digest)) = previous {
            let mut with_previous = files;
            with_previous.push((cand.key.as_str(), prev.as_str(), prev_digest));
            let broken = self.check(&with_previous).err().and_then(|diags| {
                diags
                    .into_iter()
                    .find(|d| d.is_error() && !baseline.contains(&d.to_string()))
            });
            if let Some(d) = broken {
                cand.previous = None;
                if !cand.accepted {
                    cand.errors.push(spec_problem(format!(
                        "the previously deployed version no longer compiles with the cluster-wide macros and lists and was withdrawn: {}",
                        describe(&d)
                    )));
                }
            }
        }
    }

    /// Compile a namespaced FalcoRule's current spec after the shared cluster definitions; reject it
    /// on errors in its file, or on errors it causes in the cluster files.
    fn check_current(
        &mut self,
        cand: &mut Candidate<'_>,
        shared: &[File<'_>],
        baseline: &HashSet<String>,
    ) {
        let mut files = shared.to_vec();
        files.push(cand.current_file());
        match self.check(&files) {
            Ok(warnings) => {
                cand.warnings = warnings
                    .iter()
                    .filter(|d| d.file == cand.key)
                    .take(MAX_PROBLEMS)
                    .map(|d| problem(d, &cand.rendered))
                    .collect();
            }
            Err(diags) => {
                let own: Vec<&Diagnostic> = diags
                    .iter()
                    .filter(|d| d.is_error() && d.file == cand.key)
                    .collect();
                let foreign: Vec<&Diagnostic> = diags
                    .iter()
                    .filter(|d| {
                        d.is_error() && d.file != cand.key && !baseline.contains(&d.to_string())
                    })
                    .collect();
                if own.is_empty() && foreign.is_empty() {
                    // Only errors the cluster set has on its own: not this FalcoRule's fault.
                    return;
                }
                cand.reject(reason::INVALID, &own);
                for d in foreign
                    .into_iter()
                    .take(MAX_PROBLEMS.saturating_sub(cand.errors.len()))
                {
                    cand.errors.push(spec_problem(format!(
                        "with this FalcoRule, cluster-wide file {} fails: {}",
                        d.file,
                        describe(d)
                    )));
                }
            }
        }
    }
}

/// A namespaced FalcoRule sees its own definitions and the cluster-wide ones, never those of
/// another FalcoRule of its namespace: when an undefined macro is defined by one, say so.
fn hint_same_namespace_macros(namespaced: &mut [Candidate<'_>]) {
    let mut hints = Vec::new();
    for (i, c) in namespaced.iter().enumerate() {
        for (k, e) in c.errors.iter().enumerate() {
            let Some(name) = e
                .message
                .strip_prefix("undefined macro `")
                .and_then(|r| r.split('`').next())
            else {
                continue;
            };
            let other = namespaced.iter().enumerate().find(|(j, o)| {
                *j != i
                    && o.rule.namespace() == c.rule.namespace()
                    && o.rendered.item_named(ProblemSubject::Macro, name).is_some()
            });
            if let Some((_, o)) = other {
                hints.push((i, k, format!(
                    " — FalcoRule {}/{} defines it, but a FalcoRule outside the install namespace sees only its own macros and lists and the cluster-wide ones (FalcoRules in the install namespace)",
                    o.rule.namespace().unwrap_or_default(),
                    o.rule.name_any()
                )));
            }
        }
    }
    for (i, k, hint) in hints {
        namespaced[i].errors[k].message.push_str(&hint);
    }
}

fn candidate<'a>(
    rule: &'a FalcoRule,
    rendered: Arc<RenderedRule>,
    rendered_digest: Digest,
    install_namespace: &str,
    deployed: &DeployedRules,
    budget: usize,
) -> Candidate<'a> {
    let namespace = rule.namespace().unwrap_or_default();
    let name = rule.name_any();
    let uid = rule.uid().unwrap_or_default();
    let scope = if namespace == install_namespace {
        Scope::Cluster
    } else {
        Scope::Namespace
    };
    let key = kestrel_api::contract::entry_key(&namespace, &name);
    let previous = deployed.by_uid(&uid).map(|(e, yaml)| RulesEntry {
        namespace: e.namespace.clone(),
        name: e.name.clone(),
        uid: e.uid.clone(),
        generation: e.generation,
        scope: e.scope,
        pod_selector: e.pod_selector.clone(),
        // Usually the deployed text is the current one: reuse its digest.
        digest: if *yaml == rendered.yaml {
            rendered_digest
        } else {
            digest(yaml)
        },
        yaml: yaml.clone(),
    });
    let mut c = Candidate {
        rule,
        key,
        uid,
        scope,
        rendered,
        digest: rendered_digest,
        accepted: true,
        reason: reason::VALID,
        errors: Vec::new(),
        more_errors: 0,
        warnings: Vec::new(),
        previous,
    };
    if let Some(problem) = pod_selector_problem(rule, scope, install_namespace) {
        c.accepted = false;
        c.reason = reason::INVALID_POD_SELECTOR;
        c.errors.push(problem);
    }
    let size = c.key.len() + c.rendered.yaml.len();
    if size > budget {
        c.accepted = false;
        c.reason = reason::TOO_LARGE;
        c.errors.push(spec_problem(format!(
            "the rendered rules take {size} bytes, more than the {budget} bytes one ConfigMap can hold; split this FalcoRule into several"
        )));
    }
    c
}

fn pod_selector_problem(
    rule: &FalcoRule,
    scope: Scope,
    install_namespace: &str,
) -> Option<RuleProblem> {
    let selector = rule.spec.pod_selector.as_ref()?;
    let message = match scope {
        Scope::Cluster => format!(
            "podSelector is not allowed on FalcoRules in the install namespace {install_namespace:?}: they apply to every pod and host; put the FalcoRule in the pods' namespace to narrow it"
        ),
        Scope::Namespace => match kube::core::Selector::try_from(selector.clone()) {
            Ok(_) => selector_key_problem(selector)?,
            Err(e) => format!("podSelector is not a valid label selector: {e}"),
        },
    };
    Some(RuleProblem {
        subject: ProblemSubject::PodSelector,
        name: None,
        path: Some("spec.podSelector".to_string()),
        line: None,
        column: None,
        message,
    })
}

/// Label keys must be `[prefix/]name` with a DNS-subdomain prefix and a 63-character name.
fn selector_key_problem(
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Option<String> {
    let keys = selector
        .match_labels
        .iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .chain(
            selector
                .match_expressions
                .iter()
                .flatten()
                .map(|e| e.key.as_str()),
        );
    for key in keys {
        let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty()
            || name.len() > 63
            || !name.chars().all(ok_char)
            || !name.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Some(format!(
                "podSelector label key {key:?} is not a valid label key"
            ));
        }
    }
    None
}

fn subject_of(kind: ItemKind) -> ProblemSubject {
    match kind {
        ItemKind::Rule => ProblemSubject::Rule,
        ItemKind::Macro => ProblemSubject::Macro,
        ItemKind::List => ProblemSubject::List,
        _ => ProblemSubject::Spec,
    }
}

/// Map an engine diagnostic on a rendered FalcoRule back to the spec: item, path, and the line and
/// column inside the condition (or output, or exception).
pub fn problem(d: &Diagnostic, rendered: &RenderedRule) -> RuleProblem {
    let span = d
        .pos
        .and_then(|p| rendered.item_at_line(p.line))
        .or_else(|| {
            let (kind, name) = d.item.as_ref()?;
            rendered.item_named(subject_of(*kind), name)
        });
    let subject = span
        .map(|s| s.subject)
        .or_else(|| d.item.as_ref().map(|(k, _)| subject_of(*k)))
        .unwrap_or(ProblemSubject::Spec);
    let name = span
        .map(|s| s.name.clone())
        .or_else(|| d.item.as_ref().map(|(_, n)| n.clone()));
    let field = d.text.as_ref().map(|t| {
        if t.what.starts_with("exception") {
            "exceptions"
        } else if t.what.starts_with("output") {
            "output"
        } else {
            "condition"
        }
    });
    let path = span.map(|s| match field {
        Some(f) => format!("{}.{f}", s.path()),
        None => s.path(),
    });
    let mut message = d.message.clone();
    if let Some(t) = &d.text
        && !t.what.is_empty()
        && !matches!(t.what.as_str(), "condition" | "output")
    {
        message = format!("{}: {message}", t.what);
    }
    RuleProblem {
        subject,
        name,
        path,
        line: d.text.as_ref().map(|t| t.pos.line as i32),
        column: d.text.as_ref().map(|t| t.pos.col as i32),
        message,
    }
}

fn spec_problem(message: String) -> RuleProblem {
    RuleProblem {
        subject: ProblemSubject::Spec,
        name: None,
        path: None,
        line: None,
        column: None,
        message,
    }
}

/// A diagnostic in one line, without the file name.
fn describe(d: &Diagnostic) -> String {
    let mut s = String::new();
    if let Some((kind, name)) = &d.item {
        s.push_str(&format!("{} {:?}", kind.as_str(), name));
        if let Some(t) = &d.text {
            s.push_str(&format!(" {} {}", t.what, t.pos));
        }
        s.push_str(": ");
    }
    s.push_str(&d.message);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_api::{FalcoMacro, FalcoRuleSpec, Rule};

    use crate::render::{BUDGET, render_rules};

    fn rule(name: &str, condition: &str) -> Rule {
        Rule {
            name: name.into(),
            desc: Some("test rule".into()),
            condition: Some(condition.into()),
            output: Some("%proc.name opened %fd.name".into()),
            priority: Some("WARNING".into()),
            source: None,
            tags: None,
            enabled: None,
            exceptions: None,
            append: None,
            override_: None,
            warn_evttypes: None,
            skip_if_unknown_filter: None,
        }
    }

    fn falco_rule(ns: &str, name: &str, generation: i64, spec: FalcoRuleSpec) -> FalcoRule {
        let mut r = FalcoRule::new(name, spec);
        r.metadata.namespace = Some(ns.into());
        r.metadata.uid = Some(format!("uid-{ns}-{name}"));
        r.metadata.generation = Some(generation);
        r
    }

    fn rules_only(rules: Vec<Rule>) -> FalcoRuleSpec {
        FalcoRuleSpec {
            rules,
            ..FalcoRuleSpec::default()
        }
    }

    fn macro_spec(name: &str, condition: &str) -> FalcoRuleSpec {
        FalcoRuleSpec {
            macros: vec![FalcoMacro {
                name: name.into(),
                condition: Some(condition.into()),
                append: None,
                override_: None,
            }],
            ..FalcoRuleSpec::default()
        }
    }

    /// The deployed state after rendering `plan`, as the next pass reads it back.
    fn deploy(plan: &Plan) -> DeployedRules {
        let r = render_rules("kestrel", &plan.entries, None, BUDGET).unwrap();
        crate::render::parse_deployed(&r.configmaps).unwrap()
    }

    #[test]
    fn the_default_macros_of_the_base_rules_are_usable() {
        let demo = falco_rule(
            "kestrel",
            "passwd",
            1,
            rules_only(vec![rule(
                "Read Passwd File",
                "open_read and fd.name=/etc/passwd",
            )]),
        );
        // without the base, `open_read` is an undefined macro
        let plan = Validator::new().plan("kestrel", &[&demo], &DeployedRules::default(), BUDGET);
        assert_ne!(plan.outcomes[0].verdict, Verdict::Valid);
        // with the repository's default rules as the base, the classic demo is accepted
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/rules");
        let mut base = Vec::new();
        for f in ["00-macros.yaml", "10-kestrel-rules.yaml"] {
            base.push((f.to_owned(), std::fs::read_to_string(root.join(f)).unwrap()));
        }
        let plan =
            Validator::with_base(base).plan("kestrel", &[&demo], &DeployedRules::default(), BUDGET);
        assert_eq!(
            plan.outcomes[0].verdict,
            Verdict::Valid,
            "{:?}",
            plan.outcomes[0].errors
        );
        assert_eq!(plan.entries.len(), 1);
        assert!(
            !plan.entries[0].yaml.contains("macro: open_read"),
            "the base is not rendered"
        );
    }

    #[test]
    fn two_cluster_falco_rules_defining_one_rule_both_warn() {
        let a = falco_rule(
            "kestrel",
            "read-passwd",
            1,
            rules_only(vec![rule(
                "Read Passwd File",
                "evt.type=openat and fd.name=/etc/passwd",
            )]),
        );
        let b = falco_rule(
            "kestrel",
            "zz-team-x",
            1,
            rules_only(vec![rule(
                "Read Passwd File",
                "evt.type=openat and evt.num=0",
            )]),
        );
        let plan = Validator::new().plan("kestrel", &[&a, &b], &DeployedRules::default(), BUDGET);
        assert!(plan.outcomes.iter().all(|o| o.verdict == Verdict::Valid));
        let messages = |i: usize| -> Vec<String> {
            plan.outcomes[i]
                .warnings
                .iter()
                .map(|w| {
                    format!(
                        "{:?} {}: {}",
                        w.name,
                        w.path.clone().unwrap_or_default(),
                        w.message
                    )
                })
                .collect()
        };
        let (wa, wb) = (messages(0), messages(1));
        assert_eq!(wa.len(), 1, "{wa:?}");
        assert!(
            wa[0].contains("Read Passwd File")
                && wa[0].contains("spec.rules[0]")
                && wa[0].contains("replaced by the one defined in kestrel.zz-team-x"),
            "{wa:?}"
        );
        assert_eq!(wb.len(), 1, "{wb:?}");
        assert!(
            wb[0].contains("replaces the one defined in kestrel.read-passwd"),
            "{wb:?}"
        );
    }

    #[test]
    fn a_macro_of_another_falco_rule_of_the_namespace_is_named_in_the_error() {
        let macros = falco_rule(
            "team-a",
            "macros-a",
            1,
            macro_spec("team_a_shell", "proc.name=sh"),
        );
        let user = falco_rule(
            "team-a",
            "uses-a",
            1,
            rules_only(vec![rule("Shell", "evt.type=execve and team_a_shell")]),
        );
        let plan = Validator::new().plan(
            "kestrel",
            &[&macros, &user],
            &DeployedRules::default(),
            BUDGET,
        );
        let o = plan.outcomes.iter().find(|o| o.name == "uses-a").unwrap();
        assert_ne!(o.verdict, Verdict::Valid);
        assert!(
            o.errors[0].message.starts_with("undefined macro `team_a_shell` — FalcoRule team-a/macros-a defines it, but a FalcoRule outside the install namespace sees only"),
            "{:?}",
            o.errors
        );
    }

    #[test]
    fn valid_rule_is_deployed() {
        let r = falco_rule(
            "kestrel",
            "passwd",
            1,
            rules_only(vec![rule(
                "Read Passwd",
                "evt.type in (open, openat) and fd.name = /etc/passwd",
            )]),
        );
        let plan = Validator::new().plan("kestrel", &[&r], &DeployedRules::default(), BUDGET);
        assert_eq!(
            plan.outcomes[0].verdict,
            Verdict::Valid,
            "{:?}",
            plan.outcomes[0].errors
        );
        assert_eq!(plan.entries.len(), 1);
        assert_eq!(plan.entries[0].scope, Scope::Cluster);
        assert!(plan.entries[0].yaml.contains("- rule: Read Passwd\n"));
        assert_eq!(plan.outcomes[0].deployed_generation, Some(1));
    }

    #[test]
    fn condition_error_points_into_the_condition() {
        let r = falco_rule(
            "team-a",
            "passwd",
            1,
            rules_only(vec![
                rule("Fine", "evt.type = open"),
                rule("Typo", "evt.type = open and\n  proc.nmae = cat"),
            ]),
        );
        let plan = Validator::new().plan("kestrel", &[&r], &DeployedRules::default(), BUDGET);
        let o = &plan.outcomes[0];
        assert_eq!(
            o.verdict,
            Verdict::Rejected {
                reason: reason::INVALID
            }
        );
        assert!(plan.entries.is_empty());
        assert_eq!(o.deployed_generation, None);
        let e = &o.errors[0];
        assert_eq!(e.subject, ProblemSubject::Rule);
        assert_eq!(e.name.as_deref(), Some("Typo"));
        assert_eq!(e.path.as_deref(), Some("spec.rules[1].condition"));
        assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e:?}");
        assert!(e.message.contains("proc.nmae"), "{}", e.message);
    }

    #[test]
    fn invalid_edit_keeps_the_last_accepted_version() {
        let mut v = Validator::new();
        let good = falco_rule(
            "team-a",
            "passwd",
            1,
            rules_only(vec![rule("R", "evt.type = open")]),
        );
        let plan1 = v.plan("kestrel", &[&good], &DeployedRules::default(), BUDGET);
        let deployed = deploy(&plan1);
        let bad = falco_rule(
            "team-a",
            "passwd",
            2,
            rules_only(vec![rule("R", "evt.type = open and (")]),
        );
        let plan2 = v.plan("kestrel", &[&bad], &deployed, BUDGET);
        assert_eq!(
            plan2.outcomes[0].verdict,
            Verdict::Rejected {
                reason: reason::INVALID_KEPT_PREVIOUS
            }
        );
        assert_eq!(plan2.outcomes[0].deployed_generation, Some(1));
        assert_eq!(
            plan2.entries, plan1.entries,
            "the deployed entry is unchanged"
        );
        // Fixing it deploys generation 3.
        let fixed = falco_rule(
            "team-a",
            "passwd",
            3,
            rules_only(vec![rule("R", "evt.type = openat")]),
        );
        let plan3 = v.plan("kestrel", &[&fixed], &deployed, BUDGET);
        assert_eq!(plan3.outcomes[0].verdict, Verdict::Valid);
        assert_eq!(plan3.entries[0].generation, 3);
        assert!(plan3.entries[0].yaml.contains("openat"));
    }

    #[test]
    fn namespaced_rules_may_use_cluster_macros_but_not_other_namespaces() {
        let base = falco_rule(
            "kestrel",
            "base",
            1,
            macro_spec("opened", "evt.type in (open, openat)"),
        );
        let user = falco_rule(
            "team-a",
            "mine",
            1,
            rules_only(vec![rule("Mine", "opened and fd.name = /x")]),
        );
        let elsewhere = falco_rule(
            "team-b",
            "macros",
            1,
            macro_spec("team_b_only", "evt.type = open"),
        );
        let stranger = falco_rule(
            "team-c",
            "uses-b",
            1,
            rules_only(vec![rule("C", "team_b_only")]),
        );
        let plan = Validator::new().plan(
            "kestrel",
            &[&user, &base, &stranger, &elsewhere],
            &DeployedRules::default(),
            BUDGET,
        );
        let verdict = |name: &str| plan.outcomes.iter().find(|o| o.name == name).unwrap();
        assert_eq!(
            verdict("mine").verdict,
            Verdict::Valid,
            "{:?}",
            verdict("mine").errors
        );
        assert_eq!(verdict("base").verdict, Verdict::Valid);
        assert_eq!(verdict("macros").verdict, Verdict::Valid);
        let c = verdict("uses-b");
        assert_eq!(
            c.verdict,
            Verdict::Rejected {
                reason: reason::INVALID
            }
        );
        assert_eq!(c.errors[0].path.as_deref(), Some("spec.rules[0].condition"));
        let keys: Vec<String> = plan.entries.iter().map(|e| e.key()).collect();
        assert_eq!(
            keys,
            [
                "kestrel.base.yaml",
                "team-a.mine.yaml",
                "team-b.macros.yaml"
            ]
        );
    }

    #[test]
    fn cluster_rules_see_each_other_in_any_order() {
        // "a-user" sorts before "z-macros" but uses its macro: the whole cluster set is one file set.
        let user = falco_rule(
            "kestrel",
            "a-user",
            1,
            rules_only(vec![rule("U", "opened")]),
        );
        let macros = falco_rule(
            "kestrel",
            "z-macros",
            1,
            macro_spec("opened", "evt.type = open"),
        );
        let plan = Validator::new().plan(
            "kestrel",
            &[&user, &macros],
            &DeployedRules::default(),
            BUDGET,
        );
        assert!(
            plan.outcomes.iter().all(|o| o.verdict == Verdict::Valid),
            "{:?}",
            plan.outcomes
        );
        // One broken cluster FalcoRule does not take the others down.
        let broken = falco_rule(
            "kestrel",
            "m-broken",
            1,
            rules_only(vec![rule("B", "evt.type = = open")]),
        );
        let plan = Validator::new().plan(
            "kestrel",
            &[&user, &macros, &broken],
            &DeployedRules::default(),
            BUDGET,
        );
        let names: Vec<(&str, bool)> = plan
            .outcomes
            .iter()
            .map(|o| (o.name.as_str(), o.verdict == Verdict::Valid))
            .collect();
        assert_eq!(
            names,
            [("a-user", true), ("m-broken", false), ("z-macros", true)]
        );
    }

    #[test]
    fn a_kept_version_that_lost_its_cluster_macro_is_withdrawn() {
        let mut v = Validator::new();
        let base = falco_rule(
            "kestrel",
            "base",
            1,
            macro_spec("opened", "evt.type = open"),
        );
        let user = falco_rule(
            "team-a",
            "mine",
            1,
            rules_only(vec![rule("Mine", "opened")]),
        );
        let deployed = deploy(&v.plan(
            "kestrel",
            &[&base, &user],
            &DeployedRules::default(),
            BUDGET,
        ));
        assert_eq!(deployed.entries.len(), 2);
        // The user breaks their FalcoRule: generation 1 stays deployed.
        let broken = falco_rule(
            "team-a",
            "mine",
            2,
            rules_only(vec![rule("Mine", "opened and (")]),
        );
        let plan = v.plan("kestrel", &[&base, &broken], &deployed, BUDGET);
        assert_eq!(plan.outcomes[1].deployed_generation, Some(1));
        // Then the cluster macro it relies on goes away: the kept version cannot load any more.
        let plan = v.plan("kestrel", &[&broken], &deployed, BUDGET);
        let o = &plan.outcomes[0];
        assert_eq!(
            o.verdict,
            Verdict::Rejected {
                reason: reason::INVALID
            }
        );
        assert_eq!(o.deployed_generation, None);
        assert!(plan.entries.is_empty());
        assert!(
            o.errors
                .iter()
                .any(|e| e.message.contains("was withdrawn") && e.message.contains("opened")),
            "{:?}",
            o.errors
        );
    }

    #[test]
    fn pod_selector_rules() {
        let mut spec = rules_only(vec![rule("R", "evt.type = open")]);
        spec.pod_selector = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                match_expressions: None,
            },
        );
        let cluster = falco_rule("kestrel", "c", 1, spec.clone());
        let namespaced = falco_rule("team-a", "n", 1, spec.clone());
        let mut bad = spec;
        bad.pod_selector.as_mut().unwrap().match_labels =
            Some([("bad key!".to_string(), "x".to_string())].into());
        let bad = falco_rule("team-a", "bad", 1, bad);
        let plan = Validator::new().plan(
            "kestrel",
            &[&cluster, &namespaced, &bad],
            &DeployedRules::default(),
            BUDGET,
        );
        let get = |name: &str| plan.outcomes.iter().find(|o| o.name == name).unwrap();
        assert_eq!(
            get("c").verdict,
            Verdict::Rejected {
                reason: reason::INVALID_POD_SELECTOR
            }
        );
        assert!(get("c").errors[0].message.contains("not allowed"));
        assert_eq!(get("n").verdict, Verdict::Valid);
        assert_eq!(
            get("bad").verdict,
            Verdict::Rejected {
                reason: reason::INVALID_POD_SELECTOR
            }
        );
        let n = plan.entries.iter().find(|e| e.name == "n").unwrap();
        assert_eq!(n.scope, Scope::Namespace);
        assert!(n.pod_selector.is_some());
    }

    #[test]
    fn unchanged_input_is_not_compiled_again() {
        let mut v = Validator::new();
        let r = falco_rule(
            "team-a",
            "x",
            1,
            rules_only(vec![rule("R", "evt.type = open")]),
        );
        v.plan("kestrel", &[&r], &DeployedRules::default(), BUDGET);
        let after_first = v.compiles;
        assert!(after_first > 0);
        v.plan("kestrel", &[&r], &DeployedRules::default(), BUDGET);
        assert_eq!(v.compiles, after_first);
    }
}
