//! Shared harness of the real-kernel tests: load a probe, run syscalls in a forked child
//! that waits for a go signal (so the probe is configured first), collect the events.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kestrel_probe::{EventKind, Probe, ProbeOptions, RawEvent, WantedSyscalls};

pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Loads a probe capturing `syscalls` (names) and, if asked, the lifecycle events.
pub fn probe(syscalls: &[&str], lifecycle: bool, ignore: &[u32]) -> Probe {
    let mut wanted = WantedSyscalls::from_names(syscalls.iter().copied()).expect("syscall names");
    if lifecycle {
        wanted = wanted.with_lifecycle();
    }
    Probe::load(&ProbeOptions {
        ignore_tgids: ignore.to_vec(),
        wanted,
        ..Default::default()
    })
    .expect("load the probe")
}

/// An owned copy of one event (test side only), 8-aligned like the ring buffer.
pub struct Owned {
    words: Vec<u64>,
    len: usize,
}

impl Owned {
    fn copy(ev: &RawEvent<'_>) -> Owned {
        let len = ev.header().len as usize;
        let mut words = vec![0u64; len.div_ceil(8)];
        // SAFETY: the header is the start of a `len`-byte record; words has room for it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                ev.header() as *const _ as *const u8,
                words.as_mut_ptr() as *mut u8,
                len,
            )
        };
        Owned { words, len }
    }

    pub fn view(&self) -> RawEvent<'_> {
        // SAFETY: reading initialized u64s as bytes.
        let b = unsafe { std::slice::from_raw_parts(self.words.as_ptr() as *const u8, self.len) };
        RawEvent::parse(b).expect("a record copied from the ring parses again")
    }
}

/// Drains `probe` until `done(kept)` or TIMEOUT; keeps the events `keep` accepts.
pub fn collect(
    probe: &mut Probe,
    keep: impl Fn(&RawEvent<'_>) -> bool,
    done: impl Fn(&[Owned]) -> bool,
) -> Vec<Owned> {
    let deadline = Instant::now() + TIMEOUT;
    let mut kept = Vec::new();
    while Instant::now() < deadline {
        probe.poll(Duration::from_millis(20)).expect("poll");
        probe.drain(|ev| {
            if keep(&ev) {
                kept.push(Owned::copy(&ev));
            }
        });
        if done(&kept) {
            break;
        }
    }
    kept
}

/// Collects for a fixed time (to show that something does NOT arrive).
pub fn collect_for(
    probe: &mut Probe,
    d: Duration,
    keep: impl Fn(&RawEvent<'_>) -> bool,
) -> Vec<Owned> {
    let deadline = Instant::now() + d;
    let mut kept = Vec::new();
    while Instant::now() < deadline {
        probe.poll(Duration::from_millis(20)).expect("poll");
        probe.drain(|ev| {
            if keep(&ev) {
                kept.push(Owned::copy(&ev));
            }
        });
    }
    kept
}

pub fn count(events: &[Owned], f: impl Fn(&RawEvent<'_>) -> bool) -> usize {
    events.iter().filter(|e| f(&e.view())).count()
}

pub fn find<'a>(events: &'a [Owned], f: impl Fn(&RawEvent<'_>) -> bool) -> Option<RawEvent<'a>> {
    events.iter().map(|e| e.view()).find(|e| f(e))
}

pub fn is_syscall(ev: &RawEvent<'_>, name: &str) -> bool {
    ev.syscall_name() == Some(name)
}

pub fn is_kind(ev: &RawEvent<'_>, kind: EventKind) -> bool {
    ev.kind() == Some(kind)
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh descriptors we own.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Lets the child send numbers back to the test (async-signal-safe: a raw write).
pub struct Reporter {
    fd: i32,
}

impl Reporter {
    /// The write end of the result pipe (for a thread of the child to report itself).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    pub fn report(&self, v: i64) {
        let b = v.to_ne_bytes();
        // SAFETY: writing 8 bytes from a live buffer.
        unsafe { libc::write(self.fd, b.as_ptr() as *const libc::c_void, 8) };
    }
}

/// A forked child blocked until [`Child::go`].
pub struct Child {
    pub pid: i32,
    go: Option<OwnedFd>,
    results: OwnedFd,
}

/// Forks a child that waits for `go`, runs `f` (which must only make raw libc calls: no
/// allocation, no locks) and `_exit`s with its return value.
pub fn spawn(f: impl FnOnce(&Reporter) -> i32) -> Child {
    let (go_r, go_w) = pipe();
    let (res_r, res_w) = pipe();
    // SAFETY: the child only makes async-signal-safe calls before _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let mut b = [0u8; 1];
        // SAFETY: raw syscalls on descriptors we own.
        unsafe {
            libc::read(go_r.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1);
        }
        let code = f(&Reporter {
            fd: res_w.as_raw_fd(),
        });
        // SAFETY: terminate the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    drop(go_r);
    drop(res_w);
    Child {
        pid,
        go: Some(go_w),
        results: res_r,
    }
}

impl Child {
    pub fn go(&mut self) {
        let fd = self.go.take().expect("go once");
        // SAFETY: writing one byte to our pipe.
        unsafe { libc::write(fd.as_raw_fd(), [1u8].as_ptr() as *const libc::c_void, 1) };
    }

    /// Waits for the child; returns (wait status, reported values).
    pub fn wait(mut self) -> (i32, Vec<i64>) {
        if self.go.is_some() {
            self.go();
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(rc, self.pid);
        let mut out = Vec::new();
        let mut b = [0u8; 8];
        // SAFETY: reading into a live 8-byte buffer; the writer has exited.
        while unsafe {
            libc::read(
                self.results.as_raw_fd(),
                b.as_mut_ptr() as *mut libc::c_void,
                8,
            )
        } == 8
        {
            out.push(i64::from_ne_bytes(b));
        }
        (status, out)
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "kestrel-probe-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(std::fs::canonicalize(&p).expect("canonical temp dir"))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).expect("no NUL in path")
}

/// comm of the calling thread (what a child forked from it starts with).
pub fn thread_comm() -> Vec<u8> {
    let mut c = std::fs::read("/proc/thread-self/comm").expect("read comm");
    while c.last() == Some(&b'\n') {
        c.pop();
    }
    c
}

pub fn gettid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() as u32 }
}

pub fn errno() -> i64 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0) as i64
}
