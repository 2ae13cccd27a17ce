//! Real-kernel tests: the wanted set, ignored processes, drop counters, header fields,
//! credentials, ptrace, modules, mounts, pid namespaces and i386-ABI syscalls.
mod common;

use std::time::Duration;

use common::*;
use kestrel_probe::event::{GenericFixed, ModuleFixed, MountFixed, PtraceFixed, SetIdFixed};
use kestrel_probe::{EventKind, Probe, ProbeOptions, WantedSyscalls};

fn getppid_child() -> Child {
    spawn(|_| unsafe {
        libc::syscall(libc::SYS_getppid);
        0
    })
}

#[test]
#[ignore = "needs root and eBPF"]
fn syscalls_not_wanted_produce_no_event() {
    let mut probe = probe(&["getppid"], false, &[]);
    let mut child = spawn(|_| unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c"/etc/hostname".as_ptr(),
            libc::O_RDONLY,
            0,
        );
        libc::syscall(libc::SYS_getppid);
        0
    });
    let pid = child.pid as u32;
    child.go();
    assert_eq!(child.wait().0, 0);
    let evs = collect_for(&mut probe, Duration::from_millis(500), |e| e.tgid() == pid);
    let names: Vec<_> = evs.iter().map(|e| e.view().syscall_name()).collect();
    assert_eq!(names, vec![Some("getppid")], "only the wanted syscall");
    let e = evs[0].view();
    assert_eq!(
        e.kind(),
        Some(EventKind::Generic),
        "no dedicated kind: raw arguments"
    );
    assert_eq!(e.ret(), std::process::id() as i64);
    assert!(e.fixed::<GenericFixed>().is_some());
}

#[test]
#[ignore = "needs root and eBPF"]
fn wanted_set_changes_at_runtime_from_another_thread() {
    let mut probe = probe(&[], false, &[]);
    let control = probe.control();
    let run = |probe: &mut Probe| {
        let mut c = getppid_child();
        let pid = c.pid as u32;
        c.go();
        assert_eq!(c.wait().0, 0);
        collect_for(probe, Duration::from_millis(400), |e| e.tgid() == pid).len()
    };
    assert_eq!(run(&mut probe), 0, "nothing wanted");
    let mut w = WantedSyscalls::new();
    w.insert_name("getppid").unwrap();
    std::thread::spawn(move || control.set_wanted_syscalls(&w).unwrap())
        .join()
        .unwrap();
    assert_eq!(
        probe.control().wanted_syscalls().iter().collect::<Vec<_>>(),
        vec![110]
    );
    assert_eq!(run(&mut probe), 1, "getppid wanted");
    probe.set_wanted_syscalls(&WantedSyscalls::new()).unwrap();
    assert_eq!(run(&mut probe), 0, "wanted again nothing");
}

#[test]
#[ignore = "needs root and eBPF"]
fn ignored_processes_produce_no_event() {
    let mut probe = probe(&["getppid"], true, &[]);
    let mut a = getppid_child();
    let mut b = getppid_child();
    let (pa, pb) = (a.pid as u32, b.pid as u32);
    probe.control().ignore_tgid(pa).unwrap();
    a.go();
    b.go();
    a.wait();
    b.wait();
    let evs = collect_for(&mut probe, Duration::from_millis(600), |e| {
        e.tgid() == pa || e.tgid() == pb
    });
    assert_eq!(
        count(&evs, |e| e.tgid() == pa),
        0,
        "ignored process: no syscall, no lifecycle event"
    );
    assert_eq!(
        count(&evs, |e| e.tgid() == pb && is_syscall(e, "getppid")),
        1
    );
    assert_eq!(
        count(&evs, |e| e.tgid() == pb && is_kind(e, EventKind::ProcExit)),
        1
    );
    // and back
    probe.control().unignore_tgid(pa).unwrap();
    probe.control().unignore_tgid(pa).unwrap(); // idempotent
}

