//! Pure rendering: FalcoRules into Falco YAML and sharded rules ConfigMaps, FalcoAlertSinks into
//! the sinks ConfigMap. No I/O; same input, same bytes. The format is described in
//! [`kestrel_api::contract`].

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kestrel_api::constants::{
    ANNOTATION_CONTENT_HASH, ANNOTATION_RENDER_GENERATION, ANNOTATION_SHARD, ANNOTATION_SINKS_HASH,
    CONFIGMAP_DATA_BUDGET, INDEX_KEY, LABEL_RULES, LABEL_SINKS, MANAGED_BY, SINKS_CONFIGMAP,
    SINKS_KEY, rules_configmap_name,
};
use kestrel_api::contract::{IndexEntry, RulesIndex, Scope, SinkEntry};
use kestrel_api::{FalcoRuleSpec, ProblemSubject};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

/// Version tag mixed into the content hash, bumped if the rendered format changes.
const FORMAT: &str = "kestrel-rules/v1";

/// A FalcoRule rendered as a Falco rules file, with the line span of each item so engine
/// diagnostics (YAML positions) map back to `spec.rules[i]` etc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedRule {
    pub yaml: String,
    pub items: Vec<ItemSpan>,
}

/// Where one spec item landed in the rendered YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSpan {
    pub subject: ProblemSubject,
    /// Index in `spec.lists` / `spec.macros` / `spec.rules`.
    pub index: usize,
    pub name: String,
    /// First line of the item (1-based).
    pub first_line: u32,
    /// Last line of the item (inclusive).
    pub last_line: u32,
}

impl ItemSpan {
    /// `spec.rules[3]`.
    pub fn path(&self) -> String {
        let field = match self.subject {
            ProblemSubject::List => "lists",
            ProblemSubject::Macro => "macros",
            _ => "rules",
        };
        format!("spec.{field}[{}]", self.index)
    }
}

impl RenderedRule {
    /// The item whose lines contain `line`.
    pub fn item_at_line(&self, line: u32) -> Option<&ItemSpan> {
        self.items
            .iter()
            .find(|i| i.first_line <= line && line <= i.last_line)
    }

    /// The first item of this kind and name.
    pub fn item_named(&self, subject: ProblemSubject, name: &str) -> Option<&ItemSpan> {
        self.items
            .iter()
            .find(|i| i.subject == subject && i.name == name)
    }
}

/// Render a FalcoRule spec as a Falco rules file: its lists, then its macros, then its rules, each
/// in spec order. An empty spec renders to an empty file.
pub fn render_falco_yaml(spec: &FalcoRuleSpec) -> RenderedRule {
    let mut out = RenderedRule {
        yaml: String::new(),
        items: Vec::new(),
    };
    let mut next_line = 1u32;
    let mut push = |subject: ProblemSubject, index: usize, name: &str, text: String| {
        let lines = text.lines().count() as u32;
        out.items.push(ItemSpan {
            subject,
            index,
            name: name.to_string(),
            first_line: next_line,
            last_line: next_line + lines.saturating_sub(1),
        });
        next_line += lines;
        out.yaml.push_str(&text);
    };
    for (i, list) in spec.lists.iter().enumerate() {
        push(ProblemSubject::List, i, &list.list, yaml_item(list));
    }
    for (i, mac) in spec.macros.iter().enumerate() {
        push(ProblemSubject::Macro, i, &mac.name, yaml_item(mac));
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        push(ProblemSubject::Rule, i, &rule.name, yaml_item(rule));
    }
    out
}

/// One item as a one-element YAML sequence (`- rule: ...`).
fn yaml_item<T: Serialize>(item: &T) -> String {
    // Serializing plain structs of strings, numbers and JSON values cannot fail.
    serde_yaml::to_string(&[item]).expect("Falco items serialize to YAML")
}

/// One FalcoRule to deploy: what goes into the index and its rendered YAML.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesEntry {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub generation: i64,
    pub scope: Scope,
    pub pod_selector: Option<LabelSelector>,
    pub yaml: String,
    /// sha256 of `yaml` ([`digest`]), computed once by whoever built the entry.
    pub digest: Digest,
}

/// A sha256 digest.
pub type Digest = [u8; 32];

