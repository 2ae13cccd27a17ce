//! Condition syntax: parser and AST with byte spans.

pub mod ast;
mod parser;

pub use ast::{Check, Expr, FieldExpr, Literal, Op, Rhs, Span};
pub use parser::{SyntaxError, parse_condition, unquote};
