//! A small HTTP/1.1 server for `/metrics`, `/healthz` and `/readyz`, on its own thread: the
//! endpoints are scraped every few seconds, so one connection at a time with short timeouts is
//! enough and keeps an HTTP stack out of the agent.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use kestrel_probe::ProbeControl;

use super::{AgentStats, Exposition, render};
use crate::alert::sinks::SinkSet;
use crate::alert::writer::AlertCounters;
use crate::rules::LiveRules;

/// The event loop is unhealthy when it has not turned for this long (it turns every 50 ms).
const STALL_SECS: u64 = 30;
const MAX_REQUEST: usize = 8192;

/// Where a scrape reads its values.
#[derive(Clone)]
pub struct MetricsSources {
    pub stats: Arc<AgentStats>,
    pub alerts: Arc<AlertCounters>,
    pub sinks: SinkSet,
    pub probe: Option<ProbeControl>,
    pub rules: Arc<LiveRules>,
}

impl MetricsSources {
    /// The values of one scrape.
    pub fn snapshot(&self) -> Exposition {
        let s = &self.stats;
        let kernel = self
            .probe
            .as_ref()
            .and_then(|p| p.drop_counts().ok())
            .map(|d| {
                vec![
                    ("ringbuf_full", d.ringbuf_full),
                    ("stash_full", d.stash_full),
                    ("read_failed", d.read_failed),
                    ("stash_miss", d.stash_miss),
                    ("compat_syscall", d.compat_syscalls),
                ]
            });
        let rules = self.rules.load();
        Exposition {
            events: s.events.load(Ordering::Relaxed),
            evaluated: s.evaluated.load(Ordering::Relaxed),
            alerts: s.alerts.load(Ordering::Relaxed),
            malformed: s.malformed.load(Ordering::Relaxed),
            processes: s.processes.load(Ordering::Relaxed),
            containers: s.containers.load(Ordering::Relaxed),
            alerts_emitted: self.alerts.emitted.load(Ordering::Relaxed),
            alerts_dropped: self.alerts.dropped.load(Ordering::Relaxed),
            alert_output_errors: self.alerts.output_errors.load(Ordering::Relaxed),
            kernel,
            sinks: self
                .sinks
                .counters()
                .into_iter()
                .map(|(name, c)| {
                    (
                        name,
                        c.sent.load(Ordering::Relaxed),
                        c.dropped.load(Ordering::Relaxed),
                        c.failed.load(Ordering::Relaxed),
                    )
                })
                .collect(),
            rules_enabled: std::iter::once(&rules.compiled)
                .chain(rules.scoped.iter().map(|s| &s.compiled))
                .map(|c| c.stats.enabled_rules as u64)
                .sum(),
            rules_hash: rules.hash.clone(),
            reloads_ok: self.rules.reloads().ok.load(Ordering::Relaxed),
            reloads_failed: self.rules.reloads().failed.load(Ordering::Relaxed),
            loop_age_secs: s.loop_age_secs(),
        }
    }
}

/// The running endpoint; stops when the agent's stop flag is set.
pub struct MetricsServer {
    pub local_addr: SocketAddr,
    thread: JoinHandle<()>,
}

impl MetricsServer {
    pub fn start(
        addr: SocketAddr,
        sources: MetricsSources,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        let thread = std::thread::Builder::new()
            .name("kestrel-metrics".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            if let Err(e) = serve(conn, &sources) {
                                tracing::debug!(error = %e, "metrics request failed");
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(100))
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "metrics endpoint: accept failed");
                            std::thread::sleep(Duration::from_millis(500))
                        }
                    }
                }
            })?;
        Ok(MetricsServer { local_addr, thread })
    }

    pub fn join(self) {
        let _ = self.thread.join();
    }
}

fn serve(mut conn: TcpStream, sources: &MetricsSources) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    conn.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return respond(
                &mut conn,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
            );
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut conn,
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n",
        );
    }
    let (status, ctype, body) = route(path, sources);
    if method == "HEAD" {
        return respond(&mut conn, status, ctype, "");
    }
    respond(&mut conn, status, ctype, &body)
}