/// sha256 of a text.
pub fn digest(text: &str) -> Digest {
    Sha256::digest(text.as_bytes()).into()
}

impl RulesEntry {
    /// Data key (`<namespace>.<name>.yaml`).
    pub fn key(&self) -> String {
        kestrel_api::contract::entry_key(&self.namespace, &self.name)
    }

    fn index_entry(&self, shard: usize, since: u64) -> IndexEntry {
        IndexEntry {
            key: self.key(),
            shard,
            since,
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            uid: self.uid.clone(),
            generation: self.generation,
            scope: self.scope,
            pod_selector: self.pod_selector.clone(),
        }
    }
}

/// Index order: cluster scope first, then by namespace, then by name.
pub fn sort_entries(entries: &mut [RulesEntry]) {
    entries.sort_by(|a, b| (a.scope, &a.namespace, &a.name).cmp(&(b.scope, &b.namespace, &b.name)));
}

/// Why a rule set cannot be rendered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RenderError {
    #[error(
        "FalcoRule {namespace}/{name} renders to {size} bytes, more than the {budget} bytes one ConfigMap can hold"
    )]
    EntryTooLarge {
        namespace: String,
        name: String,
        size: usize,
        budget: usize,
    },
    #[error(
        "index.json of {entries} FalcoRules takes {size} bytes, more than the {budget} bytes one ConfigMap can hold"
    )]
    IndexTooLarge {
        entries: usize,
        size: usize,
        budget: usize,
    },
}

/// The rendered rules ConfigMaps and what they hold.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedRules {
    pub hash: String,
    pub generation: u64,
    pub index: RulesIndex,
    /// `kestrel-rules-0` .. `kestrel-rules-<n-1>`, in shard order.
    pub configmaps: Vec<ConfigMap>,
}

/// The size one entry takes in a ConfigMap's data.
pub fn entry_size(entry: &RulesEntry) -> usize {
    entry.key().len() + entry.yaml.len()
}

