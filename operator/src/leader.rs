//! Leader election through a `coordination.k8s.io/v1` Lease, the way client-go does it: the holder
//! renews `renewTime`; a candidate takes the Lease over only after it has seen the same record
//! unchanged for `leaseDurationSeconds` by its own clock (so clock skew between replicas does not
//! matter); every write carries the `resourceVersion` it read, so two candidates never both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Leader election settings.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    pub lease_name: String,
    pub namespace: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How often the leader renews and candidates retry.
    pub retry_period: Duration,
    /// The leader gives up when it could not renew for this long (less than `lease_duration`).
    pub renew_deadline: Duration,
}

/// Leader election failures.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("lost the leader Lease {namespace}/{name}: {why}")]
    Lost {
        namespace: String,
        name: String,
        why: String,
    },
}

/// What a candidate last saw of the Lease, and when (by its own clock).
struct Observed {
    holder: Option<String>,
    renew: Option<MicroTime>,
    transitions: Option<i32>,
    at: Instant,
}

/// A leader elector over one Lease.
pub struct LeaderElector {
    api: Api<Lease>,
    config: LeaderConfig,
    observed: Option<Observed>,
}

impl LeaderElector {
    pub fn new(client: kube::Client, config: LeaderConfig) -> Self {
        LeaderElector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        }
    }

    pub fn config(&self) -> &LeaderConfig {
        &self.config
    }

    /// Wait until this replica holds the Lease (true), or until `shutdown` (false).
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> bool {
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    tracing::info!(lease = %self.config.lease_name, identity = %self.config.identity, "became leader");
                    return true;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.config.lease_name, "leader election attempt failed")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return false,
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
        }
    }

    /// Renew the Lease until `shutdown` (Ok) or until renewal failed for `renew_deadline` or someone
    /// else holds it (Err).
    pub async fn hold(&mut self, shutdown: &CancellationToken) -> Result<(), LeaderError> {
        let mut last_renewed = Instant::now();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.config.retry_period) => {}
            }
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewed = Instant::now(),
                Ok(false) => return Err(self.lost("another replica holds it".into())),
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the leader Lease failed");
                    if last_renewed.elapsed() >= self.config.renew_deadline {
                        return Err(self.lost(format!(
                            "could not renew for {:?}: {e}",
                            self.config.renew_deadline
                        )));
                    }
                }
            }
        }
    }

    fn lost(&self, why: String) -> LeaderError {
        LeaderError::Lost {
            namespace: self.config.namespace.clone(),
            name: self.config.lease_name.clone(),
            why,
        }
    }

    /// Give the Lease up so another replica takes over at once.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.lease_name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.lease_name, "released leadership"),
            Err(e) => tracing::warn!(error = %e, "releasing the leader Lease failed"),
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: Ok(true) when this replica holds the Lease
    /// afterwards.
    async fn try_acquire_or_renew(&mut self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let duration_secs =
            i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.config.lease_name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.lease_name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.config.identity.clone()),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let me = self.config.identity.as_str();
        let changed = match &self.observed {
            Some(o) => {
                o.holder != holder
                    || o.renew != spec.renew_time
                    || o.transitions != spec.lease_transitions
            }
            None => true,
        };
        if changed {
            self.observed = Some(Observed {
                holder: holder.clone(),
                renew: spec.renew_time.clone(),
                transitions: spec.lease_transitions,
                at: Instant::now(),
            });
        }
        let held_by_other = holder.as_deref().is_some_and(|h| h != me);
        if held_by_other {
            let their_duration = Duration::from_secs(
                spec.lease_duration_seconds.unwrap_or(duration_secs).max(1) as u64,
            );
            let seen_at = self
                .observed
                .as_ref()
                .map(|o| o.at)
                .unwrap_or_else(Instant::now);
            if seen_at.elapsed() < their_duration {
                return Ok(false);
            }
        }
        let new_spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if holder.as_deref() != Some(me) {
            new_spec.acquire_time = Some(MicroTime(now));
            // A new holder (after a release or an expiry) is a transition, as in client-go.
            new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        new_spec.holder_identity = Some(me.to_string());
        new_spec.lease_duration_seconds = Some(duration_secs);
        new_spec.renew_time = Some(MicroTime(now));
        // `replace` sends the resourceVersion read above: a concurrent writer makes it fail (409).
        match self
            .api
            .replace(&self.config.lease_name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => {
                let s = written.spec.unwrap_or_default();
                self.observed = Some(Observed {
                    holder: s.holder_identity,
                    renew: s.renew_time,
                    transitions: s.lease_transitions,
                    at: Instant::now(),
                });
                Ok(true)
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}
