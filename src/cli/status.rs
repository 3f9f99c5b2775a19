//! `keycheck status`: what the background agent last saw, read from its state file.
//! It never re-checks anything itself: `keycheck check` does that.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;

use super::OutputFormat;
use keycheck::sys::state;

#[derive(Deserialize)]
struct StateView {
    schema: String,
    pid: u32,
    started_at: String,
    updated_at: String,
    profile: String,
    policy_problem: Option<String>,
    check: CheckView,
    cache: Option<CacheView>,
}

#[derive(Deserialize)]
struct CacheView {
    window_seconds: u64,
    agents: Vec<AgentView>,
}

#[derive(Deserialize)]
struct AgentView {
    socket: String,
    identities: Vec<IdentityView>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct IdentityView {
    fingerprint: String,
    comment: String,
    first_seen: String,
    verdict: String,
}

#[derive(Deserialize)]
struct CheckView {
    findings: Vec<FindingView>,
    summary: SummaryView,
}

#[derive(Deserialize)]
struct FindingView {
    rule: String,
    severity: String,
    path: String,
    message: String,
    fix: Option<String>,
}

#[derive(Deserialize)]
struct SummaryView {
    keys: usize,
    private: usize,
    fail: usize,
    warn: usize,
    errors: usize,
}

pub(super) fn run(format: OutputFormat) -> Result<ExitCode> {
    let dir = state::state_dir().context("cannot find a state directory for keycheck")?;
    let Some(bytes) = state::read(&dir, super::agent::STATE_FILE)? else {
        bail!(
            "the background agent has not run yet (no {} in {}): start it with `keycheck agent` or its service",
            super::agent::STATE_FILE,
            dir.display()
        );
    };
    let view: StateView = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{}: not an agent state this keycheck can read",
            dir.join(super::agent::STATE_FILE).display()
        )
    })?;
    if view.schema != super::agent::STATE_SCHEMA {
        bail!(
            "{}: schema {} is not {}",
            dir.join(super::agent::STATE_FILE).display(),
            view.schema,
            super::agent::STATE_SCHEMA
        );
    }
    let running = super::agent::running_agent(&dir);
    let mut out = std::io::stdout().lock();
    match format {
        OutputFormat::Json => {
            out.write_all(&bytes)?;
            writeln!(out)?;
        }
        OutputFormat::Human => human(&mut out, &view, running)?,
    }
    Ok(if view.check.summary.fail > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn human(out: &mut dyn std::io::Write, view: &StateView, running: Option<u32>) -> Result<()> {
    match running {
        Some(pid) if pid == view.pid => writeln!(
            out,
            "keycheck agent: running (pid {pid}) since {}; last check {} (profile {})",
            view.started_at, view.updated_at, view.profile
        )?,
        Some(pid) => writeln!(
            out,
            "keycheck agent: running (pid {pid}), no check of its own written yet; last check {} by pid {} (profile {})",
            view.updated_at, view.pid, view.profile
        )?,
        None => writeln!(
            out,
            "keycheck agent: not running; its last check was {} (pid {}, profile {})",
            view.updated_at, view.pid, view.profile
        )?,
    }
    if let Some(problem) = &view.policy_problem {
        writeln!(
            out,
            "policy problem (the last good policy stays in force): {problem}"
        )?;
    }
    let s = &view.check.summary;
    writeln!(
        out,
        "{} keys ({} private), {} failing, {} warnings, {} unreadable",
        s.keys, s.private, s.fail, s.warn, s.errors
    )?;
    let home = directories::BaseDirs::new().map(|d| d.home_dir().display().to_string());
    for f in &view.check.findings {
        let path = match home.as_deref().and_then(|h| f.path.strip_prefix(h)) {
            Some(rest) if rest.starts_with('/') => format!("~{rest}"),
            _ => f.path.clone(),
        };
        writeln!(
            out,
            "{:>5} {path}  {}[{}] {}",
            f.severity.to_uppercase(),
            f.severity,
            f.rule,
            f.message
        )?;
        if let Some(fix) = &f.fix {
            writeln!(out, "        fix: {fix}")?;
        }
    }
    if let Some(cache) = &view.cache {
        let window =
            humantime::format_duration(std::time::Duration::from_secs(cache.window_seconds));
        for agent in &cache.agents {
            match &agent.error {
                Some(e) => writeln!(out, "agent {}: {e}", agent.socket)?,
                None => writeln!(
                    out,
                    "agent {}: {} loaded (window {window})",
                    agent.socket,
                    agent.identities.len()
                )?,
            }
            for i in &agent.identities {
                writeln!(
                    out,
                    "    {} {}  first seen {}  {}",
                    i.fingerprint, i.comment, i.first_seen, i.verdict
                )?;
            }
        }
    }
    Ok(())
}
