//! `keycheck check`: scan, judge, render, and pick the exit code.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{CheckArgs, FailOn, OutputFormat};
use keycheck::finding::Severity;
use keycheck::inventory::{Audit, Inventory};
use keycheck::key::Kind;
use keycheck::report;
use keycheck::rules::{self, Env};
use keycheck::sys::gather::{self, GatherOptions, Gathered};
use keycheck::sys::passphrase_audit::{self, AuditOptions, AuditOutcome, AuditProgress};
use keycheck::sys::scan;

pub(super) fn run(args: &CheckArgs) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let options = GatherOptions {
        paths: args.paths.clone(),
        home: home.clone(),
        max_depth: args.max_depth,
        search_home: args.search_home,
        progress: true,
    };
    let Gathered {
        mut inventory,
        notes,
        ..
    } = gather::gather(&policy, &options, None)?;
    for note in notes {
        eprintln!("keycheck: {note}");
    }
    if args.try_common_passphrases {
        audit_passphrases(&mut inventory, Duration::from_secs(args.passphrase_budget));
    }
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

/// Tries the common passphrases against every encrypted private key, with a progress
/// bar on a terminal. Key bytes are read again into memory wiped on drop and dropped as
/// soon as the audit is over; the outcome never names the passphrase.
fn audit_passphrases(inventory: &mut Inventory, budget: Duration) {
    let targets: Vec<(String, bool)> = inventory
        .keys
        .iter()
        .filter(|k| k.facts.kind == Kind::Private && k.facts.encrypted)
        .map(|k| (k.path.clone(), k.file.path_escaped))
        .collect();
    let mut paths = Vec::new();
    let mut keys = Vec::new();
    for (path, escaped) in targets {
        // A name shown with escapes (not UTF-8, control characters) is read by its bytes.
        match scan::read_key_file(&scan::path_from_display(&path, escaped)) {
            Ok(bytes) => {
                paths.push(path);
                keys.push(bytes);
            }
            Err(reason) => {
                inventory
                    .passphrase_audit
                    .insert(path, Audit::Unsupported { reason });
            }
        }
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(keys.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "trying common passphrases {bar:30} {pos}/{len} keys",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |event: AuditProgress| {
        if let AuditProgress::Finished { .. } = event {
            bar.inc(1);
        }
    };
    let options = AuditOptions {
        budget_per_key: budget,
        ..AuditOptions::default()
    };
    let outcomes = passphrase_audit::audit(&keys, &options, Some(&progress));
    bar.finish_and_clear();
    drop(keys);
    for (path, outcome) in paths.into_iter().zip(outcomes) {
        let audit = match outcome {
            AuditOutcome::Weak { tried } => Audit::Weak { tried },
            AuditOutcome::NotFound { tried } => Audit::NotFound { tried },
            AuditOutcome::OutOfTime { tried, of } => Audit::OutOfTime { tried, of },
            AuditOutcome::Unsupported(reason) => Audit::Unsupported { reason },
        };
        inventory.passphrase_audit.insert(path, audit);
    }
}
