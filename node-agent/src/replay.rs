//! `kestrel-agent replay`: rules over a capture file or over JSON-lines events, alerts printed as
//! the live agent prints them.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use kestrel_engine::{CompileOptions, Field, FieldArg, FieldSource, MapEvent, RuleSet, Value};

use crate::alert::{Alert, AlertContext, format};
use crate::capture::CaptureReader;
use crate::cli::{ReplayArgs, RuleMatching};
use crate::pipeline::{alert_for, fire};
use crate::rules::LoadedRules;

/// Where replay events come from.
pub enum EventFile {
    Capture(Box<CaptureReader>),
    JsonLines(String),
}

/// A bad line of a JSON-lines events file.
#[derive(Debug, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct JsonEventError {
    pub path: String,
    pub line: usize,
    pub message: String,
}

pub fn open_events(path: &Path) -> anyhow::Result<EventFile> {
    let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if bytes.starts_with(crate::capture::format::MAGIC) {
        return Ok(EventFile::Capture(Box::new(CaptureReader::from_bytes(
            path.display().to_string(),
            bytes,
        )?)));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: neither a Kestrel capture nor UTF-8 JSON lines (invalid UTF-8 at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(EventFile::JsonLines(text))
}

/// Parse JSON-lines events: `(line number, event)`; blank lines and `#` comments skipped.
pub fn parse_json_lines(path: &str, text: &str) -> Result<Vec<(usize, MapEvent)>, JsonEventError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let ev = MapEvent::from_json(t).map_err(|e| JsonEventError {
            path: path.into(),
            line: i + 1,
            message: e.to_string(),
        })?;
        out.push((i + 1, ev));
    }
    Ok(out)
}

/// The event's own time: `evt.rawtime`/`evt.time` when given, else 0.
pub fn event_time(src: &dyn FieldSource) -> u64 {
    let mut t = 0;
    for f in [Field::EvtRawtime, Field::EvtTime] {
        src.visit(f, &FieldArg::None, &mut |v| {
            if let Value::U64(n) = v {
                t = n;
            }
            std::ops::ControlFlow::Break(())
        });
        if t != 0 {
            break;
        }
    }
    t
}

/// Rules fired by a hand-written event, in rule order.
pub fn fire_map_event(
    rules: &RuleSet,
    ev: &MapEvent,
    matching: RuleMatching,
    hostname: &Arc<str>,
    emit: &mut dyn FnMut(Alert),
) {
    let time = event_time(ev);
    let _ = rules.evaluate(ev, &mut |rule| {
        emit(alert_for(rule, ev, time, AlertContext::default(), hostname));
        if matching == RuleMatching::First {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    });
}

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let opts = CompileOptions {
        min_priority: args.rules.min_priority,
        ..Default::default()
    };
    let loaded = LoadedRules::load(&args.rules.rules, &opts)?;
    crate::run::warn_unfilled(&loaded);
    let rules = &loaded.compiled.ruleset;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut print = |a: Alert| {
        let line = if args.json {
            format::json_line(&a)
        } else {
            format::text_line(&a)
        };
        let _ = writeln!(out, "{line}");
    };
    let mut events = 0u64;
    let mut alerts = 0u64;
    let opened = open_events(&args.events)?;
    let started = std::time::Instant::now();
    match opened {
        EventFile::Capture(mut reader) => {
            let hostname: Arc<str> = reader.header.hostname.clone().into();
            while reader.next_event()? {
                events += 1;
                let view = reader.view(&hostname);
                alerts += fire(rules, &view, args.rule_matching, &hostname, &mut print);
            }
            if reader.trailer.is_none() {
                eprintln!(
                    "kestrel-agent: warning: {} has no trailer: the capture was cut short",
                    args.events.display()
                );
            }
        }
        EventFile::JsonLines(text) => {
            let hostname: Arc<str> = "replay".into();
            for (_, ev) in parse_json_lines(&args.events.display().to_string(), &text)? {
                events += 1;
                fire_map_event(rules, &ev, args.rule_matching, &hostname, &mut |a| {
                    alerts += 1;
                    print(a)
                });
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "kestrel-agent: replayed {events} events, {alerts} alerts in {secs:.3} s ({:.0} events/s on one core)",
        events as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
