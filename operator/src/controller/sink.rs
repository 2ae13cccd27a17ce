//! FalcoAlertSink controller: checks every sink, renders the valid ones into the `kestrel-sinks`
//! ConfigMap and writes each sink's `Ready` condition.
//!
//! Credentials stay in their Secret: the operator only checks that the Secret and key exist (it
//! never copies, logs or renders a value); the agents read the Secret themselves. A sink whose
//! Secret is missing is still rendered (the agent starts delivering as soon as the Secret appears)
//! and its status says why it is not ready; such sinks are re-checked every
//! `Config::secret_recheck`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::jiff::Timestamp;
use kestrel_api::conditions::reason;
use kestrel_api::constants::{OPERATOR_FIELD_MANAGER, SINKS_CONFIGMAP, SINKS_SELECTOR};
use kestrel_api::contract::{Scope, SecretRef, SinkEntry, SinkTlsEntry};
use kestrel_api::{FalcoAlertSink, FalcoAlertSinkStatus, Priority, SecretKeyRef, SinkType};
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use tokio_util::sync::CancellationToken;

use super::{Context, OwnWrites, PassOutcome, Trigger, sync_loop, watch};
use crate::Error;
use crate::render::{configmap_up_to_date, render_sinks};
use crate::status::{same_sink_status, sink_status};

const CONTROLLER: &str = "sink";

/// Run the FalcoAlertSink controller until `shutdown`.
pub async fn run(ctx: Arc<Context>, shutdown: CancellationToken) {
    let trigger = Trigger::new();
    let own_writes = OwnWrites::default();
    let (sinks, writer) = reflector::store::<FalcoAlertSink>();
    let mut generations: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let t = trigger.clone();
    let sinks_watch = watch(
        Api::<FalcoAlertSink>::all(ctx.client.clone()),
        watcher::Config::default(),
        writer,
        shutdown.clone(),
        // Spec changes (generation), creations and deletions trigger a pass; status updates,
        // ours included, do not.
        move |event: &Event<FalcoAlertSink>| match event {
            Event::Apply(s) | Event::InitApply(s) => {
                let generation = s.metadata.generation.unwrap_or(0);
                let seen = generations.insert(s.uid().unwrap_or_default(), generation);
                if matches!(event, Event::Apply(_)) && seen != Some(generation) {
                    t.fire();
                }
            }
            Event::Delete(s) => {
                generations.remove(&s.uid().unwrap_or_default());
                t.fire();
            }
            Event::InitDone => t.fire(),
            Event::Init => {}
        },
    );
    let (_cms, cm_writer) = reflector::store::<ConfigMap>();
    let t = trigger.clone();
    let ow = own_writes.clone();
    let cm_watch = watch(
        Api::<ConfigMap>::namespaced(ctx.client.clone(), &ctx.config.namespace),
        watcher::Config::default().labels(SINKS_SELECTOR),
        cm_writer,
        shutdown.clone(),
        move |event: &Event<ConfigMap>| match event {
            Event::Apply(cm)
                if ow.take(&cm.name_any(), cm.metadata.resource_version.as_deref()) => {}
            Event::Init | Event::InitApply(_) => {}
            _ => t.fire(),
        },
    );
    let controller = Arc::new(SinkController {
        ctx: ctx.clone(),
        sinks: sinks.clone(),
        own_writes,
    });
    let sync = async {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = sinks.wait_until_ready() => {}
        }
        trigger.fire();
        sync_loop(
            CONTROLLER,
            trigger.clone(),
            ctx.config.debounce,
            ctx.config.resync,
            ctx.metrics.clone(),
            shutdown.clone(),
            || {
                let controller = controller.clone();
                async move { controller.pass().await }
            },
        )
        .await;
    };
    tokio::join!(sinks_watch, cm_watch, sync);
}

struct SinkController {
    ctx: Arc<Context>,
    sinks: Store<FalcoAlertSink>,
    own_writes: OwnWrites,
}

