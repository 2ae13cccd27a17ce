//! `kestrel-agent test`: YAML test cases for rules, for users' CI.
//!
//! ```yaml
//! cases:
//!   - name: cat of /etc/passwd fires
//!     events:                       # or `event:` for one
//!       - {evt.type: openat, evt.is_open_read: true, fd.typechar: f, fd.num: 3,
//!          fd.name: /etc/passwd, proc.name: cat, user.name: root}
//!     expect: [Read Passwd File]    # rules that must fire on some event of the case
//!     expect_not: [Write below etc] # rules that must not fire on any
//! ```

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;

use kestrel_engine::{CompileOptions, MapEvent};
use serde::Deserialize;

use crate::cli::{RuleMatching, TestArgs};
use crate::replay::fire_map_event;
use crate::rules::LoadedRules;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    event: Option<serde_json::Value>,
    #[serde(default)]
    events: Vec<serde_json::Value>,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default)]
    expect_not: Vec<String>,
}

/// One case's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub name: String,
    pub fired: BTreeSet<String>,
    pub failures: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    #[error("{path}: {message}")]
    Yaml { path: String, message: String },
    #[error("{path}: case `{case}` event {index}: {message}")]
    Event {
        path: String,
        case: String,
        index: usize,
        message: String,
    },
    #[error("{path}: case `{case}` names rule `{rule}`, which the rule files do not define")]
    UnknownRule {
        path: String,
        case: String,
        rule: String,
    },
    #[error("{path}: case `{case}` has no events")]
    NoEvents { path: String, case: String },
}

pub fn run_cases(
    path: &str,
    text: &str,
    loaded: &LoadedRules,
) -> Result<Vec<CaseResult>, CasesError> {
    let file: CasesFile = serde_yaml::from_str(text).map_err(|e| CasesError::Yaml {
        path: path.into(),
        message: e.to_string(),
    })?;
    let rules = &loaded.compiled.ruleset;
    let hostname: Arc<str> = "test".into();
    let mut results = Vec::new();
    for case in file.cases {
        let events: Vec<serde_json::Value> = case
            .event
            .iter()
            .cloned()
            .chain(case.events.iter().cloned())
            .collect();
        if events.is_empty() {
            return Err(CasesError::NoEvents {
                path: path.into(),
                case: case.name,
            });
        }
        for r in case.expect.iter().chain(&case.expect_not) {
            if rules.rule(r).is_none() {
                return Err(CasesError::UnknownRule {
                    path: path.into(),
                    case: case.name.clone(),
                    rule: r.to_string(),
                });
            }
        }
        let mut fired = BTreeSet::new();
        for (i, e) in events.iter().enumerate() {
            let ev = MapEvent::from_json(&e.to_string()).map_err(|err| CasesError::Event {
                path: path.into(),
                case: case.name.clone(),
                index: i + 1,
                message: err.to_string(),
            })?;
            fire_map_event(rules, &ev, RuleMatching::All, &hostname, &mut |a| {
                fired.insert(a.rule);
            });
        }
        let mut failures = Vec::new();
        for r in &case.expect {
            if !fired.contains(r) {
                failures.push(format!("expected `{r}` to fire, it did not"));
            }
        }
        for r in &case.expect_not {
            if fired.contains(r) {
                failures.push(format!("expected `{r}` not to fire, it did"));
            }
        }
        results.push(CaseResult {
            name: case.name,
            fired,
            failures,
        });
    }
    Ok(results)
}

pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    let opts = CompileOptions {
        min_priority: args.rules.min_priority,
        ..Default::default()
    };
    let loaded = LoadedRules::load(&args.rules.rules, &opts)?;
    let text = std::fs::read_to_string(&args.cases)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.cases.display()))?;
    let results = run_cases(&args.cases.display().to_string(), &text, &loaded)?;
    let mut failed = 0;
    for r in &results {
        if r.failures.is_empty() {
            println!("PASS  {}", r.name);
        } else {
            failed += 1;
            println!("FAIL  {}", r.name);
            for f in &r.failures {
                println!("        {f}");
            }
            let fired: Vec<&str> = r.fired.iter().map(String::as_str).collect();
            println!("        fired: [{}]", fired.join(", "));
        }
    }
    println!(
        "{} cases, {} passed, {} failed",
        results.len(),
        results.len() - failed,
        failed
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
