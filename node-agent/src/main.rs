//! `kestrel-agent`: wiring only. See the modules for the parts.

use std::process::ExitCode;

use clap::Parser;
use kestrel_agent::{capture_cmd, casetest, cli, error_chain, replay, run, validate};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KESTREL_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        // colours only on a terminal: `kubectl logs` and files get plain text
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Validate(args) => validate::run(&args),
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Capture(args) => capture_cmd::run(&args),
        cli::Command::Replay(args) => replay::run(&args),
        cli::Command::Test(args) => casetest::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kestrel-agent: {}", error_chain::anyhow_chain(&e));
            ExitCode::FAILURE
        }
    }
}
