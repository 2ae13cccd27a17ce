//! Command-line interface of `kestrel-agent`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// What `run` and `capture` need when not run as root: CAP_BPF and CAP_PERFMON load and attach the
/// probe; CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH read other users' `/proc/<pid>/{exe,cwd,fd,root}`
/// (without them those processes have no executable, cwd, fd names or container users); kernels
/// before 5.11 also charge eBPF maps to RLIMIT_MEMLOCK, raised with CAP_SYS_RESOURCE. No
/// CAP_SYS_ADMIN. The same list is in the `run` help, the Makefile and the probe-load error.
pub const CAPABILITIES: &str = "CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (and CAP_SYS_RESOURCE on kernels before 5.11)";

/// Kestrel node agent: an eBPF syscall probe and Falco rules, printing Falco-format alerts.
#[derive(Debug, Parser)]
#[command(name = "kestrel-agent", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Attach the eBPF probe and evaluate rules against every syscall of this host (needs root or
    /// CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (and CAP_SYS_RESOURCE on kernels before 5.11)). SIGHUP reloads the rule files; a bad file keeps the last good rule set.
    /// SIGINT/SIGTERM stop cleanly and print the counters.
    Run(RunArgs),
    /// Load and compile rule files without attaching anything; print `N rules, M macros, L lists`
    /// and every error and warning; exit non-zero on any error.
    Validate(ValidateArgs),
    /// Record the event stream as the engine sees it (syscall, arguments, return value, and the
    /// process, fd and container state the fields read) into a capture file. Needs root or the
    /// capabilities `run` needs.
    Capture(CaptureArgs),
    /// Evaluate rules over a capture file, or over hand-written events (JSON lines of field values,
    /// giving every field the rules read; this one fires "Read Passwd File" of the sample rules,
    /// whose `open_read` macro reads evt.is_open_read, fd.typechar and fd.num:
    /// `{"evt.type":"openat","evt.is_open_read":true,"fd.typechar":"f","fd.num":3,"fd.name":"/etc/passwd","proc.name":"cat"}`), and print the alerts as the live agent would, with the events' own timestamps.
    Replay(ReplayArgs),
    /// Run a YAML file of test cases (events, and the rules expected to fire or not) against rule
    /// files; print each case's result and exit non-zero on any failure. For your CI.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The capture file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Stop after this long (`30s`, `5m`, `1h`, or seconds).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// Stop after this many events.
    #[arg(long)]
    pub max_events: Option<u64>,

    /// Capture only the syscalls these rule files can match (default: every syscall the probe
    /// decodes, so any rule can be replayed later).
    #[arg(short = 'r', long = "rules", value_name = "FILE|DIR")]
    pub rules: Vec<PathBuf>,

    /// Ring buffer size in MiB (power of two).
    #[arg(long, default_value_t = 16)]
    pub ring_buffer_mib: u32,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub rules: RuleArgs,

    /// A capture file (from `kestrel-agent capture`) or a file of JSON lines, one event per line.
    #[arg(short, long, value_name = "FILE")]
    pub events: PathBuf,

    /// Print alerts as Falco's JSON.
    #[arg(long)]
    pub json: bool,

    /// Which matching rules an event reports.
    #[arg(long, value_enum, default_value = "first")]
    pub rule_matching: RuleMatching,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub rules: RuleArgs,

    /// The YAML file of test cases.
    #[arg(short, long, value_name = "FILE")]
    pub cases: PathBuf,
}

/// `30s`, `5m`, `2h`, `1500ms` or a number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: use e.g. 30s, 5m, 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s, m or h)")),
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// A Falco rules file, or a directory whose *.yaml/*.yml files load in name order.
    /// Repeatable: files load in the order given, later definitions win.
    #[arg(short = 'r', long = "rules", value_name = "FILE|DIR")]
    pub rules: Vec<PathBuf>,

    /// Drop rules less severe than this priority (emergency, alert, critical, error, warning,
    /// notice, informational, debug).
    #[arg(long, value_name = "PRIORITY", default_value = "debug", value_parser = parse_priority)]
    pub min_priority: kestrel_engine::Priority,
}

fn parse_priority(s: &str) -> Result<kestrel_engine::Priority, String> {
    kestrel_engine::Priority::parse(s).ok_or_else(|| {
        format!("unknown priority `{s}`: use emergency, alert, critical, error, warning, notice, informational or debug")
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleMatching {
    /// Report only the first matching rule per event (Falco's default).
    First,
    /// Report every matching rule.
    All,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub rules: RuleArgs,

    /// Print alerts as Falco's JSON (time, rule, priority, output, output_fields, tags, hostname,
    /// source) instead of text lines.
    #[arg(long)]
    pub json: bool,

    /// Which matching rules an event reports.
    #[arg(long, value_enum, default_value = "first")]
    pub rule_matching: RuleMatching,

    /// Host name printed in alerts (default: this machine's).
    #[arg(long, env = "KESTREL_HOSTNAME")]
    pub hostname: Option<String>,

    /// Ring buffer size in MiB (power of two).
    #[arg(long, default_value_t = 16)]
    pub ring_buffer_mib: u32,

    /// Log counters (events, alerts, drops) every this many seconds; 0 turns it off.
    #[arg(long, default_value_t = 60)]
    pub stats_interval: u64,

    /// Alerts queued for the outputs before new ones are dropped (and counted).
    #[arg(long, default_value_t = 10_000)]
    pub alert_queue: usize,

    /// Also record every event the rules see into this capture file, for `replay` later (the
    /// replayed alerts are the ones printed now, timestamps included).
    #[arg(long, value_name = "FILE")]
    pub capture: Option<PathBuf>,

    /// Alert sinks, standalone: a JSON array in the format of the operator's `sinks.json` (type
    /// webhook, slack, file, syslog or log; url/path/address; minimumPriority; filters). With
    /// --kubernetes the sinks come from the cluster's FalcoAlertSinks instead.
    #[arg(long, value_name = "FILE")]
    pub sinks: Option<PathBuf>,

    /// Run in a cluster: load the rules the operator renders into ConfigMaps of `--namespace`
    /// (after the `--rules` files, if any), enrich events with the pods of `--node-name`, and write
    /// alerts as FalcoAlerts and pod Events. Uses the in-cluster service account or KUBECONFIG.
    #[arg(long)]
    pub kubernetes: bool,

    /// Kestrel's install namespace (with --kubernetes).
    #[arg(long, env = "POD_NAMESPACE", default_value = "kestrel")]
    pub namespace: String,

    /// This node's name (with --kubernetes; default: the host name).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,

    /// Serve Prometheus metrics on `/metrics` and health checks on `/healthz` and `/readyz` at
    /// this address (for example `0.0.0.0:8081`); off when not given.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,

    /// Where the host's root filesystem is (in a container: the host's / mounted read-only), for
    /// the host's users and groups.
    #[arg(long, default_value = "/")]
    pub host_root: PathBuf,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
}
