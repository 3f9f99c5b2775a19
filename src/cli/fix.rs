//! `keycheck fix`: gather and judge as `keycheck check` does, plan the fixes, print the
//! plan. Only the dry run exists so far: nothing here changes a file.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::FixArgs;
use keycheck::fix::{self, Action, Plan};
use keycheck::report::human::shorten;
use keycheck::rules::{self, Env};
use keycheck::sys::gather::{self, GatherOptions, Gathered};
use keycheck::sys::scan;

/// Directory levels below each directory, as `keycheck check`'s default.
const MAX_DEPTH: usize = 8;

pub(super) fn run(args: &FixArgs) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    // Absolute paths, so every command of the plan can be run from anywhere.
    let paths = args
        .paths
        .iter()
        .map(|p| std::path::absolute(p).with_context(|| format!("{}", p.display())))
        .collect::<Result<Vec<_>>>()?;
    let options = GatherOptions {
        paths,
        home: home.clone(),
        max_depth: MAX_DEPTH,
        search_home: false,
        progress: true,
    };
    let Gathered {
        inventory, notes, ..
    } = gather::gather(&policy, &options, None)?;
    for note in notes {
        eprintln!("keycheck: {note}");
    }
    let now = time::OffsetDateTime::now_utc();
    let home_shown = home.as_deref().map(scan::display_path);
    let env = Env {
        uid: rustix::process::geteuid().as_raw(),
        today: now.date(),
        now: u64::try_from(now.unix_timestamp()).unwrap_or(0),
        home: home_shown.clone(),
    };
    let evaluation = rules::judge(&inventory, &policy, &env);
    let exists = |p: &str| Path::new(p).symlink_metadata().is_ok();
    let plan = fix::plan(&evaluation.findings, &inventory, &policy, &exists);

    let stdout = std::io::stdout();
    let mut out = anstream::AutoStream::auto(stdout.lock());
    write_plan(&mut out, &plan, home_shown.as_deref(), args.dry_run).context("writing the plan")?;
    out.flush().context("writing the plan")?;
    drop(out);

    if plan.steps.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        return Ok(ExitCode::from(1));
    }
    eprintln!(
        "keycheck: applying the plan is not implemented yet; nothing was changed (run the commands above yourself, or see `keycheck fix --dry-run`)"
    );
    Ok(ExitCode::from(2))
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
