//! Kestrel's eBPF syscall probe: the kernel side (C, CO-RE, compiled by `build.rs` with
//! clang-22 and embedded in this crate) and the loader that owns its maps.
//!
//! # Requirements
//! x86_64, Linux >= 5.8 with BTF (`/sys/kernel/btf/vmlinux`) and `tp_btf` programs (tested
//! on 6.18), root or CAP_BPF + CAP_PERFMON. Building needs clang-22, bpftool and libbpf
//! headers (`apt-get install clang-22 llvm-22 libbpf-dev bpftool`) and kernel BTF on the
//! build host (or `KESTREL_BTF=<file>`); see `build.rs`.
//!
//! # Use
//! ```no_run
//! use std::time::Duration;
//! use kestrel_probe::{Outcomes, Probe, ProbeOptions, WantedSyscalls, boot_to_wall_clock_offset};
//!
//! # fn main() -> Result<(), kestrel_probe::ProbeError> {
//! let mut wanted = WantedSyscalls::from_names(["execve", "execveat", "connect", "close"])?;
//! wanted.insert_name_outcomes("openat", Outcomes::Success)?; // only opens that gave an fd
//! let wanted = wanted.with_lifecycle(); // fork/exec/exit events
//! let mut probe = Probe::load(&ProbeOptions { wanted, ..Default::default() })?;
//! let control = probe.control(); // Send + Sync: change the wanted set from another thread
//! let offset = boot_to_wall_clock_offset();
//! loop {
//!     probe.poll(Duration::from_millis(20))?; // wakes early when data crosses the threshold
//!     probe.drain(|ev| {
//!         // borrowed view: no allocation, no copy
//!         if ev.syscall_name() == Some("openat") {
//!             let _ = (ev.tid(), ev.path(), ev.open().map(|o| o.flags), ev.ret());
//!             let _wall_ns = ev.wall_clock_ns(offset);
//!         }
//!     });
//! #   let _ = &control; break;
//! }
//! # Ok(()) }
//! ```
//!
//! * [`Probe::load`] loads and attaches five programs: `tp_btf/sys_enter`, `tp_btf/sys_exit`,
//!   `tp_btf/sched_process_fork`, `tp_btf/sched_process_exec`, `tp_btf/sched_process_exit`.
//!   Dropping the [`Probe`] detaches everything.
//! * [`Probe::set_wanted_syscalls`] / [`ProbeControl::set_wanted_syscalls`]: the
//!   [`WantedSyscalls`] set (x86_64 numbers, see [`syscalls`]) with per-syscall
//!   [`Outcomes`], plus the three lifecycle events. The agent adds the syscalls its own state
//!   tracking needs (execve, clone, close, dup...) to those its rules use.
//! * [`Probe::poll`] + [`Probe::drain`]: the reader loop above. [`Probe::drain_max`] bounds
//!   one pass; [`Probe::ring_buffer_fd`] is there for callers polling with their own reactor.
//! * [`Probe::drop_counts`]: [`DropCounts`] summed over CPUs.
//! * [`Probe::enable_run_time_stats`] + [`Probe::program_stats`]: kernel time spent in each
//!   program ([`ProgramStats`]), for metrics and benchmarks.
//! * [`boot_to_wall_clock_offset`]: add to [`RawEvent::ts_boot_ns`] for Unix-epoch ns.
//!
//! # What the kernel side does per syscall
//! 1. `sys_enter`: unwanted syscall numbers return after one array lookup; then i386-ABI
//!    (int 0x80) calls are skipped and counted, ignored processes
//!    ([`ProbeOptions::ignore_tgids`], default: the loading process) return, `fcntl` is
//!    kept only for `F_DUPFD`/`F_DUPFD_CLOEXEC`; the six arguments are stashed per thread,
//!    plus, for `execve`/`execveat`, the filename. The stash is BPF task-local storage
//!    (one slot per thread, no hashing, freed with the thread, kept across the tid change
//!    of an exec from a non-leader thread) rather than a hash map keyed by tid, which
//!    cost ~190 ns more per wanted syscall at sys_enter alone on the 6.18 test VM.
//! 2. `sys_exit`: the stash is paired with the return value; the outcome filter drops
//!    unwanted successes/failures; the event is built in a per-CPU scratch map (never on the
//!    stack) with what is only known at exit: argv and comm of the new image, kernel socket
//!    addresses, child tid, and so on; then written to the one ring buffer.
//! 3. Wake-ups are batched: `BPF_RB_NO_WAKEUP`, except for the event that makes the unread
//!    data cross [`ProbeOptions::wakeup_threshold_bytes`] (`BPF_RB_FORCE_WAKEUP`). Events
//!    below the threshold wait for the reader's poll timeout, so poll with a short timeout
//!    (10-50 ms) and drain after every poll.
//!
//! # Event format
//! Defined in `include/kestrel_event.h`, mirrored in [`event`] (layout tests compare every
//! size, offset and constant with the BTF of the compiled header). One ring buffer record is
//! one event, 8-byte aligned, little endian:
//!
//! ```text
//! offset 0    EventHeader (104 bytes)        ts_boot_ns, cgroup_id, ret, cap_effective, len, kind, flags,
//!                                            syscall_nr, tid, tgid, ns_tid, ns_tgid, ptgid,
//!                                            uid, gid, euid, egid, loginuid, nparams,
//!                                            fixed_len, comm[16]
//! offset 104  fixed part (fixed_len bytes)   struct chosen by `kind` (table below)
//!             u16 param_len[nparams]
//!             param 0 | param 1 | ...        concatenated bytes, no padding, no NUL
//! header.len  end of record
//! ```
//!
//! | [`EventKind`] | syscalls | fixed part | params ([`event::param`]) |
//! |---|---|---|---|
//! | `Generic` | any other wanted syscall | [`event::GenericFixed`] (6 raw args) | - |
//! | `Execve` | execve, execveat | [`event::ExecFixed`] (dirfd, flags, old_tid) | filename, argv, exe, cwd, interp (empty) |
//! | `Open` | open, openat, openat2, creat | [`event::OpenFixed`] (dirfd, flags, mode, resolve) | path |
//! | `Socket` | socket | [`event::SocketFixed`] | - |
//! | `SockOp` | connect, accept, accept4, bind, listen | [`event::SockOpFixed`] (fd, arg, [`event::SockTuple`]) | user sockaddr, local unix path, peer unix path |
//! | `FileOp` | unlink(at), rename(at/at2), rmdir, mkdir(at), chmod, fchmod, fchmodat(2), chdir, fchdir | [`event::FileOpFixed`] (fd, fd2, flags, mode) | path, path2 |
//! | `Mount` | mount, umount2 | [`event::MountFixed`] (flags) | source, target, fstype |
//! | `SetId` | setuid, setgid, setreuid, setregid, setresuid, setresgid | [`event::SetIdFixed`] (ids, unused = `u32::MAX`) | - |
//! | `Ptrace` | ptrace | [`event::PtraceFixed`] | - |
//! | `Module` | init_module, finit_module | [`event::ModuleFixed`] | uargs |
//! | `Clone` | clone, clone3, fork, vfork (parent: ret = child pid; child: ret 0) | [`event::CloneFixed`] (flags, child host tid) | - |
//! | `FdOp` | dup, dup2, dup3, fcntl(F_DUPFD*), close | [`event::FdOpFixed`] | - |
//! | `ProcFork` | sched_process_fork (header = parent) | [`event::ProcForkFixed`] | - |
//! | `ProcExec` | sched_process_exec (header = new image) | [`event::ExecFixed`] | filename, argv, exe, cwd, interp |
//! | `ProcExit` | sched_process_exit | [`event::ProcExitFixed`] (exit code, group_dead) | - |
//!
//! * Strings are bytes (not necessarily UTF-8) without NUL; an absent parameter or one
//!   whose read failed has length 0 (a failed read also sets
//!   [`event::flags::READ_FAILED`] and counts in [`DropCounts::read_failed`]). A string
//!   cut at [`event::limits::MAX_PATH`] sets [`event::flags::TRUNCATED`].
//! * argv is the NUL-separated argument block ([`RawEvent::argv`] iterates it): on a
//!   successful exec read from the new mm (`arg_start..arg_end`, as Falco does), on a
//!   failed one from the caller's argv array; at most [`event::limits::MAX_ARGV`] bytes.
//! * exe and cwd are built in the kernel from dentries (up to the task's mount-namespace
//!   root, at most [`event::limits::MAX_PATH_COMPONENTS`] components).
//! * Socket addresses come from the kernel socket behind the fd at exit
//!   (`task->files->fdt->fd[fd]->private_data->sk`): ports in host order, IPv4 in the first
//!   4 bytes of the 16-byte address; [`event::SockTuple::local`]/`remote` decode them. The
//!   user `struct sockaddr` of connect/bind is also kept ([`RawEvent::user_sockaddr`]).
//! * Timestamps are `bpf_ktime_get_boot_ns()` (CLOCK_BOOTTIME, counts suspend) taken when
//!   the event is built (at syscall exit).
//! * `ns_tid`/`ns_tgid` are the ids in the task's own pid namespace (what `getpid()` returns
//!   inside a container); `tid`/`tgid`/`ptgid` are host ids.
//!
//! # Not captured
//! * i386-ABI syscalls (int 0x80, 32-bit processes) are skipped and only counted
//!   ([`DropCounts::compat_syscalls`]): their numbers and argument layout differ.
//! * Syscalls that never return (`exit`, `exit_group`, a successful `rt_sigreturn`) produce
//!   no syscall event; process and thread exits come as [`EventKind::ProcExit`].
//! * User memory the kernel has not touched and that is not resident cannot be read from a
//!   non-sleepable program (e.g. a string literal in a freshly forked child): the parameter
//!   is empty and flagged. The exec filename has fallbacks (see [`event::param::exec`]).
//! * Syscalls in flight when the probe attaches, or when they become wanted, produce no
//!   event ([`DropCounts::stash_miss`]).
//! * Paths are as passed by the caller (relative paths are not resolved against the cwd or
//!   dirfd; the consumer tracks cwd from exec/chdir events); exe/cwd paths built in the kernel
//!   have no " (deleted)" suffix.
//! * Only x86_64.

mod clock;
pub mod error;
pub mod event;
mod loader;
pub mod raw_event;
pub mod syscalls;
pub mod wanted;

pub use clock::{boot_ns_to_wall_clock_ns, boot_to_wall_clock_offset};
pub use error::ProbeError;
pub use event::{EventHeader, EventKind};
pub use loader::{DropCounts, Probe, ProbeControl, ProbeOptions, ProgramStats};
pub use raw_event::{Argv, MalformedEvent, RawEvent, SockAddr};
pub use wanted::{Outcomes, WantedSyscalls};
