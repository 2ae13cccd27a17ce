//! Real-kernel tests: execve/execveat, clone/fork, and the process lifecycle events.
mod common;

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;

use common::*;
use kestrel_probe::EventKind;
use kestrel_probe::event::{CloneFixed, ExecFixed, ProcExitFixed, ProcForkFixed, exe_flags};

fn argv_ptrs(args: &[CString]) -> Vec<*const libc::c_char> {
    args.iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn canonical(p: &str) -> Vec<u8> {
    std::fs::canonicalize(p)
        .unwrap()
        .into_os_string()
        .into_encoded_bytes()
}

fn cwd() -> Vec<u8> {
    std::fs::canonicalize(".")
        .unwrap()
        .into_os_string()
        .into_encoded_bytes()
}

#[test]
#[ignore = "needs root and eBPF"]
fn execve_success_reports_filename_argv_comm_exe_and_cwd() {
    let args: Vec<CString> = ["/bin/true", "--kestrel-probe", "two words"]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let argv = argv_ptrs(&args);
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let mut probe = probe(&["execve"], false, &[]);

    let mut child = spawn(|_| unsafe {
        libc::execve(c"/bin/true".as_ptr(), argv.as_ptr(), envp.as_ptr());
        99
    });
    let pid = child.pid as u32;
    child.go();
    let (status, _) = child.wait();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "exec'd /bin/true"
    );

    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| !k.is_empty());
    assert_eq!(evs.len(), 1);
    let e = evs[0].view();
    assert_eq!(e.kind(), Some(EventKind::Execve));
    assert_eq!(e.syscall_name(), Some("execve"));
    assert_eq!(e.ret(), 0);
    assert_eq!((e.tid(), e.tgid()), (pid, pid));
    assert_eq!(e.path(), Some(&b"/bin/true"[..]));
    let got: Vec<&[u8]> = e.argv().collect();
    assert_eq!(
        got,
        vec![&b"/bin/true"[..], b"--kestrel-probe", b"two words"]
    );
    assert_eq!(e.comm(), b"true", "comm after exec");
    assert_eq!(e.exe(), Some(&canonical("/bin/true")[..]));
    assert_eq!(e.cwd(), Some(&cwd()[..]));
    let f = e.exec().unwrap();
    assert_eq!((f.dirfd, f.flags, f.old_tid), (libc::AT_FDCWD, 0, pid));
    assert!(!e.is_truncated() && !e.read_failed());
    // the executed file's inode and times, as stat(2) sees them
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/bin/true").unwrap();
    assert_eq!(f.exe_flags & exe_flags::KNOWN, exe_flags::KNOWN);
    assert_eq!(f.exe_ino, m.ino());
    assert_eq!(
        f.exe_ctime_ns,
        (m.ctime() * 1_000_000_000 + m.ctime_nsec()) as u64
    );
    assert_eq!(
        f.exe_mtime_ns,
        (m.mtime() * 1_000_000_000 + m.mtime_nsec()) as u64
    );
    let on_overlay = f.exe_flags & exe_flags::OVERLAY != 0;
    let fs_type = std::process::Command::new("stat")
        .args(["-f", "-c", "%T", "/bin/true"])
        .output()
        .unwrap();
    assert_eq!(
        on_overlay,
        String::from_utf8_lossy(&fs_type.stdout).trim() == "overlayfs",
        "overlay flag"
    );
}

/// Run `exe` (a path under an overlay mount) and return its exec event's fixed part.
fn exec_fixed_of(probe: &mut kestrel_probe::Probe, exe: &std::path::Path) -> ExecFixed {
    let path = CString::new(exe.as_os_str().as_encoded_bytes()).unwrap();
    let args = [path.clone()];
    let argv = argv_ptrs(&args);
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let mut child = spawn(|_| unsafe {
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        99
    });
    let pid = child.pid as u32;
    child.go();
    let (status, _) = child.wait();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "exec'd {}",
        exe.display()
    );
    let evs = collect(probe, |e| e.tgid() == pid, |k| !k.is_empty());
    *evs[0].view().exec().unwrap()
}

