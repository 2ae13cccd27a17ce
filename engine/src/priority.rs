//! Rule priorities, parsed and printed as Falco does.

use std::fmt;
use std::str::FromStr;

/// A rule's priority. Ordered by severity: `Emergency > Alert > ... > Debug`, so
/// `priority >= Priority::Warning` means "at least Warning".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    /// All priorities, most severe first.
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    /// Severity as syslog numbers it (0 = emergency ... 7 = debug).
    pub fn syslog_level(self) -> u8 {
        self as u8
    }

    /// The name Falco prints in alerts: `Emergency`, `Warning`, `Informational`...
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// Parse as Falco does: case-insensitive, `info` is accepted for `informational`.
    pub fn parse(s: &str) -> Option<Priority> {
        let l = s.trim().to_ascii_lowercase();
        Some(match l.as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }
}

impl PartialOrd for Priority {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Priority {
    /// More severe is greater.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.syslog_level()).cmp(&self.syslog_level())
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown priority name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown priority `{0}` (expected one of emergency, alert, critical, error, warning, notice, informational, debug)"
)]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::parse(s).ok_or_else(|| UnknownPriority(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_falco() {
        assert_eq!(Priority::parse("WARNING"), Some(Priority::Warning));
        assert_eq!(Priority::parse("info"), Some(Priority::Informational));
        assert_eq!(
            Priority::parse("Informational"),
            Some(Priority::Informational)
        );
        assert_eq!(Priority::parse("notice"), Some(Priority::Notice));
        assert_eq!(Priority::parse("CRITICAL"), Some(Priority::Critical));
        assert_eq!(Priority::parse("warn"), None);
        assert_eq!(
            "bogus".parse::<Priority>().unwrap_err().to_string(),
            "unknown priority `bogus` (expected one of emergency, alert, critical, error, warning, notice, informational, debug)"
        );
    }

    #[test]
    fn orders_by_severity_and_prints_like_falco() {
        assert!(Priority::Critical > Priority::Warning);
        assert!(Priority::Debug < Priority::Informational);
        assert!(Priority::Warning >= Priority::Warning);
        let at_least_warning: Vec<_> = Priority::ALL
            .iter()
            .filter(|p| **p >= Priority::Warning)
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            at_least_warning,
            ["Emergency", "Alert", "Critical", "Error", "Warning"]
        );
        assert_eq!(Priority::Informational.to_string(), "Informational");
    }
}
