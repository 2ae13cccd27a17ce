//! `kestrel-agent validate`: load and compile rule files, print counts and every diagnostic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use kestrel_engine::{CompileOptions, Loader, Stats};

use crate::cli::ValidateArgs;
use crate::rules::{LoadedRules, RulesError, expand_paths};
use crate::run::{UNFILLED_WARNING, unfilled_fields};

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    report(args, &mut std::io::stdout().lock())
}

/// Validate and write the report to `out`: diagnostics, the fields the agent does not fill (as
/// `run` warns at load), counts, and a last line saying OK or FAILED.
pub fn report(args: &ValidateArgs, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let opts = CompileOptions {
        min_priority: args.rules.min_priority,
        ..Default::default()
    };
    match LoadedRules::load(&args.rules.rules, &opts) {
        Ok(loaded) => {
            for w in &loaded.compiled.warnings {
                writeln!(out, "{w}")?;
            }
            let mut warnings = loaded.compiled.warnings.len();
            let unfilled = unfilled_fields(&loaded);
            if !unfilled.is_empty() {
                writeln!(out, "warning: {UNFILLED_WARNING}: {}", unfilled.join(", "))?;
                warnings += 1;
            }
            let s = &loaded.compiled.stats;
            writeln!(
                out,
                "{} rules, {} macros, {} lists",
                s.rules, s.macros, s.lists
            )?;
            if s.other_source_rules > 0 {
                writeln!(
                    out,
                    "{} rules for other sources skipped",
                    s.other_source_rules
                )?;
            }
            writeln!(out, "OK: {} ({warnings} warnings)", loaded.summary)?;
            Ok(ExitCode::SUCCESS)
        }
        Err(RulesError::Invalid(diags)) => {
            for d in &diags.0 {
                writeln!(out, "{d}")?;
            }
            if let Some(s) = counts(&args.rules.rules, &opts) {
                writeln!(
                    out,
                    "{} rules, {} macros, {} lists",
                    s.rules, s.macros, s.lists
                )?;
            }
            let errors = diags.errors().count();
            writeln!(
                out,
                "FAILED: {errors} error{}",
                if errors == 1 { "" } else { "s" }
            )?;
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// What the files define, counted although they do not compile. The files are loaded again
/// (only when validation failed): a failed compile returns its diagnostics, and validation
/// keeps loading through [`LoadedRules::load`], the path `run` takes. `None` when a file can no
/// longer be read (its error was printed already).
fn counts(paths: &[PathBuf], opts: &CompileOptions) -> Option<Stats> {
    let mut loader = Loader::new();
    for f in expand_paths(paths).ok()? {
        loader.add_file(f).ok()?;
    }
    Some(loader.compile_with_stats(opts).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_a_failing_file_defines() {
        let dir = std::env::temp_dir().join(format!("kestrel-validate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.yaml");
        std::fs::write(
            &f,
            "- list: l\n  items: [a]\n- macro: m\n  condition: proc.name in (l)\n\
             - rule: X\n  desc: d\n  condition: evt.type = execve and proc.nmae = x\n  output: o\n  priority: NOTICE\n",
        )
        .unwrap();
        let opts = CompileOptions::default();
        assert!(matches!(
            LoadedRules::load(std::slice::from_ref(&f), &opts),
            Err(RulesError::Invalid(_))
        ));
        let s = counts(std::slice::from_ref(&f), &opts).unwrap();
        assert_eq!((s.rules, s.macros, s.lists, s.enabled_rules), (1, 1, 1, 0));
        assert!(counts(&[dir.join("missing.yaml")], &opts).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
