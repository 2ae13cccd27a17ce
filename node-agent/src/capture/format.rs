//! The capture file format, version 1.
//!
//! ```text
//! header:  "KESTRCAP" (8 bytes) | version u16 | header payload length u32 | header payload
//!          header payload: created_ns u64 | hostname bytes | agent version bytes
//! record:  type u8 | payload length u32 | crc32 of payload u32 | payload
//! ```
//! Integers are little endian; byte strings are a u32 length and the bytes. Record types:
//! 1 process snapshot, 2 container, 3 host users, 4 event (with its fd entry), 5 trailer (counts).
//! A process record replaces the previous one with the same pid: the reader's table is the
//! agent's table restricted to the processes events touched, as it was at each event.

use std::net::IpAddr;

use super::codec::{Dec, Enc, Short};
use crate::event::{DecodedEvent, Kind};
use crate::state::containers::{Container, PodMeta, Runtime};
use crate::state::fds::{FdEntry, FdKind, L4Proto, SockTuple};
use crate::state::procs::Process;
use crate::state::users::UserDb;

pub const MAGIC: &[u8; 8] = b"KESTRCAP";
/// 2: events carry the effective capabilities (`thread.cap_effective`), containers whether they
/// are privileged and when they started, processes their executable's inode facts; version 1
/// files are still read (those fields `<NA>`).
pub const VERSION: u16 = 2;

pub const REC_PROCESS: u8 = 1;
pub const REC_CONTAINER: u8 = 2;
pub const REC_USERS: u8 = 3;
pub const REC_EVENT: u8 = 4;
pub const REC_TRAILER: u8 = 5;

/// What the capture says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub created_ns: u64,
    pub hostname: String,
    pub agent_version: String,
}

pub fn encode_header(h: &Header) -> Vec<u8> {
    let mut p = Enc::default();
    p.u64(h.created_ns)
        .bytes(h.hostname.as_bytes())
        .bytes(h.agent_version.as_bytes());
    let mut out = Vec::with_capacity(14 + p.buf.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(p.buf.len() as u32).to_le_bytes());
    out.extend_from_slice(&p.buf);
    out
}

pub fn decode_header_payload(b: &[u8]) -> Result<Header, Short> {
    let mut d = Dec::new(b);
    Ok(Header {
        created_ns: d.u64("created time")?,
        hostname: d.string("hostname")?,
        agent_version: d.string("agent version")?,
    })
}

