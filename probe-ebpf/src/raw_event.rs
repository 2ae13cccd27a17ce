//! Zero-copy view of one ring buffer record.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::event::{
    EventHeader, EventKind, ExecFixed, FixedPart, NO_SYSCALL, OpenFixed, SockOpFixed, SockTuple,
    flags, param,
};

/// Why a record could not be read as an event (never expected from a matching kernel side;
/// counted as `malformed` in [`DropCounts`](crate::DropCounts)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedEvent {
    /// Shorter than a header.
    #[error("record of {0} bytes is shorter than the event header")]
    TooShort(usize),
    /// Not aligned for the header (ring buffer records are 8-aligned).
    #[error("record is not 8-byte aligned")]
    Misaligned,
    /// header.len disagrees with the record.
    #[error("header length {header} exceeds the record length {record}")]
    BadLength {
        /// header.len
        header: u32,
        /// bytes in the record
        record: usize,
    },
    /// Fixed part or parameter lengths run past the end.
    #[error("fixed part or parameters run past the end of the event")]
    BadParams,
}

/// One event as it sits in the ring buffer: a header, a fixed part chosen by the kind and
/// length-prefixed parameters. Borrowed; valid during the [`drain`](crate::Probe::drain)
/// callback. Every accessor is a few loads, nothing allocates.
#[derive(Clone, Copy, Debug)]
pub struct RawEvent<'a> {
    header: &'a EventHeader,
    fixed: &'a [u8],
    lens: &'a [u8],
    data: &'a [u8],
}

