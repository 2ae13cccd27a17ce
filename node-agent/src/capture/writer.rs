//! Recording: every event as the rules saw it, preceded by snapshots of the processes (the event's
//! and its ancestors), container and users it reads, written only when they changed.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::Write;

use super::codec::Enc;
use super::format::{self, Header};
use crate::event::EventView;
use crate::state::procs::Process;

/// Ancestors recorded with each event (`proc.aname[N]` reads up to this depth on replay).
const ANCESTORS: usize = 16;

pub struct CaptureWriter<W: Write> {
    out: W,
    written_procs: HashMap<u32, u64>,
    written_containers: HashMap<u32, u64>,
    users_written: bool,
    enc: Enc,
    frame: Vec<u8>,
    pub events: u64,
    pub bytes: u64,
}

fn fingerprint(p: &Process) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        p.ppid,
        p.vpid,
        p.pgid,
        p.sid,
        p.tty,
        p.loginuid,
        p.start_ns,
        p.container,
        p.exe_file,
    )
        .hash(&mut h);
    (&p.comm, &p.exe, &p.exepath, &p.args, &p.cmdline, &p.cwd).hash(&mut h);
    h.finish()
}

impl<W: Write> CaptureWriter<W> {
    pub fn new(mut out: W, header: &Header) -> std::io::Result<Self> {
        let h = format::encode_header(header);
        out.write_all(&h)?;
        Ok(Self {
            out,
            written_procs: HashMap::new(),
            written_containers: HashMap::new(),
            users_written: false,
            enc: Enc::default(),
            frame: Vec::with_capacity(8192),
            events: 0,
            bytes: h.len() as u64,
        })
    }

    fn emit(&mut self, kind: u8) -> std::io::Result<()> {
        self.frame.clear();
        format::frame(kind, &self.enc.buf, &mut self.frame);
        self.enc.buf.clear();
        self.out.write_all(&self.frame)?;
        self.bytes += self.frame.len() as u64;
        Ok(())
    }

    fn process(&mut self, p: &Process) -> std::io::Result<()> {
        let fp = fingerprint(p);
        if self.written_procs.get(&p.pid) == Some(&fp) {
            return Ok(());
        }
        self.written_procs.insert(p.pid, fp);
        format::encode_process(p, &mut self.enc);
        self.emit(format::REC_PROCESS)
    }

    /// Record one event with the state it reads.
    pub fn record(&mut self, view: &EventView<'_>) -> std::io::Result<()> {
        if !self.users_written {
            format::encode_users(view.host_users, &mut self.enc);
            self.emit(format::REC_USERS)?;
            self.users_written = true;
        }
        if let (Some(p), Some(c)) = (view.proc_, view.container)
            && let Some(slot) = p.container
        {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&c.full_id, &c.name, &c.image, &c.pod).hash(&mut h);
            // users go from unknown to known once; privilege and start time come from the pod
            (c.users.is_some(), c.privileged, c.start_ts).hash(&mut h);
            let fp = h.finish();
            if self.written_containers.get(&slot) != Some(&fp) {
                self.written_containers.insert(slot, fp);
                format::encode_container(slot, c, &mut self.enc);
                self.emit(format::REC_CONTAINER)?;
            }
        }
        if let Some(p) = view.proc_ {
            self.process(p)?;
            let mut cur = p;
            for _ in 0..ANCESTORS {
                let ppid = if std::ptr::eq(cur, p) && view.ev.ptgid != 0 {
                    view.ev.ptgid
                } else {
                    cur.ppid
                };
                match view.procs.get(ppid) {
                    Some(pp) if pp.pid != cur.pid => {
                        self.process(pp)?;
                        cur = pp;
                    }
                    _ => break,
                }
            }
        }
        let ty = kestrel_engine::EVENT_TYPES
            .get(view.ev.event_type.0 as usize)
            .copied()
            .unwrap_or("");
        format::encode_event(view.ev, ty, view.fd, &mut self.enc);
        self.emit(format::REC_EVENT)?;
        self.events += 1;
        Ok(())
    }

    /// Write the trailer (counts) and flush. Returns the output and the bytes written in all:
    /// header, records and trailer, the size of the file it made.
    pub fn finish(mut self, kernel_drops: u64) -> std::io::Result<(W, u64)> {
        let events = self.events;
        self.enc.u64(events).u64(kernel_drops);
        self.emit(format::REC_TRAILER)?;
        self.out.flush()?;
        Ok((self.out, self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_counts_header_records_and_trailer() {
        let header = Header {
            created_ns: 7,
            hostname: "node-a".into(),
            agent_version: "1.2.3".into(),
        };
        let w = CaptureWriter::new(Vec::new(), &header).unwrap();
        let header_len = w.bytes;
        assert_eq!(header_len, format::encode_header(&header).len() as u64);
        let (out, bytes) = w.finish(3).unwrap();
        assert_eq!(bytes, out.len() as u64);
        assert!(bytes > header_len, "the trailer is counted");
    }
}
