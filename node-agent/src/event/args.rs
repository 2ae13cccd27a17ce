//! Falco's syscall argument names and renderings, for `evt.arg.NAME`, `evt.arg[N]`, `evt.rawarg.NAME`
//! and `evt.args`: `evt.arg.flags` of an open is `O_RDONLY|O_CLOEXEC`, `evt.arg.mode` of a chmod is
//! `S_IRUSR|...|S_ISUID`, `evt.arg.request` of a ptrace is `PTRACE_ATTACH`, as Falco prints them.

use std::io::Write as _;

use super::decoded::{AT_FDCWD, DecodedEvent, Kind, NO_FD};

/// Where an argument's value comes from in a [`DecodedEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSrc {
    Res,
    Fd,
    Fd2,
    Dirfd,
    Path,
    Path2,
    OpenFlags,
    /// Octal number (open, creat, mkdir).
    ModeOct,
    /// Falco's `S_I*` flag names (chmod family).
    ModeFlags,
    AtFlags,
    RenameFlags,
    MountFlags,
    CloneFlags,
    HexFlags,
    Id(usize),
    Request,
    Pid,
    Addr,
    Data,
    Tuple,
    Domain,
    SockType,
    Proto,
    Count,
    Exe,
    Args,
    Cwd,
    Text,
}

use ArgSrc::*;

type Table = &'static [(&'static str, ArgSrc)];