impl SinkController {
    async fn pass(&self) -> Result<PassOutcome, Error> {
        let ctx = &self.ctx;
        let ns = ctx.config.namespace.as_str();
        let mut entries = Vec::new();
        let mut secret_missing = false;
        let now = Timestamp::now();
        for sink in self.sinks.state() {
            if sink.metadata.deletion_timestamp.is_some() {
                continue;
            }
            let (ready, why, message) = match sink_entry(&sink, ns) {
                Err(problem) => (false, reason::INVALID_SPEC, problem),
                Ok(entry) => {
                    let sink_ns = entry.namespace.clone();
                    let check = check_secrets(&ctx.client, &sink_ns, &sink).await?;
                    entries.push(entry);
                    match check {
                        Some((why, message)) => {
                            secret_missing = true;
                            (false, why, message)
                        }
                        None => (
                            true,
                            reason::SINK_READY,
                            format!(
                                "{} sink rendered into ConfigMap {ns}/{SINKS_CONFIGMAP}",
                                sink.spec.type_.as_str()
                            ),
                        ),
                    }
                }
            };
            let want = sink_status(
                sink.metadata.generation,
                ready,
                why,
                message,
                sink.status.as_ref(),
                now,
            );
            if sink
                .status
                .as_ref()
                .is_some_and(|have| same_sink_status(have, &want))
            {
                continue;
            }
            match write_status(&ctx.client, &sink, &want).await {
                Ok(()) => ctx.metrics.wrote(CONTROLLER, "status"),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }

        let want = render_sinks(ns, entries);
        let cm_api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), ns);
        let have = cm_api.get_opt(SINKS_CONFIGMAP).await?;
        if !have
            .as_ref()
            .is_some_and(|have| configmap_up_to_date(have, &want))
        {
            let written = cm_api
                .patch(
                    SINKS_CONFIGMAP,
                    &PatchParams::apply(OPERATOR_FIELD_MANAGER).force(),
                    &Patch::Apply(&want),
                )
                .await?;
            self.own_writes.record(
                SINKS_CONFIGMAP,
                written.metadata.resource_version.as_deref(),
            );
            ctx.metrics.wrote(CONTROLLER, "configmap");
            tracing::info!(configmap = SINKS_CONFIGMAP, "deployed sinks");
        }
        Ok(PassOutcome {
            requeue_after: secret_missing.then_some(ctx.config.secret_recheck),
        })
    }
}

/// Check that the Secrets a sink names exist and hold the keys; `Some((reason, message))` when not.
/// Values are never read into anything but the existence check.
async fn check_secrets(
    client: &kube::Client,
    namespace: &str,
    sink: &FalcoAlertSink,
) -> Result<Option<(&'static str, String)>, kube::Error> {
    let refs: Vec<(&str, &SecretKeyRef)> = sink
        .spec
        .credentials
        .iter()
        .map(|c| ("credentials.secretKeyRef", &c.secret_key_ref))
        .chain(
            sink.spec
                .tls
                .iter()
                .filter_map(|t| t.ca_secret_ref.as_ref())
                .map(|r| ("tls.caSecretRef", r)),
        )
        .collect();
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for (field, r) in refs {
        let Some(secret) = api.get_opt(&r.name).await? else {
            return Ok(Some((
                reason::SECRET_NOT_FOUND,
                format!("{field}: Secret {namespace}/{} not found", r.name),
            )));
        };
        let has_key = secret.data.as_ref().is_some_and(|d| d.contains_key(&r.key))
            || secret
                .string_data
                .as_ref()
                .is_some_and(|d| d.contains_key(&r.key));
        if !has_key {
            return Ok(Some((
                reason::SECRET_KEY_NOT_FOUND,
                format!(
                    "{field}: Secret {namespace}/{} has no key {:?}",
                    r.name, r.key
                ),
            )));
        }
    }
    Ok(None)
}

