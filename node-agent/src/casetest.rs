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
use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;

use kestrel_engine::{CompileOptions, MapEvent};
use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::cli::{RuleMatching, TestArgs};
use crate::replay::fire_map_event;
use crate::rules::LoadedRules;

/// The file as a whole; each case is checked on its own, so that one bad case fails alone.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CasesFile {
    #[serde(default)]
    cases: Vec<serde_yaml::Value>,
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
    /// False when the case itself is invalid (its failure says why) and no event was evaluated.
    pub ran: bool,
    pub fired: BTreeSet<String>,
    pub failures: Vec<String>,
}

/// Why a cases file cannot be run at all (a bad case is that case's failure instead).
#[derive(Debug, thiserror::Error)]
pub enum CasesError {
    /// Not YAML, or not a mapping with `cases:`; the message leads with `FILE:LINE:COLUMN`.
    #[error("{0}")]
    Yaml(String),
    #[error("no cases in {path}: the file needs a non-empty `cases:` list")]
    NoCases { path: String },
}

/// `FILE:LINE:COLUMN: message` for a YAML error (the position out of serde_yaml's trailing
/// `at line L column C`), or `FILE: message` when it has none.
fn yaml_error(path: &str, e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(l) => {
            let at = format!(" at line {} column {}", l.line(), l.column());
            let message = match text.find(&at) {
                Some(i) => format!("{}{}", &text[..i], &text[i + at.len()..]),
                None => text,
            };
            format!("{path}:{}:{}: {message}", l.line(), l.column())
        }
        None => format!("{path}: {text}"),
    }
}

/// Deserializes the file again with case `0` read strictly and every other case skipped, so that
/// the error of that case carries its position in the file.
struct OnlyCase(usize);

impl<'de> DeserializeSeed<'de> for OnlyCase {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for OnlyCase {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping with `cases:` or a list of cases")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "cases" {
                map.next_value_seed(OnlyCaseSeq(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct OnlyCaseSeq(usize);

impl<'de> DeserializeSeed<'de> for OnlyCaseSeq {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for OnlyCaseSeq {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of cases")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let more = if i == self.0 {
                seq.next_element::<Case>()?.is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// Case `index` of the file, or why it is not a valid case (`FILE:LINE:COLUMN: ...`).
fn parse_case(
    path: &str,
    text: &str,
    index: usize,
    value: serde_yaml::Value,
) -> Result<Case, String> {
    serde_yaml::from_value::<Case>(value).map_err(|loose| {
        match OnlyCase(index).deserialize(serde_yaml::Deserializer::from_str(text)) {
            Err(located) => yaml_error(path, &located),
            Ok(()) => format!("{path}: cases[{index}]: {loose}"),
        }
    })
}

/// A case's name for its report line, also when the case is invalid.
fn case_name(index: usize, value: &serde_yaml::Value) -> String {
    value
        .get("name")
        .and_then(serde_yaml::Value::as_str)
        .map_or_else(|| format!("case {}", index + 1), str::to_owned)
}

pub fn run_cases(
    path: &str,
    text: &str,
    loaded: &LoadedRules,
) -> Result<Vec<CaseResult>, CasesError> {
    let file: Option<CasesFile> =
        serde_yaml::from_str(text).map_err(|e| CasesError::Yaml(yaml_error(path, &e)))?;
    let cases = file.map(|f| f.cases).unwrap_or_default();
    if cases.is_empty() {
        return Err(CasesError::NoCases { path: path.into() });
    }
    let rules = &loaded.compiled.ruleset;
    let hostname: Arc<str> = "test".into();
    let mut results = Vec::new();
    for (index, value) in cases.into_iter().enumerate() {
        let name = case_name(index, &value);
        let invalid = |message: String| CaseResult {
            name: name.clone(),
            ran: false,
            fired: BTreeSet::new(),
            failures: vec![message],
        };
        let case = match parse_case(path, text, index, value) {
            Ok(c) => c,
            Err(message) => {
                results.push(invalid(message));
                continue;
            }
        };
        let events: Vec<&serde_json::Value> = case.event.iter().chain(&case.events).collect();
        if events.is_empty() {
            results.push(invalid(
                "the case has no events: give `event:` or `events:`".into(),
            ));
            continue;
        }
        let unknown: Vec<String> = case
            .expect
            .iter()
            .chain(&case.expect_not)
            .filter(|r| rules.rule(r).is_none())
            .map(|r| format!("names rule `{r}`, which the rule files do not define"))
            .collect();
        if !unknown.is_empty() {
            results.push(CaseResult {
                failures: unknown,
                ..invalid(String::new())
            });
            continue;
        }
        let parsed: Result<Vec<MapEvent>, String> = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                MapEvent::from_json(&e.to_string()).map_err(|err| format!("event {}: {err}", i + 1))
            })
            .collect();
        let parsed = match parsed {
            Ok(p) => p,
            Err(message) => {
                results.push(invalid(message));
                continue;
            }
        };
        let mut fired = BTreeSet::new();
        for ev in &parsed {
            fire_map_event(rules, ev, RuleMatching::All, &hostname, &mut |a| {
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
            ran: true,
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
            if r.ran {
                let fired: Vec<&str> = r.fired.iter().map(String::as_str).collect();
                println!("        fired: [{}]", fired.join(", "));
            }
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