#[test]
#[ignore = "needs root and eBPF"]
fn overlayfs_executables_say_which_layer_they_come_from() {
    let dir = TempDir::new("overlay");
    let (lower, upper, work, merged) = (
        dir.path().join("lower"),
        dir.path().join("upper"),
        dir.path().join("work"),
        dir.path().join("merged"),
    );
    for d in [&lower, &upper, &work, &merged] {
        std::fs::create_dir_all(d).unwrap();
    }
    // in the image (lower layer) before the container starts
    std::fs::copy("/bin/true", lower.join("from-image")).unwrap();
    let opts = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    let st = std::process::Command::new("mount")
        .args(["-t", "overlay", "overlay", "-o", &opts])
        .arg(&merged)
        .status()
        .unwrap();
    assert!(st.success(), "mount overlay");
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(merged.clone());
    // dropped into the running container (upper layer)
    std::fs::copy("/bin/true", merged.join("dropped")).unwrap();

    let mut probe = probe(&["execve"], false, &[]);
    let image = exec_fixed_of(&mut probe, &merged.join("from-image"));
    let dropped = exec_fixed_of(&mut probe, &merged.join("dropped"));
    let all = exe_flags::KNOWN | exe_flags::OVERLAY | exe_flags::UPPER_LAYER;
    assert_eq!(image.exe_flags & all, exe_flags::KNOWN | exe_flags::OVERLAY);
    assert_eq!(dropped.exe_flags & all, all);
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(merged.join("dropped")).unwrap();
    assert_eq!(dropped.exe_ino, m.ino());
    assert_eq!(
        dropped.exe_mtime_ns,
        (m.mtime() * 1_000_000_000 + m.mtime_nsec()) as u64
    );
}

#[test]
#[ignore = "needs root and eBPF"]
fn execve_failure_and_execveat_report_arguments() {
    let args: Vec<CString> = ["kestrel-missing", "-x", ""]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let argv = argv_ptrs(&args);
    let true_args: Vec<CString> = ["true", "at"]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let true_argv = argv_ptrs(&true_args);
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let bin_dir = cstr(
        std::path::Path::new("/bin/true")
            .canonicalize()
            .unwrap()
            .parent()
            .unwrap(),
    );
    // on the heap (resident in the child): read at sys_enter. The literals used elsewhere
    // are usually not paged in yet in a fresh fork and exercise the fallbacks.
    let true_name = CString::new("true").unwrap();
    let mut probe = probe(&["execve", "execveat"], false, &[]);
    let comm = thread_comm();

    let mut child = spawn(|r| unsafe {
        let rc = libc::execve(
            c"/nonexistent/kestrel-missing".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
        );
        r.report(rc as i64);
        let dfd = libc::open(bin_dir.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        r.report(dfd as i64);
        libc::syscall(
            libc::SYS_execveat,
            dfd,
            true_name.as_ptr(),
            true_argv.as_ptr(),
            envp.as_ptr(),
            0,
        );
        98
    });
    let pid = child.pid as u32;
    child.go();
    let (status, res) = child.wait();
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    let dfd = res[1] as i32;

    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| k.len() >= 2);
    assert_eq!(evs.len(), 2);
    let failed = evs[0].view();
    assert_eq!(failed.syscall_name(), Some("execve"));
    assert_eq!(failed.ret(), -(libc::ENOENT as i64));
    assert_eq!(failed.path(), Some(&b"/nonexistent/kestrel-missing"[..]));
    let got: Vec<&[u8]> = failed.argv().collect();
    assert_eq!(got, vec![&b"kestrel-missing"[..], b"-x", b""]);
    assert_eq!(failed.comm(), &comm[..], "no exec happened");
    assert_eq!(failed.exe(), None);
    assert_eq!(failed.cwd(), Some(&cwd()[..]));

    let at = evs[1].view();
    assert_eq!(at.syscall_name(), Some("execveat"));
    assert_eq!(at.ret(), 0);
    assert_eq!(at.path(), Some(&b"true"[..]));
    assert_eq!(at.exec().unwrap().dirfd, dfd);
    let got: Vec<&[u8]> = at.argv().collect();
    assert_eq!(got, vec![&b"true"[..], b"at"]);
    assert_eq!(at.comm(), b"true");
    assert_eq!(at.exe(), Some(&canonical("/bin/true")[..]));
}

