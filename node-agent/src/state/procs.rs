//! The process table: what Falco's `proc.*` fields read, kept current from clone/exec/exit events
//! and seeded from `/proc` at start.

use std::collections::HashMap;

use super::fds::FdTable;
use super::procfs::{ProcFs, ProcSnapshot};

/// `O_CLOEXEC`: fds opened with it close on exec.
const O_CLOEXEC: u32 = 0o2_000_000;

#[derive(Debug, Clone, Default)]
pub struct Process {
    /// The executable's inode facts (`proc.exe_ino*`, `proc.is_exe_upper_layer`).
    pub exe_file: Option<ExeFile>,
    pub pid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub tty: u32,
    pub loginuid: u32,
    /// `proc.name`: the command name (comm) after the last exec.
    pub comm: Vec<u8>,
    /// `proc.exe`: argv[0].
    pub exe: Vec<u8>,
    /// `proc.exepath`: the full path of the executable.
    pub exepath: Vec<u8>,
    /// `proc.args`: the arguments after argv[0], joined by spaces.
    pub args: Vec<u8>,
    /// `proc.cmdline`: `proc.name` followed by `proc.args`.
    pub cmdline: Vec<u8>,
    pub cwd: Vec<u8>,
    pub fds: FdTable,
    /// Slot in the [`super::containers::ContainerRegistry`]; `None` for host processes.
    pub container: Option<u32>,
    /// The cgroup v2 id the container was last resolved for.
    pub cgroup_id: u64,
    /// Start time, wall-clock ns (0 when unknown).
    pub start_ns: u64,
}

/// What the kernel said about the executed file at exec (or `stat` of `/proc/<pid>/exe` for a
/// process found running).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ExeFile {
    pub ino: u64,
    /// Inode change time, ns since the epoch.
    pub ctime_ns: u64,
    /// Modification time, ns since the epoch.
    pub mtime_ns: u64,
    /// In the upper (writable) layer of an overlayfs; `Some(false)` off overlayfs; `None`
    /// when unknown (a process found running).
    pub upper_layer: Option<bool>,
}

impl Process {
    fn from_snapshot(s: ProcSnapshot) -> Self {
        let start_ns = match super::procfs::boot_time_and_ticks() {
            Some((boot_ns, hz)) if s.start_ticks > 0 => {
                boot_ns + s.start_ticks * (1_000_000_000 / hz)
            }
            _ => 0,
        };
        let mut p = Process {
            start_ns,
            pid: s.pid,
            ppid: s.ppid,
            vpid: s.vpid,
            pgid: s.pgid,
            sid: s.sid,
            tty: s.tty,
            loginuid: s.loginuid,
            exepath: s.exepath,
            cwd: s.cwd,
            exe_file: s.exe_file,
            ..Default::default()
        };
        p.set_command(&s.comm, &s.argv);
        p
    }

    /// Set comm, exe, args and cmdline from an exec's argv.
    pub fn set_command<A: AsRef<[u8]>>(&mut self, comm: &[u8], argv: &[A]) {
        self.comm.clear();
        self.comm.extend_from_slice(comm);
        self.exe.clear();
        if let Some(a0) = argv.first() {
            self.exe.extend_from_slice(a0.as_ref());
        }
        self.args.clear();
        for (i, a) in argv.iter().skip(1).enumerate() {
            if i > 0 {
                self.args.push(b' ');
            }
            self.args.extend_from_slice(a.as_ref());
        }
        self.cmdline.clear();
        self.cmdline.extend_from_slice(comm);
        if !self.args.is_empty() {
            self.cmdline.push(b' ');
            self.cmdline.extend_from_slice(&self.args);
        }
    }
}

/// Resolve `path` against `cwd` when it is relative (`./x`, `x`, `../x`), normalising `.` and `..`.
/// Writes into `out` (cleared first) without allocating beyond its capacity.
pub fn resolve_path(cwd: &[u8], path: &[u8], out: &mut Vec<u8>) {
    fn push_components(out: &mut Vec<u8>, s: &[u8]) {
        for part in s.split(|b| *b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    let cut = out.iter().rposition(|b| *b == b'/').unwrap_or(0);
                    out.truncate(cut);
                }
                _ => {
                    out.push(b'/');
                    out.extend_from_slice(part);
                }
            }
        }
    }
    out.clear();
    if path.first() != Some(&b'/') {
        push_components(out, cwd);
    }
    push_components(out, path);
    if out.is_empty() {
        out.push(b'/');
    }
}

/// All known processes, keyed by tgid.
#[derive(Debug, Default)]
pub struct ProcessTable {
    procs: HashMap<u32, Process>,
    procfs: ProcFs,
}

impl ProcessTable {
    pub fn new(procfs: ProcFs) -> Self {
        Self {
            procs: HashMap::new(),
            procfs,
        }
    }

    /// Read every process in `/proc`. Returns how many were loaded.
    pub fn seed(&mut self) -> usize {
        for pid in self.procfs.pids() {
            self.load(pid);
        }
        self.procs.len()
    }

