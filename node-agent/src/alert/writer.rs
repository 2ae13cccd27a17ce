//! The alert queue: the event thread hands alerts to a bounded queue; one output thread writes them
//! to every output. A full queue drops the alert and counts it — the event thread never blocks.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use super::Alert;
use super::format;

/// Something alerts are written to: the log line on stdout, a file, a webhook...
pub trait AlertOutput: Send {
    fn name(&self) -> &str;
    fn emit(&mut self, alert: &Alert) -> std::io::Result<()>;
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Falco's log line (text or JSON) on any writer, one line per alert, flushed per alert.
pub struct LogLineOutput<W: Write + Send> {
    out: W,
    json: bool,
}

impl<W: Write + Send> LogLineOutput<W> {
    pub fn new(out: W, json: bool) -> Self {
        Self { out, json }
    }
}

impl<W: Write + Send> AlertOutput for LogLineOutput<W> {
    fn name(&self) -> &str {
        "stdout"
    }

    fn emit(&mut self, alert: &Alert) -> std::io::Result<()> {
        let line = if self.json {
            format::json_line(alert)
        } else {
            format::text_line(alert)
        };
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// Counters of the alert path.
#[derive(Debug, Default)]
pub struct AlertCounters {
    pub emitted: AtomicU64,
    /// Alerts dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Output write failures (per output, per alert).
    pub output_errors: AtomicU64,
}

/// The sending side, held by the event thread.
#[derive(Clone)]
pub struct AlertQueue {
    tx: SyncSender<Alert>,
    counters: Arc<AlertCounters>,
}

impl AlertQueue {
    /// Start the output thread with `capacity` queued alerts at most.
    pub fn spawn(
        outputs: Vec<Box<dyn AlertOutput>>,
        capacity: usize,
    ) -> (AlertQueue, JoinHandle<()>) {
        let (tx, rx) = sync_channel(capacity);
        let counters = Arc::new(AlertCounters::default());
        let c = counters.clone();
        let handle = std::thread::Builder::new()
            .name("kestrel-alerts".into())
            .spawn(move || run_outputs(rx, outputs, &c))
            .expect("spawn alert output thread");
        (AlertQueue { tx, counters }, handle)
    }

    /// Queue an alert; never blocks. Returns false when it was dropped.
    pub fn send(&self, alert: Alert) -> bool {
        match self.tx.try_send(alert) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    pub fn counters(&self) -> &Arc<AlertCounters> {
        &self.counters
    }
}

fn run_outputs(
    rx: Receiver<Alert>,
    mut outputs: Vec<Box<dyn AlertOutput>>,
    counters: &AlertCounters,
) {
    for alert in rx {
        for out in outputs.iter_mut() {
            if let Err(e) = out.emit(&alert) {
                counters.output_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(output = out.name(), error = %e, rule = %alert.rule, "alert output failed");
            }
        }
        counters.emitted.fetch_add(1, Ordering::Relaxed);
    }
    for out in outputs.iter_mut() {
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertContext;
    use std::sync::Mutex;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn alert(rule: &str) -> Alert {
        Alert {
            time_ns: 0,
            rule: rule.into(),
            priority: kestrel_engine::Priority::Error,
            source: "syscall".into(),
            tags: vec![],
            output: format!("{rule} fired"),
            output_fields: Default::default(),
            hostname: "h".into(),
            context: AlertContext::default(),
            rule_file: String::new(),
            falco_rule: None,
        }
    }

    #[test]
    fn writes_lines_in_order_then_stops() {
        let buf = Shared::default();
        let (q, h) = AlertQueue::spawn(vec![Box::new(LogLineOutput::new(buf.clone(), false))], 16);
        assert!(q.send(alert("a")));
        assert!(q.send(alert("b")));
        let counters = q.counters().clone();
        drop(q);
        h.join().unwrap();
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with(": Error a fired"), "{}", lines[0]);
        assert!(lines[1].ends_with(": Error b fired"));
        assert_eq!(counters.emitted.load(Ordering::Relaxed), 2);
    }

    struct Stuck(std::sync::mpsc::Receiver<()>);
    impl AlertOutput for Stuck {
        fn name(&self) -> &str {
            "stuck"
        }
        fn emit(&mut self, _: &Alert) -> std::io::Result<()> {
            let _ = self.0.recv();
            Ok(())
        }
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let (release, wait) = std::sync::mpsc::channel();
        let (q, h) = AlertQueue::spawn(vec![Box::new(Stuck(wait))], 2);
        let sent = (0..10).filter(|i| q.send(alert(&i.to_string()))).count();
        // one alert may be inside emit, two in the queue: the rest are dropped, never blocking
        assert!((2..=3).contains(&sent), "sent {sent}");
        assert_eq!(
            q.counters().dropped.load(Ordering::Relaxed),
            10 - sent as u64
        );
        drop(release);
        drop(q);
        h.join().unwrap();
    }
}