impl<'a> RawEvent<'a> {
    /// Validates `bytes` (one record) and returns a view on it.
    pub fn parse(bytes: &'a [u8]) -> Result<RawEvent<'a>, MalformedEvent> {
        const H: usize = size_of::<EventHeader>();
        if bytes.len() < H {
            return Err(MalformedEvent::TooShort(bytes.len()));
        }
        if !(bytes.as_ptr() as usize).is_multiple_of(align_of::<EventHeader>()) {
            return Err(MalformedEvent::Misaligned);
        }
        // SAFETY: length and alignment checked; EventHeader is repr(C) integers only.
        let header = unsafe { &*(bytes.as_ptr() as *const EventHeader) };
        let len = header.len as usize;
        if len < H || len > bytes.len() {
            return Err(MalformedEvent::BadLength {
                header: header.len,
                record: bytes.len(),
            });
        }
        let bytes = &bytes[..len];
        let fixed_end = H + header.fixed_len as usize;
        let lens_end = fixed_end + 2 * header.nparams as usize;
        if lens_end > len {
            return Err(MalformedEvent::BadParams);
        }
        let lens = &bytes[fixed_end..lens_end];
        let total: usize = lens
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]) as usize)
            .sum();
        if lens_end + total > len {
            return Err(MalformedEvent::BadParams);
        }
        Ok(RawEvent {
            header,
            fixed: &bytes[H..fixed_end],
            lens,
            data: &bytes[lens_end..lens_end + total],
        })
    }

    /// The raw header.
    pub fn header(&self) -> &'a EventHeader {
        self.header
    }

    /// The kind, or None for a kind this build does not know.
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_raw(self.header.kind)
    }

    /// x86_64 syscall number; None for lifecycle events.
    pub fn syscall_nr(&self) -> Option<u32> {
        (self.header.syscall_nr != NO_SYSCALL).then_some(self.header.syscall_nr)
    }

    /// Syscall name (e.g. `"openat"`); None for lifecycle events.
    pub fn syscall_name(&self) -> Option<&'static str> {
        self.syscall_nr().and_then(crate::syscalls::name)
    }

    /// Syscall return value (negative errno on failure); 0 for lifecycle events.
    pub fn ret(&self) -> i64 {
        self.header.ret
    }

    /// CLOCK_BOOTTIME nanoseconds; see [`crate::boot_to_wall_clock_offset`].
    pub fn ts_boot_ns(&self) -> u64 {
        self.header.ts_boot_ns
    }

    /// Wall-clock (Unix epoch) nanoseconds, given [`crate::boot_to_wall_clock_offset`].
    pub fn wall_clock_ns(&self, offset: i64) -> i64 {
        crate::clock::boot_ns_to_wall_clock_ns(self.header.ts_boot_ns, offset)
    }

    /// Host thread id.
    pub fn tid(&self) -> u32 {
        self.header.tid
    }

    /// Host process id.
    pub fn tgid(&self) -> u32 {
        self.header.tgid
    }

    /// Thread id in the task's pid namespace.
    pub fn ns_tid(&self) -> u32 {
        self.header.ns_tid
    }

    /// Process id in the task's pid namespace.
    pub fn ns_tgid(&self) -> u32 {
        self.header.ns_tgid
    }

    /// Host process id of the real parent.
    pub fn ptgid(&self) -> u32 {
        self.header.ptgid
    }

    /// Real uid.
    pub fn uid(&self) -> u32 {
        self.header.uid
    }

    /// Real gid.
    pub fn gid(&self) -> u32 {
        self.header.gid
    }

    /// Effective uid.
    pub fn euid(&self) -> u32 {
        self.header.euid
    }

    /// Effective gid.
    pub fn egid(&self) -> u32 {
        self.header.egid
    }

    /// Audit login uid (`u32::MAX` when unset).
    /// Effective capability bits of the task.
    pub fn cap_effective(&self) -> u64 {
        self.header.cap_effective
    }

    pub fn loginuid(&self) -> u32 {
        self.header.loginuid
    }

    /// cgroup v2 id.
    pub fn cgroup_id(&self) -> u64 {
        self.header.cgroup_id
    }

    /// Task comm without the NUL padding.
    pub fn comm(&self) -> &'a [u8] {
        trim_nul(&self.header.comm)
    }

    /// [`flags`] bits.
    pub fn flags(&self) -> u16 {
        self.header.flags
    }

    /// A parameter was truncated (or dropped because the event was full).
    pub fn is_truncated(&self) -> bool {
        self.header.flags & flags::TRUNCATED != 0
    }

    /// A parameter read failed in the kernel.
    pub fn read_failed(&self) -> bool {
        self.header.flags & flags::READ_FAILED != 0
    }

    /// The fixed part as `T`, if this event's kind uses `T`.
    pub fn fixed<T: FixedPart>(&self) -> Option<&'a T> {
        let kind = self.kind()?;
        if !T::KINDS.contains(&kind) || self.fixed.len() < size_of::<T>() {
            return None;
        }
        let p = self.fixed.as_ptr();
        if !(p as usize).is_multiple_of(align_of::<T>()) {
            return None;
        }
        // SAFETY: kind, size and alignment checked; T is plain integers (FixedPart contract).
        Some(unsafe { &*(p as *const T) })
    }

    /// Number of variable-length parameters.
    pub fn nparams(&self) -> usize {
        self.lens.len() / 2
    }

    fn param_len(&self, i: usize) -> usize {
        u16::from_le_bytes([self.lens[2 * i], self.lens[2 * i + 1]]) as usize
    }

    /// Bytes of parameter `i` (possibly empty); None if the kind has fewer parameters.
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        if i >= self.nparams() {
            return None;
        }
        let start: usize = (0..i).map(|j| self.param_len(j)).sum();
        Some(&self.data[start..start + self.param_len(i)])
    }

    /// Parameter `i` as a string (bytes, not necessarily UTF-8); None if absent or empty.
    pub fn str_param(&self, i: usize) -> Option<&'a [u8]> {
        self.param(i).filter(|p| !p.is_empty())
    }

    /// Path of an open/fileop event, filename of an exec event.
    pub fn path(&self) -> Option<&'a [u8]> {
        match self.kind()? {
            EventKind::Open => self.str_param(param::open::PATH),
            EventKind::FileOp => self.str_param(param::fileop::PATH),
            EventKind::Execve | EventKind::ProcExec => self.str_param(param::exec::FILENAME),
            EventKind::Mount => self.str_param(param::mount::TARGET),
            _ => None,
        }
    }

    /// New path of a rename.
    pub fn path2(&self) -> Option<&'a [u8]> {
        match self.kind()? {
            EventKind::FileOp => self.str_param(param::fileop::PATH2),
            _ => None,
        }
    }

    /// Open flags of an open event.
    pub fn open(&self) -> Option<&'a OpenFixed> {
        self.fixed()
    }

    /// Fixed part of an exec event.
    pub fn exec(&self) -> Option<&'a ExecFixed> {
        self.fixed()
    }

    /// Arguments of an exec event.
    pub fn argv(&self) -> Argv<'a> {
        let block = match self.kind() {
            Some(EventKind::Execve | EventKind::ProcExec) => {
                self.param(param::exec::ARGV).unwrap_or(&[])
            }
            _ => &[],
        };
        Argv { rest: block }
    }

    /// Path of the executed file (exec events, on success).
    pub fn exe(&self) -> Option<&'a [u8]> {
        match self.kind()? {
            EventKind::Execve | EventKind::ProcExec => self.str_param(param::exec::EXE),
            _ => None,
        }
    }

    /// Current working directory (exec events).
    pub fn cwd(&self) -> Option<&'a [u8]> {
        match self.kind()? {
            EventKind::Execve | EventKind::ProcExec => self.str_param(param::exec::CWD),
            _ => None,
        }
    }

    /// Socket addresses read from the kernel socket (sockop events).
    pub fn sock_tuple(&self) -> Option<&'a SockTuple> {
        self.fixed::<SockOpFixed>().map(|f| &f.tuple)
    }

    /// Parameter `i` decoded as a `struct sockaddr`; None if absent or empty.
    pub fn sockaddr(&self, i: usize) -> Option<SockAddr<'a>> {
        self.str_param(i).map(SockAddr::parse)
    }

    /// The sockaddr passed to connect/bind, decoded.
    pub fn user_sockaddr(&self) -> Option<SockAddr<'a>> {
        match self.kind()? {
            EventKind::SockOp => self
                .str_param(param::sockop::USER_ADDR)
                .map(SockAddr::parse),
            _ => None,
        }
    }

    /// AF_UNIX path bound to the socket (sockop events), trailing NULs removed;
    /// abstract names keep their leading NUL.
    pub fn local_unix_path(&self) -> Option<&'a [u8]> {
        self.unix_param(param::sockop::LOCAL_UNIX)
    }

    /// AF_UNIX path of the peer (sockop events).
    pub fn peer_unix_path(&self) -> Option<&'a [u8]> {
        self.unix_param(param::sockop::PEER_UNIX)
    }

    fn unix_param(&self, i: usize) -> Option<&'a [u8]> {
        match self.kind()? {
            EventKind::SockOp => self.str_param(i).map(unix_path).filter(|p| !p.is_empty()),
            _ => None,
        }
    }
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// `sun_path` bytes: abstract names (leading NUL) are kept whole minus trailing NULs,
/// pathnames stop at the first NUL.
fn unix_path(p: &[u8]) -> &[u8] {
    if p.first() == Some(&0) {
        let end = p.iter().rposition(|&c| c != 0).map_or(1, |i| i + 1);
        &p[..end]
    } else {
        trim_nul(p)
    }
}

