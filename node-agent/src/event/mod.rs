//! Events as the engine sees them: decoded records ([`decoded`]), their arguments as Falco names
//! and prints them ([`args`]), and the field view over event + state ([`view`]).

pub mod args;
pub mod caps;
pub mod decoded;
pub mod errno;
pub mod view;

pub use decoded::{AT_FDCWD, DecodedEvent, Kind, NO_FD};
pub use view::EventView;
