//! Prometheus text exposition (format 0.0.4) of one snapshot of the agent's counters: a pure
//! function, so the names and values are unit-tested.

use std::fmt::Write as _;

/// Every value one scrape reports.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exposition {
    pub events: u64,
    pub evaluated: u64,
    pub alerts: u64,
    pub malformed: u64,
    pub processes: u64,
    pub containers: u64,
    pub alerts_emitted: u64,
    pub alerts_dropped: u64,
    pub alert_output_errors: u64,
    /// Kernel-side counters by reason (`ringbuf_full`, ...); `None` when the probe's map could
    /// not be read.
    pub kernel: Option<Vec<(&'static str, u64)>>,
    /// Per sink: (name, sent, dropped, failed).
    pub sinks: Vec<(String, u64, u64, u64)>,
    pub rules_enabled: u64,
    pub rules_hash: String,
    pub reloads_ok: u64,
    pub reloads_failed: u64,
    pub loop_age_secs: Option<u64>,
}

struct Writer {
    out: String,
}

impl Writer {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape_label(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, value: u64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// Label values escape backslash, double quote and newline.
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// The text a `/metrics` scrape returns.
pub fn render(x: &Exposition) -> String {
    let mut w = Writer {
        out: String::with_capacity(4096),
    };
    w.single(
        "kestrel_agent_events_total",
        "counter",
        "Syscall events read from the probe's ring buffer.",
        x.events,
    );
    w.single(
        "kestrel_agent_events_evaluated_total",
        "counter",
        "Events evaluated against the rules (lifecycle-only events are not).",
        x.evaluated,
    );
    w.single(
        "kestrel_agent_rule_matches_total",
        "counter",
        "Alerts raised by the rules (before the alert queue).",
        x.alerts,
    );
    w.single(
        "kestrel_agent_events_malformed_total",
        "counter",
        "Ring buffer records the agent could not decode.",
        x.malformed,
    );
    w.family(
        "kestrel_agent_kernel_drops_total",
        "counter",
        "Kernel-side losses by reason: ringbuf_full (events lost, the reader is too slow), stash_full, read_failed (an argument read failed, the event was sent without it), stash_miss (exit without a seen enter), compat_syscall (32-bit syscalls not decoded).",
    );
    if let Some(k) = &x.kernel {
        for (reason, v) in k {
            w.sample(
                "kestrel_agent_kernel_drops_total",
                &[("reason", *reason)],
                *v,
            );
        }
    }
    w.single(
        "kestrel_agent_kernel_counters_readable",
        "gauge",
        "1 when the probe's drop counters could be read at this scrape.",
        u64::from(x.kernel.is_some()),
    );
    w.single(
        "kestrel_agent_alerts_emitted_total",
        "counter",
        "Alerts written by the output thread.",
        x.alerts_emitted,
    );
    w.single(
        "kestrel_agent_alerts_dropped_total",
        "counter",
        "Alerts dropped because the alert queue was full.",
        x.alerts_dropped,
    );
    w.single(
        "kestrel_agent_alert_output_errors_total",
        "counter",
        "Alert output write failures (per output, per alert).",
        x.alert_output_errors,
    );
    for (name, help, pick) in [
        (
            "kestrel_agent_sink_alerts_sent_total",
            "Alerts delivered by each sink.",
            0usize,
        ),
        (
            "kestrel_agent_sink_alerts_dropped_total",
            "Alerts a sink dropped because its queue was full.",
            1,
        ),
        (
            "kestrel_agent_sink_alerts_failed_total",
            "Alerts a sink failed to deliver.",
            2,
        ),
    ] {
        w.family(name, "counter", help);
        for (sink, sent, dropped, failed) in &x.sinks {
            let v = [*sent, *dropped, *failed][pick];
            w.sample(name, &[("sink", sink.as_str())], v);
        }
    }
    w.single(
        "kestrel_agent_processes",
        "gauge",
        "Processes in the agent's process table.",
        x.processes,
    );
    w.single(
        "kestrel_agent_containers",
        "gauge",
        "Containers known to the agent.",
        x.containers,
    );
    w.single(
        "kestrel_agent_rules_enabled",
        "gauge",
        "Enabled rules in the running rule set (global and namespaced).",
        x.rules_enabled,
    );
    w.family(
        "kestrel_agent_rules_info",
        "gauge",
        "The running rule set; hash is the content hash of the cluster's rules (empty for files only).",
    );
    w.sample(
        "kestrel_agent_rules_info",
        &[("hash", x.rules_hash.as_str())],
        1,
    );
    w.family(
        "kestrel_agent_rule_reloads_total",
        "counter",
        "Rule set reloads by result; a failed reload keeps the last good set.",
    );
    w.sample(
        "kestrel_agent_rule_reloads_total",
        &[("result", "ok")],
        x.reloads_ok,
    );
    w.sample(
        "kestrel_agent_rule_reloads_total",
        &[("result", "failed")],
        x.reloads_failed,
    );
    if let Some(age) = x.loop_age_secs {
        w.single(
            "kestrel_agent_event_loop_age_seconds",
            "gauge",
            "Seconds since the event loop last turned (it turns at least every 50 ms).",
            age,
        );
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Exposition {
        Exposition {
            events: 1200,
            evaluated: 800,
            alerts: 3,
            malformed: 1,
            processes: 140,
            containers: 2,
            alerts_emitted: 3,
            alerts_dropped: 0,
            alert_output_errors: 0,
            kernel: Some(vec![("ringbuf_full", 7), ("stash_miss", 12)]),
            sinks: vec![("kestrel/web\"hook".into(), 3, 1, 0)],
            rules_enabled: 25,
            rules_hash: "ab12".into(),
            reloads_ok: 2,
            reloads_failed: 1,
            loop_age_secs: Some(0),
        }
    }

    #[test]
    fn every_value_is_in_its_sample_line() {
        let text = render(&sample());
        for line in [
            "kestrel_agent_events_total 1200",
            "kestrel_agent_events_evaluated_total 800",
            "kestrel_agent_rule_matches_total 3",
            "kestrel_agent_events_malformed_total 1",
            "kestrel_agent_kernel_drops_total{reason=\"ringbuf_full\"} 7",
            "kestrel_agent_kernel_drops_total{reason=\"stash_miss\"} 12",
            "kestrel_agent_kernel_counters_readable 1",
            "kestrel_agent_sink_alerts_sent_total{sink=\"kestrel/web\\\"hook\"} 3",
            "kestrel_agent_sink_alerts_dropped_total{sink=\"kestrel/web\\\"hook\"} 1",
            "kestrel_agent_processes 140",
            "kestrel_agent_containers 2",
            "kestrel_agent_rules_enabled 25",
            "kestrel_agent_rules_info{hash=\"ab12\"} 1",
            "kestrel_agent_rule_reloads_total{result=\"ok\"} 2",
            "kestrel_agent_rule_reloads_total{result=\"failed\"} 1",
            "kestrel_agent_event_loop_age_seconds 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
    }

    #[test]
    fn every_family_has_help_and_type_once() {
        let text = render(&sample());
        let mut families = Vec::new();
        for l in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let name = l.split_whitespace().nth(2).unwrap().to_owned();
            assert!(!families.contains(&name), "{name} declared twice");
            families.push(name);
        }
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(
                families.iter().any(|f| f == name),
                "{name} has no TYPE line"
            );
        }
    }

    #[test]
    fn unreadable_kernel_counters_say_so() {
        let mut x = sample();
        x.kernel = None;
        let text = render(&x);
        assert!(text.contains("kestrel_agent_kernel_counters_readable 0"));
        assert!(!text.contains("kestrel_agent_kernel_drops_total{"));
    }
}
