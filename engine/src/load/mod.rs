//! Loading rule files: YAML documents with positions, items (rules, macros, lists), append and
//! override, merged in order (later definitions win), then checked and compiled.

pub(crate) mod items;
pub(crate) mod merge;
pub(crate) mod yaml;

use std::path::Path;

use crate::compile::RuleSet;
use crate::diag::{Diagnostic, Diagnostics};
use crate::priority::Priority;

/// Options for [`Loader::compile`].
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Rules below this priority are not compiled into the rule set (Falco's `priority`
    /// setting). Default: `Debug` (everything).
    pub min_priority: Priority,
    /// Rules with any of these tags are left out (Falco's `-T`).
    pub disabled_tags: Vec<String>,
    /// Rules with these exact names are left out (Falco's `-D` without substring matching).
    pub disabled_rules: Vec<String>,
    /// Warn (code `redefined`, at both places) when a full definition of a rule, macro or
    /// list replaces one from another file. Off by default: Falco's own layered files
    /// (stable, incubating, sandbox) redefine each other's macros by design. The operator
    /// turns it on, where two FalcoRules defining one name is a clash between teams.
    pub warn_redefinitions: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            min_priority: Priority::Debug,
            disabled_tags: Vec::new(),
            disabled_rules: Vec::new(),
            warn_redefinitions: false,
        }
    }
}

/// Counts of what was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Distinct `syscall` rules defined (after merging appends and overrides).
    pub rules: usize,
    /// Rules in the rule set (enabled, at or above `min_priority`, not disabled by options).
    pub enabled_rules: usize,
    /// Distinct macros and lists defined.
    pub macros: usize,
    pub lists: usize,
    /// Rules for another `source` (k8s_audit, plugins...), kept aside.
    pub other_source_rules: usize,
}

/// A rule whose `source` is not `syscall`: validated for shape only and kept aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSourceRule {
    pub name: String,
    pub source: String,
    pub file: String,
}

/// The result of a successful compile.
#[derive(Debug)]
pub struct Compiled {
    pub ruleset: RuleSet,
    pub warnings: Vec<Diagnostic>,
    pub stats: Stats,
    pub other_source_rules: Vec<OtherSourceRule>,
    /// `required_engine_version` values seen, per file.
    pub required_engine_versions: Vec<(String, String)>,
    /// `required_plugin_versions` entries seen: (file, plugin name, version).
    pub required_plugin_versions: Vec<(String, String, String)>,
}

impl Compiled {
    /// No rules: evaluates nothing.
    pub fn empty() -> Compiled {
        Compiled {
            ruleset: RuleSet::empty(),
            warnings: Vec::new(),
            stats: Stats::default(),
            other_source_rules: Vec::new(),
            required_engine_versions: Vec::new(),
            required_plugin_versions: Vec::new(),
        }
    }
}

/// Collects rule documents, in order, and compiles them together.
#[derive(Debug, Default, Clone)]
pub struct Loader {
    docs: Vec<(String, String)>,
}

impl Loader {
    pub fn new() -> Self {
        Loader::default()
    }

    /// Add a file; its path (as given) names it in diagnostics.
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<(), Box<Diagnostic>> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            Box::new(Diagnostic::error(
                "io",
                name.clone(),
                format!("cannot read the file: {e}"),
            ))
        })?;
        self.docs.push((name, text));
        Ok(())
    }

    /// Add a document held in memory, named `name` in diagnostics.
    pub fn add_str(&mut self, name: impl Into<String>, text: impl Into<String>) {
        self.docs.push((name.into(), text.into()));
    }

    /// Load, merge, check and compile everything added so far. On success the warnings are in
    /// [`Compiled::warnings`]; on failure every diagnostic (errors and warnings) is returned.
    pub fn compile(&self, opts: &CompileOptions) -> Result<Compiled, Diagnostics> {
        self.compile_with_stats(opts).0
    }

    /// [`Self::compile`], with the counts of what was loaded even when the compile fails (on
    /// success they are also [`Compiled::stats`]). Rules that did not compile are counted in
    /// [`Stats::rules`], not in [`Stats::enabled_rules`].
    pub fn compile_with_stats(
        &self,
        opts: &CompileOptions,
    ) -> (Result<Compiled, Diagnostics>, Stats) {
        let files: Vec<String> = self.docs.iter().map(|(n, _)| n.clone()).collect();
        let mut diags = Vec::new();
        let mut merger = merge::Merger {
            files: &files,
            diags: &mut Vec::new(),
            c: merge::Collection::default(),
            warn_redefinitions: opts.warn_redefinitions,
        };
        let mut merge_diags = Vec::new();
        for (fi, (name, text)) in self.docs.iter().enumerate() {
            let roots = match yaml::parse(text) {
                Ok(r) => r,
                Err(e) => {
                    diags.push(
                        Diagnostic::error(
                            "yaml-syntax",
                            name.clone(),
                            format!("invalid YAML: {}", e.message),
                        )
                        .at(e.pos),
                    );
                    continue;
                }
            };
            let mut items = Vec::new();
            let mut dec = items::Decoder {
                file: fi,
                file_name: name,
                diags: &mut diags,
            };
            for root in &roots {
                dec.document(root, &mut items);
            }
            for item in items {
                merger.add(fi, item);
            }
            merge_diags.append(merger.diags);
        }
        diags.append(&mut merge_diags);
        let collection = merger.c;
        let out = crate::compile::build::build(&files, &collection, opts, &mut diags);
        sort_by_position(&files, &mut diags);
        if diags.iter().any(Diagnostic::is_error) {
            return (Err(Diagnostics(diags)), out.stats);
        }
        let stats = out.stats.clone();
        let compiled = Compiled {
            ruleset: out.ruleset,
            warnings: diags,
            stats: out.stats,
            other_source_rules: out.other,
            required_engine_versions: collection
                .engine_versions
                .iter()
                .map(|(f, v)| (files[*f].clone(), v.clone()))
                .collect(),
            required_plugin_versions: collection
                .plugin_versions
                .iter()
                .map(|(f, n, v)| (files[*f].clone(), n.clone(), v.clone()))
                .collect(),
        };
        (Ok(compiled), stats)
    }
}

/// Order diagnostics as a reader goes through the files: by file (in load order), then by
/// position (the offending token's when known). Stable, so diagnostics at one place keep the
/// order they were found in.
fn sort_by_position(files: &[String], diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| {
        (
            files
                .iter()
                .position(|f| *f == d.file)
                .unwrap_or(usize::MAX),
            d.source.or(d.pos),
        )
    });
}

/// Compile one YAML document (the operator's entry point: each FalcoRule rendered to Falco
/// YAML). `name` names it in diagnostics.
pub fn compile_str(name: &str, yaml: &str, opts: &CompileOptions) -> Result<Compiled, Diagnostics> {
    let mut l = Loader::new();
    l.add_str(name, yaml);
    l.compile(opts)
}

/// Validate one YAML document: `Ok(warnings)` or `Err(errors and warnings)`.
pub fn validate_str(name: &str, yaml: &str) -> Result<Vec<Diagnostic>, Diagnostics> {
    compile_str(name, yaml, &CompileOptions::default()).map(|c| c.warnings)
}
