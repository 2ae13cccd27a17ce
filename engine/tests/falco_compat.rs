//! Behaviour Falco's own rule files rely on, beyond the messages (those are in `golden/`):
//! which rules end up in the rule set and what their outputs print.

use kestrel_engine::{CompileOptions, Compiled, Loader, MapEvent, Severity, compile_str};

fn compile(yaml: &str) -> Compiled {
    compile_str("rules.yaml", yaml, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("compile failed:\n{e}"))
}

fn names(c: &Compiled) -> Vec<&str> {
    c.ruleset.rules().iter().map(|r| r.name.as_str()).collect()
}

fn render(c: &Compiled, rule: &str, json: &str) -> String {
    let ev = MapEvent::from_json(json).unwrap();
    c.ruleset
        .rule(rule)
        .unwrap_or_else(|| panic!("no rule {rule}"))
        .output
        .render_to_string(&ev)
}

#[test]
fn container_info_expands_to_container_id_and_name() {
    let c = compile(
        r#"
- rule: Shell
  desc: d
  condition: evt.type = execve
  output: "shell %proc.name %container.info"
  priority: WARNING
"#,
    );
    let ev = r#"{"evt.type":"execve","proc.name":"bash","container.id":"3ad7b26ded6d","container.name":"web"}"#;
    assert_eq!(
        render(&c, "Shell", ev),
        "shell bash container_id=3ad7b26ded6d container_name=web"
    );
    let out = &c.ruleset.rule("Shell").unwrap().output;
    let fields: Vec<&str> = out.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(fields, ["proc.name", "container.id", "container.name"]);
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].code, "deprecated-item");
    assert_eq!(c.warnings[0].severity, Severity::Warning);
}

#[test]
fn a_leading_star_is_not_printed() {
    let c = compile(
        r#"
- rule: Star
  desc: d
  condition: evt.type = execve
  output: "*%evt.num %proc.name"
  priority: NOTICE
"#,
    );
    assert_eq!(
        render(&c, "Star", r#"{"evt.type":"execve","evt.num":42}"#),
        "42 <NA>"
    );
}

#[test]
fn skip_if_unknown_filter_leaves_the_rule_out_with_warnings_only() {
    let yaml = r#"
- macro: future_macro
  condition: proc.some_future_field = x
- rule: In Condition
  desc: d
  condition: evt.type = execve and proc.future_a = x
  output: "o %proc.name"
  priority: WARNING
  skip-if-unknown-filter: true
- rule: In Output
  desc: d
  condition: evt.type = execve
  output: "o %proc.future_b"
  priority: WARNING
  skip-if-unknown-filter: true
- rule: In Macro
  desc: d
  condition: evt.type = execve and future_macro
  output: "o %proc.name"
  priority: WARNING
  skip-if-unknown-filter: true
- rule: Event Type
  desc: d
  condition: evt.type = some_future_syscall
  output: "o %proc.name"
  priority: WARNING
  skip-if-unknown-filter: true
- rule: Kept
  desc: d
  condition: evt.type = execve
  output: "o %proc.name"
  priority: WARNING
  skip-if-unknown-filter: true
"#;
    let c = compile(yaml);
    assert_eq!(names(&c), ["Kept"]);
    assert_eq!(c.stats.rules, 5);
    assert_eq!(c.stats.enabled_rules, 1);
    let skipped: Vec<&str> = c
        .warnings
        .iter()
        .filter(|w| w.code == "skipped-unknown-filter")
        .map(|w| w.item.as_ref().unwrap().1.as_str())
        .collect();
    assert_eq!(
        skipped,
        ["In Condition", "In Output", "In Macro", "Event Type"]
    );
    // The macro's own report is a warning, as it is used only by a skipped rule.
    let m: Vec<_> = c
        .warnings
        .iter()
        .filter(|w| w.code == "unknown-field")
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].item.as_ref().unwrap().1, "future_macro");

    // Without the flag, each of them is an error.
    let strict = yaml.replace(
        "skip-if-unknown-filter: true",
        "skip-if-unknown-filter: false",
    );
    let e = compile_str("rules.yaml", &strict, &CompileOptions::default()).unwrap_err();
    let mut failed: Vec<(&str, &str)> = e
        .errors()
        .map(|d| (d.item.as_ref().unwrap().1.as_str(), d.code))
        .collect();
    failed.sort();
    assert_eq!(
        failed,
        [
            ("Event Type", "unknown-event-type"),
            ("In Condition", "unknown-field"),
            ("In Output", "unknown-field"),
            ("future_macro", "unknown-field"),
        ]
    );
}

