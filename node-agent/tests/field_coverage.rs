//! Which Falco fields the agent fills. The list of fields the upstream stable rules use that the
//! agent does not fill yet is printed (`cargo test -p kestrel-agent --test field_coverage --
//! --nocapture`), never silently true or false; and every field the agent claims to fill really
//! produces a value on a rich event.

use std::cell::RefCell;

use kestrel_agent::event::view::fills;
use kestrel_agent::event::{DecodedEvent, EventView, Kind};
use kestrel_agent::state::containers::{CgroupContainer, ContainerRegistry, PodMeta, Runtime};
use kestrel_agent::state::fds::{FdEntry, FdKind, L4Proto, SockTuple};
use kestrel_agent::state::procfs::ProcFs;
use kestrel_agent::state::procs::{Process, ProcessTable};
use kestrel_agent::state::users::UserDb;
use kestrel_engine::{CompileOptions, Field, FieldArg, FieldSource, Loader};

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
fn prints_stable_rule_fields_the_agent_does_not_fill() {
    let path = stable_rules_path();
    let mut loader = Loader::new();
    loader
        .add_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let compiled = loader
        .compile(&CompileOptions::default())
        .expect("stable rules compile");
    let used = compiled.ruleset.fields_used();
    let unfilled: Vec<&str> = used
        .iter()
        .filter(|f| !fills(**f))
        .map(|f| f.name())
        .collect();
    let filled = used.len() - unfilled.len();
    println!(
        "stable rules use {} fields; the agent fills {filled}; not filled yet ({}):",
        used.len(),
        unfilled.len()
    );
    for f in &unfilled {
        println!("  {f}");
    }
    // the core of what the stable rules read is filled
    for f in [
        Field::ProcName,
        Field::ProcCmdline,
        Field::FdName,
        Field::EvtType,
        Field::UserName,
        Field::ContainerId,
    ] {
        assert!(fills(f), "{} must be filled", f.name());
    }
    assert!(
        filled * 2 > used.len(),
        "the agent fills most fields the stable rules use: {filled}/{}",
        used.len()
    );
}

