//! `RuleSet::evaluate` allocates nothing once warmed up (counting global allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use kestrel_engine::{CompileOptions, Loader, MapEvent};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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

#[test]
fn evaluate_allocates_nothing_after_warm_up() {
    let mut l = Loader::new();
    l.add_file(stable_rules_path()).unwrap();
    // Add rules exercising transformers, regex, val() and globs on top of the stable set.
    l.add_str(
        "extra.yaml",
        r#"
- rule: Transformers
  desc: d
  condition: evt.type in (openat, execve) and tolower(basename(proc.exe)) in (bash, sh) and len(proc.cmdline) > 3 and b64(proc.args) contains zzz
  output: o
  priority: INFO
- rule: Regex and val
  desc: d
  condition: evt.type in (openat, execve, connect) and (proc.cmdline regex '.*cat .*' or proc.pname = val(proc.name)) and fd.name glob '/etc/*'
  output: o
  priority: INFO
"#,
    );
    let c = l.compile(&CompileOptions::default()).unwrap();
    let events: Vec<MapEvent> = [
        r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/etc/shadow","fd.directory":"/etc","fd.filename":"shadow","proc.name":"cat","proc.exe":"/usr/bin/cat","proc.cmdline":"cat /etc/shadow","proc.args":"/etc/shadow","proc.pname":"bash","proc.aname":["bash","sshd","systemd"],"container.id":"host","user.name":"root","evt.arg.flags":"O_RDONLY"}"#,
        r#"{"evt.type":"execve","proc.name":"bash","proc.exe":"/bin/bash","proc.tty":34816,"container.id":"abc123def456","proc.pname":"runc","proc.cmdline":"bash -i","proc.args":"-i","proc.aname":["runc","containerd-shim"],"user.name":"root"}"#,
        r#"{"evt.type":"connect","fd.typechar":"4","fd.sip":"10.96.0.1","fd.snet":"10.96.0.1","fd.net":"10.96.0.1","fd.ip":"10.96.0.1","fd.sport":443,"fd.l4proto":"tcp","container.id":"abc123def456","fd.sip.name":"kubernetes.default.svc.cluster.local","proc.name":"curl","proc.exe":"/usr/bin/curl","evt.rawres":0,"container.image.repository":"alpine","k8s.ns.name":"default"}"#,
    ]
    .iter()
    .map(|j| MapEvent::from_json(j).unwrap())
    .collect();
    let mut fired = 0usize;
    let run = |fired: &mut usize| {
        for e in &events {
            let _ = c.ruleset.evaluate(e, &mut |_| {
                *fired += 1;
                std::ops::ControlFlow::Continue(())
            });
        }
    };
    for _ in 0..10 {
        run(&mut fired);
    }
    let before = ALLOCS.load(Ordering::SeqCst);
    fired = 0;
    for _ in 0..1000 {
        run(&mut fired);
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "evaluate allocated {} times",
        after - before
    );
    // The events really exercise the rules: 3 stable rules + the regex rule fire per round.
    assert_eq!(fired, 1000 * 4, "rules fired");
}
