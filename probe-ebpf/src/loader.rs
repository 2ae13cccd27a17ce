//! Loading and attaching the probe; the maps it owns; reading the ring buffer.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::BtfTracePoint;
use aya::{Btf, Ebpf, EbpfLoader};

use crate::error::{ProbeError, is_permission_denied};
use crate::event::{drop_reason, limits};
use crate::raw_event::RawEvent;
use crate::wanted::WantedSyscalls;

/// The compiled kernel side (built by build.rs with clang-22).
static PROBE_OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/kestrel.bpf.o"));

/// (program function, tp_btf tracepoint), in attach order: sys_enter first so that
/// sys_exit finds stashes as soon as it runs.
const PROGRAMS: &[(&str, &str)] = &[
    ("kestrel_sys_enter", "sys_enter"),
    ("kestrel_sys_exit", "sys_exit"),
    ("kestrel_proc_fork", "sched_process_fork"),
    ("kestrel_proc_exec", "sched_process_exec"),
    ("kestrel_proc_exit", "sched_process_exit"),
];

const MAP_EVENTS: &str = "events";
const MAP_WANTED: &str = "wanted";
const MAP_IGNORED: &str = "ignored_tgids";
const MAP_DROPS: &str = "drop_counts";
const IGNORED_TGIDS_MAX: usize = 1024;
const DEFAULT_BTF: &str = "/sys/kernel/btf/vmlinux";

/// How to load the probe.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Processes whose syscalls are never captured (default: this process, so the agent
    /// does not see itself). At most 1024.
    pub ignore_tgids: Vec<u32>,
    /// Ring buffer size in bytes: a power of two, at least one page (default 8 MiB).
    pub ring_buffer_bytes: u32,
    /// The kernel wakes the reader only when unread data crosses this many bytes
    /// (default 256 KiB); below it, events wait for the reader's poll timer. 0 means the
    /// kernel's default policy: a wake-up whenever the reader has caught up (lowest
    /// latency, highest cost). Must be smaller than `ring_buffer_bytes`.
    pub wakeup_threshold_bytes: u64,
    /// What to capture from the start (default: nothing).
    pub wanted: WantedSyscalls,
    /// Kernel BTF (default `/sys/kernel/btf/vmlinux`).
    pub btf_path: PathBuf,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            ignore_tgids: vec![std::process::id()],
            ring_buffer_bytes: 8 << 20,
            wakeup_threshold_bytes: 256 << 10,
            wanted: WantedSyscalls::new(),
            btf_path: PathBuf::from(DEFAULT_BTF),
        }
    }
}

impl ProbeOptions {
    fn validate(&self) -> Result<(), ProbeError> {
        let page = page_size();
        let ring = self.ring_buffer_bytes;
        if !ring.is_power_of_two() || (ring as usize) < page {
            return Err(ProbeError::InvalidOption(format!(
                "ring_buffer_bytes = {ring}: must be a power of two of at least {page} (the page size)"
            )));
        }
        if self.wakeup_threshold_bytes >= u64::from(ring) {
            return Err(ProbeError::InvalidOption(format!(
                "wakeup_threshold_bytes = {} must be smaller than ring_buffer_bytes = {ring}",
                self.wakeup_threshold_bytes
            )));
        }
        if self.ignore_tgids.len() > IGNORED_TGIDS_MAX {
            return Err(ProbeError::InvalidOption(format!(
                "ignore_tgids has {} entries, at most {IGNORED_TGIDS_MAX} are supported",
                self.ignore_tgids.len()
            )));
        }
        Ok(())
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as usize } else { 4096 }
}