/// The arguments of an event, in Falco's order and with Falco's names.
pub fn table(ev: &DecodedEvent) -> Table {
    if ev.kind == Kind::ProcExit {
        return &[("status", Res)];
    }
    match ev.syscall_nr as i64 {
        libc::SYS_open => &[
            ("fd", Res),
            ("name", Path),
            ("flags", OpenFlags),
            ("mode", ModeOct),
        ],
        libc::SYS_openat => &[
            ("fd", Res),
            ("dirfd", Dirfd),
            ("name", Path),
            ("flags", OpenFlags),
            ("mode", ModeOct),
        ],
        libc::SYS_openat2 => &[
            ("fd", Res),
            ("dirfd", Dirfd),
            ("name", Path),
            ("flags", OpenFlags),
            ("mode", ModeOct),
        ],
        libc::SYS_creat => &[("fd", Res), ("name", Path), ("mode", ModeOct)],
        libc::SYS_execve => &[("res", Res), ("exe", Exe), ("args", Args), ("cwd", Cwd)],
        libc::SYS_execveat => &[
            ("res", Res),
            ("dirfd", Dirfd),
            ("exe", Exe),
            ("args", Args),
            ("cwd", Cwd),
            ("flags", HexFlags),
        ],
        libc::SYS_socket => &[
            ("fd", Res),
            ("domain", Domain),
            ("type", SockType),
            ("proto", Proto),
        ],
        libc::SYS_connect => &[("res", Res), ("fd", Fd), ("tuple", Tuple), ("addr", Tuple)],
        libc::SYS_accept | libc::SYS_accept4 => {
            &[("fd", Res), ("tuple", Tuple), ("flags", HexFlags)]
        }
        libc::SYS_bind => &[("res", Res), ("fd", Fd), ("addr", Tuple)],
        libc::SYS_listen => &[("res", Res), ("fd", Fd), ("backlog", Count)],
        libc::SYS_unlink => &[("res", Res), ("path", Path)],
        libc::SYS_unlinkat => &[
            ("res", Res),
            ("dirfd", Dirfd),
            ("name", Path),
            ("flags", AtFlags),
        ],
        libc::SYS_rmdir => &[("res", Res), ("path", Path)],
        libc::SYS_mkdir => &[("res", Res), ("path", Path), ("mode", ModeOct)],
        libc::SYS_mkdirat => &[
            ("res", Res),
            ("dirfd", Dirfd),
            ("path", Path),
            ("mode", ModeOct),
        ],
        libc::SYS_rename => &[("res", Res), ("oldpath", Path), ("newpath", Path2)],
        libc::SYS_renameat => &[
            ("res", Res),
            ("olddirfd", Dirfd),
            ("oldpath", Path),
            ("newdirfd", Fd2),
            ("newpath", Path2),
        ],
        libc::SYS_renameat2 => &[
            ("res", Res),
            ("olddirfd", Dirfd),
            ("oldpath", Path),
            ("newdirfd", Fd2),
            ("newpath", Path2),
            ("flags", RenameFlags),
        ],
        libc::SYS_chmod => &[("res", Res), ("filename", Path), ("mode", ModeFlags)],
        libc::SYS_fchmod => &[("res", Res), ("fd", Fd), ("mode", ModeFlags)],
        libc::SYS_fchmodat => &[
            ("res", Res),
            ("dirfd", Dirfd),
            ("filename", Path),
            ("mode", ModeFlags),
        ],
        libc::SYS_chdir => &[("res", Res), ("path", Path)],
        libc::SYS_fchdir => &[("res", Res), ("fd", Fd)],
        libc::SYS_setuid => &[("res", Res), ("uid", Id(0))],
        libc::SYS_setgid => &[("res", Res), ("gid", Id(0))],
        libc::SYS_setreuid => &[("res", Res), ("ruid", Id(0)), ("euid", Id(1))],
        libc::SYS_setregid => &[("res", Res), ("rgid", Id(0)), ("egid", Id(1))],
        libc::SYS_setresuid => &[
            ("res", Res),
            ("ruid", Id(0)),
            ("euid", Id(1)),
            ("suid", Id(2)),
        ],
        libc::SYS_setresgid => &[
            ("res", Res),
            ("rgid", Id(0)),
            ("egid", Id(1)),
            ("sgid", Id(2)),
        ],
        libc::SYS_ptrace => &[
            ("res", Res),
            ("request", Request),
            ("pid", Pid),
            ("addr", Addr),
            ("data", Data),
        ],
        libc::SYS_init_module => &[("res", Res), ("length", Count), ("uargs", Text)],
        libc::SYS_finit_module => &[
            ("res", Res),
            ("fd", Fd),
            ("uargs", Text),
            ("flags", HexFlags),
        ],
        libc::SYS_mount => &[
            ("res", Res),
            ("dev", Path),
            ("dir", Path2),
            ("type", Text),
            ("flags", MountFlags),
        ],
        libc::SYS_umount2 => &[("res", Res), ("name", Path), ("flags", HexFlags)],
        libc::SYS_clone | libc::SYS_clone3 | libc::SYS_fork | libc::SYS_vfork => {
            &[("res", Res), ("flags", CloneFlags)]
        }
        libc::SYS_dup => &[("res", Res), ("oldfd", Fd)],
        libc::SYS_dup2 => &[("res", Res), ("oldfd", Fd), ("newfd", Fd2)],
        libc::SYS_dup3 => &[
            ("res", Res),
            ("oldfd", Fd),
            ("newfd", Fd2),
            ("flags", HexFlags),
        ],
        libc::SYS_fcntl => &[("res", Res), ("fd", Fd)],
        libc::SYS_close => &[("res", Res), ("fd", Fd)],
        _ => &[],
    }
}

