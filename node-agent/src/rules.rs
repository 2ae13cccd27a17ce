//! Rule files: expand `--rules` paths (files, or directories of `*.yaml`/`*.yml` in name order),
//! load them in order through the engine, and keep the running rule set behind an atomic pointer
//! so a reload swaps it without stopping the event thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use kestrel_engine::{CompileOptions, Compiled, Diagnostics, Loader};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("rules path {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("rules path {0} contains no .yaml or .yml files")]
    EmptyDir(PathBuf),
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("no rule files given: use --rules FILE|DIR")]
    NoPaths,
}

impl RulesError {
    /// The engine's diagnostics, when the files were read but did not compile.
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            RulesError::Invalid(d) => Some(d),
            _ => None,
        }
    }
}

/// The files named by `--rules` arguments, in load order.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RulesError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| RulesError::Io {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|source| RulesError::Io {
                    path: p.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml") && f.is_file())
                .collect();
            if in_dir.is_empty() {
                return Err(RulesError::EmptyDir(p.clone()));
            }
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Load and compile rule files in order (later definitions win, `append`/`override` apply).
pub fn load_files(files: &[PathBuf], opts: &CompileOptions) -> Result<Compiled, RulesError> {
    let mut loader = Loader::new();
    for f in files {
        loader
            .add_file(f)
            .map_err(|d| RulesError::Invalid(Diagnostics(vec![*d])))?;
    }
    loader.compile(opts).map_err(RulesError::Invalid)
}

/// Rules that apply only to pods of one namespace (a FalcoRule outside the install namespace),
/// narrowed by its pod selector.
pub struct ScopedRules {
    pub namespace: String,
    /// `namespace/name` of the FalcoRule, for logs.
    pub source: String,
    pub selector: Option<PodSelector>,
    pub compiled: Compiled,
}

/// A Kubernetes label selector, as the agent evaluates it against pod labels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodSelector {
    pub match_labels: Vec<(String, String)>,
    /// (key, operator `In`/`NotIn`/`Exists`/`DoesNotExist`, values)
    pub match_expressions: Vec<(String, String, Vec<String>)>,
}

impl PodSelector {
    pub fn matches(&self, labels: &[(String, String)]) -> bool {
        let get = |k: &str| {
            labels
                .iter()
                .find(|(lk, _)| lk == k)
                .map(|(_, v)| v.as_str())
        };
        self.match_labels
            .iter()
            .all(|(k, v)| get(k) == Some(v.as_str()))
            && self
                .match_expressions
                .iter()
                .all(|(k, op, values)| match op.as_str() {
                    "In" => get(k).is_some_and(|v| values.iter().any(|x| x == v)),
                    "NotIn" => get(k).is_none_or(|v| !values.iter().any(|x| x == v)),
                    "Exists" => get(k).is_some(),
                    "DoesNotExist" => get(k).is_none(),
                    _ => false,
                })
    }
}

/// A compiled rule set with where it came from.
pub struct LoadedRules {
    /// Rules applied to every event (the host's and every pod's).
    pub compiled: Compiled,
    /// Rules applied only to pods of one namespace.
    pub scoped: Vec<ScopedRules>,
    pub files: Vec<PathBuf>,
    /// A short description for logs: "12 rules (11 enabled), 40 macros, 20 lists from 3 files".
    pub summary: String,
    /// Content hash of the Kubernetes rule set this came from (empty for files only).
    pub hash: String,
    /// In a cluster: rendered key (`Alert::rule_file`) → the FalcoRule (namespace, name).
    pub sources: std::collections::HashMap<String, (String, String)>,
}

impl LoadedRules {
    pub fn load(paths: &[PathBuf], opts: &CompileOptions) -> Result<LoadedRules, RulesError> {
        if paths.is_empty() {
            return Err(RulesError::NoPaths);
        }
        let files = expand_paths(paths)?;
        let compiled = load_files(&files, opts)?;
        let s = &compiled.stats;
        let summary = format!(
            "{} rules ({} enabled), {} macros, {} lists from {} file{}",
            s.rules,
            s.enabled_rules,
            s.macros,
            s.lists,
            files.len(),
            if files.len() == 1 { "" } else { "s" }
        );
        Ok(LoadedRules {
            compiled,
            scoped: Vec::new(),
            files,
            summary,
            hash: String::new(),
            sources: Default::default(),
        })
    }

    /// No rules at all (the capture command records without evaluating).
    pub fn empty() -> LoadedRules {
        LoadedRules {
            compiled: Compiled::empty(),
            scoped: Vec::new(),
            files: Vec::new(),
            summary: "no rules".into(),
            hash: String::new(),
            sources: Default::default(),
        }
    }

    /// Rules defined and rules enabled, over every set (the global one and the namespaced ones).
    pub fn rule_counts(&self) -> RuleCounts {
        std::iter::once(&self.compiled)
            .chain(self.scoped.iter().map(|s| &s.compiled))
            .fold(RuleCounts::default(), |c, s| RuleCounts {
                rules: c.rules + s.stats.rules,
                enabled: c.enabled + s.stats.enabled_rules,
            })
    }

