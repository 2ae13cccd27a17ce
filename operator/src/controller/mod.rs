//! The controllers. What the operator writes (ConfigMaps rendered from every FalcoRule or every
//! FalcoAlertSink, alert garbage collection) is a function of a whole kind, not of one object, so
//! each controller reconciles its kind as a whole: a level-triggered pass that reads the current
//! state, computes the desired one with pure functions, and writes only the differences (server-side
//! apply under one field manager, statuses through the status subresource). Watch events only
//! trigger passes; triggers arriving together are coalesced; a failed pass is retried with
//! exponential backoff; a periodic resync repairs anything a missed event left behind.

pub mod alert_gc;
pub mod rule;
pub mod sink;

use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::Resource;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::{self, Event};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{Config, Error, metrics::Metrics};

/// What every controller shares.
pub struct Context {
    pub client: kube::Client,
    pub config: Config,
    pub metrics: Arc<Metrics>,
}

/// What a pass asks for besides the next trigger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassOutcome {
    /// Run again after this long even if nothing triggers (e.g. to re-check a missing Secret).
    pub requeue_after: Option<Duration>,
}

/// A coalescing trigger: any number of `fire`s before the controller looks make one pass.
#[derive(Clone, Default)]
pub struct Trigger(Arc<(AtomicBool, Notify)>);

impl Trigger {
    pub fn new() -> Self {
        Trigger::default()
    }

    /// Ask for a pass.
    pub fn fire(&self) {
        self.0.0.store(true, Ordering::Release);
        self.0.1.notify_one();
    }

    /// Wait until fired (returns at once if fired since the last `wait`/`clear`).
    pub async fn wait(&self) {
        loop {
            if self.0.0.swap(false, Ordering::AcqRel) {
                return;
            }
            self.0.1.notified().await;
        }
    }

    /// Forget the fires seen so far.
    pub fn clear(&self) {
        self.0.0.store(false, Ordering::Release);
    }
}

/// Exponential backoff of failed passes: 500 ms doubling to 5 minutes.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(500);
    pub const MAX: Duration = Duration::from_secs(300);

    pub fn new() -> Self {
        Backoff { next: Self::FIRST }
    }

    /// The delay before the next retry; each call doubles the following one.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    pub fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// Run `pass` on every trigger (after `debounce`, coalescing the triggers that arrive meanwhile),
/// every `resync`, when a pass asks to be requeued, and after a failure with backoff; until
/// `shutdown`.
pub async fn sync_loop<F, Fut>(
    controller: &'static str,
    trigger: Trigger,
    debounce: Duration,
    resync: Duration,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<PassOutcome, Error>>,
{
    let mut backoff = Backoff::new();
    let mut wake_at = Instant::now() + resync;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = trigger.wait() => {
                // Let the burst of events land; the pass below sees all of them.
                tokio::time::sleep(debounce).await;
                trigger.clear();
            }
            _ = tokio::time::sleep_until(wake_at) => {}
        }
        if shutdown.is_cancelled() {
            return;
        }
        let started = Instant::now();
        let result = pass().await;
        let took = started.elapsed();
        metrics.reconciled(controller, result.is_ok(), took);
        wake_at = match result {
            Ok(outcome) => {
                backoff.reset();
                tracing::debug!(controller, took_ms = took.as_millis() as u64, "pass done");
                Instant::now() + outcome.requeue_after.map_or(resync, |r| r.min(resync))
            }
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::warn!(controller, error = %e, retry_in_ms = delay.as_millis() as u64, "pass failed");
                Instant::now() + delay
            }
        };
    }
}

/// Watch `api` into a reflector `writer` (when given), calling `on_event` for every event; until
/// `shutdown`. Watch errors are retried with the watcher's default backoff.
pub async fn watch<K, F>(
    api: kube::Api<K>,
    config: watcher::Config,
    writer: Writer<K>,
    shutdown: CancellationToken,
    mut on_event: F,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
    F: FnMut(&Event<K>),
{
    let kind = K::kind(&K::DynamicType::default()).to_string();
    let stream = reflector::reflector(writer, watcher::watcher(api, config).default_backoff());
    futures::pin_mut!(stream);
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = stream.next() => next,
        };
        match next {
            Some(Ok(event)) => on_event(&event),
            Some(Err(e)) => tracing::warn!(kind = %kind, error = %e, "watch failed; retrying"),
            None => {
                tracing::warn!(kind = %kind, "watch stream ended");
                return;
            }
        }
    }
}

/// Writes this operator made, by `name@resourceVersion`, so their watch events do not trigger a
/// pass (one that would find nothing to do).
#[derive(Default, Clone)]
pub struct OwnWrites(Arc<Mutex<HashSet<String>>>);

impl OwnWrites {
    pub fn record(&self, name: &str, resource_version: Option<&str>) {
        if let Some(rv) = resource_version {
            self.0
                .lock()
                .expect("own-writes lock")
                .insert(format!("{name}@{rv}"));
        }
    }

    /// True (and forgotten) when this object version is one of ours.
    pub fn take(&self, name: &str, resource_version: Option<&str>) -> bool {
        let Some(rv) = resource_version else {
            return false;
        };
        self.0
            .lock()
            .expect("own-writes lock")
            .remove(&format!("{name}@{rv}"))
    }
}
