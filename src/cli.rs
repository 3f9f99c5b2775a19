//! EDGE: the command line. Parses arguments, runs a subcommand, and turns the outcome
//! into an exit code: 0 no failing finding, 1 at least one failing finding, 2 usage,
//! policy or runtime error. Only this module prints.

mod agent;
mod cache;
mod check;
mod device_key;
mod explain;
mod fleet;
mod policy;
mod report;
mod status;

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Check the SSH keys you hold against your organisation's policy.
#[derive(Debug, Parser)]
#[command(
    name = "keycheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 no failing finding, 1 at least one failing finding, 2 usage, policy or runtime error.\n`keycheck` alone is `keycheck check`."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: CheckArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect ~/.ssh (or the given paths) and judge every key against the policy.
    Check(CheckArgs),
    /// Explain a rule: what it checks, why, and how to fix it. Without RULE, list every rule.
    Explain {
        /// A rule id such as `passphrase-missing`.
        rule: Option<String>,
    },
    /// Show, validate or create policy files.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The keys loaded in your ssh-agents and the policy's cache window.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Run the background agent: watch ~/.ssh and the policy, re-check on every change,
    /// notify, and keep the agent cache window (started by the systemd user unit or launchd).
    Agent(AgentArgs),
    /// Merge many devices' reports into the fleet's compliance (exit 1 when a report was
    /// rejected).
    Fleet(fleet::FleetArgs),
    /// Write this user's report for the fleet: host, user, policy digest, keys (facts only),
    /// agents, findings and a summary, as one `keycheck.report/v1` JSON document, or one
    /// finding per line (NDJSON, CSV). Exit 1 if there is a failing finding.
    Report(ReportArgs),
    /// What the running background agent last saw (exit 1 if it saw a failing finding).
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Diagnostic: find or create this device's report signing key and show where it is
    /// kept (JSON), or sign a file with it.
    #[command(subcommand, hide = true)]
    DeviceKey(DeviceKeyCommand),
}

#[derive(Debug, Subcommand)]
enum DeviceKeyCommand {
    /// Where the key is kept, its public key and fingerprint.
    Show {
        /// Also print the allowed_signers line for this principal (the host id).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
    },
    /// Sign FILE (SSHSIG, namespace keycheck-report) into FILE.sig.
    Sign {
        /// The file to sign.
        file: PathBuf,
        /// Also print the allowed_signers line for this principal (the host id).
        #[arg(long, value_name = "ID")]
        principal: Option<String>,
        /// Where to write the signature (default: FILE.sig).
        #[arg(long, short, value_name = "SIG")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct AgentArgs {
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Seconds between looks at the ssh-agents for newly loaded keys (file changes are
    /// seen at once, without polling).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    poll_interval: u64,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    format: ReportFormat,
    /// Write the report to FILE (atomically, mode 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Where to write the JSON report's SSHSIG signature (default with `--output FILE`:
    /// `FILE.sig`; without either, the report is not signed).
    #[arg(long, value_name = "FILE")]
    signature: Option<PathBuf>,
    /// Do not sign the report.
    #[arg(long, conflicts_with = "signature")]
    no_sign: bool,
    /// Print this device's `allowed_signers` line (for the fleet's allowed_signers file)
    /// and exit; the signing key is created on first use.
    #[arg(long, conflicts_with_all = ["output", "signature", "no_sign"])]
    signer_line: bool,
}

/// Output formats of `keycheck report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// One `keycheck.report/v1` JSON document, pretty-printed.
    Json,
    /// One JSON object per finding, then a summary line; each line names the schema,
    /// host, user and time (for log shippers and SIEMs).
    Ndjson,
    /// A header row, then one row per finding (RFC 4180).
    Csv,
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Each loaded identity: agent, fingerprint, comment, first seen, time left (exit 1 if
    /// any is over the window).
    Status(CacheArgs),
    /// One pass: remove every identity over the window, and print what was removed.
    Enforce(CacheArgs),
    /// Diagnostic: listen for the session's screen-lock and logout signals (D-Bus), apply
    /// `cache.clear_at_lock` / `cache.clear_at_logout` to each as the background agent does,
    /// and print one JSON line per event; ends when stdin closes.
    #[command(hide = true)]
    WatchSession(CacheArgs),
}

#[derive(Debug, Args)]
struct CacheArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the merged policy, with the file and line each value came from.
    Show {
        /// A policy file laid over the others (as `check --policy`).
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Validate policy files: every mistake with file:line:column (exit 1 if any).
    Check {
        /// The files to validate.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Validate as a user's file: also report settings that would loosen the policy.
        #[arg(long)]
        as_user: bool,
    },
    /// Write the commented policy template (default: your user policy file; `-` for stdout).
    Init {
        /// Where to write it.
        path: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// Output formats of `keycheck check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    /// One line per key, findings and fixes under it, a summary.
    Human,
    /// One `keycheck.check/v1` JSON document.
    Json,
}

/// Which findings make the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FailOn {
    /// Failing findings only.
    Fail,
    /// Failing findings and warnings.
    Warn,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Files or directories to check instead of ~/.ssh.
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    format: OutputFormat,
    /// A policy file laid over the built-in, organisation and user policies (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Fail)]
    fail_on: FailOn,
    /// Also list files that are not keys, and informational findings.
    #[arg(short, long)]
    verbose: bool,
    /// Also search the whole home directory for private keys outside ~/.ssh (in parallel;
    /// caches and the policy's `[files] exclude` are skipped, .gitignore is not honoured).
    #[arg(long)]
    search_home: bool,
    /// Try the empty passphrase and a list of the most common ones against each encrypted
    /// key (opt-in; the passphrase found is never shown).
    #[arg(long)]
    try_common_passphrases: bool,
    /// Seconds the common-passphrase audit may spend on one key.
    #[arg(
        long,
        default_value_t = 30,
        value_name = "SECS",
        requires = "try_common_passphrases"
    )]
    passphrase_budget: u64,
    /// Directory levels to descend below each directory checked.
    #[arg(long, default_value_t = 8, value_name = "N")]
    max_depth: usize,
}

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
    let result = match cli.command {
        None => check::run(&cli.check),
        Some(Command::Check(args)) => check::run(&args),
        Some(Command::Explain { rule }) => explain::run(rule.as_deref()),
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