/// Counters of lost or degraded events, summed over CPUs, since the probe was loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Events lost because the ring buffer was full (the reader is too slow).
    pub ringbuf_full: u64,
    /// Parameter reads that failed in the kernel (the event was sent with that
    /// parameter empty and [`flags::READ_FAILED`](crate::event::flags::READ_FAILED) set).
    pub read_failed: u64,
    /// Exits of wanted syscalls whose enter was not seen (entered before the syscall became
    /// wanted or before the probe attached); no event.
    pub stash_miss: u64,
    /// Events lost because the per-thread argument stash could not be allocated.
    pub stash_full: u64,
    /// i386-ABI (int 0x80 / 32-bit) syscalls skipped: not decoded by this probe.
    pub compat_syscalls: u64,
    /// Records the user side could not parse (never expected).
    pub malformed: u64,
}

impl DropCounts {
    /// Events lost (not delivered at all).
    pub fn lost_events(&self) -> u64 {
        self.ringbuf_full + self.stash_full + self.stash_miss + self.malformed
    }
}

struct ControlMaps {
    wanted: Array<MapData, u8>,
    ignored: HashMap<MapData, u32, u8>,
    drops: PerCpuArray<MapData, u64>,
    current: WantedSyscalls,
}

/// A handle on the probe's configuration maps that can be used from another thread while
/// the reader thread owns the [`Probe`] (e.g. to swap the wanted set on a rule reload).
/// Cloning is cheap; all clones refer to the same probe. Every call takes a mutex — this
/// is the control path, never the per-event path.
#[derive(Clone)]
pub struct ProbeControl {
    maps: Arc<Mutex<ControlMaps>>,
    malformed: Arc<AtomicU64>,
}

impl ProbeControl {
    fn lock(&self) -> MutexGuard<'_, ControlMaps> {
        // A panic while holding the lock cannot leave the maps half-written in a way that
        // matters (each slot is independent), so a poisoned lock is still usable.
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the set of captured syscalls and lifecycle events. Only changed slots are
    /// written; syscalls already in flight when a slot is cleared finish without an event.
    pub fn set_wanted_syscalls(&self, wanted: &WantedSyscalls) -> Result<(), ProbeError> {
        let mut m = self.lock();
        for slot in 0..limits::WANTED_SLOTS {
            let v = wanted.slot(slot);
            if v != m.current.slot(slot) {
                m.wanted
                    .set(slot, v, 0)
                    .map_err(|source| map_err(MAP_WANTED, source))?;
            }
        }
        m.current = wanted.clone();
        Ok(())
    }

    /// The set currently applied.
    pub fn wanted_syscalls(&self) -> WantedSyscalls {
        self.lock().current.clone()
    }

    /// Stops capturing process `tgid`.
    pub fn ignore_tgid(&self, tgid: u32) -> Result<(), ProbeError> {
        self.lock()
            .ignored
            .insert(tgid, 1, 0)
            .map_err(|source| map_err(MAP_IGNORED, source))
    }

    /// Captures process `tgid` again.
    pub fn unignore_tgid(&self, tgid: u32) -> Result<(), ProbeError> {
        match self.lock().ignored.remove(&tgid) {
            Ok(()) | Err(aya::maps::MapError::KeyNotFound) => Ok(()),
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.kind() == std::io::ErrorKind::NotFound =>
            {
                Ok(())
            }
            Err(source) => Err(map_err(MAP_IGNORED, source)),
        }
    }

    /// Drop counters summed over CPUs.
    pub fn drop_counts(&self) -> Result<DropCounts, ProbeError> {
        let m = self.lock();
        let sum = |reason: u32| -> Result<u64, ProbeError> {
            let per_cpu = m
                .drops
                .get(&reason, 0)
                .map_err(|source| map_err(MAP_DROPS, source))?;
            Ok(per_cpu.iter().copied().fold(0u64, u64::wrapping_add))
        };
        Ok(DropCounts {
            ringbuf_full: sum(drop_reason::RINGBUF_FULL)?,
            read_failed: sum(drop_reason::READ_FAILED)?,
            stash_miss: sum(drop_reason::STASH_MISS)?,
            stash_full: sum(drop_reason::STASH_FULL)?,
            compat_syscalls: sum(drop_reason::COMPAT)?,
            malformed: self.malformed.load(Ordering::Relaxed),
        })
    }
}

