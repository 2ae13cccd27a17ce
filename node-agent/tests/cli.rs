//! What a user reads from the `kestrel-agent` commands that need no kernel: `validate`, error
//! messages, `test` cases and the README's `replay` example, through the real binary.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn validate_lists_the_fields_the_agent_does_not_fill() {
    let dir = scratch("cli-unfilled");
    let rules = write(
        &dir,
        "ino.yaml",
        "- rule: Inode three\n  desc: d\n  condition: evt.type = openat and fd.ino = 3\n  output: ino %fd.name\n  priority: NOTICE\n",
    );
    let out = agent()
        .args(["validate", "--rules"])
        .arg(&rules)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[0],
        "warning: rules use fields this agent does not fill yet (they read as <NA> and their comparisons are false): fd.ino"
    );
    assert_eq!(lines[1], "1 rules, 0 macros, 0 lists");
    assert!(
        lines[2].starts_with("OK: ") && lines[2].ends_with(" (1 warnings)"),
        "{text}"
    );

    // every field filled: no such line
    let filled = write(
        &dir,
        "name.yaml",
        "- rule: Name\n  desc: d\n  condition: evt.type = openat and fd.name = /x\n  output: o %proc.name\n  priority: NOTICE\n",
    );
    let out = agent()
        .args(["validate", "--rules"])
        .arg(&filled)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("does not fill"), "{text}");
    assert!(text.ends_with(" (0 warnings)\n"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_rules_file_says_its_cause_once() {
    for cmd in ["validate", "test", "replay"] {
        let mut c = agent();
        c.args([cmd, "--rules", "/nonexistent-kestrel/rules.yaml"]);
        match cmd {
            "test" => c.args(["--cases", "/dev/null"]),
            "replay" => c.args(["--events", "/dev/null"]),
            _ => &mut c,
        };
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert_eq!(
            stderr(&out),
            "kestrel-agent: rules path /nonexistent-kestrel/rules.yaml: No such file or directory (os error 2)\n",
            "{cmd}"
        );
    }
}

/// The capability list `run --help` states.
const CAPABILITIES: &str = "CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (and CAP_SYS_RESOURCE on kernels before 5.11)";

#[test]
fn capabilities_are_named_the_same_in_help_and_makefile() {
    assert_eq!(kestrel_agent::cli::CAPABILITIES, CAPABILITIES);
    let help = agent().args(["run", "--help"]).output().unwrap();
    // clap re-wraps the text: compare with whitespace collapsed
    let flat = stdout(&help)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains(&format!("needs root or {CAPABILITIES}")),
        "{flat}"
    );
    let makefile = std::fs::read_to_string(repo().join("Makefile")).unwrap();
    assert!(
        makefile.contains(&format!("the agent needs root or {CAPABILITIES}")),
        "Makefile"
    );
    for stale in ["CAP_SYS_ADMIN", "CAP_BPF+CAP_PERFMON"] {
        assert!(!makefile.contains(stale), "Makefile still says {stale}");
        assert!(!flat.contains(stale), "run --help still says {stale}");
    }
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn a_refused_probe_load_names_the_capabilities() {
    // root without CAP_PERFMON: the kernel refuses the tracing programs
    let out = Command::new("setpriv")
        .args(["--inh-caps=-all", "--bounding-set=-all,+bpf", "--"])
        .arg(env!("CARGO_BIN_EXE_kestrel-agent"))
        .arg("run")
        .arg("--rules")
        .arg(default_rules())
        .output()
        .expect("setpriv (util-linux)");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with(&format!(
            "kestrel-agent: loading the eBPF probe (kestrel-agent needs root or {CAPABILITIES}): permission denied"
        )),
        "{err}"
    );
}

/// `kestrel-agent test` with the default and sample rules over `cases`.
fn test_cases(cases: &Path) -> Output {
    agent()
        .args(["test", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--cases")
        .arg(cases)
        .output()
        .unwrap()
}

const PASSWD_EVENT: &str = "{evt.type: openat, evt.is_open_read: true, fd.typechar: f, fd.num: 3, fd.name: /etc/passwd, proc.name: cat}";

#[test]
fn test_cases_yaml_errors_lead_with_file_line_column() {
    let dir = scratch("cli-cases-yaml");
    let f = write(
        &dir,
        "broken.yaml",
        &format!("cases:\n  - name: a\n    event: {PASSWD_EVENT}\n  x: [\n"),
    );
    let out = test_cases(&f);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "kestrel-agent: {}:4:3: did not find expected '-' indicator, while parsing a block collection at line 2 column 3\n",
            f.display()
        )
    );
    assert_eq!(stdout(&out), "");
    // a misspelt top-level key: position and the expected key
    let f = write(&dir, "key.yaml", "case:\n  - name: a\n");
    let out = test_cases(&f);
    assert_eq!(
        stderr(&out),
        format!(
            "kestrel-agent: {}:1:1: unknown field `case`, expected `cases`\n",
            f.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn test_cases_a_bad_case_fails_alone_and_the_others_run() {
    let dir = scratch("cli-cases-bad");
    let f = write(
        &dir,
        "cases.yaml",
        &format!(
            "cases:\n  - name: typo\n    event: {PASSWD_EVENT}\n    expct: [Read Passwd File]\n  - name: passwd fires\n    event: {PASSWD_EVENT}\n    expect: [Read Passwd File]\n  - name: no events\n    expect: [Read Passwd File]\n"
        ),
    );
    let out = test_cases(&f);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "FAIL  typo\n        {}:4:5: cases[0]: unknown field `expct`, expected one of `name`, `event`, `events`, `expect`, `expect_not`\n\
             PASS  passwd fires\n\
             FAIL  no events\n        the case has no events: give `event:` or `events:`\n\
             3 cases, 1 passed, 2 failed\n",
            f.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn test_cases_without_cases_is_an_error() {
    let dir = scratch("cli-cases-none");
    for (name, text) in [
        ("empty-list.yaml", "cases: []\n"),
        ("no-key.yaml", "# nothing yet\n"),
        ("blank.yaml", ""),
    ] {
        let f = write(&dir, name, text);
        let out = test_cases(&f);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert_eq!(
            stderr(&out),
            format!(
                "kestrel-agent: no cases in {}: the file needs a non-empty `cases:` list\n",
                f.display()
            ),
            "{name}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The JSON event in backquotes on the first line of `text` that contains `anchor`.
fn example_event(text: &str, anchor: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains(anchor))
        .unwrap_or_else(|| panic!("no line with {anchor:?}"));
    let start = line.find("`{\"evt.type\"").expect("an example event") + 1;
    let len = line[start..].find("}`").expect("the example's end") + 1;
    line[start..start + len].to_owned()
}

#[test]
fn the_readme_and_help_replay_example_fires_read_passwd_file() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let from_readme = example_event(&readme, "`kestrel-agent replay ");
    let help = agent().args(["replay", "--help"]).output().unwrap();
    let from_help = example_event(&stdout(&help), "hand-written events");
    assert_eq!(from_help, from_readme, "README and replay --help differ");

    let dir = scratch("cli-readme-replay");
    let events = write(&dir, "example.jsonl", &format!("{from_readme}\n"));
    let out = agent()
        .args(["replay", "--json", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let alert: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(alert["rule"], "Read Passwd File");
    assert_eq!(alert["priority"], "Warning");
    assert_eq!(
        alert["output"],
        "00:00:00.000000000: Warning passwd file read (user=<NA> command=<NA> container=<NA>)"
    );
    assert!(
        stderr(&out).contains("replayed 1 events, 1 alerts"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(dir).unwrap();
}