/// Render the deployed FalcoRules into rules ConfigMaps of `namespace`.
///
/// `entries` must be in index order ([`sort_entries`]). `previous` is the set deployed now: the
/// render generation is kept when the content hash is unchanged and bumped otherwise, and each
/// entry keeps its `since` while its version (uid, generation, scope, podSelector, YAML) is
/// unchanged. `budget` bounds each ConfigMap's data (keys + values), normally
/// [`CONFIGMAP_DATA_BUDGET`].
pub fn render_rules(
    namespace: &str,
    entries: &[RulesEntry],
    previous: Option<&DeployedRules>,
    budget: usize,
) -> Result<RenderedRules, RenderError> {
    let hash = content_hash(entries);
    let generation = match previous {
        Some(p) if p.hash == hash => p.generation,
        Some(p) => p.generation + 1,
        None => 1,
    };
    let since: Vec<u64> = entries
        .iter()
        .map(|e| {
            previous
                .and_then(|p| p.by_uid(&e.uid))
                .filter(|(prev, yaml)| {
                    prev.generation == e.generation
                        && prev.scope == e.scope
                        && prev.pod_selector == e.pod_selector
                        && prev.key == e.key()
                        && *yaml == e.yaml
                })
                .map_or(generation, |(prev, _)| prev.since.min(generation))
        })
        .collect();

    // Shard 0 holds index.json: reserve its size with room for multi-digit shard numbers.
    let placeholder = RulesIndex {
        hash: hash.clone(),
        shards: 0,
        generation,
        entries: entries
            .iter()
            .zip(&since)
            .map(|(e, s)| e.index_entry(0, *s))
            .collect(),
    };
    let index_reserve = INDEX_KEY.len() + json(&placeholder).len() + 8 * (entries.len() + 1);
    if index_reserve > budget {
        return Err(RenderError::IndexTooLarge {
            entries: entries.len(),
            size: index_reserve,
            budget,
        });
    }

    let mut shard_of = Vec::with_capacity(entries.len());
    let mut shard = 0usize;
    let mut used = index_reserve;
    for e in entries {
        let size = entry_size(e);
        if size > budget {
            return Err(RenderError::EntryTooLarge {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                size,
                budget,
            });
        }
        if used + size > budget {
            shard += 1;
            used = 0;
        }
        used += size;
        shard_of.push(shard);
    }
    let shards = shard + 1;

    let index = RulesIndex {
        hash: hash.clone(),
        generation,
        shards,
        entries: entries
            .iter()
            .zip(&shard_of)
            .zip(&since)
            .map(|((e, shard), since)| e.index_entry(*shard, *since))
            .collect(),
    };
    let mut data: Vec<BTreeMap<String, String>> = vec![BTreeMap::new(); shards];
    data[0].insert(INDEX_KEY.to_string(), json(&index));
    for (e, s) in entries.iter().zip(&shard_of) {
        data[*s].insert(e.key(), e.yaml.clone());
    }
    let configmaps = data
        .into_iter()
        .enumerate()
        .map(|(i, data)| ConfigMap {
            metadata: ObjectMeta {
                name: Some(rules_configmap_name(i)),
                namespace: Some(namespace.to_string()),
                labels: Some(labels(LABEL_RULES)),
                annotations: Some(BTreeMap::from([
                    (ANNOTATION_CONTENT_HASH.to_string(), hash.clone()),
                    (ANNOTATION_SHARD.to_string(), format!("{i}/{shards}")),
                    (
                        ANNOTATION_RENDER_GENERATION.to_string(),
                        generation.to_string(),
                    ),
                ])),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        })
        .collect();
    Ok(RenderedRules {
        hash,
        generation,
        index,
        configmaps,
    })
}

/// Hex sha256 over the format tag and, in index order, each entry's index data (without its shard)
/// and the digest of its YAML: it changes exactly when what an agent loads changes.
pub fn content_hash(entries: &[RulesEntry]) -> String {
    let mut h = Sha256::new();
    h.update(FORMAT.as_bytes());
    h.update(b"\n");
    for e in entries {
        let meta = e.index_entry(0, 0);
        h.update(
            json(&(
                &meta.key,
                &meta.namespace,
                &meta.name,
                &meta.uid,
                meta.generation,
                meta.scope,
                &meta.pod_selector,
            ))
            .as_bytes(),
        );
        h.update(b"\n");
        h.update(e.digest);
    }
    hex(&h.finalize())
}

/// Render the sinks ConfigMap (`kestrel-sinks`) from sink entries (sorted here: cluster scope
/// first, then namespace, then name).
pub fn render_sinks(namespace: &str, mut sinks: Vec<SinkEntry>) -> ConfigMap {
    sinks.sort_by(|a, b| (a.scope, &a.namespace, &a.name).cmp(&(b.scope, &b.namespace, &b.name)));
    let body = serde_json::to_string_pretty(&sinks).expect("sink entries serialize to JSON") + "\n";
    let hash = hex(&Sha256::digest(body.as_bytes()));
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(SINKS_CONFIGMAP.to_string()),
            namespace: Some(namespace.to_string()),
            labels: Some(labels(LABEL_SINKS)),
            annotations: Some(BTreeMap::from([(ANNOTATION_SINKS_HASH.to_string(), hash)])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(SINKS_KEY.to_string(), body)])),
        ..ConfigMap::default()
    }
}

fn labels(kind: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (kind.to_string(), "true".to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGED_BY.to_string(),
        ),
        (
            "app.kubernetes.io/part-of".to_string(),
            "kestrel".to_string(),
        ),
    ])
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("index data serializes to JSON")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// True when `have` already holds everything `want` sets: the same data and the labels and
/// annotations of `want` (other labels and annotations are left alone). Comparing before applying
/// is what makes an unchanged rule set cost no write.
pub fn configmap_up_to_date(have: &ConfigMap, want: &ConfigMap) -> bool {
    let subset = |want: &Option<BTreeMap<String, String>>,
                  have: &Option<BTreeMap<String, String>>| {
        want.iter()
            .flatten()
            .all(|(k, v)| have.as_ref().and_then(|h| h.get(k)) == Some(v))
    };
    let empty = BTreeMap::new();
    have.metadata.deletion_timestamp.is_none()
        && have.data.as_ref().unwrap_or(&empty) == want.data.as_ref().unwrap_or(&empty)
        && have.binary_data.as_ref().is_none_or(|b| b.is_empty())
        && subset(&want.metadata.labels, &have.metadata.labels)
        && subset(&want.metadata.annotations, &have.metadata.annotations)
}

