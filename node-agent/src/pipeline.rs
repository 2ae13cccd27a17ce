//! The per-event path: apply an event to the state, evaluate the rules on it, and turn matches
//! into alerts. Used by the live agent and by replay, so both print the same alerts.
//!
//! Nothing here allocates per event once the tables are warm, except when an alert fires, when a
//! process or container is seen for the first time, or when a file descriptor opens (the fd table
//! keeps recycled name buffers).

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::sync::Arc;

use kestrel_engine::{CompiledRule, RuleSet};

use crate::rules::LoadedRules;

use crate::alert::{Alert, AlertContext};
use crate::cli::RuleMatching;
use crate::event::{AT_FDCWD, DecodedEvent, EventView, Kind, NO_FD};
use crate::state::cgroups::CgroupPaths;
use crate::state::containers::{ContainerRegistry, container_from_proc_cgroup, parse_cgroup_path};
use crate::state::fds::{FdEntry, FdKind};
use crate::state::procfs::ProcFs;
use crate::state::procs::{Process, ProcessTable, resolve_path};
use crate::state::users::UserDb;

/// Counters of the event path.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipelineCounters {
    pub events: u64,
    pub evaluated: u64,
    pub alerts: u64,
}

/// Everything the agent knows beyond one event, and the buffers the event path reuses.
pub struct Pipeline {
    pub procs: ProcessTable,
    pub containers: ContainerRegistry,
    pub host_users: UserDb,
    pub cgroups: CgroupPaths,
    procfs: ProcFs,
    hostname: Arc<str>,
    matching: RuleMatching,
    scratch: RefCell<Vec<u8>>,
    tmp_fd: FdEntry,
    base: Vec<u8>,
    pub counters: PipelineCounters,
}

impl Pipeline {
    pub fn new(procfs: ProcFs, hostname: Arc<str>, matching: RuleMatching) -> Self {
        Self {
            procs: ProcessTable::new(procfs.clone()),
            containers: ContainerRegistry::default(),
            host_users: UserDb::load(std::path::Path::new("/")),
            cgroups: CgroupPaths::detect(),
            procfs,
            hostname,
            matching,
            scratch: RefCell::new(Vec::with_capacity(4096)),
            tmp_fd: FdEntry::new(FdKind::File),
            base: Vec::with_capacity(4096),
            counters: PipelineCounters::default(),
        }
    }

    /// Apply what the pod watch says (the `k8s.*` fields, container names and images).
    pub fn apply_pod_update(&mut self, u: crate::k8s::pods::PodUpdate) {
        use crate::k8s::pods::PodUpdate;
        use crate::state::containers::KnownContainer;
        match u {
            PodUpdate::Upsert { pod, containers } => {
                for c in containers {
                    self.containers.learn(
                        &c.full_id,
                        KnownContainer {
                            name: c.name,
                            image: c.image,
                            pod: pod.clone(),
                            privileged: c.privileged,
                            start_ts: c.started_ns,
                        },
                    );
                }
            }
            PodUpdate::Delete { uid } => self.containers.forget_pod(&uid),
        }
    }

    /// Read the host's users from another root (the agent in a container sees the host at /host).
    pub fn set_host_root(&mut self, root: &std::path::Path) {
        self.host_users = UserDb::load(root);
    }

    /// Read every running process from /proc, with its container.
    pub fn seed(&mut self) -> usize {
        let n = self.procs.seed();
        let all: Vec<u32> = self.procfs.pids();
        for pid in all {
            self.refresh_container(pid, pid, 0);
        }
        n
    }

    pub fn hostname(&self) -> &Arc<str> {
        &self.hostname
    }

    /// Re-read which container a process runs in (on first sight, after exec, when the event's
    /// cgroup differs from the one we resolved).
    fn refresh_container(&mut self, tgid: u32, tid: u32, cgroup_id: u64) {
        // The event's cgroup id names the cgroup even after the process is gone; /proc is the
        // fallback (cgroup v1-only hosts, where the v2 id is the root's).
        let by_id = if cgroup_id > 1 {
            self.cgroups.path(cgroup_id).map(parse_cgroup_path)
        } else {
            None
        };
        let found = match by_id {
            Some(found) => found,
            None => {
                let content = self
                    .procfs
                    .cgroup_of(tid)
                    .or_else(|| self.procfs.cgroup_of(tgid));
                content.as_deref().and_then(container_from_proc_cgroup)
            }
        };
        tracing::trace!(tgid, cgroup_id, container = ?found.as_ref().map(|c| &c.full_id), "container resolved");
        let slot = found.map(|c| self.containers.intern(c));
        if let Some(slot) = slot
            && self.containers.get(slot).is_some_and(|c| c.users.is_none())
        {
            let users = self.container_users(tgid, cgroup_id);
            if let Some(c) = self.containers.get_mut(slot) {
                c.users = users;
            }
        }
        if let Some(p) = self.procs.get_mut(tgid) {
            p.container = slot;
            p.cgroup_id = cgroup_id;
        }
    }

