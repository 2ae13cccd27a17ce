//! The per-event path allocates nothing: evaluating the default rules and the upstream stable rules
//! on the agent's own field source (EventView over the process/fd/container tables), after warm-up,
//! makes zero heap allocations. A counting global allocator checks it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

use kestrel_agent::event::{DecodedEvent, EventView, Kind};
use kestrel_agent::state::containers::{CgroupContainer, ContainerRegistry, PodMeta, Runtime};
use kestrel_agent::state::fds::{FdEntry, FdKind};
use kestrel_agent::state::procfs::ProcFs;
use kestrel_agent::state::procs::{Process, ProcessTable};
use kestrel_agent::state::users::UserDb;
use kestrel_engine::{CompileOptions, Loader};

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The counter is global: tests of this file take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

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
    panic!("falco_rules.yaml not found: set FALCO_RULES")
}

#[test]
fn evaluating_rules_on_agent_events_does_not_allocate() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut loader = Loader::new();
    loader.add_file(stable_rules_path()).unwrap();
    for f in [
        "config/rules/00-macros.yaml",
        "config/rules/10-kestrel-rules.yaml",
        "config/samples/falco-customrules.yaml",
    ] {
        loader.add_file(root.join(f)).unwrap();
    }
    let rules = loader.compile(&CompileOptions::default()).unwrap().ruleset;

    let mut procs = ProcessTable::new(ProcFs::new("/nonexistent"));
    let mut containers = ContainerRegistry::default();
    let slot = containers.intern(CgroupContainer {
        full_id: "d".repeat(64),
        runtime: Runtime::Containerd,
        pod_uid: None,
    });
    containers.get_mut(slot).unwrap().pod = Some(PodMeta {
        name: "web".into(),
        namespace: "shop".into(),
        uid: "u".into(),
        labels: vec![],
        ip: None,
    });
    for (pid, ppid, comm, exe) in [
        (1u32, 0u32, "systemd", "/usr/lib/systemd/systemd"),
        (50, 1, "containerd-shim", "/usr/bin/containerd-shim"),
        (60, 50, "nginx", "/usr/sbin/nginx"),
    ] {
        let mut p = Process {
            pid,
            ppid,
            vpid: pid,
            sid: pid,
            pgid: pid,
            start_ns: 1,
            ..Default::default()
        };
        p.set_command(comm.as_bytes(), &[exe.as_bytes(), b"-g"]);
        p.exepath = exe.as_bytes().to_vec();
        p.cwd = b"/".to_vec();
        if pid == 60 {
            p.container = Some(slot);
        }
        procs.insert(p);
    }
    let users = UserDb::parse(
        b"root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/usr/sbin/nologin\n",
        b"root:x:0:\n",
    );
    // an ordinary file open that fires nothing (the common case)
    let mut ev = DecodedEvent {
        kind: Kind::Open,
        tid: 60,
        tgid: 60,
        vtid: 1,
        vtgid: 1,
        ptgid: 50,
        uid: 33,
        gid: 33,
        fd: 7,
        res: 7,
        ts_ns: 1_000,
        has_path: true,
        ..Default::default()
    };
    ev.syscall_nr = libc::SYS_openat as u32;
    ev.event_type = kestrel_engine::event_type_by_name("openat").unwrap();
    ev.flags = libc::O_RDONLY as u64;
    ev.comm.extend_from_slice(b"nginx");
    ev.path.extend_from_slice(b"/var/www/html/index.html");
    ev.path_raw.extend_from_slice(b"/var/www/html/index.html");
    let mut fd = FdEntry::new(FdKind::File);
    fd.name = ev.path.clone();
    let scratch = RefCell::new(Vec::with_capacity(4096));
    let view = EventView {
        ev: &ev,
        procs: &procs,
        proc_: procs.get(60),
        fd: Some(&fd),
        container: containers.get(slot),
        host_users: &users,
        hostname: "node",
        scratch: &scratch,
    };

    let mut fired = 0u64;
    for _ in 0..100 {
        let _ = rules.evaluate(&view, &mut |_| {
            fired += 1;
            std::ops::ControlFlow::Continue(())
        });
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..10_000 {
        let _ = rules.evaluate(&view, &mut |_| {
            fired += 1;
            std::ops::ControlFlow::Continue(())
        });
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(fired, 0, "the ordinary open fires nothing");
    assert_eq!(after - before, 0, "allocations during 10,000 evaluations");
}

/// The whole per-event path of the agent — state update, path resolution, fd table, evaluation —
/// for an openat + close pair that fires nothing, allocates nothing once warm.
#[test]
fn pipeline_open_close_does_not_allocate_once_warm() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    use kestrel_agent::cli::RuleMatching;
    use kestrel_agent::pipeline::Pipeline;
    use kestrel_agent::rules::LoadedRules;

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let rules = LoadedRules::load(
        &[
            stable_rules_path(),
            root.join("config/rules"),
            root.join("config/samples/falco-customrules.yaml"),
        ],
        &CompileOptions::default(),
    )
    .unwrap();
    let mut pipeline = Pipeline::new(
        ProcFs::new("/nonexistent"),
        "node".into(),
        RuleMatching::First,
    );
    // like the live loop, one DecodedEvent is refilled for every record (buffers keep capacity)
    let openat = kestrel_engine::event_type_by_name("openat").unwrap();
    let close_ty = kestrel_engine::event_type_by_name("close").unwrap();
    let fill_open = |e: &mut DecodedEvent| {
        e.reset();
        e.kind = Kind::Open;
        (e.tid, e.tgid, e.vtid, e.vtgid, e.ptgid) = (4000, 4000, 4000, 4000, 1);
        (e.fd, e.res, e.has_path) = (5, 5, true);
        e.syscall_nr = libc::SYS_openat as u32;
        e.event_type = openat;
        e.comm.extend_from_slice(b"app");
        e.path_raw
            .extend_from_slice(b"/srv/data/../data/./file.txt");
    };
    let fill_close = |e: &mut DecodedEvent| {
        e.reset();
        e.kind = Kind::FdOp;
        (e.tid, e.tgid, e.ptgid, e.fd, e.res) = (4000, 4000, 1, 5, 0);
        e.syscall_nr = libc::SYS_close as u32;
        e.event_type = close_ty;
        e.comm.extend_from_slice(b"app");
    };
    let mut ev = DecodedEvent::default();
    let mut alerts = 0u64;
    let mut round = |p: &mut Pipeline, alerts: &mut u64| {
        let before = ALLOCS.load(Ordering::Relaxed);
        fill_open(&mut ev);
        p.process(&mut ev, &rules, &mut |_| *alerts += 1);
        assert_eq!(ev.path, b"/srv/data/file.txt");
        fill_close(&mut ev);
        p.process(&mut ev, &rules, &mut |_| *alerts += 1);
        ALLOCS.load(Ordering::Relaxed) - before
    };
    for _ in 0..50 {
        round(&mut pipeline, &mut alerts);
    }
    let mut total = 0;
    for _ in 0..5_000 {
        total += round(&mut pipeline, &mut alerts);
    }
    assert_eq!(alerts, 0);
    assert_eq!(
        pipeline.procs.get(4000).map(|p| p.fds.len()),
        Some(0),
        "the close was applied"
    );
    assert_eq!(
        total, 0,
        "allocations in 5,000 open+close pairs after warm-up"
    );
}
