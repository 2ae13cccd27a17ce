//! [`EventView`]: an event together with the state its fields are read from — the one
//! [`FieldSource`] of the agent. Values borrow from the event and the tables; rendered arguments
//! use one reusable scratch buffer, so evaluating rules allocates nothing.

use std::cell::RefCell;
use std::net::IpAddr;
use std::ops::ControlFlow;

use kestrel_engine::{EventTypeId, Field, FieldArg, FieldSource, Value, Visit};

use super::args;
use super::decoded::{DecodedEvent, Kind, NO_FD};
use super::errno;
use crate::state::containers::Container;
use crate::state::fds::{FdEntry, FdKind, SockTuple};
use crate::state::procs::{Process, ProcessTable};
use crate::state::users::UserDb;

/// An event and everything its fields may read.
pub struct EventView<'a> {
    pub ev: &'a DecodedEvent,
    pub procs: &'a ProcessTable,
    pub proc_: Option<&'a Process>,
    /// The fd entry the event is about (an open's new fd, a connect's socket...).
    pub fd: Option<&'a FdEntry>,
    pub container: Option<&'a Container>,
    pub host_users: &'a UserDb,
    pub hostname: &'a str,
    pub scratch: &'a RefCell<Vec<u8>>,
}

const MAX_ANCESTORS: usize = 64;

/// Fields this agent fills. Every other catalogue field is `<NA>` (comparisons false); `validate`
/// and `run` warn about rules that use them.
pub fn fills(field: Field) -> bool {
    use Field::*;
    matches!(
        field,
        EvtNum
            | EvtTime
            | EvtTimeS
            | EvtTimeIso8601
            | EvtDatetime
            | EvtDatetimeS
            | EvtRawtime
            | EvtRawtimeS
            | EvtRawtimeNs
            | EvtDir
            | EvtType
            | EvtSyscallType
            | EvtCategory
            | EvtArgs
            | EvtArg
            | EvtRawarg
            | EvtRes
            | EvtRawres
            | EvtFailed
            | EvtIsOpenRead
            | EvtIsOpenWrite
            | EvtIsOpenExec
            | EvtIsOpenCreate
            | EvtHostname
            | EvtSource
            | EvtAbspath
            | EvtAbspathSrc
            | EvtAbspathDst
            | ProcPid
            | ProcExe
            | ProcName
            | ProcArgs
            | ProcCmdline
            | ProcExeline
            | ProcCwd
            | ProcPpid
            | ProcPname
            | ProcPcmdline
            | ProcApid
            | ProcAname
            | ProcTty
            | ProcSid
            | ProcSname
            | ProcSidExe
            | ProcSidExepath
            | ProcPgid
            | ProcVpgid
            | ProcPgidName
            | ProcVpid
            | ProcPvpid
            | ProcIsSidLeader
            | ProcIsPgidLeader
            | ProcExepath
            | ProcPexe
            | ProcPexepath
            | ProcAexe
            | ProcAexepath
            | ProcAcmdline
            | ProcCmdnargs
            | ProcCmdlenargs
            | ProcFdopencount
            | ProcPidTs
            | ProcDuration
            | ProcExeIno
            | ProcExeInoCtime
            | ProcExeInoMtime
            | ProcExeInoCtimeDurationProcStart
            | ProcIsExeUpperLayer
            | ProcIsExeFromMemfd
            | ThreadTid
            | ThreadCapEffective
            | ThreadIsmain
            | ThreadVtid
            | ThreadNametid
            | UserUid
            | UserName
            | UserHomedir
            | UserShell
            | UserLoginuid
            | UserLoginname
            | GroupGid
            | GroupName
            | FdNum
            | FdType
            | FdTypechar
            | FdName
            | FdNameraw
            | FdDirectory
            | FdFilename
            | FdIp
            | FdCip
            | FdSip
            | FdLip
            | FdRip
            | FdPort
            | FdCport
            | FdSport
            | FdLport
            | FdRport
            | FdL4proto
            | FdSockfamily
            | FdIsServer
            | FdNet
            | FdCnet
            | FdSnet
            | FdLnet
            | FdRnet
            | FdConnected
            | FsPathName
            | FsPathNameraw
            | FsPathSource
            | FsPathSourceraw
            | FsPathTarget
            | FsPathTargetraw
            | ContainerId
            | ContainerFullId
            | ContainerName
            | ContainerImage
            | ContainerImageRepository
            | ContainerImageTag
            | ContainerPrivileged
            | ContainerStartTs
            | ContainerType
            | K8sNsName
            | K8sPodName
            | K8sPodId
            | K8sPodUid
            | K8sPodLabel
            | K8sPodLabels
            | K8sPodIp
    )
}

