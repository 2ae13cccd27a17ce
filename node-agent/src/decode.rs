//! Probe record → [`DecodedEvent`]: copy the header and the kind's fixed part into plain fields and
//! the raw parameters into the event's reusable buffers. Paths are resolved later, against state.

use kestrel_engine::{EventTypeId, event_type_by_name};
use kestrel_probe::{EventKind, RawEvent, syscalls};

use crate::event::{AT_FDCWD, DecodedEvent, Kind, NO_FD};
use crate::state::fds::{L4Proto, SockTuple};

/// The boot-clock → wall-clock offset, rounded to the millisecond so that two processes (the live
/// agent and a capture, say) stamp the same event with the same time despite measurement jitter.
pub fn stable_clock_offset() -> i64 {
    let o = kestrel_probe::boot_to_wall_clock_offset();
    (o + 500_000).div_euclid(1_000_000) * 1_000_000
}

/// Syscall number → engine event type, computed once.
pub struct EventTypeMap {
    by_nr: Vec<Option<EventTypeId>>,
    procexit: Option<EventTypeId>,
}

impl Default for EventTypeMap {
    fn default() -> Self {
        Self::new()
    }
}

impl EventTypeMap {
    pub fn new() -> Self {
        let by_nr = (0..512u32)
            .map(|nr| syscalls::name(nr).and_then(event_type_by_name))
            .collect();
        Self {
            by_nr,
            procexit: event_type_by_name("procexit"),
        }
    }

    pub fn syscall(&self, nr: u32) -> Option<EventTypeId> {
        self.by_nr.get(nr as usize).copied().flatten()
    }

    pub fn procexit(&self) -> Option<EventTypeId> {
        self.procexit
    }
}

fn kind_of(k: EventKind) -> Kind {
    match k {
        EventKind::Generic => Kind::Generic,
        EventKind::Execve => Kind::Exec,
        EventKind::Open => Kind::Open,
        EventKind::Socket => Kind::Socket,
        EventKind::SockOp => Kind::SockOp,
        EventKind::FileOp => Kind::FileOp,
        EventKind::Mount => Kind::Mount,
        EventKind::SetId => Kind::SetId,
        EventKind::Ptrace => Kind::Ptrace,
        EventKind::Module => Kind::Module,
        EventKind::Clone => Kind::Clone,
        EventKind::FdOp => Kind::FdOp,
        EventKind::ProcFork => Kind::ProcFork,
        EventKind::ProcExec => Kind::ProcExec,
        EventKind::ProcExit => Kind::ProcExit,
    }
}

fn l4(protocol: u16) -> L4Proto {
    match protocol as i32 {
        libc::IPPROTO_TCP => L4Proto::Tcp,
        libc::IPPROTO_UDP => L4Proto::Udp,
        libc::IPPROTO_ICMP | libc::IPPROTO_ICMPV6 => L4Proto::Icmp,
        libc::IPPROTO_RAW => L4Proto::Raw,
        _ => L4Proto::Unknown,
    }
}

/// The kernel socket's addresses; `None` for non-IP sockets.
pub fn sock_tuple(t: &kestrel_probe::event::SockTuple, is_server: bool) -> Option<SockTuple> {
    let local = t.local().map(|a| (a.ip(), a.port()));
    let remote = t
        .remote()
        .map(|a| (a.ip(), a.port()))
        .filter(|(ip, port)| !(ip.is_unspecified() && *port == 0));
    local?;
    Some(SockTuple {
        l4proto: l4(t.protocol),
        local,
        remote,
        is_server,
    })
}

/// The IP address and port of an AF_INET/AF_INET6 `struct sockaddr`.
fn inet_addr(a: &kestrel_probe::SockAddr<'_>) -> Option<(std::net::IpAddr, u16)> {
    match a {
        kestrel_probe::SockAddr::Inet(v4) => Some(((*v4.ip()).into(), v4.port())),
        kestrel_probe::SockAddr::Inet6(v6) => Some(((*v6.ip()).into(), v6.port())),
        _ => None,
    }
}

/// True when the kernel left this end of the socket unset: no address, or port 0 (the kernel
/// clears the port when a connect fails, keeping the address).
fn unset(end: Option<(std::net::IpAddr, u16)>) -> bool {
    end.is_none_or(|(_, port)| port == 0)
}

/// Fill the end of `t` named by the syscall's address argument when the kernel socket no longer
/// (or not yet) has it, as Falco does: a refused or non-blocking `connect` names its server only
/// in the caller's sockaddr (the kernel resets the peer on failure), and a failed `bind` its
/// local address.
pub fn fill_from_user_addr(t: &mut SockTuple, syscall_nr: i64, user: (std::net::IpAddr, u16)) {
    match syscall_nr {
        libc::SYS_connect if unset(t.remote) => t.remote = Some(user),
        libc::SYS_bind if unset(t.local) => t.local = Some(user),
        _ => {}
    }
}

