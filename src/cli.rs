//! EDGE: the command line. Parses arguments, runs a subcommand, and turns the outcome
//! into an exit code: 0 no failing finding, 1 at least one failing finding, 2 usage,
//! policy or runtime error. Only this module prints.

mod agent;
mod args;
mod cache;
mod check;
mod device_key;
mod explain;
mod fix;
mod fleet;
mod policy;
mod report;
mod status;

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;

use args::{
    AgentArgs, CacheArgs, CacheCommand, CheckArgs, Cli, Command, DeviceKeyCommand, FailOn, FixArgs,
    OutputFormat, PolicyCommand, ReportArgs, ReportFormat,
};

/// `keycheck --version`: the version and the commit it was built from (`build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("KEYCHECK_BUILD_COMMIT"),
    ")"
);

/// Runs keycheck with the process's arguments and returns its exit code.
#[must_use]
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // Most commands read private key bytes (the check itself, the passphrase audit, the
    // rewrite of fix, the device key of report): none may end up in a core file or be
    // read by a debugger attached by another process of the user. The agent logs what
    // could not be done when it hardens itself again; elsewhere the command runs on.
    let _ = keycheck::sys::hardening::harden();
    let result = match cli.command {
        None => check::run(&cli.check),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Explain { rule }) => explain::run(rule.as_deref()),
        Some(Command::Fix(args)) => fix::run(&args),
        Some(Command::Policy(command)) => policy::run(&command),
        Some(Command::Cache(CacheCommand::Status(args))) => cache::run(&args, false),
        Some(Command::Cache(CacheCommand::Enforce(args))) => cache::run(&args, true),
        Some(Command::Agent(args)) => agent::run(&args),
        Some(Command::Fleet(args)) => fleet::run(&args),
        Some(Command::Status { format }) => status::run(format),
        Some(Command::Report(args)) => report::run(&args),
        Some(Command::Cache(CacheCommand::WatchSession(args))) => cache::watch_session(&args),
        Some(Command::DeviceKey(command)) => device_key::run(&command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            if let Some(invalid) = err.downcast_ref::<keycheck::policy::Error>() {
                for d in invalid.diagnostics() {
                    let _ = writeln!(io::stderr(), "keycheck: {d}");
                }
            } else {
                let _ = writeln!(io::stderr(), "keycheck: {err:#}");
            }
            ExitCode::from(2)
        }
    }
}

/// Returns true if and only if the error is a closed output pipe (`keycheck | head`),
/// which ends the program quietly, as ripgrep does.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Now, in RFC 3339; `keycheck.db` takes whole seconds, the state file the full time
/// (a check within the same second is still a new one).
pub(crate) fn rfc3339_now(whole_seconds: bool) -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = if whole_seconds {
        now.replace_nanosecond(0).unwrap_or(now)
    } else {
        now
    };
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