/// Find an argument by Falco name.
pub fn by_name(ev: &DecodedEvent, name: &str) -> Option<ArgSrc> {
    table(ev).iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Find an argument by position (`evt.arg[0]`).
pub fn by_index(ev: &DecodedEvent, i: usize) -> Option<ArgSrc> {
    table(ev).get(i).map(|(_, s)| *s)
}

/// The raw numeric value of an argument (`evt.rawarg.NAME`), when it is a number.
pub fn raw(ev: &DecodedEvent, src: ArgSrc) -> Option<i64> {
    Some(match src {
        Res => ev.res,
        Fd if ev.fd != NO_FD => ev.fd,
        Fd2 if ev.fd2 != NO_FD => ev.fd2,
        Dirfd => ev.dirfd,
        OpenFlags | AtFlags | RenameFlags | MountFlags | CloneFlags | HexFlags => ev.flags as i64,
        ModeOct | ModeFlags => ev.mode as i64,
        Id(i) => ev.ids[i] as i64,
        Request => ev.ptrace[0],
        Pid => ev.ptrace[1],
        Addr => ev.ptrace[2],
        Data => ev.ptrace[3],
        Domain => ev.socket[0] as i64,
        SockType => ev.socket[1] as i64,
        Proto => ev.socket[2] as i64,
        Count => ev.count as i64,
        _ => return None,
    })
}

fn flag_names(out: &mut Vec<u8>, value: u64, names: &[(u64, &str)]) {
    let start = out.len();
    for (bit, name) in names {
        if *bit != 0 && value & bit == *bit {
            if out.len() > start {
                out.push(b'|');
            }
            out.extend_from_slice(name.as_bytes());
        }
    }
    if out.len() == start {
        let _ = write!(out, "{value}");
    }
}

const OPEN_FLAGS: &[(u64, &str)] = &[
    (libc::O_WRONLY as u64, "O_WRONLY"),
    (libc::O_RDWR as u64, "O_RDWR"),
    (libc::O_CREAT as u64, "O_CREAT"),
    (libc::O_EXCL as u64, "O_EXCL"),
    (libc::O_NOCTTY as u64, "O_NOCTTY"),
    (libc::O_TRUNC as u64, "O_TRUNC"),
    (libc::O_APPEND as u64, "O_APPEND"),
    (libc::O_NONBLOCK as u64, "O_NONBLOCK"),
    (libc::O_DSYNC as u64, "O_DSYNC"),
    (libc::O_DIRECT as u64, "O_DIRECT"),
    (libc::O_LARGEFILE as u64, "O_LARGEFILE"),
    (libc::O_DIRECTORY as u64, "O_DIRECTORY"),
    (libc::O_NOFOLLOW as u64, "O_NOFOLLOW"),
    (libc::O_NOATIME as u64, "O_NOATIME"),
    (libc::O_CLOEXEC as u64, "O_CLOEXEC"),
    (libc::O_PATH as u64, "O_PATH"),
    (libc::O_TMPFILE as u64, "O_TMPFILE"),
];

const MODE_FLAGS: &[(u64, &str)] = &[
    (0o1, "S_IXOTH"),
    (0o2, "S_IWOTH"),
    (0o4, "S_IROTH"),
    (0o10, "S_IXGRP"),
    (0o20, "S_IWGRP"),
    (0o40, "S_IRGRP"),
    (0o100, "S_IXUSR"),
    (0o200, "S_IWUSR"),
    (0o400, "S_IRUSR"),
    (0o1000, "S_ISVTX"),
    (0o2000, "S_ISGID"),
    (0o4000, "S_ISUID"),
];

const AT_FLAGS: &[(u64, &str)] = &[(libc::AT_REMOVEDIR as u64, "AT_REMOVEDIR")];

const RENAME_FLAGS: &[(u64, &str)] = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];

const MOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "RDONLY"),
    (2, "NOSUID"),
    (4, "NODEV"),
    (8, "NOEXEC"),
    (16, "SYNCHRONOUS"),
    (32, "REMOUNT"),
    (64, "MANDLOCK"),
    (128, "DIRSYNC"),
    (1024, "NOATIME"),
    (2048, "NODIRATIME"),
    (4096, "BIND"),
    (8192, "MOVE"),
    (16384, "REC"),
    (32768, "SILENT"),
    (1 << 16, "POSIXACL"),
    (1 << 17, "UNBINDABLE"),
    (1 << 18, "PRIVATE"),
    (1 << 19, "SLAVE"),
    (1 << 20, "SHARED"),
    (1 << 21, "RELATIME"),
    (1 << 24, "STRICTATIME"),
    (1 << 25, "LAZYTIME"),
];

const CLONE_FLAGS: &[(u64, &str)] = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
];