#[test]
#[ignore = "needs root and eBPF"]
fn the_default_options_ignore_the_loading_process() {
    let mut probe = Probe::load(&ProbeOptions {
        wanted: WantedSyscalls::from_names(["getppid"]).unwrap(),
        ..Default::default()
    })
    .unwrap();
    let me = std::process::id();
    unsafe { libc::syscall(libc::SYS_getppid) };
    let mut c = getppid_child();
    let pid = c.pid as u32;
    c.go();
    c.wait();
    let evs = collect_for(&mut probe, Duration::from_millis(400), |e| {
        e.tgid() == me || e.tgid() == pid
    });
    assert_eq!(count(&evs, |e| e.tgid() == me), 0);
    assert_eq!(count(&evs, |e| e.tgid() == pid), 1);
}

#[test]
#[ignore = "needs root and eBPF"]
fn a_full_ring_buffer_counts_dropped_events() {
    const N: i64 = 3000;
    let mut probe = Probe::load(&ProbeOptions {
        ignore_tgids: vec![],
        ring_buffer_bytes: 4096,
        wakeup_threshold_bytes: 1024,
        wanted: WantedSyscalls::from_names(["getppid"]).unwrap(),
        ..Default::default()
    })
    .unwrap();
    let before = probe.drop_counts().unwrap();
    let mut c = spawn(|_| {
        for _ in 0..N {
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        0
    });
    let pid = c.pid as u32;
    c.go();
    c.wait();
    let after = probe.drop_counts().unwrap();
    let mut delivered = 0;
    probe.drain(|e| delivered += usize::from(e.tgid() == pid));
    let dropped = after.ringbuf_full - before.ringbuf_full;
    // a getppid event is 104 + 48 bytes (+ 8 of ring header): at most 25 fit in 4 KiB
    assert!(
        delivered > 0 && delivered <= 4096 / 160,
        "delivered {delivered}"
    );
    assert!(
        dropped >= N as u64 - delivered as u64,
        "dropped {dropped}, delivered {delivered}"
    );
    assert_eq!(after.malformed, 0);
    assert!(after.lost_events() >= dropped);
}

fn cgroup2_id_of_self() -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let cg = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mnt = mounts.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        post.starts_with("cgroup2 ")
            .then(|| pre.split(' ').nth(4).map(str::to_string))?
    })?;
    Some(std::fs::metadata(format!("{mnt}{rel}")).ok()?.ino())
}

