//! The contract between the engine and whoever produces events (the node agent, the replayer).
//!
//! The engine never sees a kernel struct: it asks an [`FieldSource`] for field values by
//! [`crate::fields::Field`] id. Values borrow from the source, so extracting a field allocates
//! nothing.

use std::net::IpAddr;

use crate::fields::Field;

/// One value of a field, borrowed from the event source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Strings are byte strings: paths and command lines need not be UTF-8.
    Str(&'a [u8]),
    U64(u64),
    I64(i64),
    Bool(bool),
    Ip(IpAddr),
}

/// The argument written after a field name: `proc.aname[2]`, `proc.env[HOME]`, `evt.arg.flags`,
/// `evt.arg[0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldArg {
    None,
    Index(i64),
    Key(Box<str>),
}

/// What the sink returns after seeing one value: keep going or stop.
pub type Visit = std::ops::ControlFlow<()>;

/// A single event, as the engine sees it.
///
/// Implementations must not allocate in `visit`: return slices of data the source already holds.
pub trait FieldSource {
    /// The Falco event type of this event (`evt.type`), as an index into
    /// [`crate::events::EVENT_TYPES`]. The rule set uses it to pick only the rules that can match.
    fn event_type(&self) -> crate::events::EventTypeId;

    /// Call `sink` once per value of `field` (several times for multi-valued fields such as
    /// `proc.aname` with no index or `proc.args`; never when the field has no value for this event,
    /// which Falco prints as `<NA>` and which makes every comparison but `not exists` false).
    fn visit(&self, field: Field, arg: &FieldArg, sink: &mut dyn FnMut(Value<'_>) -> Visit);
}
