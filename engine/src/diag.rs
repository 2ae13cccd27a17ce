//! Diagnostics: every error and warning the loader, parser and checker report, with the file,
//! the item (rule/macro/list), the YAML position and, for conditions, the position inside the
//! condition text and the offending line with a caret.

use std::fmt;

/// Error or warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// The kind of YAML item a diagnostic is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Rule,
    Macro,
    List,
    RequiredEngineVersion,
    RequiredPluginVersions,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::RequiredEngineVersion => "required_engine_version",
            ItemKind::RequiredPluginVersions => "required_plugin_versions",
        }
    }
}

/// A 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Where inside a condition (or output, or exception) text the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPos {
    /// Which text: `condition`, `output`, `exception "name"`...
    pub what: String,
    /// Position inside that text (line 1 is the text's first line).
    pub pos: Pos,
    /// Number of characters to underline (at least 1).
    pub len: u32,
    /// The text's line at `pos.line`, shown under the message with a caret.
    pub line_text: String,
}

/// One error or warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A short stable identifier of the problem (`unknown-field`, `undefined-macro`...), for
    /// machines (status reasons, tests).
    pub code: &'static str,
    /// The file (or document name given to `add_str`).
    pub file: String,
    /// The item: kind and name.
    pub item: Option<(ItemKind, String)>,
    /// YAML position of the item or of the offending key/value.
    pub pos: Option<Pos>,
    /// File position of the offending token itself, when it is inside a value written over
    /// several lines (a folded `condition: >`), where the value's own line:column would not
    /// lead to it. Shown instead of `pos` in the leading `file:line:col`.
    pub source: Option<Pos>,
    /// Position inside the condition/output text, for errors there.
    pub text: Option<TextPos>,
    /// The problem in plain words.
    pub message: String,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            file: file.into(),
            item: None,
            pos: None,
            source: None,
            text: None,
            message: message.into(),
        }
    }

    pub fn warning(
        code: &'static str,
        file: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, message)
        }
    }

    pub fn at(mut self, pos: Pos) -> Self {
        self.pos = Some(pos);
        self
    }

    pub fn item(mut self, kind: ItemKind, name: impl Into<String>) -> Self {
        self.item = Some((kind, name.into()));
        self
    }

    /// The file position of the offending token (see [`Diagnostic::source`]).
    pub fn source_at(mut self, pos: Option<Pos>) -> Self {
        self.source = pos;
        self
    }

    pub fn in_text(mut self, text: TextPos) -> Self {
        self.text = Some(text);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.source.or(self.pos) {
            write!(f, ":{p}")?;
        }
        f.write_str(": ")?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        if let Some((kind, name)) = &self.item {
            write!(f, "{} {:?}", kind.as_str(), name)?;
            if let Some(t) = &self.text {
                write!(f, " {} {}", t.what, t.pos)?;
            }
            f.write_str(": ")?;
        } else if let Some(t) = &self.text {
            write!(f, "{} {}: ", t.what, t.pos)?;
        }
        f.write_str(&self.message)?;
        if let Some(t) = &self.text {
            write!(f, "\n    {}\n    ", t.line_text)?;
            let indent: String = t
                .line_text
                .chars()
                .take(t.pos.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            f.write_str(&indent)?;
            for _ in 0..t.len.max(1) {
                f.write_str("^")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics (the errors of a failed compile, with the warnings found before them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_position_item_and_caret() {
        let d = Diagnostic::error(
            "unknown-field",
            "rules.yaml",
            "unknown field `proc.nmae` — did you mean `proc.name`?",
        )
        .at(Pos { line: 12, col: 5 })
        .item(ItemKind::Rule, "Read Passwd")
        .in_text(TextPos {
            what: "condition".into(),
            pos: Pos { line: 1, col: 23 },
            len: 9,
            line_text: "open_read and not proc.nmae=cat".into(),
        });
        assert_eq!(
            d.to_string(),
            "rules.yaml:12:5: rule \"Read Passwd\" condition 1:23: unknown field `proc.nmae` — did you mean `proc.name`?\n    open_read and not proc.nmae=cat\n                          ^^^^^^^^^"
        );
        let w = Diagnostic::warning("x", "a.yaml", "careful").at(Pos { line: 1, col: 3 });
        assert_eq!(w.to_string(), "a.yaml:1:3: warning: careful");
    }
}