/// Iterator over the NUL-separated arguments of an exec event.
#[derive(Clone, Debug)]
pub struct Argv<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Argv<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        match self.rest.iter().position(|&c| c == 0) {
            Some(i) => {
                let arg = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                Some(arg)
            }
            None => {
                // last argument cut by truncation
                let arg = self.rest;
                self.rest = &[];
                Some(arg)
            }
        }
    }
}

/// A decoded `struct sockaddr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockAddr<'a> {
    /// AF_INET.
    Inet(SocketAddrV4),
    /// AF_INET6.
    Inet6(SocketAddrV6),
    /// AF_UNIX `sun_path` (abstract names start with a NUL).
    Unix(&'a [u8]),
    /// AF_UNSPEC or a family not decoded here, or too short for its family.
    Other {
        /// sa_family (0 if the buffer was shorter than 2 bytes).
        family: u16,
    },
}

impl<'a> SockAddr<'a> {
    /// Decodes raw sockaddr bytes as passed to connect/bind.
    pub fn parse(b: &'a [u8]) -> SockAddr<'a> {
        if b.len() < 2 {
            return SockAddr::Other { family: 0 };
        }
        let family = u16::from_le_bytes([b[0], b[1]]);
        match family as i32 {
            libc::AF_INET if b.len() >= 8 => {
                let port = u16::from_be_bytes([b[2], b[3]]);
                let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
                SockAddr::Inet(SocketAddrV4::new(ip, port))
            }
            libc::AF_INET6 if b.len() >= 24 => {
                let port = u16::from_be_bytes([b[2], b[3]]);
                let flow = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                let mut ip = [0u8; 16];
                ip.copy_from_slice(&b[8..24]);
                let scope = if b.len() >= 28 {
                    u32::from_le_bytes([b[24], b[25], b[26], b[27]])
                } else {
                    0
                };
                SockAddr::Inet6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope))
            }
            libc::AF_UNIX => SockAddr::Unix(unix_path(&b[2..])),
            _ => SockAddr::Other { family },
        }
    }
}

