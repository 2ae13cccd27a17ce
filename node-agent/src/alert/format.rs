//! Falco's alert formats: the text line `HH:MM:SS.nnnnnnnnn: Warning <output>` and the JSON object
//! with Falco's keys (time, rule, priority, output, output_fields, tags, hostname, source).

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use super::Alert;

/// Wall-clock `HH:MM:SS.nnnnnnnnn` in the host's local time zone, as Falco prints it.
pub fn local_clock(time_ns: u64) -> String {
    let secs = (time_ns / 1_000_000_000) as libc::time_t;
    let nanos = time_ns % 1_000_000_000;
    // SAFETY: localtime_r writes into the tm we own; a zeroed tm is a valid initial value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    let (h, m, s) = if ok {
        (tm.tm_hour as u64, tm.tm_min as u64, tm.tm_sec as u64)
    } else {
        let day = (time_ns / 1_000_000_000) % 86_400;
        (day / 3600, day % 3600 / 60, day % 60)
    };
    format!("{h:02}:{m:02}:{s:02}.{nanos:09}")
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (UTC), Falco's JSON `time`.
pub fn iso8601(time_ns: u64) -> String {
    let secs = time_ns / 1_000_000_000;
    let nanos = time_ns % 1_000_000_000;
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let day = secs % 86_400;
    let mut out = String::with_capacity(30);
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        day / 3600,
        day % 3600 / 60,
        day % 60
    );
    out
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Falco's text line: `HH:MM:SS.nnnnnnnnn: Warning <output>`.
pub fn text_line(alert: &Alert) -> String {
    format!(
        "{}: {} {}",
        local_clock(alert.time_ns),
        alert.priority.as_str(),
        alert.output
    )
}

/// Falco's JSON alert.
pub fn json_value(alert: &Alert) -> Value {
    let fields: Map<String, Value> = alert
        .output_fields
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_ref().map_or(Value::Null, |s| Value::String(s.clone())),
            )
        })
        .collect();
    json!({
        "hostname": &*alert.hostname,
        "output": text_line(alert),
        "output_fields": fields,
        "priority": alert.priority.as_str(),
        "rule": alert.rule,
        "source": alert.source,
        "tags": alert.tags,
        "time": iso8601(alert.time_ns),
    })
}

pub fn json_line(alert: &Alert) -> String {
    json_value(alert).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertContext;
    use kestrel_engine::Priority;

    fn alert() -> Alert {
        Alert {
            time_ns: 1_796_300_000_123_456_789,
            rule: "Read Passwd File".into(),
            priority: Priority::Warning,
            source: "syscall".into(),
            tags: vec!["demo".into(), "filesystem".into()],
            output: "passwd file read (user=root command=cat /etc/passwd container=host)".into(),
            output_fields: [
                ("user.name".to_owned(), Some("root".to_owned())),
                ("container.name".to_owned(), None),
            ]
            .into_iter()
            .collect(),
            hostname: "node-1".into(),
            context: AlertContext::default(),
            rule_file: String::new(),
            falco_rule: None,
        }
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            iso8601(1_796_300_000_123_456_789),
            "2026-12-03T12:13:20.123456789Z"
        );
        assert_eq!(
            iso8601(951_782_400_000_000_007),
            "2000-02-29T00:00:00.000000007Z"
        );
    }

    #[test]
    fn text_line_is_falco_format() {
        let line = text_line(&alert());
        let (clock, rest) = line.split_once(": ").unwrap();
        assert_eq!(clock.len(), "HH:MM:SS.nnnnnnnnn".len());
        assert!(clock.ends_with(".123456789"), "{clock}");
        assert_eq!(
            rest,
            "Warning passwd file read (user=root command=cat /etc/passwd container=host)"
        );
    }

    #[test]
    fn json_has_falco_keys() {
        let v = json_value(&alert());
        assert_eq!(v["rule"], "Read Passwd File");
        assert_eq!(v["priority"], "Warning");
        assert_eq!(v["source"], "syscall");
        assert_eq!(v["hostname"], "node-1");
        assert_eq!(v["time"], "2026-12-03T12:13:20.123456789Z");
        assert_eq!(v["tags"], json!(["demo", "filesystem"]));
        assert_eq!(v["output_fields"]["user.name"], "root");
        assert_eq!(v["output_fields"]["container.name"], Value::Null);
        assert!(v["output"].as_str().unwrap().ends_with(
            ": Warning passwd file read (user=root command=cat /etc/passwd container=host)"
        ));
    }
}
