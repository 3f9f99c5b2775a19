//! `keycheck check`: scan, judge, render, and pick the exit code.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::{CheckArgs, FailOn, OutputFormat};
use keycheck::finding::Severity;
use keycheck::report;
use keycheck::rules::{self, Env};
use keycheck::sys::scan::{self, ScanOptions};

pub(super) fn run(args: &CheckArgs) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let roots: Vec<PathBuf> = if args.paths.is_empty() {
        let home = home
            .clone()
            .context("cannot find your home directory; give the paths to check")?;
        let dot_ssh = home.join(".ssh");
        if dot_ssh.exists() {
            vec![dot_ssh]
        } else {
            // Nothing to check is not an error; the report (empty) is still written, so
            // a script reading the JSON gets a document.
            eprintln!(
                "keycheck: {} does not exist: no SSH keys to check",
                dot_ssh.display()
            );
            Vec::new()
        }
    } else {
        args.paths.clone()
    };
    let options = ScanOptions {
        max_depth: args.max_depth,
        ..ScanOptions::default()
    };
    let inventory = scan::scan(&roots, options)?;
    let now = time::OffsetDateTime::now_utc();
    let env = Env {
        uid: rustix::process::geteuid().as_raw(),
        today: now.date(),
        now: u64::try_from(now.unix_timestamp()).unwrap_or(0),
        home: home.as_deref().map(scan::display_path),
    };
    let evaluation = rules::judge(&inventory, &policy, &env);
    let findings = &evaluation.findings;

    let stdout = std::io::stdout();
    let mut out = anstream::AutoStream::auto(stdout.lock());
    match args.format {
        OutputFormat::Json => report::json::write_check(&mut out, &inventory, &evaluation),
        OutputFormat::Human => {
            let options = report::human::Options {
                home: home.map(|h| scan::display_path(&h)),
                verbose: args.verbose,
            };
            report::human::write_check(&mut out, &inventory, &evaluation, &options)
        }
    }
    .context("writing the report")?;
    out.flush().context("writing the report")?;

    let threshold = match args.fail_on {
        FailOn::Fail => Severity::Fail,
        FailOn::Warn => Severity::Warn,
    };
    let failed = findings.iter().any(|f| f.severity >= threshold);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
