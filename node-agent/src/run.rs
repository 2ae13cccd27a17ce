//! `kestrel-agent run`: attach the probe, read events, evaluate rules, print alerts.
//!
//! Threads: the event thread (this one) owns the probe's ring buffer and all state and blocks only
//! on the ring buffer's poll; the alert thread writes outputs; rule sets are compiled elsewhere
//! (the SIGHUP reloader, or the Kubernetes thread) and swapped in atomically, with the kernel
//! filter widened first so no event of a new rule is missed.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kestrel_engine::CompileOptions;
use kestrel_probe::{Probe, ProbeControl, ProbeOptions, RawEvent};

use crate::alert::writer::{AlertOutput, AlertQueue, LogLineOutput};
use crate::capture::CaptureWriter;
use crate::cli::RunArgs;
use crate::decode::{EventTypeMap, decode};
use crate::error_chain::{Chain, anyhow_chain};
use crate::event::{DecodedEvent, EventView};
use crate::metrics::{AgentStats, MetricsServer, MetricsSources};
use crate::pipeline::Pipeline;
use crate::rules::{LiveRules, LoadedRules};
use crate::state::procfs::ProcFs;
use crate::wanted;

/// Fields the rules read that the agent does not fill, sorted and without repeats.
pub fn unfilled_fields(loaded: &LoadedRules) -> Vec<&'static str> {
    let mut unfilled: Vec<&'static str> = loaded
        .all_sets()
        .flat_map(|s| s.fields_used())
        .filter(|f| !crate::event::view::fills(*f))
        .map(|f| f.name())
        .collect();
    unfilled.sort_unstable();
    unfilled.dedup();
    unfilled
}

/// What [`warn_unfilled`] (and `validate`) say about the fields the agent does not fill.
pub const UNFILLED_WARNING: &str = "rules use fields this agent does not fill yet (they read as <NA> and their comparisons are false)";

/// Fields the rules read that the agent does not fill: said at every load, never silent.
pub fn warn_unfilled(loaded: &LoadedRules) {
    let unfilled = unfilled_fields(loaded);
    if !unfilled.is_empty() {
        tracing::warn!(fields = %unfilled.join(", "), "{UNFILLED_WARNING}");
    }
}

/// Load the probe; a refused bpf() call names every capability the agent needs.
pub fn load_probe(opts: &ProbeOptions) -> anyhow::Result<Probe> {
    Probe::load(opts).map_err(|e| {
        let context = if matches!(e, kestrel_probe::ProbeError::PermissionDenied { .. }) {
            format!(
                "loading the eBPF probe (kestrel-agent needs root or {})",
                crate::cli::CAPABILITIES
            )
        } else {
            "loading the eBPF probe".to_owned()
        };
        anyhow::Error::new(e).context(context)
    })
}

fn apply_plan(control: &ProbeControl, loaded: &LoadedRules) -> anyhow::Result<()> {
    let plan = wanted::plan_all(loaded);
    if plan.unrestricted {
        tracing::warn!(
            "a rule has no evt.type restriction: capturing every syscall the probe decodes"
        );
    }
    if !plan.not_capturable.is_empty() {
        tracing::warn!(event_types = %plan.not_capturable.join(", "), "rules use event types this probe does not capture");
    }
    control
        .set_wanted_syscalls(&plan.wanted)
        .context("updating the probe's wanted syscalls")?;
    tracing::info!(
        syscalls = plan.wanted.iter().count(),
        "probe filter updated"
    );
    Ok(())
}

