//! The upstream stable Falco rules load and every rule compiles.

use kestrel_engine::{CompileOptions, Compiled, Loader, MapEvent, Priority, RuleSet};

/// The upstream stable rules: `$FALCO_RULES`, else `shared/corpus` beside the repository.
fn stable_rules_path() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("FALCO_RULES") {
        return p.into();
    }
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/falco-rules/falco_rules.yaml");
    for p in [
        beside,
        std::path::PathBuf::from("/work/shared/corpus/falco-rules/falco_rules.yaml"),
    ] {
        if p.exists() {
            return p;
        }
    }
    panic!("falco_rules.yaml not found: set FALCO_RULES to the upstream stable rules file")
}

fn load(opts: &CompileOptions) -> Compiled {
    let mut l = Loader::new();
    l.add_file(stable_rules_path())
        .expect("read the stable rules");
    l.compile(opts)
        .unwrap_or_else(|e| panic!("stable rules failed:\n{e}"))
}

fn fired(rs: &RuleSet, json: &str) -> Vec<String> {
    let ev = MapEvent::from_json(json).unwrap();
    let mut out = Vec::new();
    let _ = rs.evaluate(&ev, &mut |r| {
        out.push(r.name.clone());
        std::ops::ControlFlow::Continue(())
    });
    out
}

#[test]
fn stable_rules_load_and_every_rule_compiles() {
    let c = load(&CompileOptions::default());
    assert!(
        c.warnings.is_empty(),
        "unexpected warnings: {:?}",
        c.warnings
    );
    assert_eq!(c.stats.rules, 25, "rules");
    assert_eq!(c.stats.enabled_rules, 25, "enabled rules");
    assert_eq!(c.stats.macros, 87, "macros");
    assert_eq!(c.stats.lists, 49, "lists");
    assert_eq!(c.stats.other_source_rules, 0);
    assert_eq!(c.required_engine_versions[0].1, "0.57.0");
    assert_eq!(c.required_plugin_versions[0].1, "container");
    let names = |r: &str| -> Vec<&str> {
        c.ruleset
            .rule(r)
            .unwrap()
            .event_types
            .iter()
            .map(|t| t.name())
            .collect()
    };
    assert_eq!(
        names("Read sensitive file untrusted"),
        ["open", "openat", "openat2"]
    );
    assert_eq!(names("Contact K8S API Server From Container"), ["connect"]);
    assert_eq!(names("Run shell untrusted"), ["execve", "execveat"]);
    assert_eq!(
        names("Redirect STDOUT/STDIN to Network Connection in Container"),
        ["dup", "dup2", "dup3"]
    );
    let wanted = c.ruleset.wanted_event_types();
    assert!(!wanted.is_all());
    assert!(wanted.contains(kestrel_engine::event_type_by_name("ptrace").unwrap()));
    assert!(!wanted.contains(kestrel_engine::event_type_by_name("read").unwrap()));
}

#[test]
fn minimum_priority_filters_rules() {
    let c = load(&CompileOptions {
        min_priority: Priority::Critical,
        ..CompileOptions::default()
    });
    let mut names: Vec<&str> = c.ruleset.rules().iter().map(|r| r.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Detect release_agent File Container Escapes",
            "Drop and execute new binary in container",
            "Fileless execution via memfd_create",
        ]
    );
    assert_eq!(c.stats.rules, 25);
    assert_eq!(c.stats.enabled_rules, 3);
}

#[test]
fn stable_rules_fire_on_realistic_events() {
    let c = load(&CompileOptions::default());
    let rs = &c.ruleset;
    // A shell with a terminal in a container.
    assert_eq!(
        fired(
            rs,
            r#"{"evt.type":"execve","proc.name":"bash","proc.tty":34816,"container.id":"abc123def456","proc.pname":"runc","proc.cmdline":"bash","proc.aname":["runc","containerd-shim"]}"#
        ),
        ["Terminal shell in container"]
    );
    // cat /etc/shadow on the host.
    assert_eq!(
        fired(
            rs,
            r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/etc/shadow","fd.directory":"/etc","proc.name":"cat","proc.cmdline":"cat /etc/shadow","proc.aname":["bash","sshd"],"container.id":"host"}"#
        ),
        ["Read sensitive file untrusted"]
    );
    // The same read by a trusted program.
    assert!(fired(rs, r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/etc/shadow","fd.directory":"/etc","proc.name":"sshd","proc.aname":["systemd"],"container.id":"host"}"#).is_empty());
    // Connection to the API server from a container.
    assert_eq!(
        fired(
            rs,
            r#"{"evt.type":"connect","fd.typechar":"4","container.id":"abc123def456","fd.sip.name":"kubernetes.default.svc.cluster.local","container.image.repository":"docker.io/library/alpine","k8s.ns.name":"default","proc.name":"curl"}"#
        ),
        ["Contact K8S API Server From Container"]
    );
    // An ordinary file open fires nothing.
    assert!(fired(rs, r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/usr/lib/libc.so.6","fd.directory":"/usr/lib","proc.name":"ls","container.id":"host"}"#).is_empty());
}

#[test]
fn print_fields_used_by_stable_rules() {
    let c = load(&CompileOptions::default());
    let fields = c.ruleset.fields_used();
    let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
    println!(
        "{} fields used by the stable rules:\n{}",
        names.len(),
        names.join("\n")
    );
    for must in [
        "proc.name",
        "fd.name",
        "evt.arg",
        "proc.aname",
        "container.id",
        "fd.snet",
        "proc.exe_ino.ctime",
    ] {
        assert!(names.contains(&must), "{must} missing");
    }
}
