//! An error and its causes on one line, each said once.
//!
//! Error types in this crate keep their cause out of their own message (it is the `source`), but
//! errors from other crates often repeat it (`"loading failed: {0}"` with `#[source]`). Printing a
//! chain with `{:#}` then says the cause twice; [`Chain`] skips a cause whose text the message
//! above it already contains.

use std::error::Error;
use std::fmt;

/// Displays an error followed by `: cause` for each cause not already in the message above it.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut above = self.0.to_string();
        f.write_str(&above)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            let text = e.to_string();
            if !text.is_empty() && !above.contains(&text) {
                write!(f, ": {text}")?;
            }
            above = text;
            cause = e.source();
        }
        Ok(())
    }
}

/// The chain of an `anyhow::Error` (its contexts and causes), each said once.
pub fn anyhow_chain(e: &anyhow::Error) -> String {
    Chain(e.as_ref()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer says {0}")]
    struct Repeats(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Quiet(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("middle")]
    struct Middle(#[source] Repeats);

    fn io() -> std::io::Error {
        std::io::Error::from_raw_os_error(libc::ENOENT)
    }

    #[test]
    fn a_cause_the_message_repeats_is_said_once() {
        assert_eq!(
            Chain(&Repeats(io())).to_string(),
            "outer says No such file or directory (os error 2)"
        );
        assert_eq!(
            Chain(&Quiet(io())).to_string(),
            "outer: No such file or directory (os error 2)"
        );
        assert_eq!(
            Chain(&Middle(Repeats(io()))).to_string(),
            "middle: outer says No such file or directory (os error 2)"
        );
        let e = anyhow::Error::new(Repeats(io())).context("loading");
        assert_eq!(
            anyhow_chain(&e),
            "loading: outer says No such file or directory (os error 2)"
        );
        // `{:#}` is what said it twice
        assert_eq!(
            format!("{e:#}"),
            "loading: outer says No such file or directory (os error 2): No such file or directory (os error 2)"
        );
    }
}