    fn load(&mut self, pid: u32) -> Option<&mut Process> {
        let snap = self.procfs.read(pid)?;
        let mut p = Process::from_snapshot(snap);
        // Seed fds from /proc/<pid>/fd so sockets and files opened before we attached are known.
        if let Ok(dir) = std::fs::read_dir(self.procfs.root().join(pid.to_string()).join("fd")) {
            for e in dir.flatten() {
                let Some(fd) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else {
                    continue;
                };
                if let Some(target) = self.procfs.fd_path(pid, fd) {
                    let kind = if target.starts_with(b"/") {
                        super::fds::FdKind::File
                    } else if target.starts_with(b"pipe:") {
                        super::fds::FdKind::Pipe
                    } else {
                        super::fds::FdKind::Unknown
                    };
                    p.fds.set(fd, kind, &target);
                }
            }
        }
        Some(self.procs.entry(pid).or_insert(p))
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn get(&self, tgid: u32) -> Option<&Process> {
        self.procs.get(&tgid)
    }

    pub fn get_mut(&mut self, tgid: u32) -> Option<&mut Process> {
        self.procs.get_mut(&tgid)
    }

    /// The process, read from `/proc` if we have not seen it yet (it started before we attached).
    pub fn get_or_load(&mut self, tgid: u32) -> Option<&mut Process> {
        if self.procs.contains_key(&tgid) {
            return self.procs.get_mut(&tgid);
        }
        self.load(tgid)
    }

    /// Add a process we learnt about from an event only.
    pub fn insert(&mut self, p: Process) {
        self.procs.insert(p.pid, p);
    }

    /// The n-th ancestor (1 = parent) of a process.
    pub fn ancestor(&self, tgid: u32, n: usize) -> Option<&Process> {
        let mut cur = self.procs.get(&tgid)?;
        for _ in 0..n {
            if cur.ppid == 0 || cur.ppid == cur.pid {
                return None;
            }
            cur = self.procs.get(&cur.ppid)?;
        }
        Some(cur)
    }

    /// A new process `child` forked from `parent`: it inherits command, cwd and (a copy of) fds.
    pub fn on_fork(&mut self, parent: u32, child: u32, child_vpid: u32) {
        if self.procs.contains_key(&child) {
            return;
        }
        let mut p = match self.get_or_load(parent) {
            Some(pp) => pp.clone(),
            None => Process {
                ppid: parent,
                ..Default::default()
            },
        };
        p.pid = child;
        p.ppid = parent;
        p.vpid = if child_vpid != 0 { child_vpid } else { child };
        self.procs.insert(child, p);
    }

    /// A successful exec: new command line; fds opened with O_CLOEXEC are gone.
    pub fn on_exec<A: AsRef<[u8]>>(&mut self, tgid: u32, comm: &[u8], filename: &[u8], argv: &[A]) {
        let Some(p) = self.get_or_load(tgid) else {
            return;
        };
        p.set_command(comm, argv);
        if !filename.is_empty() {
            let mut out = Vec::with_capacity(filename.len() + p.cwd.len() + 1);
            resolve_path(&p.cwd, filename, &mut out);
            p.exepath = out;
        }
        p.fds.close_matching(|e| e.open_flags & O_CLOEXEC != 0);
    }

    /// The thread-group leader exited.
    pub fn on_exit(&mut self, tgid: u32) {
        self.procs.remove(&tgid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(cwd: &str, p: &str) -> String {
        let mut out = Vec::new();
        resolve_path(cwd.as_bytes(), p.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn resolves_relative_paths() {
        assert_eq!(resolved("/home/u", "x.txt"), "/home/u/x.txt");
        assert_eq!(resolved("/home/u", "./bin/../x"), "/home/u/x");
        assert_eq!(resolved("/home/u", "/etc//passwd"), "/etc/passwd");
        assert_eq!(resolved("/", "../.."), "/");
        assert_eq!(resolved("/tmp", "a/./b/"), "/tmp/a/b");
    }

    #[test]
    fn command_fields() {
        let mut p = Process::default();
        p.set_command(b"cat", &[b"cat".as_slice(), b"/etc/passwd", b"-n"]);
        assert_eq!(p.exe, b"cat");
        assert_eq!(p.args, b"/etc/passwd -n");
        assert_eq!(p.cmdline, b"cat /etc/passwd -n");
        p.set_command::<&[u8]>(b"sh", &[]);
        assert_eq!(
            (p.exe.as_slice(), p.args.as_slice(), p.cmdline.as_slice()),
            (&b""[..], &b""[..], &b"sh"[..])
        );
    }

    #[test]
    fn seed_fork_exec_exit_and_ancestors() {
        let mut t = ProcessTable::new(ProcFs::default());
        assert!(t.seed() > 1);
        let me = std::process::id();
        let parent = std::os::unix::process::parent_id();
        assert!(t.get(me).is_some());
        assert_eq!(t.ancestor(me, 1).map(|p| p.pid), Some(parent));

        let child = u32::MAX - 7; // a pid no real process has
        t.on_fork(me, child, 5);
        assert_eq!(t.get(child).map(|p| (p.ppid, p.vpid)), Some((me, 5)));
        assert_eq!(t.ancestor(child, 1).map(|p| p.pid), Some(me));
        assert_eq!(t.ancestor(child, 2).map(|p| p.pid), Some(parent));

        t.get_mut(child).unwrap().cwd = b"/usr".to_vec();
        t.get_mut(child)
            .unwrap()
            .fds
            .set(4, crate::state::fds::FdKind::File, b"/a")
            .open_flags = O_CLOEXEC;
        t.get_mut(child)
            .unwrap()
            .fds
            .set(5, crate::state::fds::FdKind::File, b"/b");
        t.on_exec(child, b"ls", b"bin/ls", &[b"ls".as_slice(), b"-l"]);
        let c = t.get(child).unwrap();
        assert_eq!(
            (
                c.comm.as_slice(),
                c.exepath.as_slice(),
                c.cmdline.as_slice()
            ),
            (&b"ls"[..], &b"/usr/bin/ls"[..], &b"ls -l"[..])
        );
        assert!(c.fds.get(4).is_none(), "O_CLOEXEC fd closed by exec");
        assert!(c.fds.get(5).is_some());
        t.on_exit(child);
        assert!(t.get(child).is_none());
    }
}
