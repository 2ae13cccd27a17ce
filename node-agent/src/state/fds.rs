//! The fd table of a process: what each open file descriptor points at, for `fd.*` fields.
//!
//! Entries keep their name buffers when an fd number is reused, so steady-state open/close
//! traffic does not allocate.

use std::collections::HashMap;
use std::net::IpAddr;

/// `fd.type` / `fd.typechar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdKind {
    File,
    Directory,
    Ipv4,
    Ipv6,
    Unix,
    Pipe,
    Event,
    Signal,
    EventPoll,
    Inotify,
    Timer,
    Netlink,
    Memfd,
    Unknown,
}

impl FdKind {
    pub fn type_name(self) -> &'static str {
        match self {
            FdKind::File => "file",
            FdKind::Directory => "directory",
            FdKind::Ipv4 => "ipv4",
            FdKind::Ipv6 => "ipv6",
            FdKind::Unix => "unix",
            FdKind::Pipe => "pipe",
            FdKind::Event => "event",
            FdKind::Signal => "signalfd",
            FdKind::EventPoll => "eventpoll",
            FdKind::Inotify => "inotify",
            FdKind::Timer => "timerfd",
            FdKind::Netlink => "netlink",
            FdKind::Memfd => "memfd",
            FdKind::Unknown => "unknown",
        }
    }

    pub fn type_char(self) -> &'static str {
        match self {
            FdKind::File => "f",
            FdKind::Directory => "d",
            FdKind::Ipv4 => "4",
            FdKind::Ipv6 => "6",
            FdKind::Unix => "u",
            FdKind::Pipe => "p",
            FdKind::Event => "e",
            FdKind::Signal => "s",
            FdKind::EventPoll => "l",
            FdKind::Inotify => "i",
            FdKind::Timer => "t",
            FdKind::Netlink => "n",
            FdKind::Memfd => "m",
            FdKind::Unknown => "o",
        }
    }
}

/// The two ends of a socket, as `fd.cip/cport` (client) and `fd.sip/sport` (server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockTuple {
    pub l4proto: L4Proto,
    pub local: Option<(IpAddr, u16)>,
    pub remote: Option<(IpAddr, u16)>,
    /// True for the accepting/listening side: then local is the server end.
    pub is_server: bool,
}

impl SockTuple {
    pub fn client(&self) -> Option<(IpAddr, u16)> {
        if self.is_server {
            self.remote
        } else {
            self.local
        }
    }
    pub fn server(&self) -> Option<(IpAddr, u16)> {
        if self.is_server {
            self.local
        } else {
            self.remote
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4Proto {
    Tcp,
    Udp,
    Icmp,
    Raw,
    Unknown,
}

impl L4Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            L4Proto::Tcp => "tcp",
            L4Proto::Udp => "udp",
            L4Proto::Icmp => "icmp",
            L4Proto::Raw => "raw",
            L4Proto::Unknown => "<NA>",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdEntry {
    pub kind: FdKind,
    /// `fd.name`: the path for files, `cip:cport->sip:sport` for connected sockets, the path for unix
    /// sockets.
    pub name: Vec<u8>,
    pub sock: Option<SockTuple>,
    /// open flags, when the fd came from an open.
    pub open_flags: u32,
}

impl FdEntry {
    pub fn new(kind: FdKind) -> Self {
        Self {
            kind,
            name: Vec::new(),
            sock: None,
            open_flags: 0,
        }
    }

    /// `fd.directory`: the directory part of a file path.
    pub fn directory(&self) -> &[u8] {
        dirname(&self.name)
    }

    /// `fd.filename`: the last component of a file path.
    pub fn filename(&self) -> &[u8] {
        basename(&self.name)
    }
}

pub fn dirname(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|b| *b == b'/') {
        Some(0) => b"/",
        Some(i) => &path[..i],
        None => b"",
    }
}

pub fn basename(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|b| *b == b'/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The open fds of one process.
#[derive(Debug, Clone, Default)]
pub struct FdTable {
    entries: HashMap<i64, FdEntry>,
    spare: Vec<FdEntry>,
}

impl FdTable {
    pub fn get(&self, fd: i64) -> Option<&FdEntry> {
        self.entries.get(&fd)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Record `fd` as `kind` named `name`, reusing buffers of closed entries.
    pub fn set(&mut self, fd: i64, kind: FdKind, name: &[u8]) -> &mut FdEntry {
        let spare = &mut self.spare;
        let entry = self
            .entries
            .entry(fd)
            .or_insert_with(|| spare.pop().unwrap_or_else(|| FdEntry::new(kind)));
        entry.kind = kind;
        entry.name.clear();
        entry.name.extend_from_slice(name);
        entry.sock = None;
        entry.open_flags = 0;
        entry
    }

    pub fn close(&mut self, fd: i64) {
        if let Some(e) = self.entries.remove(&fd)
            && self.spare.len() < 64
        {
            self.spare.push(e);
        }
    }

    /// `dup2(old, new)`: new points where old points.
    pub fn dup(&mut self, old: i64, new: i64) {
        if old == new {
            return;
        }
        match self.entries.get(&old).cloned() {
            Some(e) => {
                self.entries.insert(new, e);
            }
            None => self.close(new),
        }
    }

    /// Close every fd whose entry matches (exec closes the O_CLOEXEC ones).
    pub fn close_matching(&mut self, mut pred: impl FnMut(&FdEntry) -> bool) {
        self.entries.retain(|_, e| !pred(e));
    }

    pub fn clear(&mut self) {
        let fds: Vec<i64> = self.entries.keys().copied().collect();
        for fd in fds {
            self.close(fd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_and_base() {
        assert_eq!(dirname(b"/etc/passwd"), b"/etc");
        assert_eq!(basename(b"/etc/passwd"), b"passwd");
        assert_eq!(dirname(b"/passwd"), b"/");
        assert_eq!(dirname(b"relative"), b"");
        assert_eq!(basename(b"/usr/bin/"), b"");
    }

    #[test]
    fn set_close_dup() {
        let mut t = FdTable::default();
        t.set(3, FdKind::File, b"/etc/passwd");
        assert_eq!(t.get(3).unwrap().filename(), b"passwd");
        t.dup(3, 7);
        assert_eq!(t.get(7).unwrap().name, b"/etc/passwd");
        t.close(3);
        assert!(t.get(3).is_none());
        assert_eq!(t.len(), 1);
        // dup of an unknown fd closes the target, as dup2 would replace it
        t.dup(42, 7);
        assert!(t.is_empty());
        // reuse keeps no stale socket data
        let e = t.set(5, FdKind::File, b"/tmp/x");
        assert_eq!((e.sock, e.open_flags), (None, 0));
    }

    #[test]
    fn sock_tuple_sides() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t = SockTuple {
            l4proto: L4Proto::Tcp,
            local: Some((a, 40000)),
            remote: Some((b, 80)),
            is_server: false,
        };
        assert_eq!(t.client(), Some((a, 40000)));
        assert_eq!(t.server(), Some((b, 80)));
        let s = SockTuple {
            is_server: true,
            ..t
        };
        assert_eq!(s.server(), Some((a, 40000)));
    }
}
