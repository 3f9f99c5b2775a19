//! `keycheck fix`: gather and judge as `keycheck check` does, plan the fixes, print the
//! plan, then carry it out step by step ([`apply`]) and check again; or, with `--undo`,
//! put back what the last run changed ([`undo`]).

mod apply;
mod undo;

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use super::FixArgs;
use keycheck::finding::{Finding, Severity};
use keycheck::fix::{self, Action, Plan};
use keycheck::inventory::Inventory;
use keycheck::policy::Policy;
use keycheck::report::human::shorten;
use keycheck::rules::{self, Env};
use keycheck::sys::fix_files::{self, BackupSet};
use keycheck::sys::gather::{self, GatherOptions, Gathered};
use keycheck::sys::{scan, state};

/// Directory levels below each directory, as `keycheck check`'s default.
const MAX_DEPTH: usize = 8;

/// Exit status of a run stopped by a signal (128 + SIGINT), as shells report it.
const INTERRUPTED: u8 = 130;

pub(super) fn run(args: &FixArgs) -> Result<ExitCode> {
    let state_dir = state::state_dir()
        .context("cannot find the state directory for the backups (set KEYCHECK_STATE_DIR)")?;
    if args.undo {
        return undo::run(&state_dir, args.yes);
    }
    let policy = super::policy::load(args.policy.as_deref())?;
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    // Absolute paths, so every command of the plan can be run from anywhere.
    let paths = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let look = Look {
        policy,
        options: GatherOptions {
            paths,
            home: home.clone(),
            max_depth: MAX_DEPTH,
            search_home: false,
            progress: true,
        },
        home: home.as_deref().map(scan::display_path),
    };

    // One run at a time: two would rewrite the same key from two copies.
    let _lock = if args.dry_run {
        None
    } else {
        Some(fix_files::lock(&state_dir)?)
    };
    if !args.dry_run {
        let unused = fix_files::remove_unused(&state_dir);
        if unused > 0 {
            eprintln!(
                "keycheck: removed {unused} backup set(s) of interrupted runs that changed nothing"
            );
        }
    }
    let mut seen = look.look()?;
    let leftovers = leftovers(&seen.inventory);
    if !leftovers.is_empty() {
        if args.dry_run {
            for path in &leftovers {
                eprintln!(
                    "keycheck: {}: a copy left by an interrupted keycheck fix (the next run without --dry-run removes it)",
                    path.display()
                );
            }
        } else {
            let removed = leftovers
                .iter()
                .filter(|p| fix_files::remove_leftover(p))
                .count();
            if removed > 0 {
                eprintln!(
                    "keycheck: removed {removed} copies left by an interrupted keycheck fix (their originals are intact)"
                );
                seen = look.look()?;
            }
        }
    }
    for note in &seen.notes {
        eprintln!("keycheck: {note}");
    }

    let stdout = std::io::stdout();
    let mut out = anstream::AutoStream::auto(stdout.lock());
    write_plan(&mut out, &seen.plan, look.home.as_deref(), args.dry_run)
        .context("writing the plan")?;
    out.flush().context("writing the plan")?;
    drop(out);

    if seen.plan.steps.is_empty() {
        return Ok(exit_for(&seen.findings));
    }
    if args.dry_run {
        return Ok(ExitCode::from(1));
    }
    if !args.yes && !std::io::stdin().is_terminal() {
        bail!(
            "keycheck fix asks before each change and standard input is not a terminal: run it in a terminal, or pass --yes to accept every step (ssh-keygen still asks for passphrases); nothing was changed"
        );
    }

    let created_at = super::rfc3339_now(true);
    let backups = BackupSet::create(&state_dir, &created_at)?;
    println!();
    println!(
        "originals are kept in {} before anything changes",
        backups.dir().display()
    );
    let mut runner = apply::Runner::new(backups, &seen.inventory, look.home.as_deref(), args.yes)?;
    let outcome = runner.run(&seen.plan.steps);
    let backups = runner.finish();
    if backups.remove_if_empty() {
        println!("\nnothing was changed");
    } else {
        println!(
            "\nthe originals are in {} (they may hold keys without a passphrase: keep that folder private, delete it once you are sure); `keycheck fix --undo` puts them back",
            backups.dir().display()
        );
    }
    if outcome.interrupted {
        eprintln!("keycheck: interrupted; the step under way was undone and nothing after it ran");
        return Ok(ExitCode::from(INTERRUPTED));
    }

    // The same check again: what remains.
    let after = look.look()?;
    write_remaining(&after.findings, look.home.as_deref());
    if outcome.failed > 0 {
        eprintln!(
            "keycheck: {} step(s) failed (see above); the files they were about are as they were",
            outcome.failed
        );
        return Ok(ExitCode::from(2));
    }
    Ok(exit_for(&after.findings))
}

/// How to gather and judge; run once before the fixes and once after.
struct Look {
    policy: Policy,
    options: GatherOptions,
    /// The home directory as the scan shows paths.
    home: Option<String>,
}

