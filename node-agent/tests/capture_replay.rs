//! Capture → replay, JSON-lines events, the `test` command, and bad inputs, through the real
//! `kestrel-agent` binary.

mod common;

use std::time::Duration;

use common::*;

fn stdout_lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn replay_lines(cap: &std::path::Path) -> Vec<String> {
    let replay = agent()
        .args(["replay", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--events")
        .arg(cap)
        .output()
        .unwrap();
    assert!(
        replay.status.success(),
        "{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    stdout_lines(&replay)
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn live_alerts_and_replayed_capture_are_identical() {
    let dir = scratch("run-capture");
    let cap = dir.join("live.kcap");
    let capture_flag = cap.to_str().unwrap().to_owned();
    let mut live = Agent::start(
        &[default_rules(), sample_rules()],
        &["--capture", &capture_flag],
    );
    assert!(run("cat", &["/etc/passwd"]).status.success());
    let live_line = live.expect(
        &["Warning passwd file read (user=root command=cat /etc/passwd container=host)"],
        Duration::from_secs(2),
    );
    let mut live_lines = live.seen.clone();
    assert!(live.stop().success());
    live_lines.retain(|l| !l.is_empty());
    let replayed = replay_lines(&cap);
    assert!(
        replayed.contains(&live_line),
        "live: {live_line}\nreplayed:\n{}",
        replayed.join("\n")
    );
    // every alert the live agent printed before the line we waited for is replayed identically
    for l in &live_lines {
        assert!(replayed.contains(l), "live alert not replayed: {l}");
    }
    // deterministic
    assert_eq!(replay_lines(&cap), replayed);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn capture_command_records_what_rules_need_later() {
    let dir = scratch("capture");
    let cap = dir.join("passwd.kcap");
    let capture = agent()
        .args(["capture", "--output"])
        .arg(&cap)
        .args(["--duration", "4s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500)); // the probe attaches
    assert!(run("cat", &["/etc/passwd"]).status.success());
    let out = capture.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "capture failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.starts_with("captured "), "{summary}");
    let events: u64 = summary.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(events > 0, "{summary}");
    // the size it reports is the file's: header, records and trailer
    let size = std::fs::metadata(&cap).unwrap().len();
    assert!(
        summary.trim_end().ends_with(&format!(" ({size} bytes)")),
        "{summary} vs {size}"
    );
    // rules written after the capture still find the event
    let lines = replay_lines(&cap);
    assert!(
        lines.iter().any(|l| l.ends_with(
            "Warning passwd file read (user=root command=cat /etc/passwd container=host)"
        )),
        "{}",
        lines.join("\n")
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn json_lines_events_replay() {
    let dir = scratch("jsonl");
    let events = write(
        &dir,
        "events.jsonl",
        r#"# a hand-written event
{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/etc/passwd","proc.name":"cat","proc.cmdline":"cat /etc/passwd","user.name":"alice","container.id":"host","evt.rawtime":1796300000123456789}

{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/etc/hosts","proc.name":"cat"}
"#,
    );
    let out = agent()
        .args(["replay", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--events")
        .arg(&events)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["rule"], "Read Passwd File");
    assert_eq!(v["output_fields"]["user.name"], "alice");
    assert_eq!(v["time"], "2026-12-03T12:13:20.123456789Z");
    assert!(String::from_utf8_lossy(&out.stderr).contains("replayed 2 events, 1 alerts"));
}

#[test]
fn json_event_with_unknown_field_is_a_clear_error() {
    let dir = scratch("jsonl-bad");
    let events = write(
        &dir,
        "bad.jsonl",
        "{\"evt.type\":\"openat\",\"fd.name\":\"/x\"}\n{\"evt.type\":\"openat\",\"proc.nmae\":\"cat\"}\n",
    );
    let out = agent()
        .args(["replay", "--rules"])
        .arg(sample_rules())
        .arg("--rules")
        .arg(default_rules())
        .arg("--events")
        .arg(&events)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2: ", events.display())), "{err}");
    assert!(err.contains("proc.nmae"), "{err}");
    assert!(err.contains("proc.name"), "did-you-mean expected: {err}");
}

#[test]
fn test_command_passes_and_fails() {
    let dir = scratch("cases");
    let cases = write(
        &dir,
        "cases.yaml",
        r#"cases:
  - name: cat of /etc/passwd fires
    event: {evt.type: openat, evt.is_open_read: true, fd.typechar: f, fd.num: 3, fd.name: /etc/passwd, proc.name: cat, user.name: root}
    expect: [Read Passwd File]
    expect_not: [Write below etc]
  - name: hosts file does not fire
    events:
      - {evt.type: openat, evt.is_open_read: true, fd.typechar: f, fd.num: 3, fd.name: /etc/hosts, proc.name: cat}
    expect_not: [Read Passwd File]
"#,
    );
    let ok = agent()
        .args(["test", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--cases")
        .arg(&cases)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    assert!(text.contains("PASS  cat of /etc/passwd fires"), "{text}");
    assert!(text.contains("2 cases, 2 passed, 0 failed"), "{text}");

    let failing = write(
        &dir,
        "failing.yaml",
        r#"cases:
  - name: wrong expectation
    event: {evt.type: openat, evt.is_open_read: true, fd.typechar: f, fd.num: 3, fd.name: /etc/passwd, proc.name: cat}
    expect_not: [Read Passwd File]
"#,
    );
    let bad = agent()
        .args(["test", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--cases")
        .arg(&failing)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL  wrong expectation"), "{text}");
    assert!(
        text.contains("expected `Read Passwd File` not to fire, it did"),
        "{text}"
    );
    assert!(text.contains("1 cases, 0 passed, 1 failed"), "{text}");

    let unknown_rule = write(
        &dir,
        "unknown.yaml",
        "cases:\n  - name: x\n    event: {evt.type: openat}\n    expect: [No Such Rule]\n",
    );
    let out = agent()
        .args(["test", "--rules"])
        .arg(sample_rules())
        .arg("--rules")
        .arg(default_rules())
        .arg("--cases")
        .arg(&unknown_rule)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(
        "FAIL  x\n        names rule `No Such Rule`, which the rule files do not define\n"
    ));
}

/// A valid capture made from a JSON-free, kernel-free source: record via the library.
fn tiny_capture(dir: &std::path::Path) -> std::path::PathBuf {
    use kestrel_agent::capture::CaptureWriter;
    use kestrel_agent::capture::format::Header;
    use kestrel_agent::event::{DecodedEvent, EventView, Kind};
    use kestrel_agent::state::procfs::ProcFs;
    use kestrel_agent::state::procs::{Process, ProcessTable};
    use kestrel_agent::state::users::UserDb;

    let mut procs = ProcessTable::new(ProcFs::new("/nonexistent"));
    let mut p = Process {
        pid: 4242,
        ppid: 1,
        vpid: 4242,
        ..Default::default()
    };
    p.set_command(b"cat", &[b"cat".as_slice(), b"/etc/passwd"]);
    procs.insert(p);
    let mut ev = DecodedEvent {
        kind: Kind::Open,
        tgid: 4242,
        tid: 4242,
        res: 3,
        fd: 3,
        has_path: true,
        ts_ns: 1_000_000_000,
        ..Default::default()
    };
    ev.syscall_nr = libc::SYS_openat as u32;
    ev.event_type = kestrel_engine::event_type_by_name("openat").unwrap();
    ev.comm.extend_from_slice(b"cat");
    ev.path.extend_from_slice(b"/etc/passwd");
    ev.path_raw.extend_from_slice(b"/etc/passwd");
    let mut fd = kestrel_agent::state::fds::FdEntry::new(kestrel_agent::state::fds::FdKind::File);
    fd.name = b"/etc/passwd".to_vec();
    let users = UserDb::parse(b"root:x:0:0:root:/root:/bin/sh\n", b"root:x:0:\n");
    let scratch = std::cell::RefCell::new(Vec::new());
    let view = EventView {
        ev: &ev,
        procs: &procs,
        proc_: procs.get(4242),
        fd: Some(&fd),
        container: None,
        host_users: &users,
        hostname: "h",
        scratch: &scratch,
    };
    let path = dir.join("tiny.kcap");
    let header = Header {
        created_ns: 1,
        hostname: "h".into(),
        agent_version: "test".into(),
    };
    let mut w = CaptureWriter::new(std::fs::File::create(&path).unwrap(), &header).unwrap();
    w.record(&view).unwrap();
    w.finish(0).unwrap();
    path
}

fn replay_err(path: &std::path::Path) -> String {
    let out = agent()
        .args(["replay", "--rules"])
        .arg(sample_rules())
        .arg("--rules")
        .arg(default_rules())
        .arg("--events")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "replay of {} should fail",
        path.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tiny_capture_replays_and_bad_captures_are_clear_errors() {
    let dir = scratch("badcap");
    let good = tiny_capture(&dir);
    let out = agent()
        .args(["replay", "--rules"])
        .arg(default_rules())
        .arg("--rules")
        .arg(sample_rules())
        .arg("--events")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_lines(&out).len(), 1);
    assert!(
        stdout_lines(&out)[0].ends_with(
            "Warning passwd file read (user=root command=cat /etc/passwd container=host)"
        )
    );

    let bytes = std::fs::read(&good).unwrap();
    // truncated in the middle of a record
    let truncated = dir.join("truncated.kcap");
    std::fs::write(&truncated, &bytes[..bytes.len() - 30]).unwrap();
    let e = replay_err(&truncated);
    assert!(e.contains("truncated at byte offset"), "{e}");

    // one flipped byte inside a record's payload
    let corrupt = dir.join("corrupt.kcap");
    let mut c = bytes.clone();
    let at = c.len() - 40;
    c[at] ^= 0xff;
    std::fs::write(&corrupt, &c).unwrap();
    let e = replay_err(&corrupt);
    assert!(
        e.contains("corrupt record at byte offset") && e.contains("checksum mismatch"),
        "{e}"
    );

    // a newer format version
    let newer = dir.join("newer.kcap");
    let mut n = bytes.clone();
    n[8] = 9;
    std::fs::write(&newer, &n).unwrap();
    let e = replay_err(&newer);
    assert!(
        e.contains("capture format version 9 is newer than this kestrel-agent reads (up to 2)"),
        "{e}"
    );

    // not a capture, not JSON
    let garbage = dir.join("garbage.bin");
    std::fs::write(&garbage, [0xffu8, 0xfe, 0, 1]).unwrap();
    let e = replay_err(&garbage);
    assert!(
        e.contains("neither a Kestrel capture nor UTF-8 JSON lines"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