fn clock(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(id, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
#[ignore = "needs root and eBPF"]
fn header_carries_time_cgroup_loginuid_and_credentials() {
    let mut probe = probe(&["getppid"], false, &[]);
    let mut c = getppid_child();
    let pid = c.pid as u32;
    let t0 = clock(libc::CLOCK_BOOTTIME);
    c.go();
    c.wait();
    let t1 = clock(libc::CLOCK_BOOTTIME);
    let real = clock(libc::CLOCK_REALTIME) as i64;
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| !k.is_empty());
    let e = evs[0].view();
    assert!(
        (t0..=t1).contains(&e.ts_boot_ns()),
        "{t0} <= {} <= {t1}",
        e.ts_boot_ns()
    );
    let wall = e.wall_clock_ns(kestrel_probe::boot_to_wall_clock_offset());
    assert!(
        (real - wall).abs() < 2_000_000_000,
        "wall clock {wall} vs now {real}"
    );
    let cg = cgroup2_id_of_self().expect("cgroup v2 mounted");
    assert_eq!(
        e.cgroup_id(),
        cg,
        "cgroup v2 id is the inode of the cgroup directory"
    );
    let loginuid: u32 = std::fs::read_to_string("/proc/self/loginuid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(e.loginuid(), loginuid);
    assert_eq!((e.uid(), e.gid(), e.euid(), e.egid()), (0, 0, 0, 0));
    assert_eq!(e.ptgid(), std::process::id());
    // the child inherits our effective capabilities (CapEff in /proc, hex)
    let cap_eff = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    assert_eq!(e.cap_effective(), cap_eff);
    assert_ne!(e.cap_effective() & (1 << 21), 0, "root has CAP_SYS_ADMIN");
}

#[test]
#[ignore = "needs root and eBPF"]
fn capabilities_dropped_by_a_task_show_in_its_events() {
    let mut probe = probe(&["getppid"], false, &[]);
    let mut c = spawn(|_| {
        // drop CAP_SYS_ADMIN (21) from the effective set only
        let mut data = [CapData::default(); 2];
        let mut hdr = CapHeader {
            version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
            pid: 0,
        };
        unsafe { libc::syscall(libc::SYS_capget, &mut hdr, data.as_mut_ptr()) };
        data[0].effective &= !(1 << 21);
        unsafe { libc::syscall(libc::SYS_capset, &mut hdr, data.as_ptr()) };
        unsafe { libc::syscall(libc::SYS_getppid) };
        0
    });
    let pid = c.pid as u32;
    c.go();
    c.wait();
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| !k.is_empty());
    let e = evs[0].view();
    assert_eq!(e.cap_effective() & (1 << 21), 0, "CAP_SYS_ADMIN dropped");
    assert_ne!(e.cap_effective() & 1, 0, "CAP_CHOWN kept");
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[test]
#[ignore = "needs root and eBPF"]
fn setid_family_reports_ids_and_new_credentials() {
    let mut probe = probe(
        &[
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
        ],
        false,
        &[],
    );
    let mut c = spawn(|r| unsafe {
        r.report(libc::syscall(libc::SYS_setuid, 0));
        r.report(libc::syscall(libc::SYS_setgid, 0));
        r.report(libc::syscall(libc::SYS_setregid, -1, 0));
        r.report(libc::syscall(libc::SYS_setreuid, -1, 0));
        r.report(libc::syscall(libc::SYS_setresgid, 0, 65534, -1));
        r.report(libc::syscall(libc::SYS_setresuid, 0, 65534, -1)); // euid becomes nobody
        0
    });
    let pid = c.pid as u32;
    c.go();
    let (status, res) = c.wait();
    assert_eq!(status, 0);
    assert!(res.iter().all(|r| *r == 0), "{res:?}");
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| k.len() >= 6);
    let got: Vec<_> = evs
        .iter()
        .map(|e| {
            let e = e.view();
            (
                e.syscall_name().unwrap(),
                e.fixed::<SetIdFixed>().unwrap().ids,
                e.ret(),
                e.euid(),
                e.egid(),
            )
        })
        .collect();
    let m = u32::MAX;
    assert_eq!(
        got,
        vec![
            ("setuid", [0, m, m], 0, 0, 0),
            ("setgid", [0, m, m], 0, 0, 0),
            ("setregid", [m, 0, m], 0, 0, 0),
            ("setreuid", [m, 0, m], 0, 0, 0),
            ("setresgid", [0, 65534, m], 0, 0, 65534),
            ("setresuid", [0, 65534, m], 0, 65534, 65534),
        ]
    );
}

#[test]
#[ignore = "needs root and eBPF"]
fn ptrace_and_module_syscalls_report_their_arguments() {
    // The kernel rejects these modules before reading uargs, so uargs must already be
    // resident for the probe to read it (heap, as in real callers; see the read-failure
    // test for what happens otherwise).
    let uargs1 = std::ffi::CString::new("kestrel_test=1").unwrap();
    let uargs2 = std::ffi::CString::new("opt=2").unwrap();
    let mut probe = probe(&["ptrace", "init_module", "finit_module"], false, &[]);
    // raw syscall result as the kernel returned it: -errno on failure
    fn raw(rc: i64) -> i64 {
        if rc == -1 {
            -(unsafe { *libc::__errno_location() } as i64)
        } else {
            rc
        }
    }
    let mut c = spawn(|r| unsafe {
        r.report(raw(libc::syscall(
            libc::SYS_ptrace,
            libc::PTRACE_ATTACH,
            999_999_999,
            0x1234,
            0x5678,
        )));
        r.report(raw(libc::syscall(
            libc::SYS_init_module,
            std::ptr::null::<u8>(),
            0usize,
            uargs1.as_ptr(),
        )));
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        r.report(fd as i64);
        r.report(raw(libc::syscall(
            libc::SYS_finit_module,
            fd,
            uargs2.as_ptr(),
            0,
        )));
        0
    });
    let pid = c.pid as u32;
    c.go();
    let (_, res) = c.wait();
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| k.len() >= 3);
    let p = find(&evs, |e| is_kind(e, EventKind::Ptrace)).expect("ptrace");
    let pf = p.fixed::<PtraceFixed>().unwrap();
    assert_eq!(
        (pf.request, pf.pid, pf.addr, pf.data),
        (libc::PTRACE_ATTACH as i64, 999_999_999, 0x1234, 0x5678)
    );
    assert_eq!(p.ret(), -(libc::ESRCH as i64));
    assert_eq!(p.ret(), res[0]);
    let m = find(&evs, |e| is_syscall(e, "init_module")).expect("init_module");
    let mf = m.fixed::<ModuleFixed>().unwrap();
    assert_eq!((mf.fd, mf.len), (-1, 0));
    assert_eq!(m.str_param(0), Some(&b"kestrel_test=1"[..]));
    assert_eq!(m.ret(), res[1]);
    assert!(m.ret() < 0, "not a module");
    let f = find(&evs, |e| is_syscall(e, "finit_module")).expect("finit_module");
    assert_eq!(f.fixed::<ModuleFixed>().unwrap().fd as i64, res[2]);
    assert_eq!(f.str_param(0), Some(&b"opt=2"[..]));
    assert_eq!(f.ret(), res[3]);
    assert!(f.ret() < 0, "not a module");
}