/// Every field `fills()` claims gives a value on an event that has everything.
#[test]
fn every_filled_field_has_a_value_on_a_rich_event() {
    let mut procs = ProcessTable::new(ProcFs::new("/nonexistent"));
    let mut containers = ContainerRegistry::default();
    let slot = containers.intern(CgroupContainer {
        full_id: "c".repeat(64),
        runtime: Runtime::Containerd,
        pod_uid: Some("uid-1".into()),
    });
    {
        let c = containers.get_mut(slot).unwrap();
        c.name = Some("nginx".into());
        c.image = Some("docker.io/library/nginx:1.27".into());
        c.privileged = Some(false);
        c.start_ts = Some(1_796_292_001_000_000_000);
        c.pod = Some(PodMeta {
            name: "web-0".into(),
            namespace: "shop".into(),
            uid: "uid-1".into(),
            labels: vec![("app".into(), "web".into())],
            ip: Some("10.0.0.9".into()),
        });
    }
    let mut gp = Process {
        pid: 1,
        ppid: 0,
        vpid: 1,
        sid: 1,
        pgid: 1,
        start_ns: 1,
        ..Default::default()
    };
    gp.set_command(b"init", &[b"/sbin/init".as_slice()]);
    gp.exepath = b"/sbin/init".to_vec();
    let mut parent = Process {
        pid: 10,
        ppid: 1,
        vpid: 10,
        sid: 10,
        pgid: 10,
        start_ns: 2,
        ..Default::default()
    };
    parent.set_command(b"bash", &[b"bash".as_slice(), b"-l"]);
    parent.exepath = b"/bin/bash".to_vec();
    let mut p = Process {
        pid: 20,
        ppid: 10,
        vpid: 7,
        sid: 10,
        pgid: 20,
        tty: 34816,
        loginuid: 1000,
        start_ns: 3,
        container: Some(slot),
        exe_file: Some(kestrel_agent::state::procs::ExeFile {
            ino: 77,
            ctime_ns: 1,
            mtime_ns: 1,
            upper_layer: Some(true),
        }),
        ..Default::default()
    };
    p.set_command(b"curl", &[b"curl".as_slice(), b"http://x"]);
    p.exepath = b"/usr/bin/curl".to_vec();
    p.cwd = b"/root".to_vec();
    p.fds
        .set(3, FdKind::Ipv4, b"10.0.0.9:40000->93.184.216.34:80");
    procs.insert(gp);
    procs.insert(parent);
    procs.insert(p);
    let sock = SockTuple {
        l4proto: L4Proto::Tcp,
        local: Some(("10.0.0.9".parse().unwrap(), 40000)),
        remote: Some(("93.184.216.34".parse().unwrap(), 80)),
        is_server: false,
    };
    let mut fd = FdEntry::new(FdKind::Ipv4);
    fd.name = b"10.0.0.9:40000->93.184.216.34:80".to_vec();
    fd.sock = Some(sock);
    let mut ev = DecodedEvent {
        kind: Kind::SockOp,
        tid: 21,
        tgid: 20,
        vtid: 8,
        vtgid: 7,
        ptgid: 10,
        uid: 0,
        gid: 0,
        loginuid: 1000,
        fd: 3,
        res: 0,
        ts_ns: 1_796_300_000_000_000_000,
        has_path: true,
        has_path2: true,
        sock: Some(sock),
        ..Default::default()
    };
    ev.syscall_nr = libc::SYS_connect as u32;
    ev.event_type = kestrel_engine::event_type_by_name("connect").unwrap();
    ev.comm.extend_from_slice(b"curl");
    ev.cap_effective = Some((1 << 21) | (1 << 12));
    ev.path.extend_from_slice(b"/tmp/a");
    ev.path_raw.extend_from_slice(b"a");
    ev.path2.extend_from_slice(b"/tmp/b");
    ev.path2_raw.extend_from_slice(b"b");
    let users = UserDb::parse(
        b"root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        b"root:x:0:\n",
    );
    // the event is in a container: user.* and group.* read the container's own database
    containers.get_mut(slot).unwrap().users = Some(users.clone());
    let scratch = RefCell::new(Vec::new());
    let view = EventView {
        ev: &ev,
        procs: &procs,
        proc_: procs.get(20),
        fd: Some(&fd),
        container: containers.get(slot),
        host_users: &users,
        hostname: "node-1",
        scratch: &scratch,
    };
    let mut missing = Vec::new();
    for f in Field::ALL.iter().copied().filter(|f| fills(*f)) {
        let arg = match f {
            Field::ProcAname
            | Field::ProcApid
            | Field::ProcAexe
            | Field::ProcAexepath
            | Field::ProcAcmdline => FieldArg::Index(2),
            Field::EvtArg | Field::EvtRawarg => FieldArg::Key("fd".into()),
            Field::K8sPodLabel => FieldArg::Key("app".into()),
            _ => FieldArg::None,
        };
        let mut n = 0;
        view.visit(f, &arg, &mut |_| {
            n += 1;
            std::ops::ControlFlow::Continue(())
        });
        if n == 0 {
            missing.push(f.name());
        }
    }
    // these are event-kind specific and legitimately absent on a connect
    let kind_specific = [
        "evt.is_open_read",
        "evt.is_open_write",
        "evt.is_open_exec",
        "evt.is_open_create",
        "fs.path.name",
        "fs.path.nameraw",
        "fs.path.source",
        "fs.path.sourceraw",
        "fs.path.target",
        "fs.path.targetraw",
        "fd.directory",
        "fd.filename",
    ];
    missing.retain(|m| !kind_specific.contains(m));
    assert!(
        missing.is_empty(),
        "fields claimed as filled with no value: {missing:?}"
    );
}
