//! Shared helpers of the agent's integration tests: start the real `kestrel-agent` binary with
//! the real probe, read its alert lines, and make real syscalls.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn sample_rules() -> PathBuf {
    repo().join("config/samples/falco-customrules.yaml")
}

pub fn default_rules() -> PathBuf {
    repo().join("config/rules")
}

/// A running agent; killed on drop.
pub struct Agent {
    child: Child,
    lines: Receiver<String>,
    errs: Receiver<String>,
    pub seen: Vec<String>,
}

impl Agent {
    /// Start `kestrel-agent run` with these rule paths and extra flags, and wait until it
    /// attached the probe.
    pub fn start(rules: &[PathBuf], extra: &[&str]) -> Agent {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kestrel-agent"));
        cmd.arg("run");
        for r in rules {
            cmd.arg("--rules").arg(r);
        }
        cmd.args(extra).args(["--stats-interval", "0"]);
        cmd.env("KESTREL_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start kestrel-agent");
        let (tx, rx) = channel();
        let stdout = child.stdout.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx2.send(line);
            }
        });
        let (ready_tx, ready_rx) = channel();
        let (err_tx, err_rx) = channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("watching syscalls") {
                    let _ = ready_tx.send(());
                }
                eprintln!("[agent stderr] {line}");
                let _ = err_tx.send(line);
            }
        });
        match ready_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(()) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("kestrel-agent did not attach within 30 s (see its stderr above)");
            }
        }
        Agent {
            child,
            lines: rx,
            errs: err_rx,
            seen: Vec::new(),
        }
    }

    /// Wait for an output line containing every one of `needles`; returns it.
    pub fn wait_for(&mut self, needles: &[&str], timeout: Duration) -> Option<String> {
        if let Some(l) = self
            .seen
            .iter()
            .find(|l| needles.iter().all(|n| l.contains(n)))
        {
            return Some(l.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let hit = needles.iter().all(|n| line.contains(n));
                    self.seen.push(line.clone());
                    if hit {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None;
                }
            }
        }
    }

    /// Assert a line with every needle shows up within `timeout`.
    pub fn expect(&mut self, needles: &[&str], timeout: Duration) -> String {
        match self.wait_for(needles, timeout) {
            Some(l) => l,
            None => panic!(
                "no alert containing {needles:?} within {timeout:?}; lines seen:\n{}",
                self.seen.join("\n")
            ),
        }
    }

    /// Wait for a log line (stderr) containing every needle.
    pub fn wait_for_log(&mut self, needles: &[&str], timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.errs.recv_timeout(left) {
                Ok(line) if needles.iter().all(|n| line.contains(n)) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Send a signal to the agent.
    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    /// Stop with SIGTERM and return the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("agent did not stop within 10 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a command to completion, asserting it started.
pub fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"))
}

/// The `kestrel-agent` binary, for one-shot commands (`validate`, `replay`, `test`...).
pub fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kestrel-agent"))
}

/// Write `text` to `dir/name` and return the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kestrel-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The cgroup v2 mount point (`/sys/fs/cgroup` or, on hybrid hosts, `/sys/fs/cgroup/unified`).
pub fn cgroup2_root() -> PathBuf {
    for p in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
        if Path::new(p).join("cgroup.procs").exists()
            && Path::new(p).join("cgroup.subtree_control").exists()
            || Path::new(p).join("cgroup.controllers").exists()
        {
            return PathBuf::from(p);
        }
    }
    panic!("no cgroup v2 hierarchy mounted");
}

/// A cgroup that looks like a Docker container's (`docker-<64 hex>.scope`), removed on drop.
pub struct FakeContainer {
    pub dir: PathBuf,
    pub id: String,
}

impl FakeContainer {
    pub fn new(tag: u8) -> FakeContainer {
        let id: String = format!("{:02x}", tag).repeat(32);
        let parent = cgroup2_root().join(format!("kestrel-test-{}.slice", std::process::id()));
        let dir = parent.join(format!("docker-{id}.scope"));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("create cgroup {}: {e}", dir.display()));
        FakeContainer { dir, id }
    }

    /// A command whose process moves itself into this cgroup before it execs.
    pub fn command(&self, program: &str) -> Command {
        use std::os::unix::process::CommandExt;
        let procs = self.dir.join("cgroup.procs");
        let mut cmd = Command::new(program);
        unsafe {
            cmd.pre_exec(move || std::fs::write(&procs, b"0"));
        }
        cmd
    }
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
        if let Some(p) = self.dir.parent() {
            let _ = std::fs::remove_dir(p);
        }
    }
}