/// Parse the deployed state back from rules ConfigMaps: the index (from shard 0) and the YAML of
/// each entry. `None` when there is no consistent set (missing shards, hashes that disagree, no
/// index).
pub fn parse_deployed(configmaps: &[ConfigMap]) -> Option<DeployedRules> {
    let by_name: BTreeMap<&str, &ConfigMap> = configmaps
        .iter()
        .filter_map(|cm| Some((cm.metadata.name.as_deref()?, cm)))
        .collect();
    let shard0 = by_name.get(rules_configmap_name(0).as_str())?;
    let index: RulesIndex = serde_json::from_str(shard0.data.as_ref()?.get(INDEX_KEY)?).ok()?;
    let annotation =
        |cm: &ConfigMap, key: &str| cm.metadata.annotations.as_ref()?.get(key).cloned();
    let generation = annotation(shard0, ANNOTATION_RENDER_GENERATION)?
        .parse()
        .ok()?;
    let mut entries = Vec::with_capacity(index.entries.len());
    for e in &index.entries {
        let cm = by_name.get(rules_configmap_name(e.shard).as_str())?;
        if annotation(cm, ANNOTATION_CONTENT_HASH).as_deref() != Some(index.hash.as_str()) {
            return None;
        }
        let yaml = cm.data.as_ref()?.get(&e.key)?.clone();
        entries.push((e.clone(), yaml));
    }
    Some(DeployedRules {
        hash: index.hash,
        generation,
        entries,
    })
}

/// What the rules ConfigMaps hold now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeployedRules {
    pub hash: String,
    pub generation: u64,
    pub entries: Vec<(IndexEntry, String)>,
}

impl DeployedRules {
    /// The deployed entry of the FalcoRule with this uid.
    pub fn by_uid(&self, uid: &str) -> Option<&(IndexEntry, String)> {
        self.entries.iter().find(|(e, _)| e.uid == uid)
    }
}