fn map_err(name: &'static str, source: aya::maps::MapError) -> ProbeError {
    if is_permission_denied(&source) {
        return ProbeError::PermissionDenied {
            during: "accessing an eBPF map",
            source: Box::new(source),
        };
    }
    ProbeError::Map { name, source }
}

/// The loaded and attached probe. Owns the eBPF object (dropping it detaches every
/// program), the ring buffer and the maps.
pub struct Probe {
    ring: RingBuf<MapData>,
    epoll: OwnedFd,
    control: ProbeControl,
    // Keeps BPF_ENABLE_STATS on while set (see enable_run_time_stats).
    stats: Option<OwnedFd>,
    // Keeps the programs attached; dropped last.
    ebpf: Ebpf,
}

/// Kernel-side cost of one program since [`Probe::enable_run_time_stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramStats {
    /// Program (C function) name.
    pub program: &'static str,
    /// The tp_btf tracepoint it runs on.
    pub tracepoint: &'static str,
    /// Number of runs (every syscall on the host for sys_enter/sys_exit).
    pub run_count: u64,
    /// Total time spent in the program.
    pub run_time: Duration,
}

impl ProgramStats {
    /// Mean time per run.
    pub fn mean(&self) -> Duration {
        self.run_time
            .checked_div(self.run_count.max(1).min(u32::MAX as u64) as u32)
            .unwrap_or_default()
    }
}

impl Probe {
    /// Loads the embedded object, configures the maps from `opts`, then loads and attaches
    /// every program.
    pub fn load(opts: &ProbeOptions) -> Result<Probe, ProbeError> {
        opts.validate()?;
        if !opts.btf_path.exists() {
            return Err(ProbeError::BtfNotFound {
                path: opts.btf_path.clone(),
            });
        }
        let btf =
            Btf::parse_file(&opts.btf_path, aya::Endianness::default()).map_err(|source| {
                ProbeError::Btf {
                    path: opts.btf_path.clone(),
                    source,
                }
            })?;

        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            // the per-thread stashes are task-local storage maps, used by the kernel side
            // only; aya 0.14 has no user-space type for them
            .allow_unsupported_maps()
            .map_max_entries(MAP_EVENTS, opts.ring_buffer_bytes)
            .override_global(
                "kestrel_wakeup_threshold",
                &opts.wakeup_threshold_bytes,
                true,
            )
            .load(PROBE_OBJECT)
            .map_err(|e| {
                if is_permission_denied(&e) {
                    ProbeError::PermissionDenied {
                        during: "loading eBPF",
                        source: Box::new(e),
                    }
                } else {
                    ProbeError::Load(e)
                }
            })?;

        let ring = RingBuf::try_from(take_map(&mut ebpf, MAP_EVENTS)?)
            .map_err(|source| map_err(MAP_EVENTS, source))?;
        let wanted = Array::try_from(take_map(&mut ebpf, MAP_WANTED)?)
            .map_err(|source| map_err(MAP_WANTED, source))?;
        let ignored = HashMap::try_from(take_map(&mut ebpf, MAP_IGNORED)?)
            .map_err(|source| map_err(MAP_IGNORED, source))?;
        let drops = PerCpuArray::try_from(take_map(&mut ebpf, MAP_DROPS)?)
            .map_err(|source| map_err(MAP_DROPS, source))?;
        let control = ProbeControl {
            maps: Arc::new(Mutex::new(ControlMaps {
                wanted,
                ignored,
                drops,
                current: WantedSyscalls::new(),
            })),
            malformed: Arc::new(AtomicU64::new(0)),
        };
        for &tgid in &opts.ignore_tgids {
            control.ignore_tgid(tgid)?;
        }
        control.set_wanted_syscalls(&opts.wanted)?;

        for &(program, tracepoint) in PROGRAMS {
            let prog: &mut BtfTracePoint = ebpf
                .program_mut(program)
                .ok_or(ProbeError::MissingProgram(program))?
                .try_into()
                .map_err(|source| ProbeError::ProgramLoad {
                    program,
                    tracepoint,
                    source,
                })?;
            prog.load(tracepoint, &btf).map_err(|source| {
                if is_permission_denied(&source) {
                    ProbeError::PermissionDenied {
                        during: "loading eBPF",
                        source: Box::new(source),
                    }
                } else {
                    ProbeError::ProgramLoad {
                        program,
                        tracepoint,
                        source,
                    }
                }
            })?;
            prog.attach().map_err(|source| ProbeError::Attach {
                program,
                tracepoint,
                source,
            })?;
        }

        let epoll = new_epoll(&ring)?;
        tracing::debug!(
            ring_buffer_bytes = opts.ring_buffer_bytes,
            wakeup_threshold_bytes = opts.wakeup_threshold_bytes,
            "kestrel probe loaded and attached"
        );
        Ok(Probe {
            ring,
            epoll,
            control,
            stats: None,
            ebpf,
        })
    }