async fn write_status(
    client: &kube::Client,
    sink: &FalcoAlertSink,
    status: &FalcoAlertSinkStatus,
) -> Result<(), kube::Error> {
    let api: Api<FalcoAlertSink> =
        Api::namespaced(client.clone(), &sink.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": FalcoAlertSink::api_version(&()),
        "kind": FalcoAlertSink::kind(&()),
        "status": status,
    });
    api.patch_status(
        &sink.name_any(),
        &PatchParams::apply(OPERATOR_FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// The `sinks.json` entry of a sink, or what is wrong with its spec (plain words). Pure.
pub fn sink_entry(sink: &FalcoAlertSink, install_namespace: &str) -> Result<SinkEntry, String> {
    let spec = &sink.spec;
    let namespace = sink.namespace().unwrap_or_default();
    let scope = if namespace == install_namespace {
        Scope::Cluster
    } else {
        Scope::Namespace
    };
    let t = spec.type_;
    let web = matches!(t, SinkType::Webhook | SinkType::Slack);
    match t {
        SinkType::Webhook if spec.url.is_none() => return Err("a webhook sink needs url".into()),
        SinkType::Slack if spec.url.is_none() && spec.credentials.is_none() => {
            return Err(
                "a slack sink needs url, or credentials.secretKeyRef holding the Slack webhook URL"
                    .into(),
            );
        }
        SinkType::File if spec.path.is_none() => return Err("a file sink needs path".into()),
        SinkType::Syslog if spec.address.is_none() => {
            return Err("a syslog sink needs address (host:port)".into());
        }
        _ => {}
    }
    let unused = |field: &str, set: bool, users: &str| -> Result<(), String> {
        if set {
            Err(format!(
                "{field} is not used by a {} sink (only by {users})",
                t.as_str()
            ))
        } else {
            Ok(())
        }
    };
    unused("url", spec.url.is_some() && !web, "webhook and slack")?;
    unused("path", spec.path.is_some() && t != SinkType::File, "file")?;
    unused(
        "address",
        spec.address.is_some() && t != SinkType::Syslog,
        "syslog",
    )?;
    unused(
        "protocol",
        spec.protocol.is_some() && t != SinkType::Syslog,
        "syslog",
    )?;
    unused(
        "credentials",
        spec.credentials.is_some() && !web,
        "webhook and slack",
    )?;
    unused(
        "tls",
        spec.tls.is_some() && t != SinkType::Webhook,
        "webhook",
    )?;
    unused(
        "headers",
        spec.headers.as_ref().is_some_and(|h| !h.is_empty()) && t != SinkType::Webhook,
        "webhook",
    )?;

    if let Some(url) = &spec.url {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| format!("url {url:?} is not a valid URL: {e}"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if t == SinkType::Webhook => {}
            Some("http") => return Err("a slack url must use https".into()),
            _ => return Err(format!("url {url:?} must start with http:// or https://")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(format!("url {url:?} has no host"));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(
                "url must not carry a user or password: it would be stored in a ConfigMap; put the credential in a Secret and name it in credentials.secretKeyRef".into(),
            );
        }
    }
    if let Some(path) = &spec.path
        && !path.starts_with('/')
    {
        return Err(format!("path {path:?} must be absolute"));
    }
    if let Some(address) = &spec.address {
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| format!("address {address:?} must be host:port"))?;
        if host.trim_matches(['[', ']']).is_empty() || port.parse::<u16>().map_or(true, |p| p == 0)
        {
            return Err(format!(
                "address {address:?} must be host:port with a port from 1 to 65535"
            ));
        }
    }
    let minimum_priority = match &spec.minimum_priority {
        Some(p) => p
            .parse::<Priority>()
            .map_err(|e| format!("minimumPriority: {e}"))?,
        None => Priority::Debug,
    };
    let filters = spec.filters.clone().unwrap_or_default();
    if scope == Scope::Namespace && filters.namespaces.iter().any(|n| *n != namespace) {
        return Err(format!(
            "filters.namespaces may only name {namespace:?}: a sink outside the install namespace receives alerts of its own namespace only"
        ));
    }
    let headers = spec.headers.clone().unwrap_or_default();
    for name in headers.keys() {
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!("headers: {name:?} is not a valid HTTP header name"));
        }
        if looks_like_credential(name) {
            return Err(format!(
                "headers: {name} looks like a credential and would be stored in a ConfigMap; put its value in a Secret and name it in credentials.secretKeyRef with credentials.header: {name}"
            ));
        }
    }
    if let Some(h) = spec.credentials.as_ref().and_then(|c| c.header.as_ref()) {
        if t != SinkType::Webhook {
            return Err("credentials.header applies to webhook sinks only".into());
        }
        if hyper::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
            return Err(format!(
                "credentials.header: {h:?} is not a valid HTTP header name"
            ));
        }
    }
    let secret_ref = |r: &SecretKeyRef| SecretRef {
        namespace: namespace.clone(),
        name: r.name.clone(),
        key: r.key.clone(),
    };
    Ok(SinkEntry {
        namespace: namespace.clone(),
        name: sink.name_any(),
        scope,
        type_: t,
        url: spec.url.clone(),
        path: spec.path.clone(),
        address: spec.address.clone(),
        protocol: spec.protocol,
        minimum_priority: minimum_priority.as_lower().to_string(),
        filters,
        headers,
        secret_ref: spec
            .credentials
            .as_ref()
            .map(|c| secret_ref(&c.secret_key_ref)),
        credential_header: spec.credentials.as_ref().and_then(|c| c.header.clone()),
        tls: spec.tls.as_ref().map(|tls| SinkTlsEntry {
            insecure_skip_verify: tls.insecure_skip_verify.unwrap_or(false),
            ca_secret_ref: tls.ca_secret_ref.as_ref().map(secret_ref),
            server_name: tls.server_name.clone(),
        }),
    })
}