fn ptrace_request(r: i64) -> Option<&'static str> {
    Some(match r {
        0 => "PTRACE_TRACEME",
        1 => "PTRACE_PEEKTEXT",
        2 => "PTRACE_PEEKDATA",
        3 => "PTRACE_PEEKUSR",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSR",
        7 => "PTRACE_CONT",
        8 => "PTRACE_KILL",
        9 => "PTRACE_SINGLESTEP",
        12 => "PTRACE_GETREGS",
        13 => "PTRACE_SETREGS",
        14 => "PTRACE_GETFPREGS",
        15 => "PTRACE_SETFPREGS",
        16 => "PTRACE_ATTACH",
        17 => "PTRACE_DETACH",
        18 => "PTRACE_GETFPXREGS",
        19 => "PTRACE_SETFPXREGS",
        24 => "PTRACE_SYSCALL",
        0x4200 => "PTRACE_SETOPTIONS",
        0x4201 => "PTRACE_GETEVENTMSG",
        0x4202 => "PTRACE_GETSIGINFO",
        0x4203 => "PTRACE_SETSIGINFO",
        0x4204 => "PTRACE_GETREGSET",
        0x4205 => "PTRACE_SETREGSET",
        0x4206 => "PTRACE_SEIZE",
        0x4207 => "PTRACE_INTERRUPT",
        0x4208 => "PTRACE_LISTEN",
        0x4209 => "PTRACE_PEEKSIGINFO",
        _ => return None,
    })
}

fn domain_name(d: u32) -> Option<&'static str> {
    Some(match d as i32 {
        libc::AF_UNIX => "AF_UNIX",
        libc::AF_INET => "AF_INET",
        libc::AF_INET6 => "AF_INET6",
        libc::AF_NETLINK => "AF_NETLINK",
        libc::AF_PACKET => "AF_PACKET",
        _ => return None,
    })
}

fn sock_type_name(t: u32) -> Option<&'static str> {
    Some(match (t & 0xf) as i32 {
        libc::SOCK_STREAM => "SOCK_STREAM",
        libc::SOCK_DGRAM => "SOCK_DGRAM",
        libc::SOCK_RAW => "SOCK_RAW",
        libc::SOCK_SEQPACKET => "SOCK_SEQPACKET",
        _ => return None,
    })
}

/// Falco's socket tuple text: `10.0.0.1:40000->10.0.0.2:80` (client first).
pub fn write_tuple(out: &mut Vec<u8>, t: &crate::state::fds::SockTuple) -> bool {
    let (Some(c), Some(s)) = (t.client(), t.server()) else {
        if let Some((ip, port)) = t.local.or(t.remote) {
            let _ = write!(out, "{ip}:{port}");
            return true;
        }
        return false;
    };
    let _ = write!(out, "{}:{}->{}:{}", c.0, c.1, s.0, s.1);
    true
}

/// Render one argument as Falco prints it. Returns false when the event has no value for it.
pub fn render(ev: &DecodedEvent, src: ArgSrc, out: &mut Vec<u8>) -> bool {
    match src {
        Res => {
            let _ = write!(out, "{}", ev.res);
        }
        Fd | Fd2 if raw(ev, src).is_none() => return false,
        Dirfd if ev.dirfd == AT_FDCWD => out.extend_from_slice(b"AT_FDCWD"),
        Fd | Fd2 | Dirfd | Id(_) | Pid | Count => {
            let _ = write!(out, "{}", raw(ev, src).unwrap_or_default());
        }
        Addr | Data => {
            let _ = write!(out, "{:#x}", raw(ev, src).unwrap_or_default());
        }
        Path if !ev.has_path => return false,
        Path => out.extend_from_slice(&ev.path),
        Path2 if !ev.has_path2 => return false,
        Path2 => out.extend_from_slice(&ev.path2),
        OpenFlags => {
            if ev.flags as i32 & libc::O_ACCMODE == libc::O_RDONLY {
                out.extend_from_slice(b"O_RDONLY");
                if ev.flags & !(libc::O_ACCMODE as u64) != 0 {
                    out.push(b'|');
                    flag_names(out, ev.flags & !(libc::O_ACCMODE as u64), OPEN_FLAGS);
                }
            } else {
                flag_names(out, ev.flags, OPEN_FLAGS);
            }
        }
        ModeOct => {
            let _ = write!(out, "0{:o}", ev.mode);
        }
        ModeFlags => flag_names(out, ev.mode as u64, MODE_FLAGS),
        AtFlags => flag_names(out, ev.flags, AT_FLAGS),
        RenameFlags => flag_names(out, ev.flags, RENAME_FLAGS),
        MountFlags => flag_names(out, ev.flags, MOUNT_FLAGS),
        CloneFlags => flag_names(out, ev.flags, CLONE_FLAGS),
        HexFlags => {
            let _ = write!(out, "{:#x}", ev.flags);
        }
        Request => match ptrace_request(ev.ptrace[0]) {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => {
                let _ = write!(out, "{}", ev.ptrace[0]);
            }
        },
        Tuple => match &ev.sock {
            Some(t) => {
                if !write_tuple(out, t) {
                    if ev.text.is_empty() {
                        return false;
                    }
                    out.extend_from_slice(&ev.text);
                }
            }
            None => return false,
        },
        Domain => match domain_name(ev.socket[0]) {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => {
                let _ = write!(out, "{}", ev.socket[0]);
            }
        },
        SockType => match sock_type_name(ev.socket[1]) {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => {
                let _ = write!(out, "{}", ev.socket[1]);
            }
        },
        Proto => {
            let _ = write!(out, "{}", ev.socket[2]);
        }
        Exe => out.extend_from_slice(if ev.exe.is_empty() { &ev.path } else { &ev.exe }),
        Args => {
            for (i, a) in ev.argv().skip(1).enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(a);
            }
        }
        Cwd => out.extend_from_slice(&ev.cwd),
        Text => out.extend_from_slice(&ev.text),
    }
    true
}