/// Frame one record.
pub fn frame(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

pub fn encode_process(p: &Process, e: &mut Enc) {
    e.u32(p.pid)
        .u32(p.ppid)
        .u32(p.vpid)
        .u32(p.pgid)
        .u32(p.sid)
        .u32(p.tty)
        .u32(p.loginuid)
        .u64(p.start_ns);
    e.u32(p.container.unwrap_or(u32::MAX));
    e.bytes(&p.comm)
        .bytes(&p.exe)
        .bytes(&p.exepath)
        .bytes(&p.args)
        .bytes(&p.cmdline)
        .bytes(&p.cwd);
    // version 2
    let x = p.exe_file.unwrap_or_default();
    e.u8(match (p.exe_file.is_some(), x.upper_layer) {
        (false, _) => 0,
        (true, None) => 1,
        (true, Some(false)) => 2,
        (true, Some(true)) => 3,
    })
    .u64(x.ino)
    .u64(x.ctime_ns)
    .u64(x.mtime_ns);
}

pub fn decode_process(d: &mut Dec<'_>, version: u16) -> Result<Process, Short> {
    let mut p = Process {
        pid: d.u32("pid")?,
        ppid: d.u32("ppid")?,
        vpid: d.u32("vpid")?,
        pgid: d.u32("pgid")?,
        sid: d.u32("sid")?,
        tty: d.u32("tty")?,
        loginuid: d.u32("loginuid")?,
        start_ns: d.u64("start time")?,
        ..Default::default()
    };
    let c = d.u32("container slot")?;
    p.container = (c != u32::MAX).then_some(c);
    p.comm = d.bytes("comm")?.to_vec();
    p.exe = d.bytes("exe")?.to_vec();
    p.exepath = d.bytes("exepath")?.to_vec();
    p.args = d.bytes("args")?.to_vec();
    p.cmdline = d.bytes("cmdline")?.to_vec();
    p.cwd = d.bytes("cwd")?.to_vec();
    if version >= 2 {
        let known = d.u8("executable facts")?;
        let (ino, ctime_ns, mtime_ns) = (
            d.u64("executable inode")?,
            d.u64("executable ctime")?,
            d.u64("executable mtime")?,
        );
        p.exe_file = (known != 0).then_some(crate::state::procs::ExeFile {
            ino,
            ctime_ns,
            mtime_ns,
            upper_layer: match known {
                2 => Some(false),
                3 => Some(true),
                _ => None,
            },
        });
    }
    Ok(p)
}

pub fn encode_users(u: &UserDb, e: &mut Enc) {
    let (users, groups) = u.entries();
    e.u32(users.len() as u32);
    for (uid, user) in users {
        e.u32(uid)
            .bytes(&user.name)
            .bytes(&user.homedir)
            .bytes(&user.shell);
    }
    e.u32(groups.len() as u32);
    for (gid, name) in groups {
        e.u32(gid).bytes(name);
    }
}

pub fn decode_users(d: &mut Dec<'_>) -> Result<UserDb, Short> {
    let mut db = UserDb::default();
    for _ in 0..d.u32("user count")? {
        let uid = d.u32("uid")?;
        let name = d.bytes("user name")?.to_vec();
        let homedir = d.bytes("home")?.to_vec();
        let shell = d.bytes("shell")?.to_vec();
        db.insert_user(
            uid,
            crate::state::users::User {
                name,
                homedir,
                shell,
            },
        );
    }
    for _ in 0..d.u32("group count")? {
        let gid = d.u32("gid")?;
        let name = d.bytes("group name")?.to_vec();
        db.insert_group(gid, name);
    }
    Ok(db)
}

fn runtime_code(r: Runtime) -> u8 {
    match r {
        Runtime::Containerd => 1,
        Runtime::CriO => 2,
        Runtime::Docker => 3,
        Runtime::Podman => 4,
    }
}

fn runtime_from(c: u8) -> Runtime {
    match c {
        2 => Runtime::CriO,
        3 => Runtime::Docker,
        4 => Runtime::Podman,
        _ => Runtime::Containerd,
    }
}

pub fn encode_container(slot: u32, c: &Container, e: &mut Enc) {
    e.u32(slot)
        .bytes(c.full_id.as_bytes())
        .u8(runtime_code(c.runtime));
    e.opt_str(c.pod_uid.as_deref())
        .opt_str(c.name.as_deref())
        .opt_str(c.image.as_deref());
    match &c.pod {
        Some(p) => {
            e.u8(1)
                .bytes(p.name.as_bytes())
                .bytes(p.namespace.as_bytes())
                .bytes(p.uid.as_bytes());
            e.u32(p.labels.len() as u32);
            for (k, v) in &p.labels {
                e.bytes(k.as_bytes()).bytes(v.as_bytes());
            }
            e.opt_str(p.ip.as_deref());
        }
        None => {
            e.u8(0);
        }
    }
    match &c.users {
        Some(u) => {
            e.u8(1);
            encode_users(u, e);
        }
        None => {
            e.u8(0);
        }
    }
    // version 2
    e.u8(match c.privileged {
        None => 0,
        Some(false) => 1,
        Some(true) => 2,
    });
    e.u8(c.start_ts.is_some() as u8)
        .u64(c.start_ts.unwrap_or(0));
}

pub fn decode_container(d: &mut Dec<'_>, version: u16) -> Result<(u32, Container), Short> {
    let slot = d.u32("container slot")?;
    let full_id = d.string("container id")?;
    let runtime = runtime_from(d.u8("runtime")?);
    let pod_uid = d.opt_string("pod uid")?;
    let name = d.opt_string("container name")?;
    let image = d.opt_string("image")?;
    let pod = if d.u8("pod flag")? == 1 {
        let name = d.string("pod name")?;
        let namespace = d.string("pod namespace")?;
        let uid = d.string("pod uid")?;
        let mut labels = Vec::new();
        for _ in 0..d.u32("label count")? {
            labels.push((d.string("label key")?, d.string("label value")?));
        }
        let ip = d.opt_string("pod ip")?;
        Some(PodMeta {
            name,
            namespace,
            uid,
            labels,
            ip,
        })
    } else {
        None
    };
    let users = if d.u8("users flag")? == 1 {
        Some(decode_users(d)?)
    } else {
        None
    };
    let (mut privileged, mut start_ts) = (None, None);
    if version >= 2 {
        privileged = match d.u8("privileged")? {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        };
        let has_start = d.u8("start time flag")? == 1;
        let t = d.u64("start time")?;
        start_ts = has_start.then_some(t);
    }
    Ok((
        slot,
        Container {
            full_id,
            runtime,
            pod_uid,
            name,
            image,
            pod,
            users,
            privileged,
            start_ts,
        },
    ))
}

fn fd_kind_code(k: FdKind) -> u8 {
    k as u8
}

fn fd_kind_from(c: u8) -> FdKind {
    use FdKind::*;
    [
        File, Directory, Ipv4, Ipv6, Unix, Pipe, Event, Signal, EventPoll, Inotify, Timer, Netlink,
        Memfd, Unknown,
    ]
    .get(c as usize)
    .copied()
    .unwrap_or(Unknown)
}

fn encode_addr(a: Option<(IpAddr, u16)>, e: &mut Enc) {
    match a {
        None => {
            e.u8(0);
        }
        Some((IpAddr::V4(ip), port)) => {
            e.u8(4).bytes(&ip.octets()).u16(port);
        }
        Some((IpAddr::V6(ip), port)) => {
            e.u8(6).bytes(&ip.octets()).u16(port);
        }
    }
}

fn decode_addr(d: &mut Dec<'_>) -> Result<Option<(IpAddr, u16)>, Short> {
    Ok(match d.u8("address family")? {
        4 => {
            let b = d.bytes("ipv4 address")?;
            let ip: [u8; 4] = b.try_into().map_err(|_| Short {
                what: "ipv4 address",
                needed: 4,
            })?;
            Some((IpAddr::from(ip), d.u16("port")?))
        }
        6 => {
            let b = d.bytes("ipv6 address")?;
            let ip: [u8; 16] = b.try_into().map_err(|_| Short {
                what: "ipv6 address",
                needed: 16,
            })?;
            Some((IpAddr::from(ip), d.u16("port")?))
        }
        _ => None,
    })
}

fn encode_sock(t: &Option<SockTuple>, e: &mut Enc) {
    match t {
        None => {
            e.u8(0);
        }
        Some(t) => {
            e.u8(1).u8(t.l4proto as u8).u8(t.is_server as u8);
            encode_addr(t.local, e);
            encode_addr(t.remote, e);
        }
    }
}

fn decode_sock(d: &mut Dec<'_>) -> Result<Option<SockTuple>, Short> {
    if d.u8("socket flag")? == 0 {
        return Ok(None);
    }
    let l4proto = match d.u8("l4 protocol")? {
        0 => L4Proto::Tcp,
        1 => L4Proto::Udp,
        2 => L4Proto::Icmp,
        3 => L4Proto::Raw,
        _ => L4Proto::Unknown,
    };
    let is_server = d.u8("server flag")? == 1;
    let local = decode_addr(d)?;
    let remote = decode_addr(d)?;
    Ok(Some(SockTuple {
        l4proto,
        local,
        remote,
        is_server,
    }))
}

/// An event and the fd entry it was about.
pub fn encode_event(ev: &DecodedEvent, evt_type: &str, fd: Option<&FdEntry>, e: &mut Enc) {
    e.u64(ev.ts_ns)
        .u8(ev.kind as u8)
        .bytes(evt_type.as_bytes())
        .u32(ev.syscall_nr);
    for v in [
        ev.tid,
        ev.tgid,
        ev.vtid,
        ev.vtgid,
        ev.ptgid,
        ev.uid,
        ev.gid,
        ev.euid,
        ev.egid,
        ev.loginuid,
    ] {
        e.u32(v);
    }
    e.u8(ev.cap_effective.is_some() as u8)
        .u64(ev.cap_effective.unwrap_or(0));
    e.bytes(&ev.comm)
        .u64(ev.cgroup_id)
        .i64(ev.res)
        .u8(ev.truncated as u8);
    e.i64(ev.fd)
        .i64(ev.fd2)
        .i64(ev.dirfd)
        .u64(ev.flags)
        .u32(ev.mode);
    for v in ev.ids {
        e.u32(v);
    }
    for v in ev.ptrace {
        e.i64(v);
    }
    for v in ev.socket {
        e.u32(v);
    }
    encode_sock(&ev.sock, e);
    e.u64(ev.count);
    for v in ev.child {
        e.u32(v);
    }
    e.u32(ev.exit_code as u32).u8(ev.group_dead as u8);
    for v in ev.raw_args {
        e.u64(v);
    }
    e.u8(ev.has_path as u8).bytes(&ev.path).bytes(&ev.path_raw);
    e.u8(ev.has_path2 as u8)
        .bytes(&ev.path2)
        .bytes(&ev.path2_raw);
    e.bytes(&ev.text).bytes(&ev.exe).bytes(&ev.cwd);
    match fd {
        None => {
            e.u8(0);
        }
        Some(f) => {
            e.u8(1)
                .u8(fd_kind_code(f.kind))
                .bytes(&f.name)
                .u32(f.open_flags);
            encode_sock(&f.sock, e);
        }
    }
}

/// Decode an event record: the event (its `event_type` still unset), its type name, its fd entry.
#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error(transparent)]
    Short(#[from] Short),
    #[error("unknown event kind {0}")]
    Kind(u8),
}

pub fn decode_event(
    d: &mut Dec<'_>,
    ev: &mut DecodedEvent,
    version: u16,
) -> Result<(String, Option<FdEntry>), EventDecodeError> {
    ev.reset();
    ev.ts_ns = d.u64("timestamp")?;
    let k = d.u8("kind")?;
    ev.kind = Kind::from_u8(k).ok_or(EventDecodeError::Kind(k))?;
    let ty = d.string("event type")?;
    ev.syscall_nr = d.u32("syscall nr")?;
    ev.tid = d.u32("tid")?;
    ev.tgid = d.u32("tgid")?;
    ev.vtid = d.u32("vtid")?;
    ev.vtgid = d.u32("vtgid")?;
    ev.ptgid = d.u32("ptgid")?;
    ev.uid = d.u32("uid")?;
    ev.gid = d.u32("gid")?;
    ev.euid = d.u32("euid")?;
    ev.egid = d.u32("egid")?;
    ev.loginuid = d.u32("loginuid")?;
    if version >= 2 {
        let has = d.u8("capabilities present")? == 1;
        let caps = d.u64("effective capabilities")?;
        ev.cap_effective = has.then_some(caps);
    }
    ev.comm.extend_from_slice(d.bytes("comm")?);
    ev.cgroup_id = d.u64("cgroup id")?;
    ev.res = d.i64("res")?;
    ev.truncated = d.u8("truncated")? == 1;
    ev.fd = d.i64("fd")?;
    ev.fd2 = d.i64("fd2")?;
    ev.dirfd = d.i64("dirfd")?;
    ev.flags = d.u64("flags")?;
    ev.mode = d.u32("mode")?;
    for i in 0..3 {
        ev.ids[i] = d.u32("ids")?;
    }
    for i in 0..4 {
        ev.ptrace[i] = d.i64("ptrace args")?;
    }
    for i in 0..3 {
        ev.socket[i] = d.u32("socket args")?;
    }
    ev.sock = decode_sock(d)?;
    ev.count = d.u64("count")?;
    for i in 0..4 {
        ev.child[i] = d.u32("child ids")?;
    }
    ev.exit_code = d.u32("exit code")? as i32;
    ev.group_dead = d.u8("group dead")? == 1;
    for i in 0..6 {
        ev.raw_args[i] = d.u64("raw args")?;
    }
    ev.has_path = d.u8("path flag")? == 1;
    ev.path.extend_from_slice(d.bytes("path")?);
    ev.path_raw.extend_from_slice(d.bytes("raw path")?);
    ev.has_path2 = d.u8("path2 flag")? == 1;
    ev.path2.extend_from_slice(d.bytes("path2")?);
    ev.path2_raw.extend_from_slice(d.bytes("raw path2")?);
    ev.text.extend_from_slice(d.bytes("text")?);
    ev.exe.extend_from_slice(d.bytes("exe")?);
    ev.cwd.extend_from_slice(d.bytes("cwd")?);
    let fd = if d.u8("fd flag")? == 1 {
        let kind = fd_kind_from(d.u8("fd kind")?);
        let mut entry = FdEntry::new(kind);
        entry.name = d.bytes("fd name")?.to_vec();
        entry.open_flags = d.u32("fd flags")?;
        entry.sock = decode_sock(d)?;
        Some(entry)
    } else {
        None
    };
    Ok((ty, fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> DecodedEvent {
        let mut ev = DecodedEvent {
            kind: Kind::Open,
            ts_ns: 7,
            syscall_nr: 257,
            tid: 11,
            tgid: 10,
            uid: 1000,
            loginuid: 1000,
            cap_effective: Some((1 << 21) | 1),
            res: 3,
            fd: 3,
            ..Default::default()
        };
        ev.comm.extend_from_slice(b"cat");
        ev
    }

    #[test]
    fn capabilities_round_trip_in_version_2() {
        let ev = event();
        let mut e = Enc::default();
        encode_event(&ev, "openat", None, &mut e);
        let mut back = DecodedEvent::default();
        let (ty, fd) = decode_event(&mut Dec::new(&e.buf), &mut back, 2).unwrap();
        assert_eq!((ty.as_str(), fd), ("openat", None));
        assert_eq!(back.cap_effective, Some((1 << 21) | 1));
        assert_eq!(
            (back.tid, back.uid, back.res, back.comm.as_slice()),
            (11, 1000, 3, &b"cat"[..])
        );
    }

    #[test]
    fn containers_round_trip_with_privilege_and_start_time() {
        let c = Container {
            full_id: "c".repeat(64),
            runtime: Runtime::Containerd,
            pod_uid: Some("uid-1".into()),
            name: Some("nginx".into()),
            image: Some("nginx:1.27".into()),
            pod: None,
            users: None,
            privileged: Some(true),
            start_ts: Some(1_796_292_001_000_000_000),
        };
        let mut e = Enc::default();
        encode_container(3, &c, &mut e);
        let (slot, back) = decode_container(&mut Dec::new(&e.buf), 2).unwrap();
        assert_eq!((slot, &back), (3, &c));
        let unknown = Container {
            privileged: None,
            start_ts: None,
            ..c
        };
        let mut e = Enc::default();
        encode_container(0, &unknown, &mut e);
        assert_eq!(
            decode_container(&mut Dec::new(&e.buf), 2).unwrap().1,
            unknown
        );
    }

    #[test]
    fn processes_round_trip_with_executable_facts() {
        for upper_layer in [None, Some(false), Some(true)] {
            let mut p = Process {
                pid: 42,
                ppid: 1,
                start_ns: 9,
                exe_file: Some(crate::state::procs::ExeFile {
                    ino: 1234,
                    ctime_ns: 5,
                    mtime_ns: 6,
                    upper_layer,
                }),
                ..Default::default()
            };
            p.set_command(b"sh", &[b"sh".as_slice(), b"-c"]);
            let mut e = Enc::default();
            encode_process(&p, &mut e);
            let back = decode_process(&mut Dec::new(&e.buf), 2).unwrap();
            assert_eq!(back.exe_file, p.exe_file);
            assert_eq!((back.pid, back.cmdline.as_slice()), (42, &b"sh -c"[..]));
        }
        let p = Process::default();
        let mut e = Enc::default();
        encode_process(&p, &mut e);
        assert_eq!(
            decode_process(&mut Dec::new(&e.buf), 2).unwrap().exe_file,
            None
        );
    }

    #[test]
    fn version_1_events_have_no_capabilities() {
        let ev = event();
        let mut e = Enc::default();
        encode_event(&ev, "openat", None, &mut e);
        // version 1 had no capability bytes (a u8 flag and a u64) after the ten ids
        let mut prefix = Enc::default();
        prefix
            .u64(ev.ts_ns)
            .u8(ev.kind as u8)
            .bytes(b"openat")
            .u32(ev.syscall_nr);
        for _ in 0..10 {
            prefix.u32(0);
        }
        let cut = prefix.buf.len();
        let mut v1 = e.buf[..cut].to_vec();
        v1.extend_from_slice(&e.buf[cut + 9..]);
        let mut back = DecodedEvent::default();
        decode_event(&mut Dec::new(&v1), &mut back, 1).unwrap();
        assert_eq!(back.cap_effective, None);
        assert_eq!(
            (back.tid, back.loginuid, back.res, back.fd),
            (11, 1000, 3, 3)
        );
        assert_eq!(back.comm, b"cat");
    }
}
