//! Every default rule in config/rules fires on the real syscall it describes. Root and eBPF
//! needed: `make test` runs these. One agent watches while the test does each thing in turn.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(3);

#[test]
#[ignore = "needs root and eBPF: make test"]
fn each_default_rule_fires_on_its_syscall() {
    let mut agent = Agent::start(&[default_rules()], &["--rule-matching", "all"]);
    let dir = scratch("defaults");
    let pid = std::process::id();

    // Reading /etc/shadow
    assert!(run("cat", &["/etc/shadow"]).status.success());
    agent.expect(
        &[
            "Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow",
            "process=cat",
        ],
        WAIT,
    );

    // Writes below /etc
    let etc_file = format!("/etc/kestrel-test-{pid}");
    std::fs::write(&etc_file, "x").unwrap();
    std::fs::remove_file(&etc_file).unwrap();
    agent.expect(
        &[
            "Error File below /etc opened for writing",
            &format!("file={etc_file}"),
        ],
        WAIT,
    );

    // Writes below a binary directory
    let bin_file = format!("/usr/local/bin/kestrel-test-{pid}");
    std::fs::write(&bin_file, "x").unwrap();
    std::fs::remove_file(&bin_file).unwrap();
    agent.expect(
        &[
            "Error File below a known binary directory opened for writing",
            &format!("file={bin_file}"),
        ],
        WAIT,
    );

    // rm -rf of something below a system directory
    let sys_dir = format!("/usr/lib/kestrel-test-{pid}");
    std::fs::create_dir_all(format!("{sys_dir}/sub")).unwrap();
    std::fs::write(format!("{sys_dir}/sub/f"), "x").unwrap();
    assert!(run("rm", &["-rf", &sys_dir]).status.success());
    agent.expect(
        &[
            "Critical Recursive delete of a system directory",
            &format!("command=rm -rf {sys_dir}"),
        ],
        WAIT,
    );
    agent.expect(
        &[
            "Error Directory below a system directory removed",
            &format!("path={sys_dir}/sub"),
        ],
        WAIT,
    );

    // A network tool (a copy of `true` named nc), run from a temporary directory
    let nc = dir.join("nc");
    std::fs::copy("/bin/true", &nc).unwrap();
    assert!(
        Command::new(&nc)
            .arg("-z")
            .arg("localhost")
            .status()
            .unwrap()
            .success()
    );
    agent.expect(
        &[
            "Notice Network tool launched",
            "process=nc",
            "command=nc -z localhost",
        ],
        WAIT,
    );
    agent.expect(
        &[
            "Warning Executable run from a temporary directory",
            &format!("exepath={}", nc.display()),
        ],
        WAIT,
    );

    // setuid bit
    let f = dir.join("suid");
    std::fs::write(&f, "x").unwrap();
    assert!(
        run("chmod", &["4755", f.to_str().unwrap()])
            .status
            .success()
    );
    let line = agent.expect(
        &[
            "Notice Setuid or setgid bit set",
            &format!("file={}", f.display()),
        ],
        WAIT,
    );
    assert!(line.contains("S_ISUID"), "{line}");
    // plain chmod does not fire
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();

    // ptrace attach to a child
    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let rc = unsafe { libc::ptrace(libc::PTRACE_SEIZE, sleeper.id() as libc::pid_t, 0, 0) };
    assert_eq!(rc, 0, "PTRACE_SEIZE: {}", std::io::Error::last_os_error());
    let line = agent.expect(
        &[
            "Warning Process attached to another with ptrace (request=PTRACE_SEIZE",
            &format!("target_pid={}", sleeper.id()),
        ],
        WAIT,
    );
    assert!(line.contains("user=root"), "{line}");
    let _ = sleeper.kill();
    let _ = sleeper.wait();

    // kernel module load attempt (fails: bad fd, or ENOSYS on kernels without modules), still
    // reported with the kernel's answer
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0) };
    assert_eq!(rc, -1);
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap() as i64;
    let name = kestrel_agent::event::errno::res_name(-errno).unwrap();
    agent.expect(
        &[&format!("Warning Kernel module load attempted (res={name}")],
        WAIT,
    );

    std::fs::remove_dir_all(&dir).unwrap();
    let status = agent.stop();
    assert!(status.success());
}