/// Header names that carry credentials (`Authorization`, `X-Api-Key`, `Cookie`, `X-Auth-Token`...):
/// their values belong in a Secret, never in the sinks ConfigMap.
fn looks_like_credential(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    [
        "auth",
        "token",
        "secret",
        "password",
        "passwd",
        "api-key",
        "apikey",
        "api_key",
        "cookie",
        "signature",
    ]
    .iter()
    .any(|w| h.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_api::{FalcoAlertSinkSpec, SinkCredentials, SinkFilters};

    fn sink(ns: &str, spec: FalcoAlertSinkSpec) -> FalcoAlertSink {
        let mut s = FalcoAlertSink::new("out", spec);
        s.metadata.namespace = Some(ns.into());
        s
    }

    fn webhook(url: &str) -> FalcoAlertSinkSpec {
        FalcoAlertSinkSpec {
            type_: SinkType::Webhook,
            url: Some(url.into()),
            path: None,
            address: None,
            protocol: None,
            credentials: None,
            minimum_priority: None,
            filters: None,
            headers: None,
            tls: None,
        }
    }

    #[test]
    fn webhook_entry_names_the_secret_not_its_value() {
        let mut spec = webhook("https://alerts.example.com/hook");
        spec.credentials = Some(SinkCredentials {
            secret_key_ref: SecretKeyRef {
                name: "hook-token".into(),
                key: "token".into(),
            },
            header: None,
        });
        spec.minimum_priority = Some("WARNING".into());
        let e = sink_entry(&sink("team-a", spec), "kestrel").unwrap();
        assert_eq!(e.scope, Scope::Namespace);
        assert_eq!(e.minimum_priority, "warning");
        assert_eq!(
            e.secret_ref,
            Some(SecretRef {
                namespace: "team-a".into(),
                name: "hook-token".into(),
                key: "token".into()
            })
        );
        let cluster = sink_entry(
            &sink("kestrel", webhook("http://10.0.0.1:8080/")),
            "kestrel",
        )
        .unwrap();
        assert_eq!(cluster.scope, Scope::Cluster);
        assert_eq!(cluster.minimum_priority, "debug");
    }

    #[test]
    fn a_credential_can_ride_in_a_named_header() {
        let mut spec = webhook("https://alerts.example.com/hook");
        spec.headers = Some([("X-Team".to_string(), "sec".to_string())].into());
        spec.credentials = Some(SinkCredentials {
            secret_key_ref: SecretKeyRef {
                name: "hook".into(),
                key: "api-key".into(),
            },
            header: Some("X-Api-Key".into()),
        });
        let e = sink_entry(&sink("team-a", spec.clone()), "kestrel").unwrap();
        assert_eq!(e.credential_header.as_deref(), Some("X-Api-Key"));
        assert_eq!(e.headers.get("X-Team").map(String::as_str), Some("sec"));
        spec.credentials.as_mut().unwrap().header = Some("bad header".into());
        let err = sink_entry(&sink("team-a", spec), "kestrel").unwrap_err();
        assert!(err.contains("is not a valid HTTP header name"), "{err}");
    }

    #[test]
    fn rejects_specs_that_would_leak_or_cannot_work() {
        let cases: Vec<(FalcoAlertSinkSpec, &str)> = vec![
            (webhook("ftp://x/"), "must start with http:// or https://"),
            (
                webhook("https://user:pw@x.example/"),
                "must not carry a user or password",
            ),
            (
                FalcoAlertSinkSpec {
                    headers: Some([("Authorization".to_string(), "Bearer abc".to_string())].into()),
                    ..webhook("https://x.example/")
                },
                "headers: Authorization looks like a credential and would be stored in a ConfigMap",
            ),
            (
                FalcoAlertSinkSpec {
                    headers: Some([("X-Api-Key".to_string(), "k".to_string())].into()),
                    ..webhook("https://x.example/")
                },
                "headers: X-Api-Key looks like a credential and would be stored in a ConfigMap; put its value in a Secret and name it in credentials.secretKeyRef with credentials.header: X-Api-Key",
            ),
            (
                FalcoAlertSinkSpec {
                    headers: Some([("Cookie".to_string(), "session=1".to_string())].into()),
                    ..webhook("https://x.example/")
                },
                "headers: Cookie looks like a credential",
            ),
            (
                FalcoAlertSinkSpec {
                    minimum_priority: Some("severe".into()),
                    ..webhook("https://x.example/")
                },
                "unknown priority",
            ),
            (
                FalcoAlertSinkSpec {
                    type_: SinkType::Syslog,
                    url: None,
                    address: Some("syslog.local".into()),
                    ..webhook("")
                },
                "must be host:port",
            ),
            (
                FalcoAlertSinkSpec {
                    type_: SinkType::File,
                    url: None,
                    path: Some("alerts.log".into()),
                    ..webhook("")
                },
                "must be absolute",
            ),
            (
                FalcoAlertSinkSpec {
                    type_: SinkType::Log,
                    ..webhook("https://x.example/")
                },
                "url is not used by a log sink",
            ),
            (
                FalcoAlertSinkSpec {
                    filters: Some(SinkFilters {
                        namespaces: vec!["other".into()],
                        ..Default::default()
                    }),
                    ..webhook("https://x.example/")
                },
                "may only name \"team-a\"",
            ),
        ];
        for (spec, want) in cases {
            let err = sink_entry(&sink("team-a", spec.clone()), "kestrel").unwrap_err();
            assert!(err.contains(want), "{spec:?}: {err}");
        }
    }

    #[test]
    fn syslog_and_file_entries() {
        let spec = FalcoAlertSinkSpec {
            type_: SinkType::Syslog,
            url: None,
            address: Some("[::1]:514".into()),
            protocol: Some(kestrel_api::SyslogProtocol::Tcp),
            ..webhook("")
        };
        let e = sink_entry(&sink("kestrel", spec), "kestrel").unwrap();
        assert_eq!(e.address.as_deref(), Some("[::1]:514"));
        assert_eq!(e.protocol, Some(kestrel_api::SyslogProtocol::Tcp));
    }
}