/// What a look saw.
struct Seen {
    inventory: Inventory,
    findings: Vec<Finding>,
    plan: Plan,
    notes: Vec<String>,
}

impl Look {
    fn look(&self) -> Result<Seen> {
        let Gathered {
            inventory, notes, ..
        } = gather::gather(&self.policy, &self.options, None)?;
        let now = time::OffsetDateTime::now_utc();
        let env = Env {
            uid: rustix::process::geteuid().as_raw(),
            today: now.date(),
            now: u64::try_from(now.unix_timestamp()).unwrap_or(0),
            home: self.home.clone(),
        };
        let evaluation = rules::judge(&inventory, &self.policy, &env);
        let exists = |p: &str| Path::new(p).symlink_metadata().is_ok();
        let plan = fix::plan(&evaluation.findings, &inventory, &self.policy, &exists);
        Ok(Seen {
            inventory,
            findings: evaluation.findings,
            plan,
            notes,
        })
    }
}

/// The copies an interrupted run left beside keys (`.NAME.keycheck-fix`), wherever the
/// look saw them.
fn leftovers(inventory: &Inventory) -> Vec<PathBuf> {
    let keys = inventory
        .keys
        .iter()
        .map(|k| (&k.path, k.file.path_escaped));
    let others = inventory
        .malformed
        .iter()
        .map(|m| &m.path)
        .chain(inventory.skipped.iter().map(|s| &s.path))
        .chain(inventory.errors.iter().map(|e| &e.path))
        .map(|p| (p, false));
    let mut found: Vec<PathBuf> = keys
        .chain(others)
        .map(|(p, escaped)| scan::path_from_display(p, escaped))
        .filter(|p| fix_files::original_of(p).is_some())
        .collect();
    found.sort();
    found.dedup();
    found
}

/// 0 when no finding fails the policy, else 1.
fn exit_for(findings: &[Finding]) -> ExitCode {
    if findings.iter().any(|f| f.severity == Severity::Fail) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// What the check finds after the fixes (warnings and failures).
fn write_remaining(findings: &[Finding], home: Option<&str>) {
    let remaining: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    println!();
    if remaining.is_empty() {
        println!("checked again: nothing fails or warns");
        return;
    }
    println!("checked again, what remains:");
    for f in &remaining {
        println!(
            "  {} {} {}: {}",
            shorten(&f.path, home),
            f.severity.as_str(),
            f.rule.id(),
            f.message
        );
    }
    let failing = remaining
        .iter()
        .filter(|f| f.severity == Severity::Fail)
        .count();
    println!(
        "{} findings remain, {failing} failing the policy",
        remaining.len()
    );
}

/// The plan for people: each step with the findings it resolves and its command, then
/// what is left to the person, then a summary.
fn write_plan(
    out: &mut impl std::io::Write,
    plan: &Plan,
    home: Option<&str>,
    dry_run: bool,
) -> std::io::Result<()> {
    let short = |p: &str| shorten(p, home);
    if plan.steps.is_empty() {
        writeln!(out, "nothing to fix")?;
    } else {
        let heading = if dry_run {
            "plan (dry run: nothing is changed)"
        } else {
            "plan"
        };
        writeln!(out, "{heading}:")?;
    }
    for (i, step) in plan.steps.iter().enumerate() {
        writeln!(out)?;
        writeln!(
            out,
            "{}. {} {}: {}",
            i + 1,
            step.action.name(),
            short(step.action.path()),
            step.action.describe()
        )?;
        for f in &step.findings {
            writeln!(
                out,
                "   resolves {} {}: {}",
                f.severity.as_str(),
                f.rule.id(),
                f.message
            )?;
        }
        writeln!(out, "   run: {}", step.command)?;
        if let Action::Replace { new_path, old, .. } = &step.action {
            writeln!(
                out,
                "   then: register {}.pub wherever the key {} is used (servers' authorized_keys, forges), point IdentityFile entries at it, and only then retire the old key",
                short(new_path),
                short(old)
            )?;
        }
    }
    if !plan.not_fixable.is_empty() {
        writeln!(out)?;
        writeln!(out, "not fixable here:")?;
        for n in &plan.not_fixable {
            let f = &n.finding;
            writeln!(
                out,
                "  {} {} {}: {}",
                short(&f.path),
                f.severity.as_str(),
                f.rule.id(),
                f.message
            )?;
            writeln!(out, "     why: {}", n.reason)?;
            if let Some(fix) = &f.fix {
                writeln!(out, "     by hand: {fix}")?;
            }
        }
    }
    let resolved: usize = plan.steps.iter().map(|s| s.findings.len()).sum();
    writeln!(out)?;
    writeln!(
        out,
        "summary: {} steps resolve {resolved} findings, {} not fixable here",
        plan.steps.len(),
        plan.not_fixable.len()
    )
}
