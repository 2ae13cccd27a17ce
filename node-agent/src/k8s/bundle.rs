//! The operator's rules ConfigMaps → the agent's rule sets (pure functions, unit-tested).
//!
//! Contract (api/src/contract.rs): ConfigMaps `kestrel-rules-<i>` carry the same content hash;
//! shard 0 holds `index.json`; every entry's text is under its key in its shard. Cluster entries
//! form one set with the agent's local rule files before them; each namespaced entry forms a set
//! of the local and cluster macros and lists followed by the entry.

use std::collections::BTreeMap;

use kestrel_api::constants::{ANNOTATION_CONTENT_HASH, INDEX_KEY};
use kestrel_api::contract::{RulesIndex, Scope, shared_definitions};
use kestrel_engine::{CompileOptions, Loader};

use crate::rules::{LoadedRules, PodSelector, RulesError, ScopedRules};

/// One rules ConfigMap as the agent sees it.
#[derive(Debug, Clone, Default)]
pub struct RulesConfigMap {
    pub name: String,
    pub content_hash: Option<String>,
    pub data: BTreeMap<String, String>,
}

impl RulesConfigMap {
    pub fn from_k8s(cm: &k8s_openapi::api::core::v1::ConfigMap) -> Self {
        RulesConfigMap {
            name: cm.metadata.name.clone().unwrap_or_default(),
            content_hash: cm
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_CONTENT_HASH).cloned()),
            data: cm.data.clone().unwrap_or_default(),
        }
    }
}

/// A complete, consistent rendered rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    pub hash: String,
    pub cluster: Vec<(String, String)>,
    /// key → the FalcoRule (namespace, name) of each cluster entry.
    pub cluster_sources: Vec<(String, (String, String))>,
    pub namespaced: Vec<(kestrel_api::contract::IndexEntry, String)>,
}

/// Why the ConfigMaps do not (yet) form a rule set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("no rules ConfigMap has an index.json yet")]
    NoIndex,
    #[error("index.json is not valid: {0}")]
    BadIndex(String),
    #[error("waiting for shards: {found} of {expected} carry content hash {hash}")]
    Incomplete {
        expected: usize,
        found: usize,
        hash: String,
    },
    #[error("entry {0} is listed in index.json but missing from its shard")]
    MissingEntry(String),
}

/// Assemble the rule set from the rules ConfigMaps.
pub fn assemble(cms: &[RulesConfigMap]) -> Result<Bundle, BundleError> {
    let index_text = cms
        .iter()
        .find_map(|c| c.data.get(INDEX_KEY))
        .ok_or(BundleError::NoIndex)?;
    let index: RulesIndex =
        serde_json::from_str(index_text).map_err(|e| BundleError::BadIndex(e.to_string()))?;
    let current: Vec<&RulesConfigMap> = cms
        .iter()
        .filter(|c| c.content_hash.as_deref() == Some(index.hash.as_str()))
        .collect();
    if current.len() < index.shards {
        return Err(BundleError::Incomplete {
            expected: index.shards,
            found: current.len(),
            hash: index.hash,
        });
    }
    let text_of = |key: &str| current.iter().find_map(|c| c.data.get(key).cloned());
    let mut cluster = Vec::new();
    let mut cluster_sources = Vec::new();
    let mut namespaced = Vec::new();
    for e in &index.entries {
        let text = text_of(&e.key).ok_or_else(|| BundleError::MissingEntry(e.key.clone()))?;
        match e.scope {
            Scope::Cluster => {
                cluster_sources.push((e.key.clone(), (e.namespace.clone(), e.name.clone())));
                cluster.push((e.key.clone(), text));
            }
            Scope::Namespace => namespaced.push((e.clone(), text)),
        }
    }
    Ok(Bundle {
        hash: index.hash,
        cluster,
        cluster_sources,
        namespaced,
    })
}

fn selector(ls: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> PodSelector {
    PodSelector {
        match_labels: ls
            .match_labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        match_expressions: ls
            .match_expressions
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|r| (r.key, r.operator, r.values.unwrap_or_default()))
            .collect(),
    }
}

