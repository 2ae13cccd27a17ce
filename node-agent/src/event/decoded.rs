//! [`DecodedEvent`]: one syscall or lifecycle event, decoded from the probe's record into plain
//! fields. Buffers are reused from one event to the next, so decoding allocates nothing once warm.
//! It is also what a capture file stores, so live and replayed events are read the same way.

use kestrel_engine::EventTypeId;

use crate::state::fds::SockTuple;

/// No fd: the event is not about a file descriptor.
pub const NO_FD: i64 = i64::MIN;
/// `AT_FDCWD`: paths relative to the current working directory.
pub const AT_FDCWD: i64 = -100;

/// What shape of event this is (which fields below are meaningful).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Kind {
    #[default]
    Generic = 1,
    Exec = 2,
    Open = 3,
    Socket = 4,
    SockOp = 5,
    FileOp = 6,
    Mount = 7,
    SetId = 8,
    Ptrace = 9,
    Module = 10,
    Clone = 11,
    FdOp = 12,
    ProcFork = 32,
    ProcExec = 33,
    ProcExit = 34,
}

impl Kind {
    pub fn from_u8(v: u8) -> Option<Kind> {
        Some(match v {
            1 => Kind::Generic,
            2 => Kind::Exec,
            3 => Kind::Open,
            4 => Kind::Socket,
            5 => Kind::SockOp,
            6 => Kind::FileOp,
            7 => Kind::Mount,
            8 => Kind::SetId,
            9 => Kind::Ptrace,
            10 => Kind::Module,
            11 => Kind::Clone,
            12 => Kind::FdOp,
            32 => Kind::ProcFork,
            33 => Kind::ProcExec,
            34 => Kind::ProcExit,
            _ => return None,
        })
    }

    /// Lifecycle events come from scheduler tracepoints, not from a syscall.
    pub fn is_lifecycle(self) -> bool {
        matches!(self, Kind::ProcFork | Kind::ProcExec | Kind::ProcExit)
    }
}

/// One event in plain fields.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedEvent {
    /// `evt.num`: position in the agent's stream, from 1.
    pub num: u64,
    /// Wall-clock time, ns since the Unix epoch.
    pub ts_ns: u64,
    pub kind: Kind,
    pub event_type: EventTypeId,
    /// x86_64 syscall number; `u32::MAX` for lifecycle events.
    pub syscall_nr: u32,
    pub tid: u32,
    pub tgid: u32,
    pub vtid: u32,
    pub vtgid: u32,
    pub ptgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    /// Effective capability bits (`None`: not recorded, as in a version 1 capture).
    pub cap_effective: Option<u64>,
    /// A successful exec: the executed file's inode facts.
    pub exe_file: Option<crate::state::procs::ExeFile>,
    pub comm: Vec<u8>,
    pub cgroup_id: u64,
    /// The syscall's return value.
    pub res: i64,
    /// Set when the probe truncated a parameter or failed to read one.
    pub truncated: bool,

    /// The fd the event is about (`fd.num`): the returned fd of open/socket/accept/dup, the fd
    /// argument of connect/bind/listen/close/fchmod/fchdir/finit_module; [`NO_FD`] otherwise.
    pub fd: i64,
    /// The second fd argument: dup2/dup3 newfd, renameat newdirfd.
    pub fd2: i64,
    /// dirfd of *at calls; [`AT_FDCWD`] otherwise.
    pub dirfd: i64,
    /// Flags: open flags, unlinkat/renameat2/fchmodat2 flags, mount flags, clone flags, dup3
    /// flags, execveat flags, finit_module flags, accept4 flags.
    pub flags: u64,
    /// mode of open/creat/mkdir/chmod.
    pub mode: u32,
    /// setuid family ids in argument order (`u32::MAX` unused).
    pub ids: [u32; 3],
    /// ptrace request, pid, addr, data.
    pub ptrace: [i64; 4],
    /// socket domain, type, protocol.
    pub socket: [u32; 3],
    /// Addresses of the socket (connect/accept/bind/listen), read from the kernel.
    pub sock: Option<SockTuple>,
    /// connect/bind addrlen, listen backlog, init_module length.
    pub count: u64,
    /// Lifecycle: child tid/tgid/vtid/vtgid of a fork; exit code and `group_dead` of an exit.
    pub child: [u32; 4],
    pub exit_code: i32,
    pub group_dead: bool,
    /// Raw syscall arguments (generic events).
    pub raw_args: [u64; 6],

    /// Path argument resolved to an absolute, normalised path (`fs.path.name`, `fd.name` of opens).
    pub path: Vec<u8>,
    /// Path argument as the process passed it (`fs.path.nameraw`).
    pub path_raw: Vec<u8>,
    pub has_path: bool,
    /// Second path: rename target, mount target.
    pub path2: Vec<u8>,
    pub path2_raw: Vec<u8>,
    pub has_path2: bool,
    /// exec: NUL-separated argv; mount: filesystem type; init_module: uargs; unix socket path.
    pub text: Vec<u8>,
    /// exec: the executable's path from the kernel.
    pub exe: Vec<u8>,
    /// exec: the working directory from the kernel.
    pub cwd: Vec<u8>,
}

