//! Command-line interface of `kestrel-agent`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// CAP_BPF+CAP_PERFMON+CAP_SYS_RESOURCE). SIGHUP reloads the rule files; a bad file keeps the
    /// last good rule set. SIGINT/SIGTERM stop cleanly and print the counters.
    Run(RunArgs),
    /// Load and compile rule files without attaching anything; print `N rules, M macros, L lists`
    /// and every error and warning; exit non-zero on any error.
    Validate(ValidateArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RuleArgs {
    /// A Falco rules file, or a directory whose *.yaml/*.yml files load in name order.
    /// Repeatable: files load in the order given, later definitions win.
    #[arg(short = 'r', long = "rules", required = true, value_name = "FILE|DIR")]
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
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub rules: RuleArgs,
}
