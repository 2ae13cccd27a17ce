//! Alert sinks against real endpoints: a webhook and a Slack sink POST to a real HTTP server on
//! loopback, a file sink appends JSON lines, a syslog sink sends a UDP datagram. Root and eBPF
//! needed (the alert comes from a real `cat /etc/passwd`): `make test` runs these.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use common::*;

/// A minimal HTTP/1.1 server: records (request line, headers, body) and answers 200.
fn http_server() -> (u16, Receiver<(String, Vec<String>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end().to_owned();
                if h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                headers.push(h);
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            let mut s = stream;
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = tx.send((
                line.trim_end().to_owned(),
                headers,
                String::from_utf8_lossy(&body).into_owned(),
            ));
        }
    });
    (port, rx)
}

#[test]
#[ignore = "needs root and eBPF: make test"]
fn webhook_slack_file_and_syslog_sinks_receive_the_alert() {
    let dir = scratch("sinks");
    let (port, requests) = http_server();
    let syslog = UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let syslog_addr = syslog.local_addr().unwrap().to_string();
    let file = dir.join("alerts.jsonl");
    let sinks = serde_json::json!([
        {"namespace": "kestrel", "name": "hook", "scope": "cluster", "type": "webhook",
         "url": format!("http://127.0.0.1:{port}/alerts"), "minimumPriority": "warning",
         "headers": {"X-Team": "sec"}, "filters": {"tags": ["demo"]}},
        {"namespace": "kestrel", "name": "chat", "scope": "cluster", "type": "slack",
         "url": format!("http://127.0.0.1:{port}/slack"), "minimumPriority": "notice", "filters": {"rules": ["Read Passwd File"]}},
        {"namespace": "kestrel", "name": "disk", "scope": "cluster", "type": "file",
         "path": file.to_str().unwrap(), "minimumPriority": "debug", "filters": {"rules": ["Read Passwd File"]}},
        {"namespace": "kestrel", "name": "syslog", "scope": "cluster", "type": "syslog",
         "address": syslog_addr, "protocol": "udp", "minimumPriority": "warning", "filters": {"rules": ["Read Passwd File"]}},
        {"namespace": "kestrel", "name": "critical-only", "scope": "cluster", "type": "webhook",
         "url": format!("http://127.0.0.1:{port}/critical"), "minimumPriority": "critical", "filters": {"rules": ["Read Passwd File"]}}
    ]);
    let sinks_file = dir.join("sinks.json");
    std::fs::write(&sinks_file, sinks.to_string()).unwrap();
    let sinks_flag = sinks_file.to_str().unwrap().to_owned();
    let mut agent = Agent::start(
        &[default_rules(), sample_rules()],
        &["--sinks", &sinks_flag],
    );
    run("cat", &["/etc/passwd"]);
    agent.expect(
        &["passwd file read (user=root command=cat /etc/passwd"],
        Duration::from_secs(2),
    );

    // other tests may run agents and alerts at the same time: keep the requests about this rule
    let mut got: Vec<(String, Vec<String>, String)> = Vec::new();
    while !(got.iter().any(|r| r.0.starts_with("POST /alerts "))
        && got.iter().any(|r| r.0.starts_with("POST /slack ")))
    {
        got.push(
            requests
                .recv_timeout(Duration::from_secs(5))
                .expect("webhook and slack requests"),
        );
    }
    let hook = got
        .iter()
        .find(|(l, _, _)| l.starts_with("POST /alerts "))
        .expect("webhook POST");
    let v: serde_json::Value = serde_json::from_str(&hook.2).unwrap();
    assert_eq!(v["rule"], "Read Passwd File");
    assert_eq!(v["output_fields"]["user.name"], "root");
    assert!(
        hook.1.iter().any(|h| h.eq_ignore_ascii_case("x-team: sec")),
        "{:?}",
        hook.1
    );
    assert!(hook.1.iter().any(|h| {
        h.to_ascii_lowercase()
            .starts_with("content-type: application/json")
    }));
    let slack = got
        .iter()
        .find(|(l, _, _)| l.starts_with("POST /slack "))
        .expect("slack POST");
    let v: serde_json::Value = serde_json::from_str(&slack.2).unwrap();
    assert!(
        v["text"]
            .as_str()
            .unwrap()
            .contains("*Warning* Read Passwd File: passwd file read"),
        "{v}"
    );
    // nothing below critical reached the critical-only sink
    while let Ok((line, _, _)) = requests.recv_timeout(Duration::from_millis(700)) {
        assert!(
            !line.starts_with("POST /critical "),
            "a Warning alert reached the critical-only sink"
        );
    }

    let mut buf = [0u8; 2048];
    let n = syslog.recv(&mut buf).expect("syslog datagram");
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(msg.starts_with("<132>1 "), "local0.warning is <132>: {msg}");
    assert!(
        msg.contains("Read Passwd File: passwd file read (user=root"),
        "{msg}"
    );

    let lines = poll_file(&file);
    let v: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(v["rule"], "Read Passwd File");
    assert!(agent.stop().success());
    std::fs::remove_dir_all(dir).unwrap();
}

fn poll_file(p: &std::path::Path) -> String {
    for _ in 0..50 {
        if let Ok(s) = std::fs::read_to_string(p)
            && !s.is_empty()
        {
            return s;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} stayed empty", p.display());
}