#[test]
#[ignore = "needs root and eBPF"]
fn fork_exec_exit_lifecycle_and_clone_events() {
    let dir = TempDir::new("lifecycle");
    let script = dir.join("script.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script_c = cstr(&script);
    let args = [script_c.clone()];
    let argv = argv_ptrs(&args);
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let me = std::process::id();
    let my_tid = gettid();
    let mut probe = probe(&["clone", "clone3", "fork", "vfork", "execve"], true, &[]);

    // A: fork + exec of a script; B: fork + exit(7); T: a thread of this process.
    let mut a = spawn(|_| unsafe {
        libc::execve(script_c.as_ptr(), argv.as_ptr(), envp.as_ptr());
        97
    });
    let mut b = spawn(|_| 7);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(gettid()).unwrap())
        .join()
        .unwrap();
    let thread_tid = rx.recv().unwrap();
    let (a_pid, b_pid) = (a.pid as u32, b.pid as u32);
    a.go();
    b.go();
    let (sa, _) = a.wait();
    let (sb, _) = b.wait();
    assert!(libc::WIFEXITED(sa) && libc::WEXITSTATUS(sa) == 0);
    assert!(libc::WIFEXITED(sb) && libc::WEXITSTATUS(sb) == 7);

    let ours = |e: &kestrel_probe::RawEvent<'_>| {
        e.tgid() == a_pid
            || e.tgid() == b_pid
            || e.tid() == thread_tid
            || (e.tid() == my_tid
                && e.fixed::<ProcForkFixed>()
                    .is_some_and(|f| [a_pid, b_pid, thread_tid].contains(&f.child_tid)))
            || (e.tid() == my_tid
                && e.fixed::<CloneFixed>()
                    .is_some_and(|f| [a_pid, b_pid, thread_tid].contains(&f.child_tid)))
    };
    let evs = collect(&mut probe, ours, |k| {
        count(k, |e| is_kind(e, EventKind::ProcExit)) >= 3
            && count(k, |e| is_kind(e, EventKind::ProcExec)) >= 1
    });

    for (child, is_thread) in [(a_pid, false), (b_pid, false), (thread_tid, true)] {
        // parent side of clone: ret is the child's pid, child_tid its host tid
        let clone = find(&evs, |e| {
            e.tid() == my_tid
                && e.fixed::<CloneFixed>()
                    .is_some_and(|f| f.child_tid == child)
        })
        .unwrap_or_else(|| panic!("clone event for {child}"));
        assert_eq!(clone.ret(), child as i64);
        assert_eq!(clone.tgid(), me);
        let flags = clone.fixed::<CloneFixed>().unwrap().flags;
        if is_thread {
            assert_ne!(
                flags & libc::CLONE_THREAD as u64,
                0,
                "thread clone flags {flags:#x}"
            );
        } else {
            assert_eq!(
                flags & 0xff,
                libc::SIGCHLD as u64,
                "fork clone flags {flags:#x}"
            );
        }
        // child side of clone: the new task returns 0
        let child_side = find(&evs, |e| e.tid() == child && is_kind(e, EventKind::Clone))
            .unwrap_or_else(|| panic!("child-side clone event for {child}"));
        assert_eq!(child_side.ret(), 0);
        assert_eq!(child_side.syscall_nr(), clone.syscall_nr());
        assert_eq!(child_side.fixed::<CloneFixed>().unwrap().child_tid, 0);

        let fork = find(&evs, |e| {
            e.fixed::<ProcForkFixed>()
                .is_some_and(|f| f.child_tid == child)
        })
        .unwrap_or_else(|| panic!("proc fork event for {child}"));
        let ff = fork.fixed::<ProcForkFixed>().unwrap();
        assert_eq!(
            (fork.tid(), fork.tgid()),
            (my_tid, me),
            "header is the parent"
        );
        assert_eq!(fork.syscall_nr(), None);
        let tgid = if is_thread { me } else { child };
        assert_eq!(
            (ff.child_tgid, ff.child_ns_tid, ff.child_ns_tgid),
            (tgid, child, tgid)
        );

        let exit = find(&evs, |e| {
            e.tid() == child && is_kind(e, EventKind::ProcExit)
        })
        .unwrap_or_else(|| panic!("proc exit event for {child}"));
        let xf = exit.fixed::<ProcExitFixed>().unwrap();
        let code = if child == b_pid { 7 << 8 } else { 0 };
        assert_eq!(xf.exit_code, code, "exit code of {child}");
        assert_eq!(xf.group_dead, u32::from(!is_thread));
    }

    let exec = find(&evs, |e| {
        e.tid() == a_pid && is_kind(e, EventKind::ProcExec)
    })
    .expect("proc exec of A");
    assert_eq!(exec.path(), Some(script.as_os_str().as_encoded_bytes()));
    assert_eq!(
        exec.str_param(kestrel_probe::event::param::exec::INTERP),
        Some(&b"/bin/sh"[..])
    );
    assert_eq!(exec.exe(), Some(&canonical("/bin/sh")[..]));
    let got: Vec<&[u8]> = exec.argv().collect();
    assert_eq!(
        got,
        vec![&b"/bin/sh"[..], script.as_os_str().as_encoded_bytes()]
    );
    assert_eq!(exec.exec().unwrap().old_tid, a_pid);
    assert_eq!(exec.cwd(), Some(&cwd()[..]));

    // the execve syscall event of the script: exe is the interpreter
    let sys =
        find(&evs, |e| e.tid() == a_pid && is_kind(e, EventKind::Execve)).expect("execve of A");
    assert_eq!(sys.path(), Some(script.as_os_str().as_encoded_bytes()));
    assert_eq!(sys.exe(), Some(&canonical("/bin/sh")[..]));
    let f: &ExecFixed = sys.exec().unwrap();
    assert_eq!(f.old_tid, a_pid);
}

