//! Binding a parsed condition to the field catalogue: field references, operator/type checks,
//! literal parsing, list and macro expansion, event-type sets.

mod names;

pub use names::{FieldRefError, did_you_mean, edit_distance, resolve_field_ref};