    /// A container's users and groups, from the root filesystem of this process or, when it is
    /// already gone (a short `kubectl exec`), of another process still in its cgroup. `None`
    /// when no root could be read: tried again for the container's next new process.
    fn container_users(&mut self, tgid: u32, cgroup_id: u64) -> Option<UserDb> {
        let from =
            |pid: u32| UserDb::try_load(&self.procfs.root().join(pid.to_string()).join("root"));
        if let Some(db) = from(tgid) {
            return Some(db);
        }
        if cgroup_id <= 1 {
            return None;
        }
        self.cgroups
            .live_pids(cgroup_id, 16)
            .into_iter()
            .filter(|p| *p != tgid)
            .find_map(from)
    }

    /// Make sure the event's process is in the table (it may have started before we attached).
    fn ensure_process(&mut self, ev: &DecodedEvent) {
        if self.procs.get(ev.tgid).is_some() {
            return;
        }
        if self.procs.get_or_load(ev.tgid).is_none() {
            // already gone from /proc: keep what the event says
            self.procs.insert(Process {
                pid: ev.tgid,
                ppid: ev.ptgid,
                vpid: ev.vtgid,
                comm: ev.comm.clone(),
                cmdline: ev.comm.clone(),
                loginuid: ev.loginuid,
                ..Default::default()
            });
        }
        self.refresh_container(ev.tgid, ev.tid, ev.cgroup_id);
    }

    /// The directory a relative path of this event is relative to; false when unknown.
    fn base_dir(&mut self, tgid: u32, dirfd: i64) -> bool {
        self.base.clear();
        let Some(p) = self.procs.get(tgid) else {
            return false;
        };
        if dirfd == AT_FDCWD || dirfd == NO_FD {
            self.base.extend_from_slice(&p.cwd);
        } else if let Some(e) = p.fds.get(dirfd) {
            self.base.extend_from_slice(&e.name);
        } else if let Some(path) = self.procfs.fd_path(tgid, dirfd) {
            self.base.extend_from_slice(&path);
        }
        self.base.first() == Some(&b'/')
    }

    /// Resolve `raw` (relative to `dirfd`) into `out`. A relative path whose base is unknown stays
    /// as the process passed it rather than being guessed.
    fn resolve_into(&mut self, tgid: u32, dirfd: i64, raw: &[u8], out: &mut Vec<u8>) {
        out.clear();
        if raw.first() == Some(&b'/') {
            resolve_path(b"/", raw, out);
        } else if self.base_dir(tgid, dirfd) {
            resolve_path(&self.base, raw, out);
        } else {
            out.extend_from_slice(raw);
        }
    }

    fn resolve_paths(&mut self, ev: &mut DecodedEvent) {
        if ev.has_path && ev.kind != Kind::Mount {
            let mut path = std::mem::take(&mut ev.path);
            self.resolve_into(ev.tgid, ev.dirfd, &ev.path_raw, &mut path);
            ev.path = path;
        } else if ev.has_path {
            ev.path.extend_from_slice(&ev.path_raw);
        }
        if ev.has_path2 {
            let dirfd = if ev.syscall_nr as i64 == libc::SYS_mount {
                AT_FDCWD
            } else {
                ev.fd2
            };
            let mut path2 = std::mem::take(&mut ev.path2);
            self.resolve_into(ev.tgid, dirfd, &ev.path2_raw, &mut path2);
            ev.path2 = path2;
        }
    }