/// `evt.args`: every argument as `name=value`, space-separated.
pub fn render_all(ev: &DecodedEvent, out: &mut Vec<u8>) {
    for (i, (name, src)) in table(ev).iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        if !render(ev, *src, out) {
            out.extend_from_slice(b"<NA>");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(ev: &DecodedEvent, name: &str) -> Option<String> {
        let mut out = Vec::new();
        let src = by_name(ev, name)?;
        render(ev, src, &mut out).then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn open_flags_and_mode() {
        let mut ev = DecodedEvent {
            kind: Kind::Open,
            syscall_nr: libc::SYS_openat as u32,
            flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
            res: 3,
            ..Default::default()
        };
        assert_eq!(
            rendered(&ev, "flags").as_deref(),
            Some("O_RDONLY|O_CLOEXEC")
        );
        assert_eq!(rendered(&ev, "dirfd").as_deref(), Some("AT_FDCWD"));
        assert_eq!(rendered(&ev, "fd").as_deref(), Some("3"));
        assert_eq!(rendered(&ev, "name"), None, "no path captured");
        ev.flags = (libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC) as u64;
        ev.mode = 0o644;
        assert_eq!(
            rendered(&ev, "flags").as_deref(),
            Some("O_WRONLY|O_CREAT|O_TRUNC")
        );
        assert_eq!(rendered(&ev, "mode").as_deref(), Some("0644"));
        assert_eq!(rendered(&ev, "nosuch"), None);
    }

    #[test]
    fn chmod_mode_names() {
        let ev = DecodedEvent {
            kind: Kind::FileOp,
            syscall_nr: libc::SYS_chmod as u32,
            mode: 0o4755,
            ..Default::default()
        };
        let m = rendered(&ev, "mode").unwrap();
        assert_eq!(
            m,
            "S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID"
        );
    }

    #[test]
    fn ptrace_and_unlinkat() {
        let ev = DecodedEvent {
            kind: Kind::Ptrace,
            syscall_nr: libc::SYS_ptrace as u32,
            ptrace: [0x4206, 42, 0, 0],
            ..Default::default()
        };
        assert_eq!(rendered(&ev, "request").as_deref(), Some("PTRACE_SEIZE"));
        assert_eq!(rendered(&ev, "pid").as_deref(), Some("42"));
        let ev = DecodedEvent {
            kind: Kind::FileOp,
            syscall_nr: libc::SYS_unlinkat as u32,
            flags: 0x200,
            ..Default::default()
        };
        assert_eq!(rendered(&ev, "flags").as_deref(), Some("AT_REMOVEDIR"));
        assert_eq!(by_index(&ev, 3), Some(AtFlags));
    }

    #[test]
    fn all_args_line() {
        let mut ev = DecodedEvent {
            kind: Kind::FileOp,
            syscall_nr: libc::SYS_mkdir as u32,
            mode: 0o755,
            has_path: true,
            ..Default::default()
        };
        ev.path.extend_from_slice(b"/tmp/x");
        let mut out = Vec::new();
        render_all(&ev, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "res=0 path=/tmp/x mode=0755"
        );
    }
}