fn local_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn read_rule_texts(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    let files = crate::rules::expand_paths(paths)?;
    files
        .iter()
        .map(|f| {
            Ok((
                f.display().to_string(),
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
            ))
        })
        .collect()
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if args.rules.rules.is_empty() && !args.kubernetes {
        anyhow::bail!(
            "give rule files with --rules FILE|DIR (or run in a cluster with --kubernetes)"
        );
    }
    let opts = CompileOptions {
        min_priority: args.rules.min_priority,
        ..Default::default()
    };
    let loaded = if args.rules.rules.is_empty() {
        LoadedRules::empty()
    } else {
        LoadedRules::load(&args.rules.rules, &opts)?
    };
    for w in &loaded.compiled.warnings {
        tracing::debug!("{w}");
    }
    tracing::info!(
        warnings = loaded.compiled.warnings.len(),
        "loaded {}",
        loaded.summary
    );
    warn_unfilled(&loaded);

    let hostname: Arc<str> = args.hostname.clone().unwrap_or_else(local_hostname).into();
    let probe_opts = ProbeOptions {
        ring_buffer_bytes: args
            .ring_buffer_mib
            .checked_mul(1 << 20)
            .context("--ring-buffer-mib too large")?,
        ..ProbeOptions::default()
    };
    let mut probe = load_probe(&probe_opts)?;
    let control = probe.control();
    apply_plan(&control, &loaded)?;
    let live = Arc::new(LiveRules::new(loaded));

    let mut pipeline = Pipeline::new(ProcFs::default(), hostname.clone(), args.rule_matching);
    pipeline.set_host_root(&args.host_root);
    let seeded = pipeline.seed();
    tracing::info!(processes = seeded, "process table seeded from /proc");

    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone())
        .context("installing SIGHUP handler")?;

    let sinks = crate::alert::sinks::SinkSet::default();
    if let Some(path) = &args.sinks {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let entries: Vec<kestrel_api::contract::SinkEntry> = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON array of sinks", path.display()))?;
        let mut running = Vec::new();
        for e in &entries {
            if e.secret_ref.is_some() {
                anyhow::bail!(
                    "{}: sink {}: secretRef needs --kubernetes (the agent reads the Secret)",
                    path.display(),
                    e.name
                );
            }
            running.push(crate::alert::sinks::RunningSink::start(
                crate::alert::sinks::spec_from_entry(e, None)?,
                1000,
            ));
        }
        tracing::info!(sinks = running.len(), "alert sinks configured");
        sinks.replace(running);
    }
    let mut outputs: Vec<Box<dyn AlertOutput>> = vec![
        Box::new(LogLineOutput::new(std::io::stdout(), args.json)),
        Box::new(sinks.clone()),
    ];
    let mut kube = None;
    if args.kubernetes {
        let node = args
            .node_name
            .clone()
            .unwrap_or_else(|| hostname.to_string());
        let k = crate::k8s::start(
            crate::k8s::KubeOptions {
                namespace: args.namespace.clone(),
                node: node.clone(),
                local_rules: read_rule_texts(&args.rules.rules)?,
                compile: opts.clone(),
            },
            live.clone(),
            control.clone(),
            stop.clone(),
            Arc::new(warn_unfilled),
            sinks.clone(),
        )?;
        tracing::info!(namespace = %args.namespace, node = %node, "watching the cluster's rules and this node's pods");
        kube = Some(k);
    }
    if let Some(k) = kube.as_mut() {
        outputs.push(std::mem::replace(
            &mut k.alert_output,
            Box::new(LogLineOutput::new(std::io::sink(), false)),
        ));
    }
    let (queue, alert_thread) = AlertQueue::spawn(outputs, args.alert_queue);
    let stats = Arc::new(AgentStats::default());
    let metrics = match args.metrics_addr {
        Some(addr) => {
            let server = MetricsServer::start(
                addr,
                MetricsSources {
                    stats: stats.clone(),
                    alerts: queue.counters().clone(),
                    sinks: sinks.clone(),
                    probe: Some(control.clone()),
                    rules: live.clone(),
                },
                stop.clone(),
            )
            .with_context(|| format!("serving metrics on {addr}"))?;
            tracing::info!(addr = %server.local_addr, "metrics on /metrics, health on /healthz and /readyz");
            Some(server)
        }
        None => None,
    };
    let reloader = spawn_reloader(
        args,
        opts,
        live.clone(),
        control.clone(),
        reload.clone(),
        stop.clone(),
    );

    let mut capture = match &args.capture {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let header = crate::capture::format::Header {
                created_ns: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
                hostname: hostname.to_string(),
                agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            };
            Some(CaptureWriter::new(
                std::io::BufWriter::with_capacity(1 << 20, file),
                &header,
            )?)
        }
        None => None,
    };
    let mut capture_error: Option<std::io::Error> = None;

    eprintln!("kestrel-agent: watching syscalls on {hostname} (Ctrl-C to stop)");
    let types = EventTypeMap::new();
    let mut offset = crate::decode::stable_clock_offset();
    let mut ev = DecodedEvent::default();
    let mut last_stats = Instant::now();
    let mut last_clock = Instant::now();
    let mut malformed = 0u64;
    let mut stopping = false;
    // ready from here: the probe is attached and the loop starts
    stats.publish(
        &pipeline.counters,
        0,
        pipeline.procs.len(),
        pipeline.containers.len(),
    );
    loop {
        if stop.load(Ordering::Relaxed) {
            // one last drain of what is already in the ring buffer
            stopping = true;
        } else if let Err(e) = probe.poll(Duration::from_millis(50)) {
            tracing::warn!(error = %e, "polling the ring buffer failed");
        }
        if let Some(k) = kube.as_ref() {
            while let Ok(u) = k.pods.try_recv() {
                pipeline.apply_pod_update(u);
            }
        }
        let rules = live.load();
        let capturing = capture.is_some();
        probe.drain(|raw: RawEvent<'_>| {
            if !decode(&raw, offset, &types, &mut ev) {
                malformed += u64::from(raw.kind().is_none());
                return;
            }
            let mut record = |view: &EventView<'_>| {
                if let Some(w) = capture.as_mut()
                    && let Err(e) = w.record(view)
                    && capture_error.is_none()
                {
                    capture_error = Some(e);
                }
            };
            let observe: Option<&mut dyn FnMut(&EventView<'_>)> =
                if capturing { Some(&mut record) } else { None };
            pipeline.process_observed(
                &mut ev,
                &rules,
                &mut |alert| {
                    queue.send(alert);
                },
                observe,
            );
        });
        drop(rules);
        stats.publish(
            &pipeline.counters,
            malformed,
            pipeline.procs.len(),
            pipeline.containers.len(),
        );
        if stopping {
            break;
        }
        if last_clock.elapsed() > Duration::from_secs(10) {
            offset = crate::decode::stable_clock_offset();
            last_clock = Instant::now();
        }
        if args.stats_interval > 0
            && last_stats.elapsed() >= Duration::from_secs(args.stats_interval)
        {
            log_stats(&pipeline, &probe, &queue, malformed);
            last_stats = Instant::now();
        }
    }
    log_stats(&pipeline, &probe, &queue, malformed);
    if let Some(w) = capture {
        let drops = probe.drop_counts().map(|d| d.lost_events()).unwrap_or(0);
        let events = w.events;
        let (_, bytes) = w.finish(drops).context("finishing the capture file")?;
        tracing::info!(events, bytes, "capture written");
    }
    if let Some(e) = capture_error {
        tracing::error!(error = %e, "writing the capture file failed; it stops at the first error");
    }
    drop(queue);
    let _ = alert_thread.join();
    let _ = reloader.join();
    if let Some(m) = metrics {
        m.join();
    }
    if let Some(k) = kube {
        let _ = k.thread.join();
    }
    Ok(ExitCode::SUCCESS)
}

