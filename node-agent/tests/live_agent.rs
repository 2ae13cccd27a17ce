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