impl Default for DecodedEvent {
    fn default() -> Self {
        Self {
            num: 0,
            ts_ns: 0,
            kind: Kind::Generic,
            event_type: EventTypeId(0),
            syscall_nr: u32::MAX,
            tid: 0,
            tgid: 0,
            vtid: 0,
            vtgid: 0,
            ptgid: 0,
            uid: 0,
            gid: 0,
            euid: 0,
            egid: 0,
            loginuid: u32::MAX,
            cap_effective: None,
            exe_file: None,
            comm: Vec::new(),
            cgroup_id: 0,
            res: 0,
            truncated: false,
            fd: NO_FD,
            fd2: NO_FD,
            dirfd: AT_FDCWD,
            flags: 0,
            mode: 0,
            ids: [u32::MAX; 3],
            ptrace: [0; 4],
            socket: [0; 3],
            sock: None,
            count: 0,
            child: [0; 4],
            exit_code: 0,
            group_dead: false,
            raw_args: [0; 6],
            path: Vec::new(),
            path_raw: Vec::new(),
            has_path: false,
            path2: Vec::new(),
            path2_raw: Vec::new(),
            has_path2: false,
            text: Vec::new(),
            exe: Vec::new(),
            cwd: Vec::new(),
        }
    }
}

impl DecodedEvent {
    /// Reset every field for the next event, keeping buffer capacity.
    pub fn reset(&mut self) {
        let mut bufs = [
            std::mem::take(&mut self.comm),
            std::mem::take(&mut self.path),
            std::mem::take(&mut self.path_raw),
            std::mem::take(&mut self.path2),
            std::mem::take(&mut self.path2_raw),
            std::mem::take(&mut self.text),
            std::mem::take(&mut self.exe),
            std::mem::take(&mut self.cwd),
        ];
        for b in bufs.iter_mut() {
            b.clear();
        }
        let [comm, path, path_raw, path2, path2_raw, text, exe, cwd] = bufs;
        *self = DecodedEvent {
            comm,
            path,
            path_raw,
            path2,
            path2_raw,
            text,
            exe,
            cwd,
            ..Default::default()
        };
    }

    /// The NUL-separated argv of an exec, one argument at a time.
    pub fn argv(&self) -> impl Iterator<Item = &[u8]> {
        let t = self.text.strip_suffix(b"\0").unwrap_or(&self.text);
        t.split(|b| *b == 0).filter(move |_| !t.is_empty())
    }

    pub fn is_open_read(&self) -> bool {
        self.kind == Kind::Open
            && matches!(
                self.flags as i32 & libc::O_ACCMODE,
                libc::O_RDONLY | libc::O_RDWR
            )
    }

    pub fn is_open_write(&self) -> bool {
        self.kind == Kind::Open
            && matches!(
                self.flags as i32 & libc::O_ACCMODE,
                libc::O_WRONLY | libc::O_RDWR
            )
    }

    pub fn is_open_create(&self) -> bool {
        self.kind == Kind::Open && (self.flags as i32 & libc::O_CREAT) != 0
    }

    /// Falco: a file created with an execute bit.
    pub fn is_open_exec(&self) -> bool {
        self.is_open_create() && self.mode & 0o111 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_keeps_capacity_and_clears() {
        let mut e = DecodedEvent {
            fd: 3,
            has_path: true,
            ..Default::default()
        };
        e.path.extend_from_slice(b"/etc/passwd");
        let cap = e.path.capacity();
        e.reset();
        assert_eq!((e.fd, e.has_path, e.path.len()), (NO_FD, false, 0));
        assert_eq!(e.path.capacity(), cap);
    }

    #[test]
    fn argv_split() {
        let mut e = DecodedEvent::default();
        assert_eq!(e.argv().count(), 0);
        e.text.extend_from_slice(b"cat\0/etc/passwd\0");
        let v: Vec<&[u8]> = e.argv().collect();
        assert_eq!(v, [&b"cat"[..], b"/etc/passwd"]);
    }

    #[test]
    fn open_modes() {
        let e = DecodedEvent {
            kind: Kind::Open,
            flags: libc::O_RDONLY as u64,
            ..Default::default()
        };
        assert!(e.is_open_read() && !e.is_open_write());
        let e = DecodedEvent {
            kind: Kind::Open,
            flags: (libc::O_WRONLY | libc::O_CREAT) as u64,
            mode: 0o755,
            ..Default::default()
        };
        assert!(!e.is_open_read() && e.is_open_write() && e.is_open_create() && e.is_open_exec());
        let e = DecodedEvent {
            kind: Kind::Open,
            flags: libc::O_RDWR as u64,
            ..Default::default()
        };
        assert!(e.is_open_read() && e.is_open_write() && !e.is_open_create());
    }
}
