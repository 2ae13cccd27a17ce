//! Capture files: the event stream as the engine saw it, with the process, fd and container state
//! its fields were read from, so rules can be replayed over it later and give the same alerts.

pub mod codec;
pub mod format;
pub mod reader;
pub mod writer;

pub use reader::{CaptureError, CaptureReader};
pub use writer::CaptureWriter;
