//! Reading a capture back: validate the header, walk records, rebuild the recorded state, and hand
//! out each event with that state as an [`EventView`] — the same view the live agent evaluated.

use std::cell::RefCell;
use std::path::Path;

use kestrel_engine::event_type_by_name;

use super::codec::Dec;
use super::format::{self, Header};
use crate::event::{DecodedEvent, EventView};
use crate::state::containers::ContainerRegistry;
use crate::state::fds::FdEntry;
use crate::state::procfs::ProcFs;
use crate::state::procs::ProcessTable;
use crate::state::users::UserDb;

/// Why a capture cannot be read. Every variant says where.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a Kestrel capture (expected the magic bytes \"KESTRCAP\" at offset 0)")]
    NotACapture { path: String },
    #[error(
        "{path}: capture format version {found} is newer than this kestrel-agent reads (up to {supported}): use a newer kestrel-agent"
    )]
    NewerVersion {
        path: String,
        found: u16,
        supported: u16,
    },
    #[error("{path}: truncated at byte offset {offset}: {what}")]
    Truncated {
        path: String,
        offset: u64,
        what: String,
    },
    #[error("{path}: corrupt record at byte offset {offset}: {what}")]
    Corrupt {
        path: String,
        offset: u64,
        what: String,
    },
}

/// Counts a capture ends with (absent when the capture was cut short).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub events: u64,
    pub kernel_drops: u64,
}

/// A capture file loaded in memory, read record by record.
pub struct CaptureReader {
    path: String,
    data: Vec<u8>,
    pos: usize,
    pub header: Header,
    pub trailer: Option<Trailer>,
    /// Format version of this file (older versions lack some event fields).
    version: u16,
    procs: ProcessTable,
    containers: ContainerRegistry,
    users: UserDb,
    ev: DecodedEvent,
    fd: Option<FdEntry>,
    scratch: RefCell<Vec<u8>>,
}

impl CaptureReader {
    pub fn open(path: &Path) -> Result<CaptureReader, CaptureError> {
        let p = path.display().to_string();
        let data = std::fs::read(path).map_err(|source| CaptureError::Io {
            path: p.clone(),
            source,
        })?;
        Self::from_bytes(p, data)
    }

    pub fn from_bytes(path: String, data: Vec<u8>) -> Result<CaptureReader, CaptureError> {
        if data.len() < 8 || &data[..8] != format::MAGIC {
            return Err(CaptureError::NotACapture { path });
        }
        if data.len() < 14 {
            return Err(CaptureError::Truncated {
                path,
                offset: data.len() as u64,
                what: "in the header".into(),
            });
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if version > format::VERSION {
            return Err(CaptureError::NewerVersion {
                path,
                found: version,
                supported: format::VERSION,
            });
        }
        if version == 0 {
            return Err(CaptureError::Corrupt {
                path,
                offset: 8,
                what: "format version 0".into(),
            });
        }
        let hlen = u32::from_le_bytes(data[10..14].try_into().unwrap()) as usize;
        if data.len() < 14 + hlen {
            return Err(CaptureError::Truncated {
                path,
                offset: data.len() as u64,
                what: "in the header".into(),
            });
        }
        let header = format::decode_header_payload(&data[14..14 + hlen]).map_err(|e| {
            CaptureError::Corrupt {
                path: path.clone(),
                offset: 14,
                what: e.to_string(),
            }
        })?;
        Ok(CaptureReader {
            path,
            pos: 14 + hlen,
            data,
            header,
            trailer: None,
            version,
            procs: ProcessTable::new(ProcFs::new("/nonexistent-kestrel-replay")),
            containers: ContainerRegistry::default(),
            users: UserDb::default(),
            ev: DecodedEvent::default(),
            fd: None,
            scratch: RefCell::new(Vec::new()),
        })
    }

    fn corrupt(&self, offset: usize, what: impl Into<String>) -> CaptureError {
        CaptureError::Corrupt {
            path: self.path.clone(),
            offset: offset as u64,
            what: what.into(),
        }
    }

    /// Advance to the next event; `Ok(false)` at the end. State records on the way are applied.
    pub fn next_event(&mut self) -> Result<bool, CaptureError> {
        loop {
            if self.pos == self.data.len() {
                return Ok(false);
            }
            let start = self.pos;
            if self.data.len() - start < 9 {
                return Err(CaptureError::Truncated {
                    path: self.path.clone(),
                    offset: start as u64,
                    what: format!(
                        "record header needs 9 bytes, {} left",
                        self.data.len() - start
                    ),
                });
            }
            let kind = self.data[start];
            let len =
                u32::from_le_bytes(self.data[start + 1..start + 5].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(self.data[start + 5..start + 9].try_into().unwrap());
            let body = start + 9;
            if self.data.len() - body < len {
                return Err(CaptureError::Truncated {
                    path: self.path.clone(),
                    offset: start as u64,
                    what: format!(
                        "record of {len} bytes, only {} left",
                        self.data.len() - body
                    ),
                });
            }
            let payload = &self.data[body..body + len];
            if crc32fast::hash(payload) != crc {
                return Err(self.corrupt(
                    start,
                    format!("checksum mismatch in a record of type {kind}"),
                ));
            }
            self.pos = body + len;
            let mut d = Dec::new(payload);
            match kind {
                format::REC_PROCESS => {
                    let p = format::decode_process(&mut d, self.version)
                        .map_err(|e| self.corrupt(start, e.to_string()))?;
                    self.procs.insert(p);
                }
                format::REC_CONTAINER => {
                    let (slot, c) = format::decode_container(&mut d, self.version)
                        .map_err(|e| self.corrupt(start, e.to_string()))?;
                    self.containers.insert_at(slot, c);
                }
                format::REC_USERS => {
                    self.users = format::decode_users(&mut d)
                        .map_err(|e| self.corrupt(start, e.to_string()))?;
                }
                format::REC_EVENT => {
                    let (ty, fd) = format::decode_event(&mut d, &mut self.ev, self.version)
                        .map_err(|e| self.corrupt(start, e.to_string()))?;
                    self.ev.event_type = event_type_by_name(&ty)
                        .ok_or_else(|| self.corrupt(start, format!("unknown event type `{ty}`")))?;
                    self.fd = fd;
                    return Ok(true);
                }
                format::REC_TRAILER => {
                    let events = d
                        .u64("event count")
                        .map_err(|e| self.corrupt(start, e.to_string()))?;
                    let kernel_drops = d
                        .u64("drop count")
                        .map_err(|e| self.corrupt(start, e.to_string()))?;
                    self.trailer = Some(Trailer {
                        events,
                        kernel_drops,
                    });
                }
                other => return Err(self.corrupt(start, format!("unknown record type {other}"))),
            }
        }
    }

    /// The current event (after [`Self::next_event`] returned true) with its recorded state.
    pub fn view<'a>(&'a self, hostname: &'a str) -> EventView<'a> {
        let proc_ = self.procs.get(self.ev.tgid);
        EventView {
            ev: &self.ev,
            procs: &self.procs,
            proc_,
            fd: self.fd.as_ref(),
            container: proc_
                .and_then(|p| p.container)
                .and_then(|s| self.containers.get(s)),
            host_users: &self.users,
            hostname,
            scratch: &self.scratch,
        }
    }
}
