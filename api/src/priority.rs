//! Falco alert priorities, from most to least severe.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Falco priority of a rule or an alert. Serialized the way Falco prints it (`Warning`); parsed
/// case-insensitively, `info` meaning `Informational`, as Falco does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
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

    /// The name Falco prints (`Warning`).
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

    /// Lower-case name, as used in labels and in `minimumPriority` (`warning`).
    pub fn as_lower(self) -> &'static str {
        match self {
            Priority::Emergency => "emergency",
            Priority::Alert => "alert",
            Priority::Critical => "critical",
            Priority::Error => "error",
            Priority::Warning => "warning",
            Priority::Notice => "notice",
            Priority::Informational => "informational",
            Priority::Debug => "debug",
        }
    }

    /// True when `self` is at least as severe as `minimum`.
    pub fn at_least(self, minimum: Priority) -> bool {
        self <= minimum
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority name that is none of Falco's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPriority(pub String);

impl fmt::Display for UnknownPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown priority {:?}: expected one of emergency, alert, critical, error, warning, notice, informational (or info), debug",
            self.0
        )
    }
}

impl std::error::Error for UnknownPriority {}

impl FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == "info" {
            return Ok(Priority::Informational);
        }
        Priority::ALL
            .into_iter()
            .find(|p| p.as_lower() == lower)
            .ok_or_else(|| UnknownPriority(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_falco_spellings() {
        assert_eq!("WARNING".parse::<Priority>(), Ok(Priority::Warning));
        assert_eq!("info".parse::<Priority>(), Ok(Priority::Informational));
        assert_eq!("Critical".parse::<Priority>(), Ok(Priority::Critical));
        assert!("severe".parse::<Priority>().is_err());
    }

    #[test]
    fn orders_by_severity() {
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(Priority::Warning.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
    }
}