    /// Apply what the event changes before rules see it (exec's new command line, an open's new fd).
    fn apply_before(&mut self, ev: &DecodedEvent) {
        let ok = ev.res >= 0;
        match ev.kind {
            Kind::Exec if ok => {
                let filename: &[u8] = if ev.exe.is_empty() { &ev.path } else { &ev.exe };
                let argv: Vec<&[u8]> = ev.argv().collect();
                self.procs.on_exec(ev.tgid, &ev.comm, filename, &argv);
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    if !ev.cwd.is_empty() {
                        p.cwd.clear();
                        p.cwd.extend_from_slice(&ev.cwd);
                    }
                    p.loginuid = ev.loginuid;
                    p.start_ns = ev.ts_ns;
                    p.exe_file = ev.exe_file;
                }
                self.refresh_container(ev.tgid, ev.tid, ev.cgroup_id);
            }
            Kind::Open if ok => {
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    let kind = if ev.flags as i32 & libc::O_DIRECTORY != 0 {
                        FdKind::Directory
                    } else {
                        FdKind::File
                    };
                    p.fds.set(ev.fd, kind, &ev.path).open_flags = ev.flags as u32;
                }
            }
            Kind::Socket if ok => {
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    p.fds.set(ev.fd, socket_kind(ev.socket[0]), b"");
                }
            }
            Kind::SockOp if ev.fd != NO_FD => {
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    let kind = match (ev.sock.as_ref(), ev.socket[0] as i32) {
                        (_, libc::AF_INET) => FdKind::Ipv4,
                        (_, libc::AF_INET6) => FdKind::Ipv6,
                        (_, libc::AF_UNIX) => FdKind::Unix,
                        (Some(t), _) if t.local.is_some_and(|l| l.0.is_ipv4()) => FdKind::Ipv4,
                        (Some(_), _) => FdKind::Ipv6,
                        _ => p.fds.get(ev.fd).map_or(FdKind::Unknown, |e| e.kind),
                    };
                    let mut name = std::mem::take(&mut self.base);
                    name.clear();
                    match &ev.sock {
                        Some(t) => {
                            crate::event::args::write_tuple(&mut name, t);
                        }
                        None => name.extend_from_slice(&ev.text),
                    }
                    let e = p.fds.set(ev.fd, kind, &name);
                    e.sock = ev.sock;
                    self.base = name;
                }
            }
            Kind::FileOp
                if ok && matches!(ev.syscall_nr as i64, libc::SYS_chdir | libc::SYS_fchdir) =>
            {
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    if ev.syscall_nr as i64 == libc::SYS_chdir {
                        p.cwd.clear();
                        p.cwd.extend_from_slice(&ev.path);
                    } else if let Some(name) = p.fds.get(ev.fd).map(|e| e.name.clone()) {
                        p.cwd = name;
                    }
                }
            }
            Kind::FdOp if ok && ev.syscall_nr as i64 != libc::SYS_close => {
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    p.fds.dup(ev.fd, ev.res);
                }
            }
            _ => {}
        }
    }

    /// Apply what the event ends after rules saw it (a close, an exit).
    fn apply_after(&mut self, ev: &DecodedEvent) {
        match ev.kind {
            Kind::FdOp if ev.res == 0 && ev.syscall_nr as i64 == libc::SYS_close => {
                if let Some(p) = self.procs.get_mut(ev.tgid) {
                    p.fds.close(ev.fd);
                }
            }
            Kind::ProcExit if ev.group_dead || ev.tid == ev.tgid => self.procs.on_exit(ev.tgid),
            _ => {}
        }
    }

    /// Handle one decoded event: state, rules, alerts. `emit` receives each alert.
    pub fn process(
        &mut self,
        ev: &mut DecodedEvent,
        rules: &LoadedRules,
        emit: &mut dyn FnMut(Alert),
    ) {
        self.process_observed(ev, rules, emit, None);
    }

    /// [`Self::process`], also showing `observe` the event with its state just before the rules
    /// run (the capture command records it).
    pub fn process_observed(
        &mut self,
        ev: &mut DecodedEvent,
        rules: &LoadedRules,
        emit: &mut dyn FnMut(Alert),
        observe: Option<&mut dyn FnMut(&EventView<'_>)>,
    ) {
        self.counters.events += 1;
        ev.num = self.counters.events;
        match ev.kind {
            Kind::ProcFork => {
                let [child_tid, child_tgid, _, child_vtgid] = ev.child;
                if child_tid == child_tgid && child_tgid != 0 {
                    self.ensure_process(ev);
                    self.procs.on_fork(ev.tgid, child_tgid, child_vtgid);
                    if let Some(c) = self.procs.get_mut(child_tgid) {
                        c.start_ns = ev.ts_ns;
                    }
                }
                return;
            }
            Kind::ProcExec => return,
            _ => {}
        }
        self.ensure_process(ev);
        if let Some(p) = self.procs.get(ev.tgid)
            && p.cgroup_id != ev.cgroup_id
            && ev.cgroup_id != 0
        {
            self.refresh_container(ev.tgid, ev.tid, ev.cgroup_id);
        }
        self.resolve_paths(ev);
        self.apply_before(ev);
        self.evaluate(ev, rules, emit, observe);
        self.apply_after(ev);
    }

    fn evaluate(
        &mut self,
        ev: &DecodedEvent,
        rules: &LoadedRules,
        emit: &mut dyn FnMut(Alert),
        observe: Option<&mut dyn FnMut(&EventView<'_>)>,
    ) {
        self.counters.evaluated += 1;
        let proc_ = self.procs.get(ev.tgid);
        let fd: Option<&FdEntry> = match ev.kind {
            Kind::Open if ev.fd == NO_FD => {
                self.tmp_fd.kind = if ev.flags as i32 & libc::O_DIRECTORY != 0 {
                    FdKind::Directory
                } else {
                    FdKind::File
                };
                self.tmp_fd.name.clear();
                self.tmp_fd.name.extend_from_slice(&ev.path);
                Some(&self.tmp_fd)
            }
            _ if ev.fd != NO_FD => proc_.and_then(|p| p.fds.get(ev.fd)),
            _ => None,
        };
        let view = EventView {
            ev,
            procs: &self.procs,
            proc_,
            fd,
            container: proc_
                .and_then(|p| p.container)
                .and_then(|s| self.containers.get(s)),
            host_users: &self.host_users,
            hostname: &self.hostname,
            scratch: &self.scratch,
        };
        if let Some(observe) = observe {
            observe(&view);
        }
        // in a cluster, say which FalcoRule each alert's rule came from
        let mut tag = |mut a: Alert| {
            if let Some(src) = rules.sources.get(&a.rule_file) {
                a.falco_rule = Some(src.clone());
            }
            emit(a)
        };
        let mut fired = fire(
            &rules.compiled.ruleset,
            &view,
            self.matching,
            &self.hostname,
            &mut tag,
        );
        // Rules of a namespace's FalcoRules see only that namespace's pods (matching the selector).
        if !rules.scoped.is_empty()
            && let Some(pod) = view.container.and_then(|c| c.pod.as_ref())
        {
            for scoped in &rules.scoped {
                if scoped.namespace == pod.namespace
                    && scoped
                        .selector
                        .as_ref()
                        .is_none_or(|sel| sel.matches(&pod.labels))
                {
                    fired += fire(
                        &scoped.compiled.ruleset,
                        &view,
                        self.matching,
                        &self.hostname,
                        &mut tag,
                    );
                }
            }
        }
        self.counters.alerts += fired;
    }
}

/// Evaluate `rules` on one event and emit an alert per match (only the first with
/// [`RuleMatching::First`], as Falco does by default). Returns how many fired.
pub fn fire(
    rules: &RuleSet,
    view: &EventView<'_>,
    matching: RuleMatching,
    hostname: &Arc<str>,
    emit: &mut dyn FnMut(Alert),
) -> u64 {
    let first_only = matching == RuleMatching::First;
    let mut fired = 0u64;
    let _ = rules.evaluate(view, &mut |rule| {
        emit(make_alert(rule, view, hostname));
        fired += 1;
        if first_only {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    fired
}

fn socket_kind(domain: u32) -> FdKind {
    match domain as i32 {
        libc::AF_INET => FdKind::Ipv4,
        libc::AF_INET6 => FdKind::Ipv6,
        libc::AF_UNIX => FdKind::Unix,
        libc::AF_NETLINK => FdKind::Netlink,
        _ => FdKind::Unknown,
    }
}

/// Build the alert for a matched rule: render the output and every `%field`.
pub fn make_alert(rule: &CompiledRule, view: &EventView<'_>, hostname: &Arc<str>) -> Alert {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let context = AlertContext {
        container_id: view
            .container
            .map_or_else(|| "host".to_owned(), |c| c.short_id().to_owned()),
        container_name: view.container.and_then(|c| c.name.clone()),
        container_image: view.container.and_then(|c| c.image.clone()),
        pod_name: view
            .container
            .and_then(|c| c.pod.as_ref())
            .map(|p| p.name.clone()),
        pod_namespace: view
            .container
            .and_then(|c| c.pod.as_ref())
            .map(|p| p.namespace.clone()),
        pod_uid: view.container.and_then(|c| c.pod_uid.clone()),
        proc_name: lossy(&view.ev.comm),
        proc_cmdline: view.proc_.map(|p| lossy(&p.cmdline)).unwrap_or_default(),
        pid: view.ev.tgid,
    };
    alert_for(rule, view, view.ev.ts_ns, context, hostname)
}

/// The alert of `rule` for any field source (a live event, a replayed one, a hand-written one).
pub fn alert_for(
    rule: &CompiledRule,
    src: &dyn kestrel_engine::FieldSource,
    time_ns: u64,
    context: AlertContext,
    hostname: &Arc<str>,
) -> Alert {
    let mut output = String::with_capacity(256);
    rule.output.render(src, &mut output);
    // folded YAML (`output: >`) ends with a newline; Falco prints the trimmed text
    output.truncate(output.trim_end().len());
    let mut output_fields = std::collections::BTreeMap::new();
    for (i, f) in rule.output.fields().iter().enumerate() {
        let mut v = String::new();
        let present = rule.output.render_field(i, src, &mut v);
        output_fields.insert(f.name.clone(), present.then_some(v));
    }
    Alert {
        time_ns,
        rule: rule.name.clone(),
        priority: rule.priority,
        source: rule.source.clone(),
        tags: rule.tags.clone(),
        output,
        output_fields,
        hostname: hostname.clone(),
        context,
        rule_file: rule.file.clone(),
        falco_rule: None,
    }
}

#[cfg(test)]
mod container_users_tests {
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;

    use super::*;

    const ID: &str = "4f2b8e1c9d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c";

    struct Fixture {
        dir: PathBuf,
        pipeline: Pipeline,
        cgroup: PathBuf,
        cgroup_id: u64,
    }

    fn fixture(name: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("kestrel-users-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cgroup = dir.join(format!(
            "cg/kubepods.slice/kubepods-besteffort.slice/cri-containerd-{ID}.scope"
        ));
        std::fs::create_dir_all(&cgroup).unwrap();
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        let cgroup_id = std::fs::metadata(&cgroup).unwrap().ino();
        let mut pipeline = Pipeline::new(
            ProcFs::new(dir.join("proc")),
            "node".into(),
            RuleMatching::First,
        );
        pipeline.cgroups = CgroupPaths::new(Some(dir.join("cg")));
        Fixture {
            dir,
            pipeline,
            cgroup,
            cgroup_id,
        }
    }

    impl Fixture {
        /// A live process of the container with its own /etc/passwd.
        fn live_process(&self, pid: u32) {
            let etc = self.dir.join(format!("proc/{pid}/root/etc"));
            std::fs::create_dir_all(&etc).unwrap();
            std::fs::write(
                etc.join("passwd"),
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/ash\n",
            )
            .unwrap();
            std::fs::write(etc.join("group"), "root:x:0:\napp:x:1000:\n").unwrap();
            std::fs::write(self.cgroup.join("cgroup.procs"), format!("{pid}\n")).unwrap();
        }

        fn user_1000(&self) -> Option<Vec<u8>> {
            let c = self
                .pipeline
                .containers
                .by_full_id(ID)
                .expect("container interned");
            Some(c.users.as_ref()?.user(1000)?.name.clone())
        }
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn a_gone_process_reads_users_from_a_live_one_of_its_cgroup() {
        let mut f = fixture("gone");
        f.live_process(4242);
        // pid 777 (a short `kubectl exec`) has already exited: no /proc/777
        f.pipeline.refresh_container(777, 777, f.cgroup_id);
        assert_eq!(f.user_1000().as_deref(), Some(&b"app"[..]));
    }

    #[test]
    fn unknown_users_are_retried_for_the_next_process() {
        let mut f = fixture("retry");
        f.pipeline.refresh_container(777, 777, f.cgroup_id);
        let c = f
            .pipeline
            .containers
            .by_full_id(ID)
            .expect("container interned");
        assert!(
            c.users.is_none(),
            "no root was readable: unknown, not empty"
        );
        f.live_process(4243);
        f.pipeline.refresh_container(4243, 4243, f.cgroup_id);
        assert_eq!(f.user_1000().as_deref(), Some(&b"app"[..]));
    }
}