fn log_stats(pipeline: &Pipeline, probe: &Probe, queue: &AlertQueue, malformed: u64) {
    let c = pipeline.counters;
    let drops = probe.drop_counts().unwrap_or_default();
    let a = queue.counters();
    tracing::info!(
        events = c.events,
        alerts = c.alerts,
        alerts_dropped = a.dropped.load(Ordering::Relaxed),
        kernel_ringbuf_full = drops.ringbuf_full,
        kernel_stash_full = drops.stash_full,
        kernel_stash_miss = drops.stash_miss,
        kernel_read_failed = drops.read_failed,
        malformed,
        processes = pipeline.procs.len(),
        containers = pipeline.containers.len(),
        "counters"
    );
}

fn spawn_reloader(
    args: &RunArgs,
    opts: CompileOptions,
    live: Arc<LiveRules>,
    control: ProbeControl,
    reload: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let paths = args.rules.rules.clone();
    let kubernetes = args.kubernetes;
    std::thread::Builder::new()
        .name("kestrel-reload".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                if !reload.swap(false, Ordering::Relaxed) {
                    continue;
                }
                if kubernetes {
                    tracing::info!(
                        "SIGHUP ignored with --kubernetes: rules follow the cluster's ConfigMaps"
                    );
                    continue;
                }
                tracing::info!("SIGHUP: reloading rule files");
                match LoadedRules::load(&paths, &opts) {
                    Ok(new) => {
                        warn_unfilled(&new);
                        let summary = new.summary.clone();
                        if let Err(e) = apply_plan(&control, &new) {
                            tracing::error!(error = %anyhow_chain(&e), "reload: keeping the previous rule set");
                            live.record_failed_reload();
                            continue;
                        }
                        let shrink =
                            crate::rules::shrink_warning(live.load().rule_counts(), new.rule_counts());
                        live.swap(new);
                        tracing::info!("reloaded {summary}");
                        if let Some(w) = shrink {
                            tracing::warn!("reload: {w}");
                        }
                    }
                    Err(e) => {
                        tracing::error!(
                            "reload failed, keeping the last good rule set:\n{}",
                            Chain(&e)
                        );
                        live.record_failed_reload();
                    }
                }
            }
        })
        .expect("spawn reload thread")
}
