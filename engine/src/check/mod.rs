//! Binding a parsed condition to the field catalogue: field references, operator/type checks,
//! literal parsing, list and macro expansion, event-type sets.

pub(crate) mod bind;
mod names;

pub(crate) use bind::{Bound, Env};

pub use names::{FieldRefError, did_you_mean, edit_distance, resolve_field_ref};
