//! Events per second evaluating the stable Falco rules on a mix of realistic events, against two
//! baselines measured in the same run: the same events against an empty rule set, and a plain
//! extraction of every field the stable rules read (what an agent pays to look the fields up).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kestrel_engine::{CompileOptions, FieldArg, FieldSource, Loader, MapEvent, RuleSet, Visit};

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

fn events() -> Vec<MapEvent> {
    [
        // openat of an ordinary file
        r#"{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/usr/lib/x86_64-linux-gnu/libc.so.6","fd.directory":"/usr/lib/x86_64-linux-gnu","fd.filename":"libc.so.6","fd.nameraw":"/usr/lib/x86_64-linux-gnu/libc.so.6","proc.name":"ls","proc.exe":"/usr/bin/ls","proc.cmdline":"ls -la","proc.args":"-la","proc.pname":"bash","proc.aname":["bash","sshd","systemd"],"container.id":"host","user.name":"alice","evt.arg.flags":"O_RDONLY|O_CLOEXEC","proc.duration":120000000000}"#,
        // execve of a shell in a container
        r#"{"evt.type":"execve","proc.name":"bash","proc.exe":"/bin/bash","proc.exepath":"/bin/bash","proc.tty":0,"container.id":"abc123def456","container.image.repository":"docker.io/library/nginx","proc.pname":"nginx","proc.pexe":"/usr/sbin/nginx","proc.pcmdline":"nginx -g daemon off;","proc.cmdline":"bash -c id","proc.args":"-c id","proc.aname":["nginx","containerd-shim","systemd"],"user.name":"www-data","proc.is_exe_upper_layer":false,"proc.is_exe_from_memfd":false}"#,
        // connect to a service
        r#"{"evt.type":"connect","fd.typechar":"4","fd.type":"ipv4","fd.sip":"10.96.12.7","fd.snet":"10.96.12.7","fd.net":"10.96.12.7","fd.ip":"10.96.12.7","fd.sport":5432,"fd.l4proto":"tcp","fd.connected":true,"fd.name_changed":true,"container.id":"abc123def456","fd.sip.name":"postgres.default.svc.cluster.local","proc.name":"python3","proc.exe":"/usr/bin/python3","evt.rawres":0,"evt.res":"SUCCESS","container.image.repository":"myapp","k8s.ns.name":"default"}"#,
    ]
    .iter()
    .map(|j| MapEvent::from_json(j).unwrap())
    .collect()
}

fn eval_all(rs: &RuleSet, evs: &[MapEvent]) -> usize {
    let mut n = 0;
    for e in evs {
        let _ = rs.evaluate(e, &mut |_| {
            n += 1;
            std::ops::ControlFlow::Continue(())
        });
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut l = Loader::new();
    l.add_file(stable_rules_path()).unwrap();
    let stable = l.compile(&CompileOptions::default()).unwrap().ruleset;
    let empty = RuleSet::empty();
    let evs = events();
    let fields: Vec<_> = stable.fields_used().into_iter().collect();

    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("empty_ruleset", |b| {
        b.iter(|| black_box(eval_all(&empty, black_box(&evs))))
    });
    g.bench_function("extract_fields_used", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for e in black_box(&evs) {
                for f in &fields {
                    e.visit(*f, &FieldArg::None, &mut |_| {
                        n += 1;
                        Visit::Continue(())
                    });
                }
            }
            black_box(n)
        })
    });
    g.bench_function("stable_rules", |b| {
        b.iter(|| black_box(eval_all(&stable, black_box(&evs))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
