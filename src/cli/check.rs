//! `keycheck check`: scan, judge, render, and pick the exit code.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{CheckArgs, FailOn, OutputFormat};
use keycheck::finding::Severity;
use keycheck::inventory::{Audit, FileError, Found, Inventory};
use keycheck::key::Kind;
use keycheck::report;
use keycheck::rules::{self, Env};
use keycheck::sshconfig::ConfigProblem;
use keycheck::sys::passphrase_audit::{self, AuditOptions, AuditOutcome, AuditProgress};
use keycheck::sys::scan::{self, ScanOptions};
use keycheck::sys::search::{self, SearchOptions};
use keycheck::sys::sshconfig;

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
    let mut inventory = scan::scan(&roots, options)?;
    // The default run looks beyond the key files: the ssh config, authorized_keys, the
    // keys IdentityFile names, and (opted in, or listed in the policy) the home tree.
    let default_run = args.paths.is_empty();
    if let Some(home) = home.as_deref() {
        let dot_ssh = home.join(".ssh");
        inventory.ssh_dir = Some(scan::display_path(&dot_ssh));
        let mut identity_files = Vec::new();
        if default_run {
            let (files, errors) = scan::read_authorized_keys(&dot_ssh);
            inventory.authorized_keys = files;
            inventory.errors.extend(errors);
            match sshconfig::read_ssh_config(Path::new("ssh"), home, None) {
                Ok(config) => {
                    // No ~/.ssh/config at all is normal: ssh uses its defaults.
                    let absent = !Path::new(&config.config).exists();
                    for problem in &config.problems {
                        let about_main = problem.file.as_deref() == Some(config.config.as_str());
                        if !(absent && about_main && problem.hosts.is_empty()) {
                            inventory.errors.push(config_problem(problem));
                        }
                    }
                    identity_files = config.identity_files.iter().map(PathBuf::from).collect();
                    inventory.ssh_config = Some(config);
                }
                Err(e) => eprintln!("keycheck: ssh config not checked: {e}"),
            }
            let uid = rustix::process::geteuid().as_raw();
            inventory.agents =
                super::cache::agent_sockets(Some(home), inventory.ssh_config.as_ref())
                    .iter()
                    .map(|socket| super::cache::agent_facts(socket, uid))
                    .collect();
            let named: Vec<PathBuf> = identity_files
                .iter()
                .filter(|p| p.is_file() && !p.starts_with(&dot_ssh))
                .cloned()
                .collect();
            if !named.is_empty() {
                let found = scan::scan(&named, options)?;
                inventory.absorb(found, Found::IdentityFile);
            }
        }
        let mut search_roots: Vec<PathBuf> = policy
            .files
            .search
            .iter()
            .map(|p| match p.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(p),
            })
            .filter(|p| p.exists())
            .collect();
        if args.search_home {
            search_roots.insert(0, home.to_path_buf());
        }
        if (default_run || args.search_home) && !search_roots.is_empty() {
            let options = SearchOptions {
                exclude: policy.files.exclude.clone(),
                skip: vec![dot_ssh.clone()],
                identity_files,
                progress: true,
                ..SearchOptions::default()
            };
            let found = search::search(&search_roots, &options)?;
            inventory.absorb(found.inventory, Found::Search);
        }
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

/// A part of the ssh config that could not be read, as an error entry.
fn config_problem(p: &ConfigProblem) -> FileError {
    let path = match (&p.file, p.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        (None, _) => "ssh config".to_owned(),
    };
    let hosts = if p.hosts.is_empty() {
        String::new()
    } else {
        format!(" (settings of {} not checked)", p.hosts.join(", "))
    };
    FileError {
        path,
        error: format!("{}{hosts}", p.reason),
    }
}

/// Tries the common passphrases against every encrypted private key, with a progress
/// bar on a terminal. Key bytes are read again into memory wiped on drop and dropped as
/// soon as the audit is over; the outcome never names the passphrase.
fn audit_passphrases(inventory: &mut Inventory, budget: Duration) {
    let targets: Vec<String> = inventory
        .keys
        .iter()
        .filter(|k| k.facts.kind == Kind::Private && k.facts.encrypted && !k.file.path_escaped)
        .map(|k| k.path.clone())
        .collect();
    let mut paths = Vec::new();
    let mut keys = Vec::new();
    for path in targets {
        match scan::read_key_file(Path::new(&path)) {
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