/// Status line, content type and body of a GET.
fn route(path: &str, sources: &MetricsSources) -> (&'static str, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path {
        "/metrics" => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(&sources.snapshot()),
        ),
        "/healthz" | "/livez" => match sources.stats.loop_age_secs() {
            Some(age) if age > STALL_SECS => (
                "503 Service Unavailable",
                TEXT,
                format!("event loop stalled: last turn {age}s ago\n"),
            ),
            _ => ("200 OK", TEXT, "ok\n".into()),
        },
        "/readyz" => match sources.stats.loop_age_secs() {
            Some(age) if age <= STALL_SECS => ("200 OK", TEXT, "ok\n".into()),
            Some(age) => (
                "503 Service Unavailable",
                TEXT,
                format!("event loop stalled: last turn {age}s ago\n"),
            ),
            None => (
                "503 Service Unavailable",
                TEXT,
                "the event loop has not started\n".into(),
            ),
        },
        _ => (
            "404 Not Found",
            TEXT,
            "not found: try /metrics, /healthz, /readyz\n".into(),
        ),
    }
}

fn respond(conn: &mut TcpStream, status: &str, ctype: &str, body: &str) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes())?;
    conn.write_all(body.as_bytes())?;
    conn.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::LoadedRules;

    fn get(addr: SocketAddr, path: &str) -> (String, String) {
        let mut c = TcpStream::connect(addr).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        let (head, body) = s.split_once("\r\n\r\n").unwrap();
        (head.lines().next().unwrap().to_owned(), body.to_owned())
    }

    #[test]
    fn serves_metrics_health_and_readiness_over_tcp() {
        let stats = Arc::new(AgentStats::default());
        let alerts = Arc::new(AlertCounters::default());
        alerts.dropped.store(4, Ordering::Relaxed);
        let sources = MetricsSources {
            stats: stats.clone(),
            alerts,
            sinks: SinkSet::default(),
            probe: None,
            rules: Arc::new(LiveRules::new(LoadedRules::empty())),
        };
        sources.rules.record_failed_reload();
        let stop = Arc::new(AtomicBool::new(false));
        let server =
            MetricsServer::start("127.0.0.1:0".parse().unwrap(), sources, stop.clone()).unwrap();
        let addr = server.local_addr;

        // before the event loop turns: alive, not ready
        assert_eq!(get(addr, "/healthz").0, "HTTP/1.1 200 OK");
        let (status, body) = get(addr, "/readyz");
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(body, "the event loop has not started\n");

        let counters = crate::pipeline::PipelineCounters {
            events: 42,
            evaluated: 40,
            alerts: 2,
        };
        stats.publish(&counters, 0, 9, 1);
        assert_eq!(get(addr, "/readyz").0, "HTTP/1.1 200 OK");
        let (status, body) = get(addr, "/metrics?x=1");
        assert_eq!(status, "HTTP/1.1 200 OK");
        for line in [
            "kestrel_agent_events_total 42",
            "kestrel_agent_events_evaluated_total 40",
            "kestrel_agent_rule_matches_total 2",
            "kestrel_agent_processes 9",
            "kestrel_agent_alerts_dropped_total 4",
            "kestrel_agent_rule_reloads_total{result=\"failed\"} 1",
            "kestrel_agent_kernel_counters_readable 0",
            "kestrel_agent_rules_enabled 0",
        ] {
            assert!(body.lines().any(|l| l == line), "missing `{line}`:\n{body}");
        }

        // a stalled loop fails both probes
        stats
            .last_loop_unix
            .fetch_sub(STALL_SECS + 5, Ordering::Relaxed);
        let (status, body) = get(addr, "/healthz");
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert!(
            body.starts_with("event loop stalled: last turn 3"),
            "{body}"
        );
        assert_eq!(get(addr, "/nope").0, "HTTP/1.1 404 Not Found");

        stop.store(true, Ordering::Relaxed);
        server.join();
    }
}
