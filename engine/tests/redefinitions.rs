//! `CompileOptions::warn_redefinitions`: a full definition replacing one from another file is
//! told at both places (the operator turns it on for FalcoRules); off by default, as in Falco.

use kestrel_engine::{CompileOptions, Loader};

const TEAM_A: &str = "- macro: shell\n  condition: proc.name in (bash, sh)\n- rule: Read Passwd File\n  desc: d\n  condition: evt.type=openat and fd.name=/etc/passwd\n  output: o\n  priority: WARNING\n";
const TEAM_B: &str = "- rule: Read Passwd File\n  desc: d\n  condition: evt.type=openat and never_true\n  output: o\n  priority: WARNING\n- macro: never_true\n  condition: evt.num=0\n- macro: shell\n  condition: or proc.name=zsh\n  override:\n    condition: append\n- rule: Read Passwd File\n  output: more\n  override:\n    output: replace\n";

fn warnings(on: bool) -> Vec<String> {
    let mut l = Loader::new();
    l.add_str("kestrel/team-a", TEAM_A);
    l.add_str("kestrel/team-b", TEAM_B);
    let c = l
        .compile(&CompileOptions {
            warn_redefinitions: on,
            ..CompileOptions::default()
        })
        .unwrap();
    c.warnings
        .iter()
        .filter(|w| w.code == "redefined")
        .map(|w| w.to_string())
        .collect()
}

#[test]
fn a_rule_replaced_by_another_file_is_told_at_both_places() {
    assert_eq!(
        warnings(true),
        [
            "kestrel/team-a:3:3: warning: rule \"Read Passwd File\": this rule is replaced by the one defined in kestrel/team-b:1",
            "kestrel/team-b:1:3: warning: rule \"Read Passwd File\": this rule replaces the one defined in kestrel/team-a:3 (the last definition wins; use `override:` or `append: true` to change parts of it)",
        ]
    );
}

#[test]
fn off_by_default_as_in_falco() {
    assert!(warnings(false).is_empty());
}