/// Decode `raw` into `out` (reset first). Returns false for records to skip (an unknown kind, or
/// a syscall the engine has no event type for).
pub fn decode(
    raw: &RawEvent<'_>,
    clock_offset: i64,
    types: &EventTypeMap,
    out: &mut DecodedEvent,
) -> bool {
    out.reset();
    let Some(kind) = raw.kind() else { return false };
    let h = raw.header();
    out.kind = kind_of(kind);
    out.ts_ns = raw.wall_clock_ns(clock_offset).max(0) as u64;
    out.syscall_nr = h.syscall_nr;
    out.tid = h.tid;
    out.tgid = h.tgid;
    out.vtid = h.ns_tid;
    out.vtgid = h.ns_tgid;
    out.ptgid = h.ptgid;
    out.uid = h.uid;
    out.gid = h.gid;
    out.euid = h.euid;
    out.egid = h.egid;
    out.loginuid = h.loginuid;
    out.cap_effective = Some(h.cap_effective);
    out.comm.extend_from_slice(raw.comm());
    out.cgroup_id = h.cgroup_id;
    out.res = h.ret;
    out.truncated = raw.is_truncated() || raw.read_failed();

    let ty = match out.kind {
        Kind::ProcExit => types.procexit(),
        k if k.is_lifecycle() => Some(EventTypeId(0)),
        _ => types.syscall(h.syscall_nr),
    };
    let Some(ty) = ty else { return false };
    out.event_type = ty;

    fn put(buf: &mut Vec<u8>, has: &mut bool, v: Option<&[u8]>) {
        if let Some(v) = v {
            buf.extend_from_slice(v);
            *has = true;
        }
    }

    use kestrel_probe::event::*;
    match out.kind {
        Kind::Generic => {
            if let Some(g) = raw.fixed::<GenericFixed>() {
                out.raw_args = g.args;
            }
        }
        Kind::Exec | Kind::ProcExec => {
            if let Some(x) = raw.fixed::<ExecFixed>() {
                out.dirfd = x.dirfd as i64;
                out.flags = x.flags as u64;
                if x.exe_flags & exe_flags::KNOWN != 0 {
                    out.exe_file = Some(crate::state::procs::ExeFile {
                        ino: x.exe_ino,
                        ctime_ns: x.exe_ctime_ns,
                        mtime_ns: x.exe_mtime_ns,
                        upper_layer: Some(x.exe_flags & exe_flags::UPPER_LAYER != 0),
                    });
                }
            }
            put(&mut out.path_raw, &mut out.has_path, raw.str_param(0));
            out.text.extend_from_slice(raw.param(1).unwrap_or_default());
            out.exe.extend_from_slice(raw.exe().unwrap_or_default());
            out.cwd.extend_from_slice(raw.cwd().unwrap_or_default());
        }
        Kind::Open => {
            if let Some(o) = raw.open() {
                out.dirfd = o.dirfd as i64;
                out.flags = o.flags as u64;
                out.mode = o.mode;
            }
            out.fd = if h.ret >= 0 { h.ret } else { NO_FD };
            put(&mut out.path_raw, &mut out.has_path, raw.path());
        }
        Kind::Socket => {
            if let Some(s) = raw.fixed::<SocketFixed>() {
                out.socket = [s.domain, s.r#type, s.protocol];
            }
            out.fd = if h.ret >= 0 { h.ret } else { NO_FD };
        }
        Kind::SockOp => {
            if let Some(s) = raw.fixed::<SockOpFixed>() {
                let accepting = matches!(h.syscall_nr as i64, libc::SYS_accept | libc::SYS_accept4);
                out.fd = if accepting {
                    if h.ret >= 0 { h.ret } else { NO_FD }
                } else {
                    s.fd as i64
                };
                out.count = s.arg as u64;
                if accepting {
                    out.flags = s.arg as u64;
                }
                let server =
                    accepting || matches!(h.syscall_nr as i64, libc::SYS_listen | libc::SYS_bind);
                out.sock = sock_tuple(&s.tuple, server);
                if let Some(t) = out.sock.as_mut()
                    && let Some(user) = raw.user_sockaddr().and_then(|a| inet_addr(&a))
                {
                    fill_from_user_addr(t, h.syscall_nr as i64, user);
                }
                out.socket = [
                    s.tuple.family as u32,
                    s.tuple.r#type as u32,
                    s.tuple.protocol as u32,
                ];
            }
            if let Some(p) = raw
                .local_unix_path()
                .filter(|p| !p.is_empty())
                .or(raw.peer_unix_path())
            {
                out.text.extend_from_slice(p);
            }
            if out.sock.is_none()
                && let Some(kestrel_probe::SockAddr::Unix(p)) = raw.user_sockaddr()
                && out.text.is_empty()
            {
                out.text.extend_from_slice(p);
            }
        }
        Kind::FileOp => {
            if let Some(f) = raw.fixed::<FileOpFixed>() {
                out.flags = f.flags as u64;
                out.mode = f.mode;
                match h.syscall_nr as i64 {
                    libc::SYS_fchmod | libc::SYS_fchdir => out.fd = f.fd as i64,
                    _ => {
                        out.dirfd = f.fd as i64;
                        out.fd2 = f.fd2 as i64;
                    }
                }
            }
            put(&mut out.path_raw, &mut out.has_path, raw.path());
            put(&mut out.path2_raw, &mut out.has_path2, raw.path2());
        }
        Kind::Mount => {
            if let Some(m) = raw.fixed::<MountFixed>() {
                out.flags = m.flags;
            }
            // mount: source, target, fstype; umount2: target only
            if h.syscall_nr as i64 == libc::SYS_mount {
                put(&mut out.path_raw, &mut out.has_path, raw.str_param(0));
                put(&mut out.path2_raw, &mut out.has_path2, raw.str_param(1));
                out.text
                    .extend_from_slice(raw.str_param(2).unwrap_or_default());
            } else {
                put(
                    &mut out.path_raw,
                    &mut out.has_path,
                    raw.str_param(1).or(raw.str_param(0)),
                );
            }
        }
        Kind::SetId => {
            if let Some(s) = raw.fixed::<SetIdFixed>() {
                out.ids = s.ids;
            }
        }
        Kind::Ptrace => {
            if let Some(p) = raw.fixed::<PtraceFixed>() {
                out.ptrace = [p.request, p.pid, p.addr as i64, p.data as i64];
            }
        }
        Kind::Module => {
            if let Some(m) = raw.fixed::<ModuleFixed>() {
                out.fd = if m.fd >= 0 { m.fd as i64 } else { NO_FD };
                out.flags = m.flags as u64;
                out.count = m.len;
            }
            out.text
                .extend_from_slice(raw.str_param(0).unwrap_or_default());
        }
        Kind::Clone => {
            if let Some(c) = raw.fixed::<CloneFixed>() {
                out.flags = c.flags;
                out.child[0] = c.child_tid;
            }
        }
        Kind::FdOp => {
            if let Some(f) = raw.fixed::<FdOpFixed>() {
                out.fd = f.fd as i64;
                out.fd2 = if f.fd2 >= 0 { f.fd2 as i64 } else { NO_FD };
                out.flags = f.flags as u64;
            }
        }
        Kind::ProcFork => {
            if let Some(f) = raw.fixed::<ProcForkFixed>() {
                out.child = [f.child_tid, f.child_tgid, f.child_ns_tid, f.child_ns_tgid];
            }
        }
        Kind::ProcExit => {
            if let Some(x) = raw.fixed::<ProcExitFixed>() {
                out.exit_code = x.exit_code;
                out.group_dead = x.group_dead != 0;
            }
        }
    }
    if out.dirfd != AT_FDCWD && out.dirfd < 0 && out.kind != Kind::Exec {
        out.dirfd = AT_FDCWD;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn tuple(local: (&str, u16), remote: Option<(&str, u16)>, is_server: bool) -> SockTuple {
        SockTuple {
            l4proto: L4Proto::Tcp,
            local: Some((local.0.parse().unwrap(), local.1)),
            remote: remote.map(|(ip, p)| (ip.parse().unwrap(), p)),
            is_server,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refused_connect_takes_the_server_from_the_callers_address() {
        // the kernel cleared the peer port and kept the address (TCP), or cleared both
        for remote in [Some(("127.0.0.1", 0)), None] {
            let mut t = tuple(("0.0.0.0", 0), remote, false);
            fill_from_user_addr(&mut t, libc::SYS_connect, (ip("127.0.0.1"), 1));
            assert_eq!(t.server(), Some((ip("127.0.0.1"), 1)));
            assert_eq!(t.remote, Some((ip("127.0.0.1"), 1)));
            assert_eq!(t.local, Some((ip("0.0.0.0"), 0)));
        }
        let mut t6 = tuple(("::", 0), None, false);
        fill_from_user_addr(&mut t6, libc::SYS_connect, (ip("::1"), 8443));
        assert_eq!(t6.server(), Some((ip("::1"), 8443)));
    }

    #[test]
    fn a_connected_socket_keeps_the_kernels_peer() {
        let mut t = tuple(("10.0.0.2", 40000), Some(("10.0.0.9", 443)), false);
        fill_from_user_addr(&mut t, libc::SYS_connect, (ip("10.0.0.9"), 8443));
        assert_eq!(t.remote, Some((ip("10.0.0.9"), 443)));
    }

    #[test]
    fn failed_bind_takes_the_local_end_from_the_callers_address() {
        let mut t = tuple(("0.0.0.0", 0), None, true);
        fill_from_user_addr(&mut t, libc::SYS_bind, (ip("127.0.0.1"), 22));
        assert_eq!(t.server(), Some((ip("127.0.0.1"), 22)));
        assert_eq!(t.remote, None);
        // a bound socket keeps its kernel address (port 0 asked → the kernel's pick)
        let mut b = tuple(("127.0.0.1", 41234), None, true);
        fill_from_user_addr(&mut b, libc::SYS_bind, (ip("127.0.0.1"), 0));
        assert_eq!(b.local, Some((ip("127.0.0.1"), 41234)));
        // other syscalls ignore the argument
        let mut l = tuple(("0.0.0.0", 0), None, true);
        fill_from_user_addr(&mut l, libc::SYS_listen, (ip("127.0.0.1"), 22));
        assert_eq!(l.local, Some((ip("0.0.0.0"), 0)));
    }
}
