//! The agent against the real kernel: start `kestrel-agent run`, make real syscalls, assert the
//! alerts it prints. Root and eBPF needed: `make test` runs these.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::*;

const TWO_SECONDS: Duration = Duration::from_secs(2);

#[test]
#[ignore = "needs root and eBPF: make test"]
fn read_passwd_alert_names_root_and_host() {
    let mut agent = Agent::start(&[default_rules(), sample_rules()], &[]);
    let out = run("cat", &["/etc/passwd"]);
    assert!(out.status.success());
    let line = agent.expect(
        &[": Warning passwd file read (user=root command=cat /etc/passwd container=host)"],
        TWO_SECONDS,
    );
    // Falco's text format: HH:MM:SS.nnnnnnnnn: Priority output
    let clock = line.split(": ").next().unwrap();
    assert_eq!(clock.len(), 18, "{line}");
    assert_eq!(&clock[2..3], ":");
    assert_eq!(&clock[8..9], ".");
    let status = agent.stop();
    assert!(status.success(), "agent exit status {status}");
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn json_output_has_falco_keys() {
    let mut agent = Agent::start(&[default_rules(), sample_rules()], &["--json"]);
    run("cat", &["/etc/passwd"]);
    let line = agent.expect(&["\"rule\":\"Read Passwd File\""], TWO_SECONDS);
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["priority"], "Warning");
    assert_eq!(v["source"], "syscall");
    assert_eq!(v["output_fields"]["user.name"], "root");
    assert_eq!(v["output_fields"]["proc.cmdline"], "cat /etc/passwd");
    assert_eq!(v["output_fields"]["container.id"], "host");
    assert_eq!(v["tags"], serde_json::json!(["filesystem", "demo"]));
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
    assert!(
        v["output"]
            .as_str()
            .unwrap()
            .contains(": Warning passwd file read (user=root")
    );
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn shell_spawned_in_container() {
    let container = FakeContainer::new(0xab);
    let mut agent = Agent::start(&[default_rules()], &["--rule-matching", "all"]);
    let status = container
        .command("/bin/sh")
        .args(["-c", "exit 0"])
        .status()
        .unwrap();
    assert!(status.success());
    let line = agent.expect(
        &[
            "Notice Shell spawned in a container",
            "container_id=abababababab",
        ],
        TWO_SECONDS,
    );
    assert!(line.contains("process=sh"), "{line}");
    assert!(line.contains("command=sh -c exit 0"), "{line}");
    // a shell on the host does not fire the container rule
    run("/bin/sh", &["-c", "exit 0"]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        agent
            .wait_for(
                &["Shell spawned in a container", "container_id=host"],
                Duration::from_millis(300)
            )
            .is_none()
    );
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn connect_to_listed_address_on_loopback() {
    let dir = scratch("connect");
    let extra = dir.join("blocked.yaml");
    std::fs::write(
        &extra,
        "- list: disallowed_outbound_ips\n  items: [127.0.0.77]\n  append: true\n",
    )
    .unwrap();
    let mut agent = Agent::start(&[default_rules(), extra], &[]);
    let listener = TcpListener::bind("127.0.0.77:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = TcpStream::connect(("127.0.0.77", port)).unwrap();
    s.write_all(b"x").unwrap();
    let server = format!("server=127.0.0.77:{port}");
    let line = agent.expect(
        &[
            "Warning Outbound connection to a disallowed address",
            &server,
        ],
        TWO_SECONDS,
    );
    assert!(line.contains("proto=tcp"), "{line}");
    assert!(line.contains(&format!("->127.0.0.77:{port}")), "{line}");
    // a connection to an address not in the list does not fire
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let _c = TcpStream::connect(other.local_addr().unwrap()).unwrap();
    let other_server = format!("server=127.0.0.1:{}", other.local_addr().unwrap().port());
    assert!(
        agent
            .wait_for(&[&other_server], Duration::from_millis(700))
            .is_none()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn refused_connect_names_the_server_from_the_callers_address() {
    // a port nobody listens on: bind one, note it, close it
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = scratch("refused");
    let rules = dir.join("refused.yaml");
    std::fs::write(
        &rules,
        format!(
            "- rule: Refused connect\n  desc: d\n  condition: evt.type = connect and evt.dir = < and fd.sport = {port}\n  output: refused (server=%fd.sip:%fd.sport remote=%fd.rip:%fd.rport name=%fd.name res=%evt.res)\n  priority: WARNING\n"
        ),
    )
    .unwrap();
    let blocked = dir.join("blocked.yaml");
    std::fs::write(
        &blocked,
        "- list: disallowed_outbound_ips\n  items: [127.0.0.1]\n  append: true\n",
    )
    .unwrap();
    let mut agent = Agent::start(
        &[default_rules(), blocked, rules],
        &["--rule-matching", "all"],
    );
    let err = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    let server = format!("server=127.0.0.1:{port}");
    let line = agent.expect(&["Warning refused", &server], TWO_SECONDS);
    assert!(line.contains(&format!("remote=127.0.0.1:{port}")), "{line}");
    assert!(line.contains(&format!("->127.0.0.1:{port} ")), "{line}");
    assert!(line.contains("res=ECONNREFUSED"), "{line}");
    // the default rule reports the same server
    let line = agent.expect(
        &["Outbound connection to a disallowed address", &server],
        TWO_SECONDS,
    );
    assert!(line.contains("proto=tcp"), "{line}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn sighup_reload_keeps_last_good_rules_on_error() {
    let dir = scratch("reload");
    let rules = dir.join("custom.yaml");
    std::fs::copy(sample_rules(), &rules).unwrap();
    let mut agent = Agent::start(&[default_rules(), rules.clone()], &["--json"]);
    run("cat", &["/etc/passwd"]);
    agent.expect(&["\"rule\":\"Read Passwd File\""], TWO_SECONDS);

    // a broken edit: the agent says why and keeps the previous rule set
    std::fs::write(&rules, "- rule: Read Passwd File\n  desc: d\n  condition: open_read and fd.nmae=/etc/passwd\n  output: broken\n  priority: WARNING\n").unwrap();
    agent.signal(libc::SIGHUP);
    let log = agent
        .wait_for_log(
            &["reload failed, keeping the last good rule set"],
            Duration::from_secs(5),
        )
        .expect("reload failure logged");
    assert!(log.contains("reload failed"), "{log}");
    let detail = agent
        .wait_for_log(&["fd.nmae"], Duration::from_secs(2))
        .expect("the error names the bad field");
    assert!(detail.contains("did you mean `fd.name`"), "{detail}");
    agent.seen.clear();
    run("cat", &["/etc/passwd"]);
    let line = agent.expect(&["\"rule\":\"Read Passwd File\""], TWO_SECONDS);
    assert!(
        line.contains("passwd file read"),
        "old output still in force: {line}"
    );

    // a good edit takes effect
    std::fs::write(&rules, "- rule: Read Passwd File v2\n  desc: d\n  condition: open_read and fd.name=/etc/passwd\n  output: passwd v2 by %proc.name\n  priority: ERROR\n").unwrap();
    agent.signal(libc::SIGHUP);
    agent
        .wait_for_log(&["reloaded"], Duration::from_secs(5))
        .expect("reload logged");
    agent.seen.clear();
    run("cat", &["/etc/passwd"]);
    let line = agent.expect(&["\"rule\":\"Read Passwd File v2\""], TWO_SECONDS);
    assert!(line.contains("passwd v2 by cat"), "{line}");
    assert!(line.contains("\"priority\":\"Error\""), "{line}");
    assert!(agent.stop().success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn sighup_reload_that_drops_rules_warns_and_applies() {
    let dir = scratch("reload-shrink");
    let custom = dir.join("custom.yaml");
    std::fs::copy(sample_rules(), &custom).unwrap();
    let only = dir.join("only.yaml");
    std::fs::write(
        &only,
        "- rule: Cat\n  desc: d\n  condition: evt.type = execve and proc.name = cat\n  output: cat ran\n  priority: NOTICE\n",
    )
    .unwrap();
    let mut agent = Agent::start(&[default_rules(), custom.clone()], &[]);
    // other tests' agents and commands run alongside: this test's cat names its own marker
    let marker = format!("/nonexistent-kestrel-shrink-{}", std::process::id());
    let needle = format!("command=cat /etc/passwd {marker}");
    run("cat", &["/etc/passwd", &marker]);
    agent.expect(&["passwd file read", &needle], TWO_SECONDS);
    agent.seen.clear();
    // the custom file emptied: valid, applied, and said
    std::fs::write(&custom, "").unwrap();
    agent.signal(libc::SIGHUP);
    let warn = agent
        .wait_for_log(&["WARN", "reload:"], Duration::from_secs(5))
        .expect("a shrinking reload is a warning");
    assert!(
        warn.contains("the new rule set drops 1 of 14 rules; enabled rules 14 -> 13"),
        "{warn}"
    );
    run("cat", &["/etc/passwd", &marker]);
    assert!(
        agent
            .wait_for(&[&needle], Duration::from_millis(700))
            .is_none(),
        "the emptied file was applied"
    );
    drop(agent);

    let mut agent = Agent::start(std::slice::from_ref(&only), &[]);
    std::fs::write(&only, "# nothing\n").unwrap();
    agent.signal(libc::SIGHUP);
    let warn = agent
        .wait_for_log(&["WARN", "reload:"], Duration::from_secs(5))
        .expect("no enabled rule left is a warning");
    assert!(
        warn.contains(
            "the new rule set has no enabled rules (1 before, 1 rules dropped): nothing will alert"
        ),
        "{warn}"
    );
    assert!(agent.stop().success());
    std::fs::remove_dir_all(dir).unwrap();
}

/// GET `path` from the agent's metrics endpoint; (status line, body).
fn http_get(addr: &str, path: &str) -> (String, String) {
    use std::io::Read;
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    let (head, body) = s.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

fn metric(body: &str, name: &str) -> u64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in:\n{body}"))
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn metrics_count_events_alerts_and_failed_reloads() {
    let dir = scratch("metrics");
    let rules = dir.join("custom.yaml");
    std::fs::copy(sample_rules(), &rules).unwrap();
    let mut agent = Agent::start(
        &[default_rules(), rules.clone()],
        &["--metrics-addr", "127.0.0.1:0"],
    );
    let log = agent
        .wait_for_log(&["metrics on /metrics"], Duration::from_secs(5))
        .expect("metrics address logged");
    let addr = log
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("addr= in the log line")
        .to_owned();
    // ready as soon as the event loop starts (the startup line is printed just before)
    let deadline = std::time::Instant::now() + TWO_SECONDS;
    while http_get(&addr, "/readyz").0 != "HTTP/1.1 200 OK" {
        assert!(std::time::Instant::now() < deadline, "not ready within 2 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(http_get(&addr, "/healthz").0, "HTTP/1.1 200 OK");

    let before = http_get(&addr, "/metrics").1;
    run("cat", &["/etc/passwd"]);
    agent.expect(&["passwd file read"], TWO_SECONDS);
    // the event thread publishes once per batch (at least every 50 ms)
    std::thread::sleep(Duration::from_millis(300));
    let after = http_get(&addr, "/metrics").1;
    assert!(
        metric(&after, "kestrel_agent_rule_matches_total")
            > metric(&before, "kestrel_agent_rule_matches_total"),
        "{after}"
    );
    assert!(
        metric(&after, "kestrel_agent_events_total")
            > metric(&before, "kestrel_agent_events_total")
    );
    assert!(metric(&after, "kestrel_agent_alerts_emitted_total") >= 1);
    assert_eq!(metric(&after, "kestrel_agent_kernel_counters_readable"), 1);
    assert!(metric(&after, "kestrel_agent_processes") > 1);
    // the default rules and the sample rule, all enabled
    let expected = run(
        env!("CARGO_BIN_EXE_kestrel-agent"),
        &[
            "validate",
            "--rules",
            default_rules().to_str().unwrap(),
            "--rules",
            rules.to_str().unwrap(),
        ],
    );
    let summary = String::from_utf8_lossy(&expected.stdout).to_string();
    let ok_line = summary
        .lines()
        .find(|l| l.starts_with("OK: "))
        .unwrap_or_else(|| panic!("validate failed: {summary}"));
    let enabled: u64 = ok_line
        .split(['(', ')'])
        .nth(1)
        .and_then(|s| s.strip_suffix(" enabled"))
        .unwrap_or_else(|| panic!("no `(N enabled)` in validate's output: {summary}"))
        .parse()
        .unwrap();
    assert_eq!(metric(&after, "kestrel_agent_rules_enabled"), enabled);

    // a broken edit is counted as a failed reload, the rules stay
    std::fs::write(&rules, "- rule: broken\n  condition: (\n").unwrap();
    agent.signal(libc::SIGHUP);
    agent
        .wait_for_log(&["reload failed"], Duration::from_secs(5))
        .expect("reload failure logged");
    let body = http_get(&addr, "/metrics").1;
    assert!(
        body.lines()
            .any(|l| l == "kestrel_agent_rule_reloads_total{result=\"failed\"} 1"),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l == "kestrel_agent_rule_reloads_total{result=\"ok\"} 0"),
        "{body}"
    );
    assert_eq!(metric(&body, "kestrel_agent_rules_enabled"), enabled);
    assert!(agent.stop().success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn effective_capabilities_come_from_the_kernel() {
    let dir = scratch("caps");
    let rules = dir.join("caps.yaml");
    std::fs::write(
        &rules,
        "- rule: Hostname read with sys_admin\n  desc: d\n  condition: evt.type in (open, openat, openat2) and fd.name=/etc/hostname and thread.cap_effective contains CAP_SYS_ADMIN\n  output: admin read (caps=%thread.cap_effective)\n  priority: NOTICE\n\
         - rule: Hostname read without sys_admin\n  desc: d\n  condition: evt.type in (open, openat, openat2) and fd.name=/etc/hostname and not thread.cap_effective icontains sys_admin\n  output: plain read by %proc.name\n  priority: NOTICE\n",
    )
    .unwrap();
    let mut agent = Agent::start(&[rules], &[]);
    run("cat", &["/etc/hostname"]);
    let line = agent.expect(&["admin read (caps="], TWO_SECONDS);
    assert!(
        line.contains("CAP_CHOWN CAP_DAC_OVERRIDE") && line.contains("CAP_SYS_MODULE"),
        "{line}"
    );
    // the same read with CAP_SYS_ADMIN dropped from the bounding (and so the effective) set
    let out = run(
        "setpriv",
        &["--bounding-set", "-sys_admin", "cat", "/etc/hostname"],
    );
    assert!(out.status.success(), "setpriv: {out:?}");
    agent.expect(&["plain read by cat"], TWO_SECONDS);
    assert!(agent.stop().success());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn binaries_dropped_into_an_overlay_upper_layer_are_told_apart() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch("overlay");
    let (lower, upper, work, merged) = (
        dir.join("lower"),
        dir.join("upper"),
        dir.join("work"),
        dir.join("merged"),
    );
    for d in [&lower, &upper, &work, &merged] {
        std::fs::create_dir_all(d).unwrap();
    }
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
    let unmount = Unmount(merged.clone());
    std::fs::copy("/bin/true", merged.join("dropped")).unwrap();
    let rules = dir.join("upper.yaml");
    std::fs::write(
        &rules,
        "- rule: Exec from upper layer\n  desc: d\n  condition: evt.type in (execve, execveat) and evt.rawres=0 and proc.is_exe_upper_layer=true\n  output: upper exec %proc.exepath ino=%proc.exe_ino ctime=%proc.exe_ino.ctime\n  priority: WARNING\n\
         - rule: Exec from lower layer\n  desc: d\n  condition: evt.type in (execve, execveat) and evt.rawres=0 and proc.is_exe_upper_layer=false and proc.exepath startswith /tmp/\n  output: lower exec %proc.exepath\n  priority: WARNING\n",
    )
    .unwrap();
    let mut agent = Agent::start(&[rules], &[]);
    let dropped = merged.join("dropped");
    let image = merged.join("from-image");
    assert!(run(dropped.to_str().unwrap(), &[]).status.success());
    assert!(run(image.to_str().unwrap(), &[]).status.success());
    let m = std::fs::metadata(&dropped).unwrap();
    let line = agent.expect(
        &[&format!("upper exec {} ino={}", dropped.display(), m.ino())],
        TWO_SECONDS,
    );
    assert!(line.contains(" ctime="), "{line}");
    agent.expect(&[&format!("lower exec {}", image.display())], TWO_SECONDS);
    assert!(
        !agent
            .seen
            .iter()
            .any(|l| l.contains("upper exec") && l.contains("from-image")),
        "{:?}",
        agent.seen
    );
    assert!(agent.stop().success());
    drop(unmount);
    std::fs::remove_dir_all(dir).unwrap();
}
