//! Condition syntax: parser and AST with byte spans.