#[test]
#[ignore = "needs root and eBPF"]
fn mount_and_umount_in_a_private_mount_namespace() {
    let dir = TempDir::new("mount");
    let target = cstr(dir.path());
    let mut probe = probe(&["mount", "umount2"], false, &[]);
    let mut c = spawn(|r| unsafe {
        r.report(libc::unshare(libc::CLONE_NEWNS) as i64);
        r.report(libc::syscall(
            libc::SYS_mount,
            std::ptr::null::<u8>(),
            c"/".as_ptr(),
            std::ptr::null::<u8>(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null::<u8>(),
        ));
        r.report(libc::syscall(
            libc::SYS_mount,
            c"kestrel-test".as_ptr(),
            target.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID,
            c"size=1m".as_ptr(),
        ));
        r.report(libc::syscall(
            libc::SYS_umount2,
            target.as_ptr(),
            libc::MNT_DETACH,
        ));
        0
    });
    let pid = c.pid as u32;
    c.go();
    let (_, res) = c.wait();
    assert_eq!(res, vec![0, 0, 0, 0]);
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| k.len() >= 3);
    assert_eq!(evs.len(), 3);
    let v: Vec<_> = evs.iter().map(|e| e.view()).collect();
    assert!(
        v.iter()
            .all(|e| e.kind() == Some(EventKind::Mount) && e.ret() == 0)
    );
    assert_eq!(
        v[0].fixed::<MountFixed>().unwrap().flags,
        libc::MS_REC | libc::MS_PRIVATE
    );
    assert_eq!(
        (v[0].str_param(0), v[0].str_param(1)),
        (None, Some(&b"/"[..]))
    );
    assert_eq!(v[1].str_param(0), Some(&b"kestrel-test"[..]));
    assert_eq!(v[1].path(), Some(dir.path().as_os_str().as_encoded_bytes()));
    assert_eq!(v[1].str_param(2), Some(&b"tmpfs"[..]));
    assert_eq!(v[1].fixed::<MountFixed>().unwrap().flags, libc::MS_NOSUID);
    assert_eq!(v[2].syscall_name(), Some("umount2"));
    assert_eq!(v[2].path(), Some(dir.path().as_os_str().as_encoded_bytes()));
    assert_eq!(
        v[2].fixed::<MountFixed>().unwrap().flags,
        libc::MNT_DETACH as u64
    );
}

