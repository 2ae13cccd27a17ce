//! Real-kernel tests: file syscalls (open family, file operations, fd tracking).
mod common;

use common::*;
use kestrel_probe::EventKind;
use kestrel_probe::event::{FdOpFixed, FileOpFixed};

const AT_FDCWD: i32 = libc::AT_FDCWD;

#[test]
#[ignore = "needs root and eBPF"]
fn open_family_reports_path_flags_mode_dirfd_and_fd() {
    let dir = TempDir::new("open");
    std::fs::write(dir.join("existing"), b"x").unwrap();
    let existing = cstr(&dir.join("existing"));
    let created = cstr(&dir.join("created"));
    let legacy = cstr(&dir.join("legacy"));
    let creat_path = cstr(&dir.join("creat"));
    let open2 = cstr(&dir.join("openat2"));
    let mut probe = probe(&["openat", "open", "creat", "openat2"], false, &[]);
    let comm = thread_comm();

    let mut child = spawn(|r| unsafe {
        let fd1 = libc::syscall(
            libc::SYS_openat,
            AT_FDCWD,
            existing.as_ptr(),
            libc::O_RDONLY,
            0,
        );
        r.report(fd1);
        let fd2 = libc::syscall(
            libc::SYS_openat,
            AT_FDCWD,
            created.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT,
            0o640,
        );
        r.report(fd2);
        let fd3 = libc::syscall(
            libc::SYS_open,
            legacy.as_ptr(),
            libc::O_RDWR | libc::O_CREAT,
            0o600,
        );
        r.report(fd3);
        let fd4 = libc::syscall(libc::SYS_creat, creat_path.as_ptr(), 0o644);
        r.report(fd4);
        // struct open_how { u64 flags; u64 mode; u64 resolve; }
        let how: [u64; 3] = [
            (libc::O_RDONLY | libc::O_CREAT) as u64,
            0o600,
            libc::RESOLVE_NO_SYMLINKS,
        ];
        let fd5 = libc::syscall(
            libc::SYS_openat2,
            AT_FDCWD,
            open2.as_ptr(),
            how.as_ptr(),
            24usize,
        );
        r.report(fd5);
        // a failing open: ENOENT
        let bad = libc::syscall(
            libc::SYS_openat,
            AT_FDCWD,
            c"/nonexistent/kestrel".as_ptr(),
            libc::O_RDONLY,
            0,
        );
        r.report(bad);
        0
    });
    let pid = child.pid as u32;
    child.go();
    let (status, fds) = child.wait();
    assert_eq!(status, 0);
    assert!(
        fds[..5].iter().all(|&fd| fd >= 3),
        "child opens succeeded: {fds:?}"
    );

    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| k.len() >= 6);
    assert_eq!(evs.len(), 6, "six open events from the child");
    for e in evs.iter().map(|e| e.view()) {
        assert_eq!(e.kind(), Some(EventKind::Open));
        assert_eq!(
            (e.tid(), e.tgid(), e.ns_tid(), e.ns_tgid()),
            (pid, pid, pid, pid)
        );
        assert_eq!(e.ptgid(), std::process::id());
        assert_eq!(e.comm(), &comm[..]);
        assert_eq!((e.uid(), e.euid()), (0, 0));
    }
    let by_path = |p: &std::path::Path| {
        find(&evs, |e| e.path() == Some(p.as_os_str().as_encoded_bytes())).expect("event for path")
    };

    let e = by_path(&dir.join("existing"));
    assert_eq!(e.syscall_name(), Some("openat"));
    let f = e.open().unwrap();
    assert_eq!(
        (f.dirfd, f.flags as i32, f.mode),
        (AT_FDCWD, libc::O_RDONLY, 0)
    );
    assert_eq!(e.ret(), fds[0]);

    let e = by_path(&dir.join("created"));
    let f = e.open().unwrap();
    assert_eq!(
        (f.flags as i32, f.mode),
        (libc::O_WRONLY | libc::O_CREAT, 0o640)
    );
    assert_eq!(e.ret(), fds[1]);

    let e = by_path(&dir.join("legacy"));
    assert_eq!(e.syscall_name(), Some("open"));
    let f = e.open().unwrap();
    assert_eq!(
        (f.dirfd, f.flags as i32, f.mode),
        (AT_FDCWD, libc::O_RDWR | libc::O_CREAT, 0o600)
    );
    assert_eq!(e.ret(), fds[2]);

    let e = by_path(&dir.join("creat"));
    assert_eq!(e.syscall_name(), Some("creat"));
    let f = e.open().unwrap();
    assert_eq!(
        (f.flags as i32, f.mode),
        (libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644)
    );
    assert_eq!(e.ret(), fds[3]);

    let e = by_path(&dir.join("openat2"));
    assert_eq!(e.syscall_name(), Some("openat2"));
    let f = e.open().unwrap();
    assert_eq!(
        (f.flags as i32, f.mode, f.resolve),
        (
            libc::O_RDONLY | libc::O_CREAT,
            0o600,
            libc::RESOLVE_NO_SYMLINKS
        )
    );
    assert_eq!(e.ret(), fds[4]);

    let e = find(&evs, |e| e.path() == Some(b"/nonexistent/kestrel")).unwrap();
    assert_eq!(e.ret(), -(libc::ENOENT as i64));
    assert_eq!(fds[5], -1);
}