/// Compile a bundle on top of the agent's local rule files. The global set failing is an error
/// (the caller keeps the previous rule set); a namespaced entry failing is skipped and reported.
pub fn compile(
    local: &[(String, String)],
    bundle: &Bundle,
    opts: &CompileOptions,
) -> Result<(LoadedRules, Vec<String>), RulesError> {
    let mut global = Loader::new();
    for (name, text) in local.iter().chain(&bundle.cluster) {
        global.add_str(name.clone(), text.clone());
    }
    let compiled = global.compile(opts).map_err(RulesError::Invalid)?;
    let mut shared: Vec<(String, String)> = Vec::new();
    for (name, text) in local.iter().chain(&bundle.cluster) {
        if let Ok(defs) = shared_definitions(text)
            && !defs.is_empty()
        {
            shared.push((format!("{name} (macros and lists)"), defs));
        }
    }
    let mut scoped = Vec::new();
    let mut problems = Vec::new();
    for (entry, text) in &bundle.namespaced {
        let mut l = Loader::new();
        for (name, defs) in &shared {
            l.add_str(name.clone(), defs.clone());
        }
        l.add_str(entry.key.clone(), text.clone());
        match l.compile(opts) {
            Ok(c) => scoped.push(ScopedRules {
                namespace: entry.namespace.clone(),
                source: format!("{}/{}", entry.namespace, entry.name),
                selector: entry.pod_selector.as_ref().map(selector),
                compiled: c,
            }),
            Err(d) => problems.push(format!(
                "FalcoRule {}/{} skipped: {d}",
                entry.namespace, entry.name
            )),
        }
    }
    let s = &compiled.stats;
    let summary = format!(
        "{} rules ({} enabled), {} macros, {} lists cluster-wide + {} namespaced rule sets (hash {})",
        s.rules,
        s.enabled_rules,
        s.macros,
        s.lists,
        scoped.len(),
        &bundle.hash[..bundle.hash.len().min(12)]
    );
    Ok((
        LoadedRules {
            compiled,
            scoped,
            files: Vec::new(),
            summary,
            hash: bundle.hash.clone(),
            sources: bundle
                .cluster_sources
                .iter()
                .cloned()
                .chain(
                    bundle
                        .namespaced
                        .iter()
                        .map(|(e, _)| (e.key.clone(), (e.namespace.clone(), e.name.clone()))),
                )
                .collect(),
        },
        problems,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "- macro: passwd_file\n  condition: fd.name=/etc/passwd\n- rule: Read Passwd File\n  desc: d\n  condition: evt.type=openat and passwd_file\n  output: passwd read by %proc.name\n  priority: WARNING\n";
    const TEAM: &str = "- rule: Team Passwd\n  desc: d\n  condition: evt.type=openat and passwd_file and proc.name=cat\n  output: team %proc.name\n  priority: NOTICE\n";

    fn index(hash: &str, shards: usize) -> String {
        serde_json::json!({
            "hash": hash, "generation": 1, "shards": shards,
            "entries": [
                {"key": "kestrel.passwd.yaml", "shard": 0, "namespace": "kestrel", "name": "passwd", "uid": "u1", "generation": 1, "scope": "cluster"},
                {"key": "team.watch.yaml", "shard": shards - 1, "namespace": "team", "name": "watch", "uid": "u2", "generation": 3, "scope": "namespace",
                 "podSelector": {"matchLabels": {"app": "web"}}}
            ]
        })
        .to_string()
    }

    fn cms(hash0: &str, hash1: &str) -> Vec<RulesConfigMap> {
        vec![
            RulesConfigMap {
                name: "kestrel-rules-0".into(),
                content_hash: Some(hash0.into()),
                data: [
                    ("index.json".to_owned(), index("h1", 2)),
                    ("kestrel.passwd.yaml".to_owned(), PASSWD.to_owned()),
                ]
                .into(),
            },
            RulesConfigMap {
                name: "kestrel-rules-1".into(),
                content_hash: Some(hash1.into()),
                data: [("team.watch.yaml".to_owned(), TEAM.to_owned())].into(),
            },
        ]
    }

    #[test]
    fn assembles_when_every_shard_is_current() {
        let b = assemble(&cms("h1", "h1")).unwrap();
        assert_eq!(b.hash, "h1");
        assert_eq!(
            b.cluster,
            vec![("kestrel.passwd.yaml".to_owned(), PASSWD.to_owned())]
        );
        assert_eq!(b.namespaced.len(), 1);
        assert_eq!(b.namespaced[0].0.namespace, "team");
    }

    #[test]
    fn waits_for_shards_being_written() {
        assert_eq!(
            assemble(&cms("h1", "h0")).unwrap_err(),
            BundleError::Incomplete {
                expected: 2,
                found: 1,
                hash: "h1".into()
            }
        );
        assert_eq!(assemble(&[]).unwrap_err(), BundleError::NoIndex);
    }

    #[test]
    fn namespaced_sets_see_cluster_macros_but_not_cluster_rules() {
        let b = assemble(&cms("h1", "h1")).unwrap();
        let (loaded, problems) = compile(&[], &b, &CompileOptions::default()).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(loaded.compiled.ruleset.rule("Read Passwd File").is_some());
        assert!(loaded.compiled.ruleset.rule("Team Passwd").is_none());
        assert_eq!(loaded.scoped.len(), 1);
        let team = &loaded.scoped[0];
        assert_eq!(team.namespace, "team");
        assert!(team.compiled.ruleset.rule("Team Passwd").is_some());
        assert!(
            team.compiled.ruleset.rule("Read Passwd File").is_none(),
            "cluster rules are not duplicated"
        );
        let sel = team.selector.as_ref().unwrap();
        assert!(sel.matches(&[("app".into(), "web".into())]));
        assert!(!sel.matches(&[("app".into(), "db".into())]));
        assert_eq!(loaded.hash, "h1");
    }

    #[test]
    fn a_broken_namespaced_entry_is_skipped_and_reported() {
        let mut b = assemble(&cms("h1", "h1")).unwrap();
        b.namespaced[0].1 = "- rule: Bad\n  desc: d\n  condition: evt.type=openat and nosuchmacro\n  output: o\n  priority: WARNING\n".into();
        let (loaded, problems) = compile(&[], &b, &CompileOptions::default()).unwrap();
        assert!(loaded.scoped.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("FalcoRule team/watch skipped: "),
            "{}",
            problems[0]
        );
    }
}