/// Default budget, re-exported for callers that do not tune it.
pub const BUDGET: usize = CONFIGMAP_DATA_BUDGET;

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_api::contract::SecretRef;
    use kestrel_api::{FalcoList, FalcoMacro, ListItem, Rule, SinkFilters, SinkType};

    fn rule(name: &str, condition: &str) -> Rule {
        Rule {
            name: name.into(),
            desc: Some(format!("detects {name}")),
            condition: Some(condition.into()),
            output: Some("%proc.name did it (file=%fd.name)".into()),
            priority: Some("WARNING".into()),
            source: None,
            tags: Some(vec!["filesystem".into()]),
            enabled: None,
            exceptions: None,
            append: None,
            override_: None,
            warn_evttypes: None,
            skip_if_unknown_filter: None,
        }
    }

    fn spec() -> FalcoRuleSpec {
        FalcoRuleSpec {
            lists: vec![FalcoList {
                list: "readers".into(),
                items: vec![ListItem::Str("cat".into()), ListItem::Int(80)],
                append: None,
                override_: None,
            }],
            macros: vec![FalcoMacro {
                name: "open_read".into(),
                condition: Some("evt.type in (open, openat) and evt.is_open_read = true".into()),
                append: None,
                override_: None,
            }],
            rules: vec![
                rule("Read Passwd File", "open_read and\n  fd.name = /etc/passwd"),
                rule("Read Shadow", "open_read and fd.name = /etc/shadow"),
            ],
            pod_selector: None,
        }
    }

    fn entry(ns: &str, name: &str, scope: Scope, yaml: String) -> RulesEntry {
        RulesEntry {
            namespace: ns.into(),
            name: name.into(),
            uid: format!("uid-{ns}-{name}"),
            generation: 1,
            scope,
            pod_selector: None,
            digest: digest(&yaml),
            yaml,
        }
    }

    #[test]
    fn renders_lists_then_macros_then_rules_with_line_spans() {
        let r = render_falco_yaml(&spec());
        assert_eq!(
            r.yaml,
            "- list: readers\n  items:\n  - cat\n  - 80\n\
             - macro: open_read\n  condition: evt.type in (open, openat) and evt.is_open_read = true\n\
             - rule: Read Passwd File\n  desc: detects Read Passwd File\n  condition: |-\n    open_read and\n      fd.name = /etc/passwd\n  output: '%proc.name did it (file=%fd.name)'\n  priority: WARNING\n  tags:\n  - filesystem\n\
             - rule: Read Shadow\n  desc: detects Read Shadow\n  condition: open_read and fd.name = /etc/shadow\n  output: '%proc.name did it (file=%fd.name)'\n  priority: WARNING\n  tags:\n  - filesystem\n"
        );
        let spans: Vec<(String, u32, u32)> = r
            .items
            .iter()
            .map(|i| (i.path(), i.first_line, i.last_line))
            .collect();
        assert_eq!(
            spans,
            vec![
                ("spec.lists[0]".to_string(), 1, 4),
                ("spec.macros[0]".to_string(), 5, 6),
                ("spec.rules[0]".to_string(), 7, 15),
                ("spec.rules[1]".to_string(), 16, 22),
            ]
        );
        assert_eq!(
            r.item_at_line(9).map(|i| i.name.as_str()),
            Some("Read Passwd File")
        );
        assert_eq!(render_falco_yaml(&FalcoRuleSpec::default()).yaml, "");
    }

    #[test]
    fn rendering_is_deterministic_and_input_order_free() {
        let yaml = render_falco_yaml(&spec()).yaml;
        let mut a = vec![
            entry("team-b", "x", Scope::Namespace, yaml.clone()),
            entry("kestrel", "base", Scope::Cluster, yaml.clone()),
            entry("team-a", "y", Scope::Namespace, yaml.clone()),
            entry("kestrel", "another", Scope::Cluster, yaml.clone()),
        ];
        let mut b = a.clone();
        b.reverse();
        sort_entries(&mut a);
        sort_entries(&mut b);
        let ra = render_rules("kestrel", &a, None, BUDGET).unwrap();
        let rb = render_rules("kestrel", &b, None, BUDGET).unwrap();
        assert_eq!(ra, rb);
        let order: Vec<&str> = ra.index.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            order,
            [
                "kestrel.another.yaml",
                "kestrel.base.yaml",
                "team-a.y.yaml",
                "team-b.x.yaml"
            ]
        );
        let scopes: Vec<Scope> = ra.index.entries.iter().map(|e| e.scope).collect();
        assert_eq!(
            scopes,
            [
                Scope::Cluster,
                Scope::Cluster,
                Scope::Namespace,
                Scope::Namespace
            ]
        );
        // Exact format of index.json: the agents parse it.
        let cm = &ra.configmaps[0];
        let index_json = &cm.data.as_ref().unwrap()[INDEX_KEY];
        let parsed: serde_json::Value = serde_json::from_str(index_json).unwrap();
        assert_eq!(parsed["hash"], ra.hash);
        assert_eq!(parsed["shards"], 1);
        assert_eq!(parsed["generation"], 1);
        assert_eq!(
            parsed["entries"][2],
            serde_json::json!({
                "key": "team-a.y.yaml", "shard": 0, "since": 1, "namespace": "team-a", "name": "y",
                "uid": "uid-team-a-y", "generation": 1, "scope": "namespace", "podSelector": null
            })
        );
        let meta = &cm.metadata;
        assert_eq!(meta.name.as_deref(), Some("kestrel-rules-0"));
        assert_eq!(meta.labels.as_ref().unwrap()["kestrel.dev/rules"], "true");
        let ann = meta.annotations.as_ref().unwrap();
        assert_eq!(ann["kestrel.dev/content-hash"], ra.hash);
        assert_eq!(ann["kestrel.dev/shard"], "0/1");
        assert_eq!(ann["kestrel.dev/render-generation"], "1");
    }

    #[test]
    fn hash_and_generation_follow_content_only() {
        let yaml = render_falco_yaml(&spec()).yaml;
        let entries = vec![entry("team-a", "y", Scope::Namespace, yaml.clone())];
        let first = render_rules("kestrel", &entries, None, BUDGET).unwrap();
        assert_eq!(first.hash.len(), 64);
        let previous = DeployedRules {
            hash: first.hash.clone(),
            generation: 7,
            entries: vec![],
        };
        let same = render_rules("kestrel", &entries, Some(&previous), BUDGET).unwrap();
        assert_eq!(
            (same.hash.as_str(), same.generation),
            (first.hash.as_str(), 7)
        );

        let mut selected = entries.clone();
        selected[0].pod_selector = Some(LabelSelector {
            match_labels: Some([("app".to_string(), "web".to_string())].into()),
            match_expressions: None,
        });
        let changed = render_rules("kestrel", &selected, Some(&previous), BUDGET).unwrap();
        assert_ne!(changed.hash, first.hash);
        assert_eq!(changed.generation, 8);

        let mut edited = entries.clone();
        edited[0].yaml.push_str("- list: more\n  items: []\n");
        edited[0].digest = digest(&edited[0].yaml);
        assert_ne!(content_hash(&edited), first.hash);
        let mut regen = entries;
        regen[0].generation = 2;
        assert_ne!(content_hash(&regen), first.hash);
    }

    #[test]
    fn since_tracks_when_each_version_first_shipped() {
        let yaml = render_falco_yaml(&spec()).yaml;
        let mut entries = vec![
            entry("kestrel", "a", Scope::Cluster, yaml.clone()),
            entry("team-a", "b", Scope::Namespace, yaml.clone()),
        ];
        let g1 = render_rules("kestrel", &entries, None, BUDGET).unwrap();
        let d1 = parse_deployed(&g1.configmaps).unwrap();
        assert_eq!(
            (d1.generation, d1.entries[0].0.since, d1.entries[1].0.since),
            (1, 1, 1)
        );
        entries[1].generation = 2;
        entries[1].yaml.push_str("- list: extra\n  items: []\n");
        entries[1].digest = digest(&entries[1].yaml);
        let g2 = render_rules("kestrel", &entries, Some(&d1), BUDGET).unwrap();
        let d2 = parse_deployed(&g2.configmaps).unwrap();
        assert_eq!(d2.generation, 2);
        assert_eq!((d2.entries[0].0.since, d2.entries[1].0.since), (1, 2));
        // Nothing changed: same generation, same since, same bytes.
        let g3 = render_rules("kestrel", &entries, Some(&d2), BUDGET).unwrap();
        assert_eq!(g3.configmaps, g2.configmaps);
    }

    #[test]
    fn three_hundred_rules_shard_under_one_mib() {
        // 300 FalcoRules of ~10 KiB each: about 3 MB of rules.
        let mut entries: Vec<RulesEntry> = (0..300)
            .map(|i| {
                let mut s = spec();
                s.rules = (0..30)
                    .map(|j| {
                        rule(
                            &format!("rule {i}-{j} watching a long list of sensitive paths"),
                            &format!("open_read and fd.name in (/etc/secret-{i}-{j}, /etc/other-{j}, /var/lib/app-{i}/db, /root/.ssh/id_rsa)"),
                        )
                    })
                    .collect();
                let ns = if i % 3 == 0 { "kestrel".to_string() } else { format!("team-{}", i % 7) };
                let scope = if i % 3 == 0 { Scope::Cluster } else { Scope::Namespace };
                entry(&ns, &format!("rules-{i:03}"), scope, render_falco_yaml(&s).yaml)
            })
            .collect();
        sort_entries(&mut entries);
        let total: usize = entries.iter().map(entry_size).sum();
        assert!(total > 2 * 1024 * 1024, "{total}");
        let r = render_rules("kestrel", &entries, None, BUDGET).unwrap();
        assert!(r.configmaps.len() >= 3, "{} shards", r.configmaps.len());
        assert_eq!(r.index.shards, r.configmaps.len());
        let mut seen = 0;
        for (i, cm) in r.configmaps.iter().enumerate() {
            let bytes = serde_json::to_vec(cm).unwrap().len();
            assert!(bytes < 1024 * 1024, "shard {i} serializes to {bytes} bytes");
            let data = cm.data.as_ref().unwrap();
            let data_bytes: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(data_bytes <= BUDGET, "shard {i}: {data_bytes}");
            assert_eq!(data.contains_key(INDEX_KEY), i == 0);
            assert_eq!(
                cm.metadata.annotations.as_ref().unwrap()[ANNOTATION_SHARD],
                format!("{i}/{}", r.configmaps.len())
            );
            seen += data.len() - usize::from(i == 0);
        }
        assert_eq!(seen, 300);
        for e in &r.index.entries {
            let data = r.configmaps[e.shard].data.as_ref().unwrap();
            assert!(
                data.contains_key(&e.key),
                "{} not in shard {}",
                e.key,
                e.shard
            );
        }
        // What the agent (and the operator after a restart) reads back is what was written.
        let parsed = parse_deployed(&r.configmaps).unwrap();
        assert_eq!(parsed.hash, r.hash);
        assert_eq!(parsed.entries.len(), 300);
        assert_eq!(parsed.entries[0].1, entries[0].yaml);
    }

    #[test]
    fn inconsistent_shards_are_not_a_deployed_set() {
        let yaml = "x".repeat(600 * 1024);
        let mut entries = vec![
            entry("kestrel", "a", Scope::Cluster, yaml.clone()),
            entry("kestrel", "b", Scope::Cluster, yaml),
        ];
        sort_entries(&mut entries);
        let r = render_rules("kestrel", &entries, None, BUDGET).unwrap();
        assert_eq!(r.configmaps.len(), 2);
        assert!(parse_deployed(&r.configmaps).is_some());
        let mut torn = r.configmaps.clone();
        torn[1]
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .insert(ANNOTATION_CONTENT_HASH.into(), "older".into());
        assert_eq!(parse_deployed(&torn), None);
        assert_eq!(parse_deployed(&r.configmaps[..1]), None);
    }

    #[test]
    fn an_entry_larger_than_a_configmap_is_an_error() {
        let entries = vec![entry("kestrel", "huge", Scope::Cluster, "x".repeat(BUDGET))];
        let err = render_rules("kestrel", &entries, None, BUDGET).unwrap_err();
        assert!(
            matches!(err, RenderError::EntryTooLarge { ref name, .. } if name == "huge"),
            "{err}"
        );
    }

    #[test]
    fn up_to_date_compares_what_we_own() {
        let yaml = render_falco_yaml(&spec()).yaml;
        let r = render_rules(
            "kestrel",
            &[entry("kestrel", "a", Scope::Cluster, yaml)],
            None,
            BUDGET,
        )
        .unwrap();
        let want = &r.configmaps[0];
        let mut have = want.clone();
        have.metadata.resource_version = Some("42".into());
        have.metadata
            .labels
            .as_mut()
            .unwrap()
            .insert("someone.else/label".into(), "x".into());
        assert!(configmap_up_to_date(&have, want));
        have.data
            .as_mut()
            .unwrap()
            .insert("extra.yaml".into(), "- list: x\n".into());
        assert!(!configmap_up_to_date(&have, want));
        let mut relabelled = want.clone();
        relabelled
            .metadata
            .annotations
            .as_mut()
            .unwrap()
            .remove(ANNOTATION_SHARD);
        assert!(!configmap_up_to_date(&relabelled, want));
    }

    #[test]
    fn sinks_configmap_names_secrets_and_holds_no_value() {
        let entry = |ns: &str, name: &str, scope: Scope| SinkEntry {
            namespace: ns.into(),
            name: name.into(),
            scope,
            type_: SinkType::Slack,
            url: None,
            path: None,
            address: None,
            protocol: None,
            minimum_priority: "warning".into(),
            filters: SinkFilters::default(),
            headers: Default::default(),
            secret_ref: Some(SecretRef {
                namespace: ns.into(),
                name: "slack".into(),
                key: "webhook-url".into(),
            }),
            credential_header: None,
            tls: None,
        };
        let cm = render_sinks(
            "kestrel",
            vec![
                entry("team-a", "s", Scope::Namespace),
                entry("kestrel", "z", Scope::Cluster),
            ],
        );
        assert_eq!(cm.metadata.name.as_deref(), Some("kestrel-sinks"));
        assert_eq!(
            cm.metadata.labels.as_ref().unwrap()["kestrel.dev/sinks"],
            "true"
        );
        let body = &cm.data.as_ref().unwrap()["sinks.json"];
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed[0]["name"], "z", "cluster scope first");
        assert_eq!(
            parsed[1],
            serde_json::json!({
                "namespace": "team-a", "name": "s", "scope": "namespace", "type": "slack",
                "minimumPriority": "warning", "filters": {},
                "secretRef": {"namespace": "team-a", "name": "slack", "key": "webhook-url"}
            })
        );
        assert_eq!(
            render_sinks("kestrel", vec![]).data.unwrap()["sinks.json"],
            "[]\n"
        );
    }
}
