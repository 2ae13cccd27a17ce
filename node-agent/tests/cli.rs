//! What a user reads from the `kestrel-agent` commands that need no kernel: `validate`, error
//! messages, `test` cases and the README's `replay` example, through the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kestrel-agent"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
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