impl SockTuple {
    fn addr(&self, bytes: &[u8; 16], port: u16) -> Option<SocketAddr> {
        match self.family as i32 {
            libc::AF_INET => {
                let ip = Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]);
                Some(SocketAddr::V4(SocketAddrV4::new(ip, port)))
            }
            libc::AF_INET6 => Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(*bytes),
                port,
                0,
                0,
            ))),
            _ => None,
        }
    }

    /// Local address and port (AF_INET/AF_INET6 sockets).
    pub fn local(&self) -> Option<SocketAddr> {
        self.addr(&self.local_addr, self.local_port)
    }

    /// Remote address and port (AF_INET/AF_INET6 sockets; unspecified when unconnected).
    pub fn remote(&self) -> Option<SocketAddr> {
        self.addr(&self.remote_addr, self.remote_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{OpenFixed, limits};

    /// An 8-aligned buffer holding one record built like the kernel side does.
    fn record(kind: EventKind, nr: u32, fixed: &[u8], params: &[&[u8]]) -> Vec<u64> {
        let mut b = vec![0u8; limits::HEADER_BYTES as usize];
        b.extend_from_slice(fixed);
        for p in params {
            b.extend_from_slice(&(p.len() as u16).to_le_bytes());
        }
        for p in params {
            b.extend_from_slice(p);
        }
        let h = EventHeader {
            len: b.len() as u32,
            kind: kind as u16,
            syscall_nr: nr,
            tid: 11,
            tgid: 10,
            nparams: params.len() as u16,
            fixed_len: fixed.len() as u16,
            comm: *b"cat\0\0\0\0\0\0\0\0\0\0\0\0\0",
            ret: 3,
            ..Default::default()
        };
        // SAFETY: EventHeader is repr(C) plain data.
        let hb = unsafe {
            std::slice::from_raw_parts(
                &h as *const EventHeader as *const u8,
                size_of::<EventHeader>(),
            )
        };
        b[..hb.len()].copy_from_slice(hb);
        let mut words = vec![0u64; b.len().div_ceil(8)];
        // SAFETY: words has at least b.len() bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), words.as_mut_ptr() as *mut u8, b.len())
        };
        words
    }

    fn bytes(words: &[u64], len: usize) -> &[u8] {
        // SAFETY: reading initialized u64s as bytes.
        unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, len) }
    }

    fn as_bytes<T>(v: &T) -> &[u8] {
        // SAFETY: plain data.
        unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }
    }

    #[test]
    fn parses_an_open_event() {
        let f = OpenFixed {
            dirfd: -100,
            flags: 0o101,
            mode: 0o644,
            ..Default::default()
        };
        let w = record(EventKind::Open, 257, as_bytes(&f), &[b"/etc/passwd"]);
        let len = 104 + 24 + 2 + 11;
        let ev = RawEvent::parse(bytes(&w, len)).unwrap();
        assert_eq!(ev.kind(), Some(EventKind::Open));
        assert_eq!(ev.syscall_name(), Some("openat"));
        assert_eq!(ev.comm(), b"cat");
        assert_eq!((ev.tid(), ev.tgid(), ev.ret()), (11, 10, 3));
        assert_eq!(ev.path(), Some(&b"/etc/passwd"[..]));
        assert_eq!(ev.open().unwrap().flags, 0o101);
        assert_eq!(ev.open().unwrap().dirfd, -100);
        assert!(ev.exec().is_none());
        assert_eq!(ev.param(1), None);
    }

    #[test]
    fn argv_and_params_of_an_exec_event() {
        let f = ExecFixed::default();
        let w = record(
            EventKind::Execve,
            59,
            as_bytes(&f),
            &[b"/bin/true", b"true\0-a\0\0x\0", b"/usr/bin/true", b"", b""],
        );
        let len = 104 + 40 + 10 + 9 + 11 + 13;
        let ev = RawEvent::parse(bytes(&w, len)).unwrap();
        let args: Vec<&[u8]> = ev.argv().collect();
        assert_eq!(args, vec![&b"true"[..], b"-a", b"", b"x"]);
        assert_eq!(ev.exe(), Some(&b"/usr/bin/true"[..]));
        assert_eq!(ev.cwd(), None);
        assert_eq!(ev.param(3), Some(&b""[..]));
    }

    #[test]
    fn rejects_bad_records() {
        let w = record(EventKind::Open, 257, &[0u8; 24], &[b"/x"]);
        assert!(matches!(
            RawEvent::parse(bytes(&w, 50)),
            Err(MalformedEvent::TooShort(50))
        ));
        // record cut short: header.len says more than there is
        assert!(matches!(
            RawEvent::parse(bytes(&w, 104 + 24 + 2 + 1)),
            Err(MalformedEvent::BadLength { .. })
        ));
        // a param length running past the end
        let mut w2 = w.clone();
        let lens_at = 104 + 24;
        // SAFETY: in bounds of the buffer.
        unsafe { *(w2.as_mut_ptr() as *mut u8).add(lens_at) = 200 };
        assert!(matches!(
            RawEvent::parse(bytes(&w2, 104 + 24 + 2 + 2)),
            Err(MalformedEvent::BadParams)
        ));
    }

    #[test]
    fn decodes_sockaddrs() {
        let mut v4 = vec![2u8, 0, 0x1f, 0x90, 127, 0, 0, 1];
        v4.extend_from_slice(&[0; 8]);
        assert_eq!(
            SockAddr::parse(&v4),
            SockAddr::Inet("127.0.0.1:8080".parse().unwrap())
        );
        let mut v6 = vec![10u8, 0, 0, 80, 0, 0, 0, 0];
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        v6.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            SockAddr::parse(&v6),
            SockAddr::Inet6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 80, 0, 0))
        );
        let mut un = vec![1u8, 0];
        un.extend_from_slice(b"/run/x.sock\0\0");
        assert_eq!(SockAddr::parse(&un), SockAddr::Unix(b"/run/x.sock"));
        let abs = [1u8, 0, 0, b'a', b'b', 0];
        assert_eq!(SockAddr::parse(&abs), SockAddr::Unix(b"\0ab"));
        assert_eq!(SockAddr::parse(&[16, 0, 1]), SockAddr::Other { family: 16 });
        assert_eq!(SockAddr::parse(&[2, 0, 1]), SockAddr::Other { family: 2 });
    }

    #[test]
    fn tuple_addresses() {
        let mut t = SockTuple {
            family: libc::AF_INET as u16,
            local_port: 40000,
            remote_port: 80,
            ..Default::default()
        };
        t.local_addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        t.remote_addr[..4].copy_from_slice(&[10, 1, 2, 3]);
        assert_eq!(t.local(), Some("127.0.0.1:40000".parse().unwrap()));
        assert_eq!(t.remote(), Some("10.1.2.3:80".parse().unwrap()));
        t.family = libc::AF_UNIX as u16;
        assert_eq!(t.local(), None);
    }
}
