//! Kestrel's rule engine: Falco's rule language.
//!
//! - [`load`]: YAML documents (rules, macros, lists, exceptions, append/override), merged in order.
//! - [`syntax`]: condition lexer/parser, AST with spans.
//! - [`check`]: binding to the [`fields`] catalogue, type checking, list/macro expansion.
//! - [`compile`]: the evaluator tree and the per-event-type rule index ([`RuleSet`]).
//! - [`output`]: `%field` templates.
//! - [`MapEvent`]: a [`FieldSource`] built from field-name → value strings (tests, replay).
//!
//! ```
//! use kestrel_engine::{Loader, CompileOptions, MapEvent};
//! let mut loader = Loader::new();
//! loader.add_str("rules.yaml", r#"
//! - rule: Read Passwd
//!   desc: someone read /etc/passwd
//!   condition: evt.type = openat and fd.name = /etc/passwd
//!   output: "passwd read by %proc.name (file=%fd.name)"
//!   priority: WARNING
//! "#);
//! let compiled = loader.compile(&CompileOptions::default()).unwrap();
//! let ev = MapEvent::from_pairs(&[("evt.type", "openat"), ("fd.name", "/etc/passwd"), ("proc.name", "cat")]).unwrap();
//! let mut fired = Vec::new();
//! let _ = compiled.ruleset.evaluate(&ev, &mut |rule| {
//!     let mut line = String::new();
//!     rule.output.render(&ev, &mut line);
//!     fired.push(line);
//!     std::ops::ControlFlow::Continue(())
//! });
//! assert_eq!(fired, ["passwd read by cat (file=/etc/passwd)"]);
//! ```

pub mod check;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod events;
pub mod fields;
pub mod load;
pub mod mapevent;
pub mod output;
pub mod priority;
pub mod source;
pub mod syntax;

pub use compile::{CompiledRule, RuleSet};
pub use diag::{Diagnostic, Diagnostics, ItemKind, Pos, Severity, TextPos};
pub use events::{EVENT_TYPES, EventTypeId, EventTypeSet, event_type_by_name};
pub use fields::{ArgKind, Field, FieldInfo, FieldType};
pub use load::{CompileOptions, Compiled, Loader, Stats, compile_str, validate_str};
pub use mapevent::{MapEvent, MapEventError};
pub use output::OutputTemplate;
pub use priority::Priority;
pub use source::{FieldArg, FieldSource, Value, Visit};
