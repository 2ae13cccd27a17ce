//! The agent's Prometheus metrics and health endpoints (`--metrics-addr`).
//!
//! The event thread keeps its counters in plain integers (no atomics per event) and publishes
//! them into [`AgentStats`] once per ring-buffer batch; the other counters (alert queue, sinks,
//! kernel drops, rule reloads) are already shared and are read at scrape time.

mod exposition;
mod server;

pub use exposition::{Exposition, render};
pub use server::{MetricsServer, MetricsSources};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What the event thread publishes once per batch.
#[derive(Debug, Default)]
pub struct AgentStats {
    pub events: AtomicU64,
    pub evaluated: AtomicU64,
    pub alerts: AtomicU64,
    pub malformed: AtomicU64,
    pub processes: AtomicU64,
    pub containers: AtomicU64,
    /// Unix seconds of the event loop's last turn (0: not started).
    pub last_loop_unix: AtomicU64,
}

impl AgentStats {
    /// Publish the event thread's counters (a few relaxed stores, once per batch).
    pub fn publish(
        &self,
        c: &crate::pipeline::PipelineCounters,
        malformed: u64,
        procs: usize,
        containers: usize,
    ) {
        self.events.store(c.events, Ordering::Relaxed);
        self.evaluated.store(c.evaluated, Ordering::Relaxed);
        self.alerts.store(c.alerts, Ordering::Relaxed);
        self.malformed.store(malformed, Ordering::Relaxed);
        self.processes.store(procs as u64, Ordering::Relaxed);
        self.containers.store(containers as u64, Ordering::Relaxed);
        self.last_loop_unix.store(unix_now(), Ordering::Relaxed);
    }

    /// Seconds since the event loop last turned, `None` before it started.
    pub fn loop_age_secs(&self) -> Option<u64> {
        match self.last_loop_unix.load(Ordering::Relaxed) {
            0 => None,
            t => Some(unix_now().saturating_sub(t)),
        }
    }
}

/// Outcomes of rule set reloads (SIGHUP or the cluster's ConfigMaps).
#[derive(Debug, Default)]
pub struct ReloadStats {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