#[test]
#[ignore = "needs root and eBPF"]
fn pid_namespace_ids_differ_from_host_ids() {
    let mut probe = probe(&["getppid"], true, &[]);
    // child: unshare(CLONE_NEWPID), fork a grandchild (pid 1 in the new namespace)
    let mut c = spawn(|r| unsafe {
        if libc::unshare(libc::CLONE_NEWPID) != 0 {
            return 2;
        }
        let g = libc::fork();
        if g == 0 {
            libc::syscall(libc::SYS_getppid);
            libc::_exit(0);
        }
        r.report(g as i64);
        let mut st = 0;
        libc::waitpid(g, &mut st, 0);
        0
    });
    let pid = c.pid as u32;
    c.go();
    let (status, res) = c.wait();
    assert_eq!(status, 0);
    let g = res[0] as u32;
    let evs = collect(
        &mut probe,
        |e| e.tgid() == g || e.tgid() == pid,
        |k| count(k, |e| e.tgid() == g && is_syscall(e, "getppid")) >= 1,
    );
    let e = find(&evs, |e| e.tgid() == g && is_syscall(e, "getppid")).expect("grandchild getppid");
    assert_eq!((e.tid(), e.tgid()), (g, g));
    assert_eq!((e.ns_tid(), e.ns_tgid()), (1, 1), "pid 1 of its namespace");
    assert_eq!(e.ptgid(), pid);
    assert_eq!(e.ret(), 0, "its parent is outside its pid namespace");
    let fork = find(&evs, |e| {
        e.fixed::<kestrel_probe::event::ProcForkFixed>()
            .is_some_and(|f| f.child_tid == g)
    })
    .expect("fork of the grandchild");
    let f = fork.fixed::<kestrel_probe::event::ProcForkFixed>().unwrap();
    assert_eq!((f.child_tgid, f.child_ns_tid, f.child_ns_tgid), (g, 1, 1));
}

#[test]
#[ignore = "needs root and eBPF"]
fn i386_abi_syscalls_are_skipped_and_counted() {
    // int 0x80 with eax = 20 is i386 getpid; x86_64 nr 20 is writev
    let mut probe = probe(&["writev"], false, &[]);
    let before = probe.drop_counts().unwrap().compat_syscalls;
    let mut c = spawn(|r| {
        let ret: i64;
        unsafe { std::arch::asm!("int 0x80", inlateout("rax") 20i64 => ret, options(nostack)) };
        r.report(ret);
        0
    });
    let pid = c.pid as u32;
    c.go();
    let (_, res) = c.wait();
    assert_eq!(res[0], pid as i64, "i386 getpid returned our pid");
    let evs = collect_for(&mut probe, Duration::from_millis(400), |e| e.tgid() == pid);
    assert!(evs.is_empty(), "not decoded as writev");
    assert!(probe.drop_counts().unwrap().compat_syscalls > before);
}

#[test]
#[ignore = "needs root and eBPF"]
fn unreadable_arguments_are_flagged_and_counted() {
    let mut probe = probe(&["openat"], false, &[]);
    let before = probe.drop_counts().unwrap().read_failed;
    let mut c = spawn(|_| unsafe {
        // a path pointer into unmapped memory: EFAULT for the kernel, unreadable for us
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            8usize as *const u8,
            libc::O_RDONLY,
            0,
        );
        0
    });
    let pid = c.pid as u32;
    c.go();
    c.wait();
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| !k.is_empty());
    let e = evs[0].view();
    assert_eq!(e.ret(), -(libc::EFAULT as i64));
    assert_eq!(e.path(), None);
    assert!(e.read_failed() && !e.is_truncated());
    assert!(probe.drop_counts().unwrap().read_failed > before);
}

#[test]
#[ignore = "needs root and eBPF"]
fn long_paths_are_truncated_and_flagged() {
    let long = std::ffi::CString::new(format!("/{}", "a".repeat(5000))).unwrap();
    let mut probe = probe(&["openat"], false, &[]);
    let mut c = spawn(|_| unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            long.as_ptr(),
            libc::O_RDONLY,
            0,
        );
        0
    });
    let pid = c.pid as u32;
    c.go();
    c.wait();
    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| !k.is_empty());
    let e = evs[0].view();
    assert_eq!(e.ret(), -(libc::ENAMETOOLONG as i64));
    let p = e.path().unwrap();
    assert_eq!(p.len(), 4095, "KESTREL_MAX_PATH bytes including the NUL");
    assert_eq!(&p[..3], b"/aa");
    assert!(e.is_truncated() && !e.read_failed());
}

