//! `kestrel-agent validate`: load and compile rule files, print counts and every diagnostic.

use std::process::ExitCode;

use kestrel_engine::CompileOptions;

use crate::cli::ValidateArgs;
use crate::rules::{LoadedRules, RulesError};

pub fn run(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let opts = CompileOptions {
        min_priority: args.rules.min_priority,
        ..Default::default()
    };
    match LoadedRules::load(&args.rules.rules, &opts) {
        Ok(loaded) => {
            for w in &loaded.compiled.warnings {
                println!("{w}");
            }
            let s = &loaded.compiled.stats;
            println!("{} rules, {} macros, {} lists", s.rules, s.macros, s.lists);
            if s.other_source_rules > 0 {
                println!("{} rules for other sources skipped", s.other_source_rules);
            }
            println!(
                "OK: {} ({} warnings)",
                loaded.summary,
                loaded.compiled.warnings.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(RulesError::Invalid(diags)) => {
            for d in &diags.0 {
                println!("{d}");
            }
            let errors = diags.errors().count();
            println!(
                "FAILED: {errors} error{}",
                if errors == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}
