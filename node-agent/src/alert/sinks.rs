//! Sinks: where alerts go besides the log line — webhook (Falco JSON POSTed), Slack, a file of JSON
//! lines, syslog, the agent's log. Configured from the operator's `kestrel-sinks` ConfigMap (or
//! `--sinks FILE` standalone). Each sink has its own worker thread and bounded queue, so a slow
//! endpoint delays only itself; what it cannot take is dropped and counted.

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use kestrel_api::contract::{Scope, SinkEntry};
use kestrel_api::sink::{SinkType, SyslogProtocol};
use kestrel_engine::Priority;

use super::Alert;
use super::format;

/// Why a sink cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("sink {0}: {1}")]
    Config(String, String),
}

/// Per-sink counters.
#[derive(Debug, Default)]
pub struct SinkCounters {
    pub sent: AtomicU64,
    pub dropped: AtomicU64,
    pub failed: AtomicU64,
}

/// Which alerts a sink takes.
#[derive(Debug, Clone)]
pub struct SinkFilter {
    pub minimum: Priority,
    /// `Some(ns)`: a namespaced sink, only alerts about pods of `ns`.
    pub only_namespace: Option<String>,
    pub rules: Vec<String>,
    pub tags: Vec<String>,
    pub namespaces: Vec<String>,
}

impl SinkFilter {
    pub fn accepts(&self, a: &Alert) -> bool {
        let ns = a.context.pod_namespace.as_deref();
        a.priority >= self.minimum
            && self
                .only_namespace
                .as_deref()
                .is_none_or(|only| ns == Some(only))
            && (self.rules.is_empty() || self.rules.contains(&a.rule))
            && (self.tags.is_empty() || self.tags.iter().any(|t| a.tags.contains(t)))
            && (self.namespaces.is_empty()
                || ns.is_some_and(|n| self.namespaces.iter().any(|x| x == n)))
    }
}

/// Where one sink delivers.
#[derive(Debug, Clone)]
pub enum Target {
    Webhook {
        url: String,
        headers: Vec<(String, String)>,
        /// The credential read from the Secret, and the header that carries it as is (`None`:
        /// `Authorization: Bearer <credential>`).
        credential: Option<String>,
        credential_header: Option<String>,
    },
    Slack {
        url: String,
    },
    File {
        path: std::path::PathBuf,
    },
    Syslog {
        address: String,
        tcp: bool,
    },
    Log,
}

/// A configured sink, before it runs.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// `namespace/name` of the FalcoAlertSink.
    pub name: String,
    pub filter: SinkFilter,
    pub target: Target,
}

/// Build a sink from its `sinks.json` entry; `secret` is the value of its `secretRef`, read by the
/// caller (never logged).
pub fn spec_from_entry(e: &SinkEntry, secret: Option<String>) -> Result<SinkSpec, SinkError> {
    let name = format!("{}/{}", e.namespace, e.name);
    let bad = |m: &str| SinkError::Config(name.clone(), m.to_owned());
    let minimum =
        Priority::parse(&e.minimum_priority).ok_or_else(|| bad("unknown minimumPriority"))?;
    let target = match e.type_ {
        SinkType::Webhook => Target::Webhook {
            url: e
                .url
                .clone()
                .ok_or_else(|| bad("a webhook sink needs url"))?,
            headers: e
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            credential: secret,
            credential_header: e.credential_header.clone(),
        },
        SinkType::Slack => Target::Slack {
            url: secret
                .or_else(|| e.url.clone())
                .ok_or_else(|| bad("a slack sink needs url or a secret holding it"))?,
        },
        SinkType::File => Target::File {
            path: e
                .path
                .clone()
                .ok_or_else(|| bad("a file sink needs path"))?
                .into(),
        },
        SinkType::Syslog => Target::Syslog {
            address: e
                .address
                .clone()
                .ok_or_else(|| bad("a syslog sink needs address"))?,
            tcp: matches!(e.protocol, Some(SyslogProtocol::Tcp)),
        },
        SinkType::Log => Target::Log,
    };
    let filter = SinkFilter {
        minimum,
        only_namespace: (e.scope == Scope::Namespace).then(|| e.namespace.clone()),
        rules: e.filters.rules.clone(),
        tags: e.filters.tags.clone(),
        namespaces: e.filters.namespaces.clone(),
    };
    Ok(SinkSpec {
        name,
        filter,
        target,
    })
}

/// A running sink: its filter, queue and counters.
pub struct RunningSink {
    pub spec: SinkSpec,
    tx: SyncSender<Alert>,
    pub counters: Arc<SinkCounters>,
}