#[test]
#[ignore = "needs root and eBPF"]
fn file_operations_report_paths_dirfds_modes_and_flags() {
    let dir = TempDir::new("fileops");
    let d = cstr(&dir.join("d"));
    let d2 = cstr(&dir.join("d2"));
    let f = cstr(&dir.join("f"));
    let g = cstr(&dir.join("g"));
    let h = cstr(&dir.join("h"));
    std::fs::write(dir.join("f"), b"x").unwrap();
    let dir_c = cstr(dir.path());
    let mut probe = probe(
        &[
            "mkdir",
            "mkdirat",
            "chmod",
            "fchmod",
            "fchmodat",
            "rename",
            "renameat",
            "renameat2",
            "unlink",
            "unlinkat",
            "rmdir",
            "chdir",
            "fchdir",
        ],
        false,
        &[],
    );

    let mut child = spawn(|r| unsafe {
        r.report(libc::syscall(libc::SYS_mkdir, d.as_ptr(), 0o750));
        let dfd = libc::open(dir_c.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        r.report(dfd as i64);
        r.report(libc::syscall(libc::SYS_mkdirat, dfd, c"d3".as_ptr(), 0o700));
        r.report(libc::syscall(libc::SYS_chmod, f.as_ptr(), 0o600));
        let ffd = libc::open(f.as_ptr(), libc::O_RDONLY);
        r.report(ffd as i64);
        r.report(libc::syscall(libc::SYS_fchmod, ffd, 0o640));
        r.report(libc::syscall(libc::SYS_fchmodat, dfd, c"f".as_ptr(), 0o604));
        r.report(libc::syscall(libc::SYS_rename, f.as_ptr(), g.as_ptr()));
        r.report(libc::syscall(
            libc::SYS_renameat,
            dfd,
            c"g".as_ptr(),
            dfd,
            c"h".as_ptr(),
        ));
        r.report(libc::syscall(
            libc::SYS_renameat2,
            AT_FDCWD,
            h.as_ptr(),
            AT_FDCWD,
            g.as_ptr(),
            libc::RENAME_NOREPLACE,
        ));
        r.report(libc::syscall(libc::SYS_unlinkat, dfd, c"g".as_ptr(), 0));
        r.report(libc::syscall(
            libc::SYS_unlinkat,
            dfd,
            c"d3".as_ptr(),
            libc::AT_REMOVEDIR,
        ));
        r.report(libc::syscall(libc::SYS_rmdir, d.as_ptr()));
        r.report(libc::syscall(libc::SYS_unlink, d2.as_ptr())); // ENOENT
        r.report(libc::syscall(libc::SYS_chdir, dir_c.as_ptr()));
        r.report(libc::syscall(libc::SYS_fchdir, dfd));
        0
    });
    let pid = child.pid as u32;
    child.go();
    let (status, res) = child.wait();
    assert_eq!(status, 0);
    let (dfd, ffd) = (res[1] as i32, res[4] as i32);
    assert!(dfd >= 3 && ffd >= 3);

    let evs = collect(&mut probe, |e| e.tgid() == pid, |k| k.len() >= 14);
    assert_eq!(evs.len(), 14, "one event per file operation");
    assert!(
        evs.iter()
            .all(|e| e.view().kind() == Some(EventKind::FileOp))
    );
    let ev = |name: &str, nth: usize| {
        evs.iter()
            .map(|e| e.view())
            .filter(|e| is_syscall(e, name))
            .nth(nth)
            .unwrap_or_else(|| panic!("{name} #{nth}"))
    };
    let p = |name: &str| dir.join(name).into_os_string().into_encoded_bytes();
    let fixed = |e: &kestrel_probe::RawEvent<'_>| *e.fixed::<FileOpFixed>().unwrap();

    let e = ev("mkdir", 0);
    assert_eq!(e.path(), Some(&p("d")[..]));
    assert_eq!(
        (fixed(&e).fd, fixed(&e).mode, e.ret()),
        (AT_FDCWD, 0o750, 0)
    );
    let e = ev("mkdirat", 0);
    assert_eq!(e.path(), Some(&b"d3"[..]));
    assert_eq!((fixed(&e).fd, fixed(&e).mode), (dfd, 0o700));
    let e = ev("chmod", 0);
    assert_eq!(e.path(), Some(&p("f")[..]));
    assert_eq!(fixed(&e).mode, 0o600);
    let e = ev("fchmod", 0);
    assert_eq!(e.path(), None);
    assert_eq!((fixed(&e).fd, fixed(&e).mode), (ffd, 0o640));
    let e = ev("fchmodat", 0);
    assert_eq!(
        (e.path(), fixed(&e).fd, fixed(&e).mode),
        (Some(&b"f"[..]), dfd, 0o604)
    );
    let e = ev("rename", 0);
    assert_eq!(
        (e.path(), e.path2()),
        (Some(&p("f")[..]), Some(&p("g")[..]))
    );
    let e = ev("renameat", 0);
    assert_eq!((e.path(), e.path2()), (Some(&b"g"[..]), Some(&b"h"[..])));
    assert_eq!((fixed(&e).fd, fixed(&e).fd2), (dfd, dfd));
    let e = ev("renameat2", 0);
    assert_eq!(
        (e.path(), e.path2()),
        (Some(&p("h")[..]), Some(&p("g")[..]))
    );
    assert_eq!(
        (fixed(&e).fd, fixed(&e).fd2, fixed(&e).flags),
        (AT_FDCWD, AT_FDCWD, libc::RENAME_NOREPLACE)
    );
    let e = ev("unlinkat", 0);
    assert_eq!(
        (e.path(), fixed(&e).fd, fixed(&e).flags, e.ret()),
        (Some(&b"g"[..]), dfd, 0, 0)
    );
    let e = ev("unlinkat", 1);
    assert_eq!(
        (e.path(), fixed(&e).flags),
        (Some(&b"d3"[..]), libc::AT_REMOVEDIR as u32)
    );
    let e = ev("rmdir", 0);
    assert_eq!((e.path(), e.ret()), (Some(&p("d")[..]), 0));
    let e = ev("unlink", 0);
    assert_eq!(
        (e.path(), e.ret()),
        (Some(&p("d2")[..]), -(libc::ENOENT as i64))
    );
    let e = ev("chdir", 0);
    assert_eq!(
        (e.path(), e.ret()),
        (Some(dir.path().as_os_str().as_encoded_bytes()), 0)
    );
    let e = ev("fchdir", 0);
    assert_eq!((e.path(), fixed(&e).fd, e.ret()), (None, dfd, 0));
    for (i, r) in res.iter().enumerate() {
        if i != 13 {
            assert!(*r >= 0, "op #{i} succeeded in the child: {res:?}");
        }
    }
}

#[test]
#[ignore = "needs root and eBPF"]
fn fd_operations_dup_fcntl_close_and_in_kernel_fcntl_filter() {
    let mut probe = probe(&["dup", "dup2", "dup3", "fcntl", "close"], false, &[]);
    let mut child = spawn(|r| unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        r.report(fd as i64);
        r.report(libc::syscall(libc::SYS_dup, fd));
        r.report(libc::syscall(libc::SYS_dup2, fd, 100));
        r.report(libc::syscall(libc::SYS_dup3, fd, 101, libc::O_CLOEXEC));
        r.report(libc::syscall(
            libc::SYS_fcntl,
            fd,
            libc::F_DUPFD_CLOEXEC,
            200,
        ));
        r.report(libc::syscall(libc::SYS_fcntl, fd, libc::F_GETFL, 0)); // filtered in the kernel
        r.report(libc::syscall(libc::SYS_close, 100));
        0
    });
    let pid = child.pid as u32;
    child.go();
    let (status, res) = child.wait();
    assert_eq!(status, 0);
    let fd = res[0] as i32;

    // 5 events expected; wait a little more to make sure the F_GETFL one does not come
    let evs = collect_for(&mut probe, std::time::Duration::from_millis(600), |e| {
        e.tgid() == pid
    });
    let views: Vec<_> = evs.iter().map(|e| e.view()).collect();
    let summary: Vec<_> = views
        .iter()
        .map(|e| {
            let f = e.fixed::<FdOpFixed>().unwrap();
            (
                e.syscall_name().unwrap(),
                f.fd,
                f.fd2,
                f.flags,
                f.cmd,
                e.ret(),
            )
        })
        .collect();
    // the child's exit closes its remaining fds in the kernel without syscalls
    let expected = vec![
        ("dup", fd, -1, 0, -1, res[1]),
        ("dup2", fd, 100, 0, -1, 100),
        ("dup3", fd, 101, libc::O_CLOEXEC as u32, -1, 101),
        ("fcntl", fd, 200, 0, libc::F_DUPFD_CLOEXEC, res[4]),
        ("close", 100, -1, 0, -1, 0),
    ];
    assert_eq!(summary, expected);
    assert!(views.iter().all(|e| e.kind() == Some(EventKind::FdOp)));
    assert!(res[5] >= 0, "F_GETFL ran");
}
