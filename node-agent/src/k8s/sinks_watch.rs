//! The operator's `kestrel-sinks` ConfigMap → running sinks. Credentials are read from the Secrets
//! the entries name, here, and never logged; a sink whose Secret is missing is left out and said so.

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kestrel_api::constants::{SINKS_CONFIGMAP, SINKS_KEY, SINKS_SELECTOR};
use kestrel_api::contract::SinkEntry;
use kube::Api;
use kube::runtime::watcher;

use crate::alert::sinks::{RunningSink, SinkSet, spec_from_entry};

async fn secret_value(
    client: &kube::Client,
    r: &kestrel_api::contract::SecretRef,
) -> Result<String, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &r.namespace);
    let s = api
        .get_opt(&r.name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "Secret not found".to_owned())?;
    let bytes = s
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|b| b.0.clone())
        .or_else(|| {
            s.string_data
                .as_ref()
                .and_then(|d| d.get(&r.key))
                .map(|v| v.clone().into_bytes())
        })
        .ok_or_else(|| format!("key {} not in the Secret", r.key))?;
    String::from_utf8(bytes)
        .map(|v| v.trim().to_owned())
        .map_err(|_| "the value is not UTF-8".to_owned())
}

pub async fn watch(client: kube::Client, namespace: String, sinks: SinkSet) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let mut stream = watcher(api, watcher::Config::default().labels(SINKS_SELECTOR)).boxed();
    let mut last = String::new();
    while let Some(ev) = stream.next().await {
        let cm = match ev {
            Ok(watcher::Event::Apply(cm)) | Ok(watcher::Event::InitApply(cm)) => cm,
            Ok(watcher::Event::Delete(_)) => {
                sinks.replace(Vec::new());
                last.clear();
                continue;
            }
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "sinks ConfigMap watch error (retrying)");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if cm.metadata.name.as_deref() != Some(SINKS_CONFIGMAP) {
            continue;
        }
        let text = cm
            .data
            .as_ref()
            .and_then(|d| d.get(SINKS_KEY))
            .cloned()
            .unwrap_or_else(|| "[]".into());
        if text == last {
            continue;
        }
        let entries: Vec<SinkEntry> = match serde_json::from_str(&text) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "sinks.json is not valid; keeping the current sinks");
                continue;
            }
        };
        let mut running = Vec::new();
        for e in &entries {
            let secret = match &e.secret_ref {
                Some(r) => match secret_value(&client, r).await {
                    Ok(v) => Some(v),
                    Err(why) => {
                        tracing::error!(sink = %format!("{}/{}", e.namespace, e.name), secret = %format!("{}/{}", r.namespace, r.name), "sink left out: {why}");
                        continue;
                    }
                },
                None => None,
            };
            match spec_from_entry(e, secret) {
                Ok(spec) => running.push(RunningSink::start(spec, 1000)),
                Err(err) => tracing::error!("{err}"),
            }
        }
        tracing::info!(sinks = running.len(), "alert sinks configured");
        sinks.replace(running);
        last = text;
    }
}