#[test]
fn booleans_read_as_yaml_cpp_reads_them() {
    let c = compile(
        r#"
- rule: On
  desc: d
  condition: evt.type = execve
  output: "o"
  priority: NOTICE
  enabled: "Yes"
- rule: Off
  desc: d
  condition: evt.type = execve
  output: "o"
  priority: NOTICE
  enabled: off
- rule: Toggled
  desc: d
  condition: evt.type = execve
  output: "o"
  priority: NOTICE
- rule: Toggled
  enabled: N
- rule: On
  append: YES
  condition: and proc.name = bash
- rule: Every Event
  desc: d
  condition: proc.name = bash
  output: "o"
  priority: NOTICE
  warn_evttypes: "no"
"#,
    );
    assert_eq!(names(&c), ["On", "Every Event"]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let on = c.ruleset.rule("On").unwrap();
    let fired = |json: &str| {
        let ev = MapEvent::from_json(json).unwrap();
        let mut n = 0;
        let _ = c.ruleset.evaluate(&ev, &mut |r| {
            if r.name == "On" {
                n += 1;
            }
            std::ops::ControlFlow::Continue(())
        });
        n
    };
    assert_eq!(on.event_types.iter().count(), 1);
    assert_eq!(fired(r#"{"evt.type":"execve","proc.name":"bash"}"#), 1);
    // The appended condition applies.
    assert_eq!(fired(r#"{"evt.type":"execve","proc.name":"sh"}"#), 0);
}

#[test]
fn unknown_top_level_items_are_skipped_and_the_rest_loads() {
    let c = compile(
        r#"
- foo: bar
- rule: After
  desc: d
  condition: evt.type = execve
  output: "o"
  priority: NOTICE
"#,
    );
    assert_eq!(names(&c), ["After"]);
    assert_eq!(c.warnings.len(), 1);
    assert_eq!(c.warnings[0].code, "unknown-item");
    assert_eq!(c.warnings[0].pos.map(|p| (p.line, p.col)), Some((2, 3)));
    // An item that is not a mapping is still an error.
    let e = compile_str("r.yaml", "- just a string\n", &CompileOptions::default()).unwrap_err();
    assert_eq!(e.errors().count(), 1);
}

#[test]
fn macros_of_other_sources_are_used_and_not_checked() {
    let c = compile(
        r#"
- macro: kevt
  condition: jevt.value[/stage] = ResponseComplete
- rule: K8s
  desc: d
  condition: kevt and ka.verb = create
  output: "o %ka.user.name"
  priority: WARNING
  source: k8s_audit
"#,
    );
    let codes: Vec<&str> = c.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["other-source"]);
    assert_eq!(c.other_source_rules.len(), 1);
}

#[test]
fn stats_are_reported_when_the_compile_fails() {
    let mut l = Loader::new();
    l.add_str(
        "r.yaml",
        r#"
- list: l
  items: [a]
- macro: m
  condition: proc.name in (l)
- rule: Good
  desc: d
  condition: evt.type = execve and m
  output: "o"
  priority: NOTICE
- rule: Bad
  desc: d
  condition: evt.type = execve and proc.nmae = x
  output: "o"
  priority: NOTICE
- rule: Other
  desc: d
  condition: ka.verb = create
  output: "o"
  priority: NOTICE
  source: k8s_audit
"#,
    );
    let (result, stats) = l.compile_with_stats(&CompileOptions::default());
    assert!(result.is_err());
    assert_eq!(
        (stats.rules, stats.enabled_rules, stats.macros, stats.lists),
        (2, 1, 1, 1)
    );
    assert_eq!(stats.other_source_rules, 1);
}
