//! Errors of the probe loader.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong loading, attaching, configuring or reading the probe. A
/// message never repeats its `source()`: print the chain (`{:#}` with anyhow, or walk
/// `source()`) to see the cause.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The kernel refused a bpf() call with EPERM/EACCES.
    #[error(
        "permission denied {during}: loading and attaching the probe needs root or CAP_BPF and \
         CAP_PERFMON (and CAP_SYS_RESOURCE on kernels before 5.11; kernel lockdown can also \
         forbid eBPF)"
    )]
    PermissionDenied {
        /// What was being done (e.g. "loading eBPF").
        during: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// No kernel BTF: tp_btf programs and CO-RE need it.
    #[error("BTF not found at {}: the kernel needs CONFIG_DEBUG_INFO_BTF=y", path.display())]
    BtfNotFound {
        /// Where BTF was looked for.
        path: PathBuf,
    },

    /// Kernel BTF exists but could not be parsed.
    #[error("reading kernel BTF from {}", path.display())]
    Btf {
        /// The BTF file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: aya::BtfError,
    },

    /// The object could not be loaded (map creation, relocation...).
    #[error("loading the eBPF object failed")]
    Load(#[source] aya::EbpfError),

    /// A program the loader expects is not in the embedded object (build mismatch).
    #[error("eBPF program `{0}` not found in the embedded object")]
    MissingProgram(&'static str),

    /// A map the loader expects is not in the embedded object (build mismatch).
    #[error("eBPF map `{0}` not found in the embedded object")]
    MissingMap(&'static str),

    /// The verifier (or the kernel) rejected a program.
    #[error("eBPF program `{program}` (tp_btf/{tracepoint}) was rejected by the kernel")]
    ProgramLoad {
        /// Program (C function) name.
        program: &'static str,
        /// Tracepoint it is for.
        tracepoint: &'static str,
        /// Error, with the verifier log when there is one.
        #[source]
        source: aya::programs::ProgramError,
    },

    /// A loaded program could not be attached.
    #[error("attaching eBPF program `{program}` to tp_btf/{tracepoint} failed")]
    Attach {
        /// Program (C function) name.
        program: &'static str,
        /// Tracepoint.
        tracepoint: &'static str,
        /// The error.
        #[source]
        source: aya::programs::ProgramError,
    },

    /// Reading or writing a map failed.
    #[error("eBPF map `{name}`")]
    Map {
        /// Map name.
        name: &'static str,
        /// The error.
        #[source]
        source: aya::maps::MapError,
    },

    /// A [`ProbeOptions`](crate::ProbeOptions) value is out of range.
    #[error("invalid probe option: {0}")]
    InvalidOption(String),

    /// A syscall number does not fit the wanted map.
    #[error("syscall number {0} is out of range (x86_64 syscall numbers are below 512)")]
    SyscallOutOfRange(u32),

    /// A syscall name is not in the x86_64 table.
    #[error("unknown x86_64 syscall name `{0}`")]
    UnknownSyscall(String),

    /// Enabling or reading program run-time statistics failed.
    #[error("eBPF program statistics")]
    Stats {
        /// The error.
        #[source]
        source: aya::programs::ProgramError,
    },

    /// epoll on the ring buffer failed.
    #[error("waiting on the eBPF ring buffer failed")]
    Poll(#[source] io::Error),
}

/// True when `err` or one of its sources is an io::Error with EPERM/EACCES.
pub(crate) fn is_permission_denied(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::PermissionDenied
        {
            return true;
        }
        cur = e.source();
    }
    false
}