fn s<'v>(sink: &mut dyn FnMut(Value<'_>) -> Visit, v: &'v [u8]) {
    let _ = sink(Value::Str(v));
}

fn opt_s(sink: &mut dyn FnMut(Value<'_>) -> Visit, v: Option<&[u8]>) {
    if let Some(v) = v {
        let _ = sink(Value::Str(v));
    }
}

impl<'a> EventView<'a> {
    fn parent(&self) -> Option<&'a Process> {
        let p = self.proc_?;
        let ppid = if self.ev.ptgid != 0 {
            self.ev.ptgid
        } else {
            p.ppid
        };
        self.procs.get(ppid).filter(|pp| pp.pid != p.pid)
    }

    /// Ancestor `n` (0 = the process itself).
    fn ancestor(&self, n: usize) -> Option<&'a Process> {
        match n {
            0 => self.proc_,
            1 => self.parent(),
            _ => {
                let mut cur = self.parent()?;
                for _ in 1..n {
                    if cur.ppid == 0 || cur.ppid == cur.pid {
                        return None;
                    }
                    cur = self.procs.get(cur.ppid)?;
                }
                Some(cur)
            }
        }
    }

    /// Visit ancestors for `proc.aname` & co: with an index, that ancestor; without, every ancestor
    /// from the parent up.
    fn ancestors(&self, arg: &FieldArg, mut f: impl FnMut(&'a Process) -> Visit) {
        match arg {
            FieldArg::Index(i) if *i >= 0 => {
                if let Some(p) = self.ancestor(*i as usize) {
                    let _ = f(p);
                }
            }
            FieldArg::None => {
                let mut cur = self.parent();
                let mut n = 0;
                while let Some(p) = cur {
                    if f(p).is_break() || n == MAX_ANCESTORS || p.ppid == 0 || p.ppid == p.pid {
                        break;
                    }
                    cur = self.procs.get(p.ppid);
                    n += 1;
                }
            }
            _ => {}
        }
    }

    /// The users of the event's root filesystem: the container's own (unknown until one of its
    /// roots could be read: `<NA>` rather than a host name), or the host's.
    fn users(&self) -> Option<&'a UserDb> {
        match self.container {
            Some(c) => c.users.as_ref(),
            None => Some(self.host_users),
        }
    }

    fn user(&self, uid: u32) -> Option<&'a crate::state::users::User> {
        self.users().and_then(|db| db.user(uid))
    }

    fn sock(&self) -> Option<&'a SockTuple> {
        self.fd
            .and_then(|f| f.sock.as_ref())
            .or(self.ev.sock.as_ref())
    }

    fn ip_port(&self, field: Field) -> Option<(IpAddr, u16)> {
        let t = self.sock()?;
        match field {
            Field::FdCip | Field::FdCport | Field::FdCnet => t.client(),
            Field::FdSip
            | Field::FdSport
            | Field::FdSnet
            | Field::FdPort
            | Field::FdIp
            | Field::FdNet => t.server(),
            Field::FdLip | Field::FdLport | Field::FdLnet => t.local,
            Field::FdRip | Field::FdRport | Field::FdRnet => t.remote,
            _ => None,
        }
    }

    fn with_scratch(
        &self,
        sink: &mut dyn FnMut(Value<'_>) -> Visit,
        fill: impl FnOnce(&mut Vec<u8>) -> bool,
    ) {
        let mut buf = self.scratch.borrow_mut();
        buf.clear();
        if fill(&mut buf) {
            let _ = sink(Value::Str(&buf));
        }
    }

    fn time(&self, field: Field, sink: &mut dyn FnMut(Value<'_>) -> Visit) {
        let _ = field;
        let _ = sink(Value::U64(self.ev.ts_ns));
    }
}

impl FieldSource for EventView<'_> {
    fn event_type(&self) -> EventTypeId {
        self.ev.event_type
    }

    fn visit(&self, field: Field, arg: &FieldArg, sink: &mut dyn FnMut(Value<'_>) -> Visit) {
        use Field::*;
        let ev = self.ev;
        let p = self.proc_;
        match field {
            EvtNum => {
                let _ = sink(Value::U64(ev.num));
            }
            EvtTime | EvtTimeS | EvtTimeIso8601 | EvtDatetime | EvtDatetimeS | EvtRawtime => {
                self.time(field, sink)
            }
            EvtRawtimeS => {
                let _ = sink(Value::U64(ev.ts_ns / 1_000_000_000));
            }
            EvtRawtimeNs => {
                let _ = sink(Value::U64(ev.ts_ns % 1_000_000_000));
            }
            EvtDir => s(sink, b"<"),
            EvtType | EvtSyscallType => {
                let name = kestrel_engine::EVENT_TYPES
                    .get(ev.event_type.0 as usize)
                    .copied()
                    .unwrap_or("");
                if field == EvtSyscallType && ev.kind.is_lifecycle() {
                    return;
                }
                s(sink, name.as_bytes());
            }
            EvtCategory => s(sink, category(ev).as_bytes()),
            EvtArgs => self.with_scratch(sink, |b| {
                args::render_all(ev, b);
                true
            }),
            EvtArg => {
                let src = match arg {
                    FieldArg::Key(k) => args::by_name(ev, k),
                    FieldArg::Index(i) if *i >= 0 => args::by_index(ev, *i as usize),
                    _ => None,
                };
                if let Some(src) = src {
                    self.with_scratch(sink, |b| args::render(ev, src, b));
                }
            }
            EvtRawarg => {
                if let FieldArg::Key(k) = arg
                    && let Some(v) = args::by_name(ev, k).and_then(|src| args::raw(ev, src))
                {
                    let _ = sink(Value::I64(v));
                }
            }
            EvtRes => {
                if let Some(n) = errno::res_name(ev.res) {
                    s(sink, n.as_bytes());
                }
            }
            EvtRawres => {
                let _ = sink(Value::I64(ev.res));
            }
            EvtFailed => {
                let _ = sink(Value::Bool(ev.res < 0));
            }
            EvtIsOpenRead => {
                let _ = sink(Value::Bool(ev.is_open_read()));
            }
            EvtIsOpenWrite => {
                let _ = sink(Value::Bool(ev.is_open_write()));
            }
            EvtIsOpenExec => {
                let _ = sink(Value::Bool(ev.is_open_exec()));
            }
            EvtIsOpenCreate => {
                let _ = sink(Value::Bool(ev.is_open_create()));
            }
            EvtHostname => s(sink, self.hostname.as_bytes()),
            EvtSource => s(sink, b"syscall"),
            EvtAbspath | EvtAbspathSrc if ev.has_path => s(sink, &ev.path),
            EvtAbspathDst if ev.has_path2 => s(sink, &ev.path2),

            ProcPid => {
                let _ = sink(Value::I64(ev.tgid as i64));
            }
            ProcVpid => {
                let _ = sink(Value::I64(ev.vtgid as i64));
            }
            ProcPpid => {
                let ppid = if ev.ptgid != 0 {
                    ev.ptgid
                } else {
                    p.map_or(0, |p| p.ppid)
                };
                if ppid != 0 {
                    let _ = sink(Value::I64(ppid as i64));
                }
            }
            ProcPvpid => {
                if let Some(pp) = self.parent() {
                    let _ = sink(Value::I64(pp.vpid as i64));
                }
            }
            ProcName => {
                // the comm of the event is current even for processes we have not seen exec
                s(sink, &ev.comm)
            }
            ProcExe => opt_s(sink, p.map(|p| p.exe.as_slice())),
            ProcExepath => opt_s(sink, p.map(|p| p.exepath.as_slice())),
            ProcArgs => opt_s(sink, p.map(|p| p.args.as_slice())),
            ProcCmdline => opt_s(sink, p.map(|p| p.cmdline.as_slice())),
            ProcExeline => {
                if let Some(p) = p {
                    self.with_scratch(sink, |b| {
                        b.extend_from_slice(&p.exe);
                        if !p.args.is_empty() {
                            b.push(b' ');
                            b.extend_from_slice(&p.args);
                        }
                        true
                    })
                }
            }
            ProcCmdnargs => {
                if let Some(p) = p {
                    let n = if p.args.is_empty() {
                        0
                    } else {
                        p.args.split(|b| *b == b' ').count()
                    };
                    let _ = sink(Value::U64(n as u64));
                }
            }
            ProcCmdlenargs => {
                if let Some(p) = p {
                    let n = p.args.iter().filter(|b| **b != b' ').count();
                    let _ = sink(Value::U64(n as u64));
                }
            }
            ProcCwd => opt_s(sink, p.map(|p| p.cwd.as_slice())),
            ProcPname => opt_s(sink, self.parent().map(|p| p.comm.as_slice())),
            ProcPcmdline => opt_s(sink, self.parent().map(|p| p.cmdline.as_slice())),
            ProcPexe => opt_s(sink, self.parent().map(|p| p.exe.as_slice())),
            ProcPexepath => opt_s(sink, self.parent().map(|p| p.exepath.as_slice())),
            ProcAname => self.ancestors(arg, |a| sink(Value::Str(&a.comm))),
            ProcApid => self.ancestors(arg, |a| sink(Value::I64(a.pid as i64))),
            ProcAexe => self.ancestors(arg, |a| sink(Value::Str(&a.exe))),
            ProcAexepath => self.ancestors(arg, |a| sink(Value::Str(&a.exepath))),
            ProcAcmdline => self.ancestors(arg, |a| sink(Value::Str(&a.cmdline))),
            ProcTty => {
                if let Some(p) = p {
                    let _ = sink(Value::U64(p.tty as u64));
                }
            }
            ProcSid => {
                if let Some(p) = p {
                    let _ = sink(Value::I64(p.sid as i64));
                }
            }
            ProcSname | ProcSidExe | ProcSidExepath => {
                if let Some(leader) = p.and_then(|p| self.procs.get(p.sid)) {
                    let v = match field {
                        ProcSname => &leader.comm,
                        ProcSidExe => &leader.exe,
                        _ => &leader.exepath,
                    };
                    s(sink, v);
                }
            }
            ProcPgid | ProcVpgid => {
                if let Some(p) = p {
                    let _ = sink(Value::I64(p.pgid as i64));
                }
            }
            ProcPgidName => opt_s(
                sink,
                p.and_then(|p| self.procs.get(p.pgid))
                    .map(|l| l.comm.as_slice()),
            ),
            ProcIsSidLeader => {
                if let Some(p) = p {
                    let _ = sink(Value::Bool(p.sid == p.pid));
                }
            }
            ProcIsPgidLeader => {
                if let Some(p) = p {
                    let _ = sink(Value::Bool(p.pgid == p.pid));
                }
            }
            ProcFdopencount => {
                if let Some(p) = p {
                    let _ = sink(Value::U64(p.fds.len() as u64));
                }
            }
            ProcDuration => {
                if let Some(p) = p.filter(|p| p.start_ns != 0 && p.start_ns <= ev.ts_ns) {
                    let _ = sink(Value::U64(ev.ts_ns - p.start_ns));
                }
            }
            ProcExeIno
            | ProcExeInoCtime
            | ProcExeInoMtime
            | ProcExeInoCtimeDurationProcStart
            | ProcIsExeUpperLayer => {
                let Some(x) = p.and_then(|p| p.exe_file) else {
                    return;
                };
                let _ = match field {
                    ProcExeIno => sink(Value::U64(x.ino)),
                    ProcExeInoCtime => sink(Value::U64(x.ctime_ns)),
                    ProcExeInoMtime => sink(Value::U64(x.mtime_ns)),
                    ProcExeInoCtimeDurationProcStart => match p.map(|p| p.start_ns) {
                        Some(start) if start != 0 && start >= x.ctime_ns => {
                            sink(Value::U64(start - x.ctime_ns))
                        }
                        _ => return,
                    },
                    _ => match x.upper_layer {
                        Some(v) => sink(Value::Bool(v)),
                        None => return,
                    },
                };
            }
            ProcIsExeFromMemfd => {
                if let Some(p) = p {
                    let e = &p.exepath;
                    let _ = sink(Value::Bool(
                        e.starts_with(b"/memfd:") || e.starts_with(b"memfd:"),
                    ));
                }
            }
            ProcPidTs => {
                if let Some(p) = p.filter(|p| p.start_ns != 0) {
                    let _ = sink(Value::U64(p.start_ns));
                }
            }
            ThreadTid => {
                let _ = sink(Value::I64(ev.tid as i64));
            }
            ThreadVtid => {
                let _ = sink(Value::I64(ev.vtid as i64));
            }
            ThreadIsmain => {
                let _ = sink(Value::Bool(ev.tid == ev.tgid));
            }
            ThreadCapEffective => {
                if let Some(caps) = ev.cap_effective {
                    self.with_scratch(sink, |b| {
                        super::caps::render(caps, b);
                        true
                    });
                }
            }
            ThreadNametid => self.with_scratch(sink, |b| {
                b.extend_from_slice(&ev.comm);
                use std::io::Write as _;
                let _ = write!(b, "{}", ev.tid);
                true
            }),

            UserUid => {
                let _ = sink(Value::U64(ev.uid as u64));
            }
            UserLoginuid => {
                let _ = sink(Value::I64(if ev.loginuid == u32::MAX {
                    -1
                } else {
                    ev.loginuid as i64
                }));
            }
            UserName => match self.user(ev.uid) {
                Some(u) => s(sink, &u.name),
                None => s(sink, b"<NA>"),
            },
            UserHomedir => opt_s(sink, self.user(ev.uid).map(|u| u.homedir.as_slice())),
            UserShell => opt_s(sink, self.user(ev.uid).map(|u| u.shell.as_slice())),
            UserLoginname if ev.loginuid != u32::MAX => opt_s(
                sink,
                self.host_users.user(ev.loginuid).map(|u| u.name.as_slice()),
            ),
            GroupGid => {
                let _ = sink(Value::U64(ev.gid as u64));
            }
            GroupName => opt_s(sink, self.users().and_then(|db| db.group(ev.gid))),

            FdNum => {
                if ev.fd != NO_FD {
                    let _ = sink(Value::I64(ev.fd));
                } else if ev.kind == Kind::Open {
                    let _ = sink(Value::I64(-1));
                }
            }
            FdType => opt_s(sink, self.fd.map(|f| f.kind.type_name().as_bytes())),
            FdTypechar => opt_s(sink, self.fd.map(|f| f.kind.type_char().as_bytes())),
            FdName | FdNameraw => {
                if field == FdNameraw && ev.kind == Kind::Open && ev.has_path {
                    s(sink, &ev.path_raw)
                } else if let Some(f) = self.fd.filter(|f| !f.name.is_empty()) {
                    s(sink, &f.name)
                }
            }
            FdDirectory => {
                if let Some(f) = self
                    .fd
                    .filter(|f| matches!(f.kind, FdKind::File | FdKind::Directory))
                {
                    s(
                        sink,
                        if f.kind == FdKind::Directory {
                            &f.name
                        } else {
                            f.directory()
                        },
                    )
                }
            }
            FdFilename => {
                if let Some(f) = self.fd.filter(|f| f.kind == FdKind::File) {
                    s(sink, f.filename())
                }
            }
            FdIp | FdCip | FdSip | FdLip | FdRip | FdNet | FdCnet | FdSnet | FdLnet | FdRnet => {
                if let Some((ip, _)) = self.ip_port(field) {
                    let _ = sink(Value::Ip(ip));
                }
            }
            FdPort | FdCport | FdSport | FdLport | FdRport => {
                if let Some((_, port)) = self.ip_port(field) {
                    let _ = sink(Value::U64(port as u64));
                }
            }
            FdL4proto => {
                if let Some(t) = self.sock() {
                    s(sink, t.l4proto.as_str().as_bytes())
                }
            }
            FdSockfamily => {
                if let Some(f) = self.fd {
                    match f.kind {
                        FdKind::Ipv4 | FdKind::Ipv6 => s(sink, b"ip"),
                        FdKind::Unix => s(sink, b"unix"),
                        _ => {}
                    }
                }
            }
            FdIsServer => {
                if let Some(t) = self.sock() {
                    let _ = sink(Value::Bool(t.is_server));
                }
            }
            FdConnected => {
                if let Some(t) = self.sock() {
                    let _ = sink(Value::Bool(t.remote.is_some()));
                }
            }
            FsPathName | FsPathSource if ev.has_path && is_fs_path_event(ev) => s(sink, &ev.path),
            FsPathNameraw | FsPathSourceraw if ev.has_path && is_fs_path_event(ev) => {
                s(sink, &ev.path_raw)
            }
            FsPathTarget if ev.has_path2 && is_fs_path_event(ev) => s(sink, &ev.path2),
            FsPathTargetraw if ev.has_path2 && is_fs_path_event(ev) => s(sink, &ev.path2_raw),

            ContainerId => match self.container {
                Some(c) => s(sink, c.short_id().as_bytes()),
                None => s(sink, b"host"),
            },
            ContainerFullId => match self.container {
                Some(c) => s(sink, c.full_id.as_bytes()),
                None => s(sink, b"host"),
            },
            ContainerName => match self.container {
                Some(c) => opt_s(sink, c.name.as_deref().map(str::as_bytes)),
                None => s(sink, b"host"),
            },
            ContainerType => match self.container {
                Some(c) => s(sink, c.runtime.as_str().as_bytes()),
                None => s(sink, b"host"),
            },
            ContainerImage => opt_s(
                sink,
                self.container
                    .and_then(|c| c.image.as_deref())
                    .map(str::as_bytes),
            ),
            ContainerImageRepository => opt_s(
                sink,
                self.container
                    .and_then(|c| c.image_parts())
                    .map(|p| p.0.as_bytes()),
            ),
            ContainerImageTag => opt_s(
                sink,
                self.container
                    .and_then(|c| c.image_parts())
                    .map(|p| p.1.as_bytes()),
            ),
            ContainerPrivileged => {
                if let Some(v) = self.container.and_then(|c| c.privileged) {
                    let _ = sink(Value::Bool(v));
                }
            }
            ContainerStartTs => {
                if let Some(t) = self.container.and_then(|c| c.start_ts) {
                    let _ = sink(Value::U64(t));
                }
            }
            K8sNsName | K8sPodName | K8sPodUid | K8sPodId | K8sPodIp | K8sPodLabel
            | K8sPodLabels => {
                let Some(pod) = self.container.and_then(|c| c.pod.as_ref()) else {
                    return;
                };
                match field {
                    K8sNsName => s(sink, pod.namespace.as_bytes()),
                    K8sPodName => s(sink, pod.name.as_bytes()),
                    K8sPodUid | K8sPodId => s(sink, pod.uid.as_bytes()),
                    K8sPodIp => opt_s(sink, pod.ip.as_deref().map(str::as_bytes)),
                    K8sPodLabel => {
                        if let FieldArg::Key(k) = arg {
                            opt_s(
                                sink,
                                pod.labels
                                    .iter()
                                    .find(|(lk, _)| lk == &**k)
                                    .map(|(_, v)| v.as_bytes()),
                            )
                        }
                    }
                    _ => self.with_scratch(sink, |b| {
                        for (i, (k, v)) in pod.labels.iter().enumerate() {
                            if i > 0 {
                                b.extend_from_slice(b", ");
                            }
                            b.extend_from_slice(k.as_bytes());
                            b.push(b':');
                            b.extend_from_slice(v.as_bytes());
                        }
                        true
                    }),
                }
            }
            _ => {}
        }
    }
}

fn is_fs_path_event(ev: &DecodedEvent) -> bool {
    matches!(ev.kind, Kind::FileOp | Kind::Mount | Kind::Open)
}

/// `evt.category` as Falco names it.
fn category(ev: &DecodedEvent) -> &'static str {
    match ev.kind {
        Kind::Open | Kind::FileOp | Kind::FdOp => "file",
        Kind::Socket | Kind::SockOp => "net",
        Kind::Exec
        | Kind::Clone
        | Kind::ProcFork
        | Kind::ProcExec
        | Kind::ProcExit
        | Kind::SetId
        | Kind::Ptrace => "process",
        Kind::Mount | Kind::Module => "system",
        Kind::Generic => "other",
    }
}

/// Stop after the first value: helper for callers that need one value.
pub fn first_value(
    src: &dyn FieldSource,
    field: Field,
    arg: &FieldArg,
    mut f: impl FnMut(Value<'_>),
) {
    src.visit(field, arg, &mut |v| {
        f(v);
        ControlFlow::Break(())
    });
}