struct ExecArgs {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    tid_out: libc::c_int, // write end of a pipe: the thread reports its tid
}

extern "C" fn exec_from_thread(arg: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: arg points to an ExecArgs that outlives the thread (the process execs or dies).
    unsafe {
        let a = &*(arg as *const ExecArgs);
        let tid = libc::gettid() as i64;
        libc::write(a.tid_out, &tid as *const i64 as *const libc::c_void, 8);
        libc::execve(a.path, a.argv, a.envp);
        libc::_exit(96);
    }
}

#[test]
#[ignore = "needs root and eBPF"]
fn exec_from_a_non_leader_thread_takes_the_leaders_tid() {
    let args: Vec<CString> = ["/bin/true", "from-thread"]
        .iter()
        .map(|s| CString::new(*s).unwrap())
        .collect();
    let argv = argv_ptrs(&args);
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let path = CString::new("/bin/true").unwrap();
    let mut probe = probe(&["execve"], true, &[]);

    let mut child = spawn(|r| unsafe {
        // the thread reports its own tid: the exec may kill this thread at any time
        let a = ExecArgs {
            path: path.as_ptr(),
            argv: argv.as_ptr(),
            envp: envp.as_ptr(),
            tid_out: r.fd(),
        };
        let mut t: libc::pthread_t = 0;
        if libc::pthread_create(
            &mut t,
            std::ptr::null(),
            exec_from_thread,
            &a as *const _ as *mut libc::c_void,
        ) != 0
        {
            return 95;
        }
        loop {
            libc::pause(); // killed by the exec in the other thread
        }
    });
    let pid = child.pid as u32;
    child.go();
    let (status, res) = child.wait();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}"
    );
    let thread_tid = res[0] as u32;
    assert_ne!(thread_tid, pid);

    let evs = collect(
        &mut probe,
        |e| e.tgid() == pid,
        |k| {
            count(k, |e| is_kind(e, EventKind::Execve)) >= 1
                && count(k, |e| is_kind(e, EventKind::ProcExec)) >= 1
                && count(k, |e| is_kind(e, EventKind::ProcExit)) >= 2
        },
    );
    let e =
        find(&evs, |e| is_kind(e, EventKind::Execve)).expect("execve event after the tid change");
    assert_eq!(
        (e.tid(), e.tgid(), e.ret()),
        (pid, pid, 0),
        "the exec'ing thread now has the leader's tid"
    );
    assert_eq!(e.exec().unwrap().old_tid, thread_tid);
    assert_eq!(e.path(), Some(&b"/bin/true"[..]));
    let got: Vec<&[u8]> = e.argv().collect();
    assert_eq!(got, vec![&b"/bin/true"[..], b"from-thread"]);
    assert_eq!(e.comm(), b"true");
    let p = find(&evs, |e| is_kind(e, EventKind::ProcExec)).unwrap();
    assert_eq!((p.tid(), p.exec().unwrap().old_tid), (pid, thread_tid));
    // the replaced leader exits as a thread during the exec, then the new image exits
    let exits: Vec<_> = evs
        .iter()
        .map(|e| e.view())
        .filter(|e| is_kind(e, EventKind::ProcExit))
        .map(|e| (e.tid(), e.fixed::<ProcExitFixed>().unwrap().group_dead))
        .collect();
    assert_eq!(exits, vec![(pid, 0), (pid, 1)]);
    assert_eq!(probe.drop_counts().unwrap().stash_full, 0);
}

