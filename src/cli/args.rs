//! The command line's definition: every subcommand, argument and help text. Kept apart
//! from what the commands do so that `build.rs` can include it to write the man page and
//! the shell completions from the same definition.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Check the SSH keys you hold against your organisation's policy.
#[derive(Debug, Parser)]
#[command(
    name = "keycheck",
    version = super::VERSION,
    args_conflicts_with_subcommands = true,
    after_help = "Exit status: 0 no failing finding, 1 at least one failing finding, 2 usage, policy or runtime error.\n`keycheck` alone is `keycheck check`."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
    #[command(flatten)]
    pub(crate) check: CheckArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Inspect ~/.ssh (or the given paths) and judge every key against the policy.
    Check(CheckArgs),
    /// Explain a rule: what it checks, why, and how to fix it. Without RULE, list every rule.
    Explain {
        /// A rule id such as `passphrase-missing`.
        rule: Option<String>,
    },
    /// Fix what `keycheck check` finds, step by step, asking before each change.
    ///
    /// The plan comes first: each step, the findings it resolves and its exact command;
    /// what nothing here can fix is listed, not dropped. Keys are rewritten by OpenSSH's
    /// own `ssh-keygen -p` (it asks for the passphrases; keycheck never sees them) on a
    /// copy that replaces the key only once checked; every original goes to a 0700
    /// backup in the state dir first, and `--undo` restores them. Keys that cannot be
    /// fixed in place get a replacement beside them, never over them. The check runs
    /// again at the end. Exit status: 0 nothing remains that fails the policy, 1
    /// something does (or, with `--dry-run`, the plan has a step), 2 error or a step
    /// failed, 130 interrupted.
    Fix(FixArgs),
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
    Fleet(FleetArgs),
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
pub(crate) enum DeviceKeyCommand {
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
pub(crate) struct FixArgs {
    /// Files or directories to fix instead of ~/.ssh.
    pub(crate) paths: Vec<PathBuf>,
    /// Only print the plan; change nothing.
    #[arg(long, conflicts_with = "undo")]
    pub(crate) dry_run: bool,
    /// Accept every step without asking (ssh-keygen still asks for passphrases).
    #[arg(long, short)]
    pub(crate) yes: bool,
    /// Restore what the last `keycheck fix` changed from its backups (byte for byte;
    /// replacement keys it made are kept).
    #[arg(long, conflicts_with = "paths")]
    pub(crate) undo: bool,
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Seconds between looks at the ssh-agents for newly loaded keys (file changes are
    /// seen at once, without polling).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    pub(crate) poll_interval: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub(crate) format: ReportFormat,
    /// Write the report to FILE (atomically, mode 0600) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Where to write the JSON report's SSHSIG signature (default with `--output FILE`:
    /// `FILE.sig`; without either, the report is not signed).
    #[arg(long, value_name = "FILE")]
    pub(crate) signature: Option<PathBuf>,
    /// Do not sign the report.
    #[arg(long, conflicts_with = "signature")]
    pub(crate) no_sign: bool,
    /// Print this device's `allowed_signers` line (for the fleet's allowed_signers file)
    /// and exit; the signing key is created on first use.
    #[arg(long, conflicts_with_all = ["output", "signature", "no_sign"])]
    pub(crate) signer_line: bool,
}

/// Output formats of `keycheck report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    /// One `keycheck.report/v1` JSON document, pretty-printed.
    Json,
    /// One JSON object per finding, then a summary line; each line names the schema,
    /// host, user and time (for log shippers and SIEMs).
    Ndjson,
    /// A header row, then one row per finding (RFC 4180).
    Csv,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
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
pub(crate) struct CacheArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
    /// A policy file laid over the others (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
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
pub(crate) enum OutputFormat {
    /// One line per key, findings and fixes under it, a summary.
    Human,
    /// One `keycheck.check/v1` JSON document.
    Json,
}

/// Which findings make the exit status 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FailOn {
    /// Failing findings only.
    Fail,
    /// Failing findings and warnings.
    Warn,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Files or directories to check instead of ~/.ssh.
    pub(crate) paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub(crate) format: OutputFormat,
    /// A policy file laid over the built-in, organisation and user policies (it may only tighten them).
    #[arg(long, value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Lowest severity that makes the exit status 1.
    #[arg(long, value_enum, default_value_t = FailOn::Fail)]
    pub(crate) fail_on: FailOn,
    /// Also list files that are not keys, and informational findings.
    #[arg(short, long)]
    pub(crate) verbose: bool,
    /// Also search the whole home directory for private keys outside ~/.ssh (in parallel;
    /// caches and the policy's `[files] exclude` are skipped, .gitignore is not honoured).
    #[arg(long)]
    pub(crate) search_home: bool,
    /// Try the empty passphrase and a list of the most common ones against each encrypted
    /// key (opt-in; the passphrase found is never shown).
    #[arg(long)]
    pub(crate) try_common_passphrases: bool,
    /// Seconds the common-passphrase audit may spend on one key.
    #[arg(
        long,
        default_value_t = 30,
        value_name = "SECS",
        requires = "try_common_passphrases"
    )]
    pub(crate) passphrase_budget: u64,
    /// Directory levels to descend below each directory checked.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub(crate) max_depth: usize,
}

/// Output formats of `keycheck fleet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FleetFormat {
    /// A summary for people.
    Text,
    /// One row per host and user.
    Csv,
    /// One `keycheck.fleet/v1` document.
    Json,
    /// A self-contained HTML page (no script, no network).
    Html,
}

#[derive(Debug, Args)]
pub(crate) struct FleetArgs {
    /// Report files, directories of them (`*.json` below), NDJSON streams (`*.ndjson`),
    /// or `-` for an NDJSON stream on stdin.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// The `allowed_signers` file listing each device's key for its host id (the lines
    /// `keycheck report --signer-line` prints): a report is merged only when its `.sig`
    /// (or its envelope's signature) verifies against it.
    #[arg(long, value_name = "FILE")]
    pub(crate) allowed_signers: Option<PathBuf>,
    /// Merge reports without a valid signature too (counted as unverified). A signature
    /// that does not verify is still refused.
    #[arg(long)]
    pub(crate) accept_unsigned: bool,
    /// Hosts whose newest report is older than this are listed as stale.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    pub(crate) max_age: std::time::Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormat::Text)]
    pub(crate) format: FleetFormat,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}