    /// Every rule set: the global one, then the namespaced ones.
    pub fn all_sets(&self) -> impl Iterator<Item = &kestrel_engine::RuleSet> {
        std::iter::once(&self.compiled.ruleset)
            .chain(self.scoped.iter().map(|s| &s.compiled.ruleset))
    }
}

/// How many rules a rule set defines and how many of them are enabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleCounts {
    pub rules: usize,
    pub enabled: usize,
}

/// What to warn about when `new` replaces `old`: rules dropped or disabled, or no enabled rule
/// left (the set is applied all the same: an emptied file is valid, but rarely meant).
pub fn shrink_warning(old: RuleCounts, new: RuleCounts) -> Option<String> {
    let dropped = old.rules.saturating_sub(new.rules);
    let disabled = old.enabled.saturating_sub(new.enabled);
    if new.enabled == 0 {
        Some(format!(
            "the new rule set has no enabled rules ({} before, {dropped} rules dropped): nothing will alert",
            old.enabled
        ))
    } else if dropped > 0 || disabled > 0 {
        Some(format!(
            "the new rule set drops {dropped} of {} rules; enabled rules {} -> {}",
            old.rules, old.enabled, new.enabled
        ))
    } else {
        None
    }
}

/// The rule set the event thread reads: an atomic pointer, swapped whole on reload.
pub struct LiveRules {
    current: ArcSwap<LoadedRules>,
    reloads: crate::metrics::ReloadStats,
}

impl LiveRules {
    pub fn new(initial: LoadedRules) -> Self {
        Self {
            current: ArcSwap::from_pointee(initial),
            reloads: Default::default(),
        }
    }

    /// How many reloads replaced the set, and how many failed and kept it.
    pub fn reloads(&self) -> &crate::metrics::ReloadStats {
        &self.reloads
    }

    /// A reload that did not replace the set (it did not load, or the probe filter could not
    /// follow it).
    pub fn record_failed_reload(&self) {
        self.reloads
            .failed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The current rule set. Cheap; hold the guard only for one batch of events.
    pub fn load(&self) -> arc_swap::Guard<Arc<LoadedRules>> {
        self.current.load()
    }

    /// Replace the set (a successful reload).
    pub fn swap(&self, new: LoadedRules) {
        self.current.store(Arc::new(new));
        self.reloads
            .ok
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Is `p` a file the agent would load from a directory?
pub fn is_rules_file(p: &Path) -> bool {
    p.extension().is_some_and(|x| x == "yaml" || x == "yml")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("kestrel-rules-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn directories_expand_in_name_order() {
        let d = tmpdir("order");
        for f in ["20-b.yaml", "10-a.yml", "notes.txt"] {
            std::fs::write(d.join(f), "[]").unwrap();
        }
        let files = expand_paths(std::slice::from_ref(&d)).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["10-a.yml", "20-b.yaml"]);
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn shrinking_reloads_are_told() {
        let c = |rules, enabled| RuleCounts { rules, enabled };
        assert_eq!(
            shrink_warning(c(13, 13), c(0, 0)).as_deref(),
            Some(
                "the new rule set has no enabled rules (13 before, 13 rules dropped): nothing will alert"
            )
        );
        assert_eq!(
            shrink_warning(c(13, 12), c(3, 3)).as_deref(),
            Some("the new rule set drops 10 of 13 rules; enabled rules 12 -> 3")
        );
        // all rules kept but some disabled
        assert_eq!(
            shrink_warning(c(5, 5), c(5, 2)).as_deref(),
            Some("the new rule set drops 0 of 5 rules; enabled rules 5 -> 2")
        );
        assert_eq!(shrink_warning(c(5, 5), c(5, 5)), None);
        assert_eq!(shrink_warning(c(5, 4), c(9, 9)), None);
    }

    #[test]
    fn missing_and_empty_paths_are_clear_errors() {
        let e = expand_paths(&[PathBuf::from("/nonexistent/rules.yaml")]).unwrap_err();
        assert_eq!(
            crate::error_chain::Chain(&e).to_string(),
            "rules path /nonexistent/rules.yaml: No such file or directory (os error 2)"
        );
        let d = tmpdir("empty");
        let e = expand_paths(std::slice::from_ref(&d)).unwrap_err();
        assert!(
            e.to_string().contains("contains no .yaml or .yml files"),
            "{e}"
        );
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn default_rules_and_sample_compile() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let loaded = LoadedRules::load(
            &[
                root.join("config/rules"),
                root.join("config/samples/falco-customrules.yaml"),
            ],
            &CompileOptions::default(),
        )
        .unwrap_or_else(|e| panic!("default rules must compile:\n{e}"));
        assert!(loaded.compiled.ruleset.rule("Read Passwd File").is_some());
        assert!(
            loaded
                .compiled
                .ruleset
                .rule("Read sensitive file untrusted")
                .is_some()
        );
        assert_eq!(loaded.compiled.stats.rules, 14, "{}", loaded.summary);
    }
}