#[test]
#[ignore = "needs root and eBPF"]
fn vfork_reports_its_implicit_flags_and_both_sides() {
    let mut probe = probe(&["vfork"], false, &[]);
    let mut child = spawn(|r| unsafe {
        // vfork with the child's exit_group(5) in the same asm block: no Rust code runs
        // in the child, which borrows this stack until it exits
        let g: i64;
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "mov eax, 231",
            "mov edi, 5",
            "syscall",
            "2:",
            inlateout("rax") libc::SYS_vfork => g,
            out("rdi") _,
            out("rcx") _,
            out("r11") _,
        );
        r.report(g);
        let mut st = 0;
        libc::waitpid(g as i32, &mut st, 0);
        0
    });
    let pid = child.pid as u32;
    child.go();
    let (status, res) = child.wait();
    assert_eq!(status, 0);
    let g = res[0] as u32;
    let evs = collect(
        &mut probe,
        |e| e.tgid() == pid || e.tgid() == g,
        |k| k.len() >= 2,
    );
    let parent = find(&evs, |e| e.tgid() == pid).expect("parent side");
    assert_eq!(parent.syscall_name(), Some("vfork"));
    assert_eq!(parent.ret(), g as i64);
    let f = parent.fixed::<CloneFixed>().unwrap();
    assert_eq!(
        f.flags,
        (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64
    );
    assert_eq!(f.child_tid, g);
    let child_side = find(&evs, |e| e.tgid() == g).expect("child side");
    assert_eq!((child_side.ret(), child_side.tid()), (0, g));
    assert_eq!(child_side.fixed::<CloneFixed>().unwrap().flags, f.flags);
}