    /// A handle to change the configuration from another thread.
    pub fn control(&self) -> ProbeControl {
        self.control.clone()
    }

    /// Replaces the set of captured syscalls (see [`ProbeControl::set_wanted_syscalls`]).
    pub fn set_wanted_syscalls(&mut self, wanted: &WantedSyscalls) -> Result<(), ProbeError> {
        self.control.set_wanted_syscalls(wanted)
    }

    /// Drop counters summed over CPUs.
    pub fn drop_counts(&self) -> Result<DropCounts, ProbeError> {
        self.control.drop_counts()
    }

    /// Waits until the kernel signals data (unread data crossed the wake-up threshold) or
    /// `timeout` passes. Returns true when data is pending. Returns immediately when data
    /// is already pending, so the reader loop is:
    ///
    /// ```no_run
    /// # fn f(probe: &mut kestrel_probe::Probe) -> Result<(), kestrel_probe::ProbeError> {
    /// loop {
    ///     probe.poll(std::time::Duration::from_millis(20))?;
    ///     probe.drain(|ev| { let _ = ev.syscall_nr(); });
    /// }
    /// # }
    /// ```
    ///
    /// The timeout bounds how long an event below the threshold waits: always drain after
    /// `poll`, whatever it returned.
    pub fn poll(&mut self, timeout: Duration) -> Result<bool, ProbeError> {
        let ms = timeout.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32;
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: valid epoll fd, one-element output buffer.
        let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), &mut ev, 1, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                return Ok(false);
            }
            return Err(ProbeError::Poll(err));
        }
        Ok(n > 0)
    }

    /// Calls `f` for every pending event, oldest first, and returns how many were
    /// delivered. Nothing is allocated; each event is released back to the kernel when `f`
    /// returns. Under sustained load, prefer [`Probe::drain_max`] to bound the time spent.
    pub fn drain(&mut self, f: impl FnMut(RawEvent<'_>)) -> usize {
        self.drain_max(usize::MAX, f)
    }

    /// Like [`Probe::drain`] but stops after `max` events.
    pub fn drain_max(&mut self, max: usize, mut f: impl FnMut(RawEvent<'_>)) -> usize {
        let mut n = 0;
        while n < max {
            let Some(item) = self.ring.next() else { break };
            match RawEvent::parse(&item) {
                Ok(ev) => {
                    f(ev);
                    n += 1;
                }
                Err(e) => {
                    self.control.malformed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "malformed eBPF event skipped");
                }
            }
        }
        n
    }

    /// Turns on the kernel's run-time accounting of BPF programs (`BPF_ENABLE_STATS`) until
    /// this probe is dropped, so that [`Probe::program_stats`] has figures. It costs two clock
    /// reads per program run and applies to every BPF program on the host while on.
    pub fn enable_run_time_stats(&mut self) -> Result<(), ProbeError> {
        if self.stats.is_none() {
            let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| {
                let source = aya::programs::ProgramError::from(e);
                ProbeError::Stats { source }
            })?;
            self.stats = Some(fd);
        }
        Ok(())
    }

    /// Run count and run time of each program (zero unless run-time stats are enabled, by
    /// [`Probe::enable_run_time_stats`] or `sysctl kernel.bpf_stats_enabled=1`).
    pub fn program_stats(&self) -> Result<Vec<ProgramStats>, ProbeError> {
        PROGRAMS
            .iter()
            .map(|&(program, tracepoint)| {
                let info = self
                    .ebpf
                    .program(program)
                    .ok_or(ProbeError::MissingProgram(program))?
                    .info()
                    .map_err(|source| ProbeError::Stats { source })?;
                Ok(ProgramStats {
                    program,
                    tracepoint,
                    run_count: info.run_count(),
                    run_time: info.run_time(),
                })
            })
            .collect()
    }

    /// The ring buffer's file descriptor, for callers that poll it themselves (e.g. with
    /// tokio's `AsyncFd`). Readable when data is pending.
    pub fn ring_buffer_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

