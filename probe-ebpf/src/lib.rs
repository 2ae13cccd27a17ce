//! Kestrel's eBPF syscall probe: placeholder docs (rewritten below once the kernel side is complete).

mod clock;
pub mod error;
pub mod event;
mod loader;
pub mod raw_event;
pub mod syscalls;
pub mod wanted;

pub use clock::{boot_ns_to_wall_clock_ns, boot_to_wall_clock_offset};
pub use error::ProbeError;
pub use event::{EventHeader, EventKind};
pub use loader::{DropCounts, Probe, ProbeControl, ProbeOptions};
pub use raw_event::{Argv, MalformedEvent, RawEvent, SockAddr};
pub use wanted::{Outcomes, WantedSyscalls};
