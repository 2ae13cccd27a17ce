//! Syscall overhead of the probe: a loop of N openat+close in a separate process, timed
//! with nothing attached, with the probe attached and nothing wanted, and with openat and
//! close wanted and drained by a reader thread (batched wake-ups, and per-event wake-ups
//! for comparison). Needs root.
//!
//! ```text
//! cargo run --release -p kestrel-probe --example overhead -- [iterations=1000000] [reps=3]
//! ```
//!
//! Each configuration runs `reps` times, interleaved; the fastest run of each is reported
//! (the least disturbed by other load on the machine) together with the median.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kestrel_probe::{DropCounts, Probe, ProbeOptions, WantedSyscalls};

const LOOP_FLAG: &str = "--openat-close-loop";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(LOOP_FLAG) {
        return run_loop(&args[2], args[3].parse()?);
    }
    let iterations: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let reps: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let file = std::env::temp_dir().join(format!("kestrel-overhead-{}", std::process::id()));
    std::fs::write(&file, b"x")?;
    let file_s = file.to_str().context("temp path")?.to_string();

    let configs: [(&str, Option<Config>); 4] = [
        ("nothing attached", None),
        (
            "probe, empty wanted set",
            Some(Config {
                wanted: &[],
                threshold: 256 << 10,
            }),
        ),
        (
            "probe, openat+close wanted, batched wake-ups",
            Some(Config {
                wanted: &["openat", "close"],
                threshold: 256 << 10,
            }),
        ),
        (
            "probe, openat+close wanted, wake-up per event",
            Some(Config {
                wanted: &["openat", "close"],
                threshold: 0,
            }),
        ),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); configs.len()];
    let mut notes: Vec<String> = vec![String::new(); configs.len()];
    for rep in 0..reps {
        for (i, (name, cfg)) in configs.iter().enumerate() {
            let (t, note) = measure(cfg.as_ref(), &file_s, iterations)?;
            eprintln!("rep {rep} {name}: {:.3} s {note}", t.as_secs_f64());
            times[i].push(t);
            notes[i] = note;
        }
    }
    // One more run with the kernel's BPF run-time accounting on (not in the timings above:
    // the accounting itself costs two clock reads per run).
    let kernel_cost = kernel_side_cost(&file_s, iterations.min(300_000))?;
    std::fs::remove_file(&file).ok();

    let base = best(&times[0]);
    println!("{iterations} x (openat + close), best of {reps} (median in parentheses)");
    for (i, (name, _)) in configs.iter().enumerate() {
        let b = best(&times[i]);
        let m = median(&times[i]);
        println!(
            "{name:<48} {:>8.3} s ({:.3} s)  x{:.2}  {:>6.0} ns/iteration  {}",
            b.as_secs_f64(),
            m.as_secs_f64(),
            b.as_secs_f64() / base.as_secs_f64(),
            b.as_nanos() as f64 / iterations as f64,
            notes[i]
        );
    }
    println!("{kernel_cost}");
    Ok(())
}

/// Mean time per run of each program while the loop runs with openat+close wanted.
fn kernel_side_cost(file: &str, iterations: u64) -> Result<String> {
    let mut probe = Probe::load(&ProbeOptions {
        wanted: WantedSyscalls::from_names(["openat", "close"])?,
        ..Default::default()
    })?;
    probe.enable_run_time_stats()?;
    let stop = Arc::new(AtomicBool::new(false));
    let reader_stop = stop.clone();
    let reader = std::thread::spawn(move || -> Result<Probe> {
        while !reader_stop.load(Ordering::Relaxed) {
            probe.poll(Duration::from_millis(20))?;
            probe.drain(|_| {});
        }
        Ok(probe)
    });
    spawn_loop(file, iterations)?;
    stop.store(true, Ordering::Relaxed);
    let probe = reader.join().expect("reader thread")?;
    let mut out = format!(
        "kernel side, {iterations} iterations with openat+close wanted (BPF run-time stats):"
    );
    for s in probe.program_stats()? {
        if s.run_count > 0 {
            out.push_str(&format!(
                "\n  {:<20} {:>9} runs  {:>6} ns/run",
                s.program,
                s.run_count,
                s.mean().as_nanos()
            ));
        }
    }
    Ok(out)
}

struct Config {
    wanted: &'static [&'static str],
    threshold: u64,
}

fn best(v: &[Duration]) -> Duration {
    v.iter().copied().min().unwrap_or_default()
}

fn median(v: &[Duration]) -> Duration {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

/// Runs the loop child under `cfg` and returns its own measurement of the loop.
fn measure(cfg: Option<&Config>, file: &str, iterations: u64) -> Result<(Duration, String)> {
    let Some(cfg) = cfg else {
        return Ok((spawn_loop(file, iterations)?.1, String::new()));
    };
    let mut probe = Probe::load(&ProbeOptions {
        wanted: WantedSyscalls::from_names(cfg.wanted.iter().copied())?,
        wakeup_threshold_bytes: cfg.threshold,
        ..Default::default()
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let reader_stop = stop.clone();
    let reader = std::thread::spawn(move || -> Result<(u64, u64, DropCounts)> {
        let (mut events, mut wakeups) = (0u64, 0u64);
        while !reader_stop.load(Ordering::Relaxed) {
            wakeups += u64::from(probe.poll(Duration::from_millis(20))?);
            events += probe.drain(|_| {}) as u64;
        }
        events += probe.drain(|_| {}) as u64;
        Ok((events, wakeups, probe.drop_counts()?))
    });
    let (pid, t) = spawn_loop(file, iterations)?;
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let (events, wakeups, drops) = reader.join().expect("reader thread")?;
    let expected = if cfg.wanted.is_empty() {
        0
    } else {
        2 * iterations
    };
    let note = format!(
        "[{events} events read (loop: {expected}), {wakeups} poll wake-ups, lost {} (ring full {})] pid {pid}",
        drops.lost_events(),
        drops.ringbuf_full
    );
    Ok((t, note))
}

fn spawn_loop(file: &str, iterations: u64) -> Result<(u32, Duration)> {
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let out = Command::new(exe)
        .args([LOOP_FLAG, file, &iterations.to_string()])
        .output()?;
    let wall = start.elapsed();
    if !out.status.success() {
        bail!(
            "loop child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout)?;
    let mut it = text.split_whitespace();
    let pid: u32 = it.next().context("pid")?.parse()?;
    let ns: u64 = it.next().context("ns")?.parse()?;
    debug_assert!(wall.as_nanos() as u64 >= ns);
    Ok((pid, Duration::from_nanos(ns)))
}

/// The measured workload: N x (openat(O_RDONLY) + close), raw syscalls.
fn run_loop(file: &str, iterations: u64) -> Result<()> {
    let path = std::ffi::CString::new(file)?;
    let start = Instant::now();
    for _ in 0..iterations {
        // SAFETY: valid NUL-terminated path; the fd is closed right away.
        unsafe {
            let fd = libc::syscall(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY,
                0,
            );
            if fd < 0 {
                bail!("openat failed: {}", std::io::Error::last_os_error());
            }
            libc::syscall(libc::SYS_close, fd);
        }
    }
    println!("{} {}", std::process::id(), start.elapsed().as_nanos());
    Ok(())
}