impl RunningSink {
    pub fn start(spec: SinkSpec, capacity: usize) -> RunningSink {
        let (tx, rx) = sync_channel::<Alert>(capacity);
        let counters = Arc::new(SinkCounters::default());
        let c = counters.clone();
        let target = spec.target.clone();
        let name = spec.name.clone();
        std::thread::Builder::new()
            .name("kestrel-sink".into())
            .spawn(move || {
                let mut d = Deliverer::new(target);
                for a in rx {
                    match d.deliver(&a) {
                        Ok(()) => c.sent.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            tracing::warn!(sink = %name, error = %e, "sink delivery failed");
                            c.failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
            .expect("spawn sink thread");
        RunningSink { spec, tx, counters }
    }

    /// Queue an alert if the filter takes it; never blocks.
    pub fn offer(&self, a: &Alert) {
        if !self.spec.filter.accepts(a) {
            return;
        }
        match self.tx.try_send(a.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct Deliverer {
    target: Target,
    agent: ureq::Agent,
    file: Option<std::fs::File>,
    tcp: Option<TcpStream>,
}

impl Deliverer {
    fn new(target: Target) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(true)
            .build()
            .into();
        Self {
            target,
            agent,
            file: None,
            tcp: None,
        }
    }

    fn deliver(&mut self, a: &Alert) -> Result<(), String> {
        match &self.target {
            Target::Webhook {
                url,
                headers,
                credential,
                credential_header,
            } => {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/json");
                for (k, v) in headers {
                    req = req.header(k, v);
                }
                match (credential, credential_header) {
                    (Some(t), Some(h)) => req = req.header(h, t),
                    (Some(t), None) => req = req.header("Authorization", &format!("Bearer {t}")),
                    (None, _) => {}
                }
                req.send(format::json_line(a))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Target::Slack { url } => {
                let body = serde_json::json!({ "text": slack_text(a) });
                self.agent
                    .post(url)
                    .header("Content-Type", "application/json")
                    .send(body.to_string())
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            Target::File { path } => {
                if self.file.is_none() {
                    self.file = Some(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(path)
                            .map_err(|e| format!("{}: {e}", path.display()))?,
                    );
                }
                let f = self.file.as_mut().expect("opened above");
                writeln!(f, "{}", format::json_line(a)).map_err(|e| e.to_string())
            }
            Target::Syslog { address, tcp } => {
                let msg = syslog_message(a);
                if *tcp {
                    if self.tcp.is_none() {
                        self.tcp = Some(
                            TcpStream::connect(address).map_err(|e| format!("{address}: {e}"))?,
                        );
                    }
                    let s = self.tcp.as_mut().expect("connected above");
                    // octet counting framing (RFC 6587)
                    let r = write!(s, "{} {}", msg.len(), msg);
                    if r.is_err() {
                        self.tcp = None;
                    }
                    r.map_err(|e| e.to_string())
                } else {
                    let sock = UdpSocket::bind("0.0.0.0:0").map_err(|e| e.to_string())?;
                    sock.send_to(msg.as_bytes(), address)
                        .map(|_| ())
                        .map_err(|e| format!("{address}: {e}"))
                }
            }
            Target::Log => {
                tracing::warn!(rule = %one_line(&a.rule), priority = a.priority.as_str(), "{}", a.output);
                Ok(())
            }
        }
    }
}

/// `s` with control characters escaped as the engine escapes field values. The rendered output is
/// escaped already; this is for the other strings a sink puts on a line, such as the rule name
/// (which a FalcoRule author chooses).
fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(char::is_control) {
        let mut out = String::with_capacity(s.len() + 8);
        kestrel_engine::output::write_escaped(s.as_bytes(), &mut out);
        out.into()
    } else {
        s.into()
    }
}

/// Slack's `text`: `&`, `<` and `>` escaped as Slack asks, so that a process name or file name in
/// the output cannot become a mention (`<!channel>`) or a link (`<https://...|click>`).
fn slack_text(a: &Alert) -> String {
    let raw = format!(
        "*{}* {}: {}",
        a.priority.as_str(),
        one_line(&a.rule),
        a.output
    );
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// RFC 5424 message, facility local0 (16), on one line.
fn syslog_message(a: &Alert) -> String {
    let pri = 16 * 8 + a.priority.syslog_level() as u32;
    format!(
        "<{pri}>1 {} {} kestrel - - - {}: {}",
        format::iso8601(a.time_ns),
        a.hostname,
        one_line(&a.rule),
        a.output
    )
}

/// All sinks, swapped whole when their configuration changes; an [`super::writer::AlertOutput`].
#[derive(Clone, Default)]
pub struct SinkSet {
    sinks: Arc<arc_swap::ArcSwap<Vec<RunningSink>>>,
}

impl SinkSet {
    pub fn replace(&self, sinks: Vec<RunningSink>) {
        self.sinks.store(Arc::new(sinks));
    }

    pub fn len(&self) -> usize {
        self.sinks.load().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Counters by sink name.
    pub fn counters(&self) -> Vec<(String, Arc<SinkCounters>)> {
        self.sinks
            .load()
            .iter()
            .map(|s| (s.spec.name.clone(), s.counters.clone()))
            .collect()
    }
}

impl super::writer::AlertOutput for SinkSet {
    fn name(&self) -> &str {
        "sinks"
    }

    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        for s in self.sinks.load().iter() {
            s.offer(alert);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertContext;

    fn alert(rule: &str, p: Priority, ns: Option<&str>, tags: &[&str]) -> Alert {
        Alert {
            time_ns: 0,
            rule: rule.into(),
            priority: p,
            source: "syscall".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            output: "o".into(),
            output_fields: Default::default(),
            hostname: "h".into(),
            context: AlertContext {
                pod_namespace: ns.map(str::to_owned),
                ..Default::default()
            },
            rule_file: String::new(),
            falco_rule: None,
        }
    }

    #[test]
    fn sink_lines_keep_rule_names_on_one_line_and_slack_markup_inert() {
        let mut a = alert("Bad\nrule\x1b[2J", Priority::Warning, None, &[]);
        a.output = "shell in <!channel> & <https://x.example|click> (cmd=a\\nb)".into();
        assert_eq!(
            syslog_message(&a),
            "<132>1 1970-01-01T00:00:00.000000000Z h kestrel - - - Bad\\nrule\\x1b[2J: shell in <!channel> & <https://x.example|click> (cmd=a\\nb)"
        );
        assert_eq!(
            slack_text(&a),
            "*Warning* Bad\\nrule\\x1b[2J: shell in &lt;!channel&gt; &amp; &lt;https://x.example|click&gt; (cmd=a\\nb)"
        );
        assert_eq!(one_line("plain rule"), "plain rule");
    }

    /// One HTTP request's header lines, read by a real listener on loopback.
    fn request_headers(entry: serde_json::Value, secret: Option<&str>) -> Vec<String> {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut entry = entry;
        entry["url"] = format!("http://127.0.0.1:{port}/hook").into();
        let e: SinkEntry = serde_json::from_value(entry).unwrap();
        let spec = spec_from_entry(&e, secret.map(str::to_owned)).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut lines = Vec::new();
            loop {
                let mut l = String::new();
                reader.read_line(&mut l).unwrap();
                let l = l.trim_end().to_owned();
                if l.is_empty() {
                    break;
                }
                lines.push(l);
            }
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            lines
        });
        Deliverer::new(spec.target)
            .deliver(&alert("r", Priority::Error, None, &[]))
            .unwrap();
        server.join().unwrap()
    }

    #[test]
    fn webhook_credential_goes_in_the_named_header_or_as_a_bearer_token() {
        let entry = serde_json::json!({"namespace": "kestrel", "name": "hook", "scope": "cluster",
            "type": "webhook", "minimumPriority": "debug", "credentialHeader": "X-Api-Key"});
        let h = request_headers(entry, Some("s3cr3t"));
        assert!(
            h.iter()
                .any(|l| l.eq_ignore_ascii_case("x-api-key: s3cr3t")),
            "{h:?}"
        );
        assert!(
            !h.iter()
                .any(|l| l.to_ascii_lowercase().starts_with("authorization")),
            "{h:?}"
        );
        let entry = serde_json::json!({"namespace": "kestrel", "name": "hook", "scope": "cluster",
            "type": "webhook", "minimumPriority": "debug"});
        let h = request_headers(entry, Some("s3cr3t"));
        assert!(
            h.iter()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer s3cr3t")),
            "{h:?}"
        );
    }

    #[test]
    fn filters() {
        let f = SinkFilter {
            minimum: Priority::Warning,
            only_namespace: None,
            rules: vec![],
            tags: vec!["network".into()],
            namespaces: vec![],
        };
        assert!(f.accepts(&alert("r", Priority::Error, None, &["network"])));
        assert!(
            !f.accepts(&alert("r", Priority::Notice, None, &["network"])),
            "below minimum"
        );
        assert!(
            !f.accepts(&alert("r", Priority::Error, None, &["filesystem"])),
            "no matching tag"
        );
        let scoped = SinkFilter {
            only_namespace: Some("team".into()),
            tags: vec![],
            ..f
        };
        assert!(scoped.accepts(&alert("r", Priority::Error, Some("team"), &[])));
        assert!(!scoped.accepts(&alert("r", Priority::Error, Some("other"), &[])));
        assert!(
            !scoped.accepts(&alert("r", Priority::Error, None, &[])),
            "host alerts are not a namespace's"
        );
    }
}
