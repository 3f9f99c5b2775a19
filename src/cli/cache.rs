//! `keycheck cache status | enforce`: the identities loaded in the user's ssh-agents and
//! how long each has left in the policy's cache window, and one enforcement pass; and the
//! hidden diagnostic `keycheck cache watch-session`. The pass itself is
//! `keycheck::sys::cache_pass` (the background agent runs it too): this module handles the
//! arguments and renders.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::mpsc;

use anyhow::Result;
use serde::Serialize;

use keycheck::sshagent::kind::AgentKind;
use keycheck::sys::cache_pass::{self, CacheDocument, IdentityVerdict};
use keycheck::sys::session_events::{self, ListenOptions, SessionEvent};

use super::{CacheArgs, OutputFormat};

pub(super) fn run(args: &CacheArgs, enforce: bool) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    let report = cache_pass::pass(&policy, enforce, unix_now())?;
    for warning in &report.warnings {
        eprintln!("keycheck: {warning}");
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        OutputFormat::Human => human(&mut out, &report, enforce)?,
    }
    Ok(if report.needs_attention() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line of `keycheck cache watch-session`.
#[derive(Serialize)]
#[serde(untagged)]
enum WatchLine<'a> {
    /// How each bus started.
    Ready { ready: Ready<'a> },
    /// An event, and what the policy made keycheck do about it.
    Event {
        #[serde(flatten)]
        event: &'a SessionEvent,
        /// The pass that cleared the agents; `null` when the policy asks nothing.
        cleared: Option<CacheDocument>,
        /// Why the pass failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

/// How each bus started: `null` when listened on, else why not (one line).
#[derive(Serialize)]
struct Ready<'a> {
    session_bus: Option<String>,
    system_bus: Option<String>,
    /// This session's logind object.
    logind_session: Option<&'a str>,
}

/// `keycheck cache watch-session` (hidden, a diagnostic): listens for the session's lock
/// and logout signals, applies the policy to each as the background agent does, and prints
/// one JSON line per event. Ends when stdin closes.
pub(super) fn watch_session(args: &CacheArgs) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    let (tx, rx) = mpsc::channel();
    let listener = session_events::listen(&ListenOptions::from_env(), tx);
    let ready = WatchLine::Ready {
        ready: Ready {
            session_bus: listener.session.as_ref().err().map(ToString::to_string),
            system_bus: listener.system.as_ref().err().map(ToString::to_string),
            logind_session: listener.system.as_deref().ok(),
        },
    };
    print_line(&ready)?;
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        std::process::exit(0);
    });
    while let Ok(event) = rx.recv() {
        let (cleared, error) = match session_events::handle(&policy, event.clone(), unix_now()) {
            None => (None, None),
            Some(Ok(doc)) => (Some(doc), None),
            Some(Err(e)) => (None, Some(e.to_string())),
        };
        print_line(&WatchLine::Event {
            event: &event,
            cleared,
            error,
        })?;
    }
    listener.stop();
    Ok(ExitCode::SUCCESS)
}

fn print_line(line: &WatchLine<'_>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, line)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Now, in Unix seconds.
fn unix_now() -> u64 {
    u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}

fn human(out: &mut dyn std::io::Write, doc: &CacheDocument, enforce: bool) -> Result<()> {
    writeln!(
        out,
        "cache window: {} ({} profile)",
        humantime::format_duration(std::time::Duration::from_secs(doc.window_seconds)),
        doc.profile
    )?;
    if doc.agents.is_empty() {
        writeln!(
            out,
            "no ssh-agent found (SSH_AUTH_SOCK is unset and no IdentityAgent is configured)"
        )?;
    }
    for a in &doc.agents {
        let kind = a
            .kind
            .as_ref()
            .map_or_else(|| "agent".to_owned(), describe_kind);
        writeln!(out, "\n{kind} at {}", a.socket)?;
        if let Some(e) = &a.error {
            writeln!(out, "  error: {e}")?;
            continue;
        }
        if a.identities.is_empty() {
            writeln!(out, "  no identities loaded")?;
        }
        for i in &a.identities {
            let left = humantime::format_duration(std::time::Duration::from_secs(i.seconds_left));
            writeln!(
                out,
                "  {:<8} {}  {}  first seen {}, {} left",
                i.verdict.as_str(),
                i.fingerprint,
                i.comment,
                i.first_seen,
                left
            )?;
        }
        if let Some(n) = &a.note {
            writeln!(out, "  note: {n}")?;
        }
    }
    if !enforce
        && doc
            .agents
            .iter()
            .flat_map(|a| &a.identities)
            .any(|i| i.verdict == IdentityVerdict::Expired)
    {
        writeln!(
            out,
            "\n`keycheck cache enforce` removes the expired identities"
        )?;
    }
    Ok(())
}

fn describe_kind(kind: &AgentKind) -> String {
    match kind {
        AgentKind::OpenSsh {
            lifetime_secs: Some(t),
        } => format!("ssh-agent (-t {t})"),
        AgentKind::OpenSsh {
            lifetime_secs: None,
        } => "ssh-agent (no -t)".to_owned(),
        AgentKind::GpgAgent { .. } => "gpg-agent".to_owned(),
        AgentKind::GnomeKeyring => "gnome-keyring".to_owned(),
        AgentKind::Vault { name } => name.clone(),
        AgentKind::Unknown { exe } => format!("agent {exe}"),
    }
}
