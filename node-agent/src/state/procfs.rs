//! Reading one process's facts from `/proc`, to seed the process table at start and to fill gaps
//! for processes that started before the probe attached.

use std::fs;
use std::path::{Path, PathBuf};

/// What `/proc/<pid>` says about a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSnapshot {
    pub pid: u32,
    pub ppid: u32,
    /// pid inside the process's own pid namespace (last `NSpid` entry).
    pub vpid: u32,
    pub pgid: u32,
    pub sid: u32,
    pub tty: u32,
    /// Start time, clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start_ticks: u64,
    pub uid: u32,
    pub gid: u32,
    pub loginuid: u32,
    pub comm: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub exepath: Vec<u8>,
    /// `stat` of `/proc/<pid>/exe` (the executable's inode and times).
    pub exe_file: Option<super::procs::ExeFile>,
    pub cwd: Vec<u8>,
    /// The content of `/proc/<pid>/cgroup`.
    pub cgroup: String,
}

/// The `/proc` root; tests point it elsewhere.
#[derive(Debug, Clone)]
pub struct ProcFs {
    root: PathBuf,
}

impl Default for ProcFs {
    fn default() -> Self {
        Self {
            root: PathBuf::from("/proc"),
        }
    }
}

impl ProcFs {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// All numeric entries of `/proc`: the thread-group leaders.
    pub fn pids(&self) -> Vec<u32> {
        let Ok(dir) = fs::read_dir(&self.root) else {
            return Vec::new();
        };
        let mut pids: Vec<u32> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        pids
    }

    /// Read a process; `None` when it is gone (it may exit while we read).
    pub fn read(&self, pid: u32) -> Option<ProcSnapshot> {
        let dir = self.root.join(pid.to_string());
        let stat = fs::read_to_string(dir.join("stat")).ok()?;
        let mut snap = parse_stat(&stat)?;
        snap.pid = pid;
        if let Ok(status) = fs::read_to_string(dir.join("status")) {
            apply_status(&mut snap, &status);
        }
        if snap.vpid == 0 {
            snap.vpid = pid;
        }
        snap.argv = fs::read(dir.join("cmdline"))
            .map(|c| split_nul(&c))
            .unwrap_or_default();
        snap.exepath = read_link_bytes(&dir.join("exe")).unwrap_or_default();
        snap.exe_file = fs::metadata(dir.join("exe")).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| (s.max(0) as u64) * 1_000_000_000 + n.max(0) as u64;
            super::procs::ExeFile {
                ino: m.ino(),
                ctime_ns: ns(m.ctime(), m.ctime_nsec()),
                mtime_ns: ns(m.mtime(), m.mtime_nsec()),
                upper_layer: None,
            }
        });
        snap.cwd = read_link_bytes(&dir.join("cwd")).unwrap_or_default();
        snap.loginuid = fs::read_to_string(dir.join("loginuid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u32::MAX);
        snap.cgroup = fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
        Some(snap)
    }

    /// The content of `/proc/<tid>/cgroup`, read again when a process execs or changes cgroup.
    pub fn cgroup_of(&self, tid: u32) -> Option<String> {
        fs::read_to_string(self.root.join(tid.to_string()).join("cgroup")).ok()
    }

    /// The current working directory of a process.
    pub fn cwd_of(&self, pid: u32) -> Option<Vec<u8>> {
        read_link_bytes(&self.root.join(pid.to_string()).join("cwd"))
    }

    /// The path an open fd of a process points at.
    pub fn fd_path(&self, pid: u32, fd: i64) -> Option<Vec<u8>> {
        read_link_bytes(
            &self
                .root
                .join(pid.to_string())
                .join("fd")
                .join(fd.to_string()),
        )
    }
}

/// Wall-clock ns of boot (`btime` of `/proc/stat`) and the clock tick rate, to turn
/// `start_ticks` into a start time.
pub fn boot_time_and_ticks() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let btime: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((btime * 1_000_000_000, if hz > 0 { hz as u64 } else { 100 }))
}

fn read_link_bytes(p: &Path) -> Option<Vec<u8>> {
    use std::os::unix::ffi::OsStringExt;
    let mut v = fs::read_link(p).ok()?.into_os_string().into_vec();
    // deleted executables read as "/path (deleted)"
    if v.ends_with(b" (deleted)") {
        v.truncate(v.len() - b" (deleted)".len());
    }
    Some(v)
}

fn split_nul(raw: &[u8]) -> Vec<Vec<u8>> {
    let raw = raw.strip_suffix(b"\0").unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

/// Parse `/proc/<pid>/stat`. The comm field is in parentheses and may itself contain spaces and
/// parentheses, so split at the last `)`.
pub fn parse_stat(stat: &str) -> Option<ProcSnapshot> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.as_bytes().to_vec();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // rest[0] = state, [1] = ppid, [2] = pgrp, [3] = session, [4] = tty_nr
    let field = |i: usize| rest.get(i).and_then(|s| s.parse::<i64>().ok());
    Some(ProcSnapshot {
        comm,
        ppid: field(1)? as u32,
        pgid: field(2)? as u32,
        sid: field(3)? as u32,
        tty: field(4)? as u32,
        start_ticks: field(19).unwrap_or(0) as u64,
        ..Default::default()
    })
}

fn apply_status(snap: &mut ProcSnapshot, status: &str) {
    for line in status.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let mut words = value.split_whitespace();
        match key {
            "Uid" => snap.uid = words.next().and_then(|w| w.parse().ok()).unwrap_or(0),
            "Gid" => snap.gid = words.next().and_then(|w| w.parse().ok()).unwrap_or(0),
            "NSpid" => snap.vpid = words.last().and_then(|w| w.parse().ok()).unwrap_or(0),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        let s = "1234 (my (odd) cmd) S 1 1234 1234 34816 1234 4194560 0 0";
        let p = parse_stat(s).unwrap();
        assert_eq!(p.comm, b"my (odd) cmd");
        assert_eq!((p.ppid, p.pgid, p.sid, p.tty), (1, 1234, 1234, 34816));
    }

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        let snap = ProcFs::default().read(me).expect("own /proc entry");
        assert_eq!(snap.pid, me);
        assert_eq!(snap.vpid, me, "tests run in the host pid namespace");
        assert_eq!(snap.ppid, std::os::unix::process::parent_id());
        assert_eq!(snap.uid, unsafe { libc::getuid() });
        let exe = std::env::current_exe().unwrap();
        assert_eq!(snap.exepath, exe.as_os_str().as_encoded_bytes());
        assert_eq!(snap.argv[0], std::env::args().next().unwrap().into_bytes());
        assert!(ProcFs::default().pids().contains(&me));
    }

    #[test]
    fn missing_process_is_none() {
        assert_eq!(ProcFs::default().read(u32::MAX - 1), None);
    }

    #[test]
    fn cmdline_split() {
        assert_eq!(
            split_nul(b"cat\0/etc/passwd\0"),
            vec![b"cat".to_vec(), b"/etc/passwd".to_vec()]
        );
        assert!(split_nul(b"").is_empty());
    }
}