fn take_map(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, ProbeError> {
    ebpf.take_map(name).ok_or(ProbeError::MissingMap(name))
}

fn new_epoll(ring: &RingBuf<MapData>) -> Result<OwnedFd, ProbeError> {
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(ProbeError::Poll(std::io::Error::last_os_error()));
    }
    // SAFETY: fd is a fresh, valid descriptor we own.
    let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0,
    };
    // SAFETY: valid epoll fd and ring buffer fd; ev outlives the call.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            ring.as_raw_fd(),
            &mut ev,
        )
    };
    if rc < 0 {
        return Err(ProbeError::Poll(std::io::Error::last_os_error()));
    }
    Ok(epoll)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_validated_before_touching_the_kernel() {
        let bad_ring = ProbeOptions {
            ring_buffer_bytes: 3 << 20,
            ..Default::default()
        };
        let err = Probe::load(&bad_ring).err().unwrap();
        assert!(matches!(err, ProbeError::InvalidOption(_)));
        assert!(err.to_string().contains("power of two"), "{err}");

        let bad_threshold = ProbeOptions {
            ring_buffer_bytes: 1 << 16,
            wakeup_threshold_bytes: 1 << 16,
            ..Default::default()
        };
        let err = Probe::load(&bad_threshold).err().unwrap();
        assert!(
            err.to_string().contains("smaller than ring_buffer_bytes"),
            "{err}"
        );

        let too_many = ProbeOptions {
            ignore_tgids: (0..2000).collect(),
            ..Default::default()
        };
        assert!(matches!(
            Probe::load(&too_many),
            Err(ProbeError::InvalidOption(_))
        ));
    }

    #[test]
    fn missing_btf_is_reported_with_its_path() {
        let opts = ProbeOptions {
            btf_path: PathBuf::from("/nonexistent/btf/vmlinux"),
            ..Default::default()
        };
        let err = Probe::load(&opts).err().unwrap();
        assert!(matches!(err, ProbeError::BtfNotFound { .. }));
        assert_eq!(
            err.to_string(),
            "BTF not found at /nonexistent/btf/vmlinux: the kernel needs CONFIG_DEBUG_INFO_BTF=y"
        );
    }

    #[test]
    fn default_options_ignore_this_process() {
        let o = ProbeOptions::default();
        assert_eq!(o.ignore_tgids, vec![std::process::id()]);
        assert!(o.validate().is_ok());
        assert!(o.wanted.is_empty());
    }

    #[test]
    fn the_embedded_object_is_a_bpf_elf_with_every_program_and_map() {
        assert_eq!(&PROBE_OBJECT[..4], b"\x7fELF");
        assert_eq!(PROBE_OBJECT[18], 247, "e_machine EM_BPF");
        let obj = aya_obj::Object::parse(PROBE_OBJECT).expect("parse");
        for (program, _) in PROGRAMS {
            assert!(obj.programs.contains_key(*program), "program {program}");
        }
        for map in [MAP_EVENTS, MAP_WANTED, MAP_IGNORED, MAP_DROPS] {
            assert!(obj.maps.contains_key(map), "map {map}");
        }
    }
}
