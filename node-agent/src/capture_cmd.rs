//! `kestrel-agent capture`: record the event stream into a capture file.

use std::io::BufWriter;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use kestrel_engine::CompileOptions;
use kestrel_probe::{ProbeOptions, RawEvent, WantedSyscalls};

use crate::capture::CaptureWriter;
use crate::capture::format::Header;
use crate::cli::{CaptureArgs, RuleMatching};
use crate::decode::{EventTypeMap, decode};
use crate::event::DecodedEvent;
use crate::pipeline::Pipeline;
use crate::rules::LoadedRules;
use crate::state::procfs::ProcFs;
use crate::wanted;

pub fn run(args: &CaptureArgs) -> anyhow::Result<ExitCode> {
    let wanted: WantedSyscalls = if args.rules.is_empty() {
        let mut w = WantedSyscalls::new().with_lifecycle();
        for n in wanted::DECODED {
            let _ = w.insert_name(n);
        }
        w
    } else {
        let loaded = LoadedRules::load(&args.rules, &CompileOptions::default())?;
        wanted::plan(&loaded.compiled.ruleset).wanted
    };
    let file = std::fs::File::create(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let header = Header {
        created_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        hostname: hostname.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let mut writer = CaptureWriter::new(BufWriter::with_capacity(1 << 20, file), &header)?;

    let probe_opts = ProbeOptions {
        ring_buffer_bytes: args
            .ring_buffer_mib
            .checked_mul(1 << 20)
            .context("--ring-buffer-mib too large")?,
        wanted,
        ..ProbeOptions::default()
    };
    let mut probe = crate::run::load_probe(&probe_opts)?;
    let mut pipeline = Pipeline::new(ProcFs::default(), hostname.into(), RuleMatching::All);
    pipeline.seed();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let empty = LoadedRules::empty();
    let types = EventTypeMap::new();
    let offset = crate::decode::stable_clock_offset();
    let mut ev = DecodedEvent::default();
    let started = Instant::now();
    let max = args.max_events.unwrap_or(u64::MAX);
    let mut io_error: Option<std::io::Error> = None;
    eprintln!(
        "kestrel-agent: capturing to {} (Ctrl-C to stop)",
        args.output.display()
    );
    while !stop.load(Ordering::Relaxed)
        && writer.events < max
        && args.duration.is_none_or(|d| started.elapsed() < d)
        && io_error.is_none()
    {
        let _ = probe.poll(Duration::from_millis(50));
        probe.drain(|raw: RawEvent<'_>| {
            if writer.events >= max || io_error.is_some() || !decode(&raw, offset, &types, &mut ev)
            {
                return;
            }
            pipeline.process_observed(
                &mut ev,
                &empty,
                &mut |_| {},
                Some(&mut |view| {
                    if let Err(e) = writer.record(view) {
                        io_error = Some(e);
                    }
                }),
            );
        });
    }
    if let Some(e) = io_error {
        return Err(anyhow::anyhow!("writing {}: {e}", args.output.display()));
    }
    let drops = probe.drop_counts().map(|d| d.lost_events()).unwrap_or(0);
    let events = writer.events;
    let (_, bytes) = writer
        .finish(drops)
        .with_context(|| format!("writing {}", args.output.display()))?;
    println!(
        "captured {events} events ({drops} dropped in the kernel) in {:.1} s to {} ({} bytes)",
        started.elapsed().as_secs_f64(),
        args.output.display(),
        bytes
    );
    Ok(ExitCode::SUCCESS)
}