#[test]
#[ignore = "needs root and eBPF"]
fn loading_without_privileges_says_what_is_missing() {
    // A child that gives up root (and with it every capability) tries to load the probe.
    let mut c = spawn(|r| unsafe {
        if libc::setresgid(65534, 65534, 65534) != 0 || libc::setresuid(65534, 65534, 65534) != 0 {
            return 3;
        }
        match Probe::load(&ProbeOptions::default()) {
            Err(kestrel_probe::ProbeError::PermissionDenied { .. }) => {
                let msg = Probe::load(&ProbeOptions::default())
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                r.report(i64::from(
                    msg.contains("needs root or CAP_BPF and CAP_PERFMON"),
                ));
                0
            }
            Err(_) => 1,
            Ok(_) => 2,
        }
    });
    c.go();
    let (status, res) = c.wait();
    assert!(libc::WIFEXITED(status), "child crashed: {status}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "1: other error, 2: loaded unprivileged, 3: setresuid"
    );
    assert_eq!(res, vec![1], "error text names the capabilities");
}

#[test]
#[ignore = "needs root and eBPF"]
fn outcome_filters_select_successful_or_failed_calls_in_the_kernel() {
    use kestrel_probe::Outcomes;
    let mut probe = probe(&[], false, &[]);
    let run = |probe: &mut Probe, outcomes: Outcomes| {
        let mut w = WantedSyscalls::new();
        w.insert_name_outcomes("openat", outcomes).unwrap();
        probe.set_wanted_syscalls(&w).unwrap();
        let mut c = spawn(|_| unsafe {
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c"/".as_ptr(),
                libc::O_RDONLY,
                0,
            );
            libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                c"/nonexistent/kestrel".as_ptr(),
                libc::O_RDONLY,
                0,
            );
            0
        });
        let pid = c.pid as u32;
        c.go();
        c.wait();
        let evs = collect_for(probe, Duration::from_millis(400), |e| e.tgid() == pid);
        evs.iter().map(|e| e.view().ret() >= 0).collect::<Vec<_>>()
    };
    assert_eq!(run(&mut probe, Outcomes::Any), vec![true, false]);
    assert_eq!(run(&mut probe, Outcomes::Success), vec![true]);
    assert_eq!(run(&mut probe, Outcomes::Failure), vec![false]);
}

#[test]
#[ignore = "needs root and eBPF"]
fn exits_of_enters_skipped_on_purpose_are_not_counted_as_misses() {
    // the loading process is ignored by default; fcntl is only stashed for F_DUPFD*
    let mut probe = Probe::load(&ProbeOptions {
        wanted: WantedSyscalls::from_names(["getppid", "fcntl"]).unwrap(),
        ..Default::default()
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let before = probe.drop_counts().unwrap();
    for _ in 0..500 {
        unsafe { libc::syscall(libc::SYS_getppid) }; // ignored process
    }
    let mut c = spawn(|_| {
        for _ in 0..500 {
            unsafe { libc::fcntl(0, libc::F_GETFD) }; // not a duplication: skipped at enter
        }
        let dup = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 100) };
        unsafe { libc::close(dup) };
        0
    });
    let pid = c.pid as u32;
    c.go();
    c.wait();
    let evs = collect_for(&mut probe, Duration::from_millis(400), |e| {
        e.tgid() == pid || e.tgid() == std::process::id()
    });
    let after = probe.drop_counts().unwrap();
    assert_eq!(count(&evs, |e| e.tgid() == std::process::id()), 0);
    assert_eq!(
        count(&evs, |e| e.tgid() == pid),
        1,
        "only the F_DUPFD_CLOEXEC call"
    );
    assert_eq!(
        after.stash_miss - before.stash_miss,
        0,
        "exits of skipped enters counted as misses"
    );
}
