//! What the probe must capture: the syscalls the rules can match (Tetragon-style: the policy is
//! compiled into the kernel filter) plus what the agent's own state tracking needs.

use kestrel_engine::{EVENT_TYPES, RuleSet};
use kestrel_probe::{WantedSyscalls, syscalls};

/// Syscalls the process table always needs: exec (command lines) and cwd changes. Forks and exits
/// come from the scheduler tracepoints.
const STATE_SYSCALLS: &[&str] = &["execve", "execveat", "chdir", "fchdir"];

/// Syscalls that keep the fd table current. Added when some rule reads `fd.*` fields on events
/// that do not carry their fd's identity themselves.
const FD_SYSCALLS: &[&str] = &[
    "open", "openat", "openat2", "creat", "close", "dup", "dup2", "dup3", "fcntl", "socket",
    "connect", "accept", "accept4", "bind",
];

/// Events that describe their own fd (an open's path, a connect's addresses).
const SELF_DESCRIBING: &[&str] = &[
    "open", "openat", "openat2", "creat", "socket", "connect", "accept", "accept4", "bind",
    "listen",
];

/// Syscalls the probe decodes into dedicated events: what "every event type" means for a rule
/// with no `evt.type` restriction.
pub const DECODED: &[&str] = &[
    "execve",
    "execveat",
    "open",
    "openat",
    "openat2",
    "creat",
    "socket",
    "connect",
    "accept",
    "accept4",
    "bind",
    "listen",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "rmdir",
    "mkdir",
    "mkdirat",
    "chmod",
    "fchmod",
    "fchmodat",
    "chdir",
    "fchdir",
    "mount",
    "umount2",
    "setuid",
    "setgid",
    "setreuid",
    "setregid",
    "setresuid",
    "setresgid",
    "ptrace",
    "init_module",
    "finit_module",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "dup",
    "dup2",
    "dup3",
    "fcntl",
    "close",
];

/// The plan for the probe, with what the rules asked for that cannot be captured.
#[derive(Debug, Clone)]
pub struct CapturePlan {
    pub wanted: WantedSyscalls,
    /// A rule has no `evt.type` restriction: every decoded syscall is captured.
    pub unrestricted: bool,
    /// Event types rules use that are not x86_64 syscalls this agent can capture.
    pub not_capturable: Vec<&'static str>,
}

pub fn plan(rules: &RuleSet) -> CapturePlan {
    let mut wanted = WantedSyscalls::new().with_lifecycle();
    let mut not_capturable = Vec::new();
    for n in STATE_SYSCALLS {
        let _ = wanted.insert_name(n);
    }
    let types = rules.wanted_event_types();
    let unrestricted = types.is_all();
    let mut rule_syscalls: Vec<&'static str> = Vec::new();
    if unrestricted {
        rule_syscalls.extend_from_slice(DECODED);
    } else {
        for id in types.iter() {
            let name = EVENT_TYPES[id.0 as usize];
            match syscalls::nr(name) {
                Some(_) => rule_syscalls.push(name),
                None if name == "procexit" => {}
                None => not_capturable.push(name),
            }
        }
    }
    for n in &rule_syscalls {
        let _ = wanted.insert_name(n);
    }
    let uses_fd_fields = rules
        .fields_used()
        .iter()
        .any(|f| f.name().starts_with("fd."));
    let needs_fd_table =
        uses_fd_fields && rule_syscalls.iter().any(|n| !SELF_DESCRIBING.contains(n));
    if needs_fd_table {
        for n in FD_SYSCALLS {
            let _ = wanted.insert_name(n);
        }
    }
    CapturePlan {
        wanted,
        unrestricted,
        not_capturable,
    }
}

/// The plan for every rule set of a load (cluster-wide and namespaced), merged.
pub fn plan_all(rules: &crate::rules::LoadedRules) -> CapturePlan {
    let mut merged: Option<CapturePlan> = None;
    for set in rules.all_sets() {
        let p = plan(set);
        merged = Some(match merged {
            None => p,
            Some(mut m) => {
                m.wanted.extend_from(&p.wanted);
                m.unrestricted |= p.unrestricted;
                m.not_capturable.extend(p.not_capturable);
                m
            }
        });
    }
    let mut m = merged.unwrap_or_else(|| plan(&kestrel_engine::RuleSet::empty()));
    m.not_capturable.sort_unstable();
    m.not_capturable.dedup();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_engine::{CompileOptions, compile_str};

    fn rules(yaml: &str) -> RuleSet {
        compile_str("t.yaml", yaml, &CompileOptions::default())
            .unwrap()
            .ruleset
    }

    #[test]
    fn only_what_rules_and_state_need() {
        let p = plan(&rules(
            "- rule: r\n  desc: d\n  condition: evt.type in (openat, connect) and fd.name=/x\n  output: o\n  priority: WARNING\n",
        ));
        let nr = |n| syscalls::nr(n).unwrap();
        assert!(p.wanted.contains(nr("openat")) && p.wanted.contains(nr("connect")));
        assert!(p.wanted.contains(nr("execve")), "state needs exec");
        assert!(
            !p.wanted.contains(nr("close")),
            "open/connect describe their own fd"
        );
        assert!(!p.wanted.contains(nr("unlinkat")));
        assert!(p.wanted.proc_fork() && p.wanted.proc_exit());
        assert!(!p.unrestricted);
    }

    #[test]
    fn fd_fields_on_other_syscalls_add_fd_tracking() {
        let p = plan(&rules(
            "- rule: r\n  desc: d\n  condition: evt.type = fchmod and fd.name startswith /etc\n  output: o\n  priority: WARNING\n",
        ));
        assert!(p.wanted.contains(syscalls::nr("close").unwrap()));
        assert!(p.wanted.contains(syscalls::nr("openat").unwrap()));
    }
}
