//! `keycheck cache status | enforce`: the identities loaded in the user's ssh-agents and
//! how long each has left in the policy's cache window, and one enforcement pass.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use serde::Serialize;

use keycheck::daemon::expiry::{AgentInstance, CacheState, Verdict};
use keycheck::inventory::AgentFacts;
use keycheck::policy::Policy;
use keycheck::sshagent::kind::AgentKind;
use keycheck::sshagent::protocol::Identity;
use keycheck::sshconfig::SshConfigFacts;
use keycheck::sys::agent_process::{self, AgentProcess};
use keycheck::sys::ssh_agent::{self, AgentConnection, ConnectOptions};
use keycheck::sys::{sshconfig, state};

use super::{CacheArgs, OutputFormat};

/// The state file of the cache window.
const STATE_FILE: &str = "cache-window.json";

/// One agent as one pass saw it.
#[derive(Debug, Serialize)]
struct AgentReport {
    socket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<AgentKind>,
    identities: Vec<IdentityReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// One loaded identity and the verdict on it.
#[derive(Debug, Serialize)]
struct IdentityReport {
    fingerprint: String,
    comment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    algorithm: Option<String>,
    first_seen: String,
    seconds_left: u64,
    /// `ok`, `expired` (over the window, left in place), `removed`, or `kept`
    /// (over the window, but an agent keycheck does not fight).
    verdict: &'static str,
}

#[derive(Debug, Serialize)]
struct CacheDocument {
    schema: &'static str,
    profile: &'static str,
    window_seconds: u64,
    agents: Vec<AgentReport>,
}

pub(super) fn run(args: &CacheArgs, enforce: bool) -> Result<ExitCode> {
    let policy = super::policy::load(args.policy.as_deref())?;
    let report = pass(&policy, enforce)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        OutputFormat::Human => human(&mut out, &report, enforce)?,
    }
    let over = report
        .agents
        .iter()
        .flat_map(|a| &a.identities)
        .any(|i| i.verdict == "expired" || i.verdict == "kept");
    let failed = report.agents.iter().any(|a| a.error.is_some());
    Ok(if over || failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The user's agent sockets: `$SSH_AUTH_SOCK` and every `IdentityAgent` of the ssh config.
pub(super) fn agent_sockets(home: Option<&Path>, config: Option<&SshConfigFacts>) -> Vec<PathBuf> {
    let identity_agents: Vec<String> = config
        .map(|c| {
            c.hosts
                .iter()
                .filter_map(|h| h.identity_agent.as_ref().map(|a| a.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    agent_process::user_agent_sockets(
        std::env::var_os("SSH_AUTH_SOCK").as_deref(),
        &identity_agents,
        home.unwrap_or(Path::new("/")),
    )
}

/// An agent connected to (after the trust checks), the process behind it when it could
/// be found, and the identities it holds.
struct Opened {
    conn: AgentConnection,
    process: Option<AgentProcess>,
    identities: Vec<Identity>,
}

/// Connects to `socket`, identifies the agent process and lists its identities; the
/// error is one line for people.
fn open(socket: &Path, uid: u32) -> Result<Opened, String> {
    let mut conn =
        ssh_agent::connect(socket, &ConnectOptions::default()).map_err(|e| e.to_string())?;
    let peer = u32::try_from(conn.peer.pid).ok().filter(|p| *p > 0);
    let process = agent_process::identify(socket, peer, uid).ok();
    let identities = conn.list_identities().map_err(|e| e.to_string())?;
    Ok(Opened {
        conn,
        process,
        identities,
    })
}

/// What `keycheck check` records about one agent: what it is and how many keys it holds.
pub(super) fn agent_facts(socket: &Path, uid: u32) -> AgentFacts {
    let mut facts = AgentFacts {
        socket: socket.display().to_string(),
        kind: None,
        pid: None,
        identities: 0,
        error: None,
    };
    match open(socket, uid) {
        Ok(o) => {
            facts.pid = o.process.as_ref().map(|p| p.pid);
            facts.kind = o.process.map(|p| p.kind);
            facts.identities = o.identities.len();
        }
        Err(e) => facts.error = Some(e),
    }
    facts
}

/// One pass over every agent socket of this user: list, judge, and with `enforce`
/// remove what is over the window. The first-seen clock is persisted.
fn pass(policy: &Policy, enforce: bool) -> Result<CacheDocument> {
    let now = u64::try_from(time::OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0);
    let window = policy.cache_window().as_secs();
    let uid = rustix::process::geteuid().as_raw();
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let config = home
        .as_deref()
        .and_then(|h| sshconfig::read_ssh_config(Path::new("ssh"), h, None).ok());
    let sockets = agent_sockets(home.as_deref(), config.as_ref());

    let dir = state::state_dir().context("cannot find a state directory for keycheck")?;
    let mut cache = load_state(&dir);
    let mut live = Vec::new();
    let mut agents = Vec::new();
    for socket in sockets {
        agents.push(visit(
            &socket, uid, now, window, enforce, &mut cache, &mut live,
        ));
    }
    cache.retain_agents(&live);
    let bytes = serde_json::to_vec_pretty(&cache)?;
    state::write_atomic(&dir, STATE_FILE, &bytes)?;
    Ok(CacheDocument {
        schema: "keycheck.cache/v1",
        profile: policy.profile.as_str(),
        window_seconds: window,
        agents,
    })
}

#[allow(clippy::too_many_arguments)]
fn visit(
    socket: &Path,
    uid: u32,
    now: u64,
    window: u64,
    enforce: bool,
    cache: &mut CacheState,
    live: &mut Vec<AgentInstance>,
) -> AgentReport {
    let shown = socket.display().to_string();
    let mut report = AgentReport {
        socket: shown.clone(),
        pid: None,
        kind: None,
        identities: Vec::new(),
        error: None,
        note: None,
    };
    let Opened {
        mut conn,
        process,
        identities,
    } = match open(socket, uid) {
        Ok(o) => o,
        Err(e) => {
            report.error = Some(e);
            return report;
        }
    };
    let (pid, start_time) = process.as_ref().map_or((0, 0), |p| (p.pid, p.start_time));
    report.pid = (pid > 0).then_some(pid);
    report.kind = process.map(|p| p.kind);
    let instance = AgentInstance {
        socket: shown,
        pid,
        start_time,
    };
    let fingerprints: Vec<&str> = identities
        .iter()
        .filter_map(|i| i.fingerprint.as_deref())
        .collect();
    let verdicts: Vec<Verdict> = cache.observe(&instance, &fingerprints, now, window);
    let fights = !matches!(report.kind, Some(AgentKind::Vault { .. }));
    let gpg = matches!(report.kind, Some(AgentKind::GpgAgent { .. }));
    let mut gpg_expired = false;
    for identity in &identities {
        let Some(fp) = identity.fingerprint.as_deref() else {
            continue;
        };
        let Some(v) = verdicts.iter().find(|v| v.fingerprint == fp) else {
            continue;
        };
        let mut verdict = if v.expired { "expired" } else { "ok" };
        if v.expired && enforce {
            if !fights {
                verdict = "kept";
            } else if gpg {
                gpg_expired = true;
            } else if conn.remove(&identity.blob).unwrap_or(false) {
                verdict = "removed";
                cache.forget(&instance, fp);
            }
        }
        report.identities.push(IdentityReport {
            fingerprint: fp.to_owned(),
            comment: identity.comment.clone(),
            algorithm: identity.algorithm.clone(),
            first_seen: rfc3339(v.first_seen),
            seconds_left: v.remaining(now),
            verdict,
        });
    }
    if gpg_expired {
        // gpg-agent ignores remove requests for the keys it holds; forgetting its cached
        // passphrases is what ends their window.
        report.note = Some(match clear_gpg_agent() {
            Ok(()) => "gpg-agent ignores remove requests: its cached passphrases were cleared with `gpg-connect-agent reloadagent`".to_owned(),
            Err(e) => format!("gpg-agent ignores remove requests, and clearing its cache failed: {e}"),
        });
    } else if !fights && report.identities.iter().any(|i| i.verdict == "kept") {
        report.note = Some(
            "a password manager's agent: keycheck reports, and leaves its keys to its own rules"
                .to_owned(),
        );
    }
    live.push(instance);
    report
}

/// `gpg-connect-agent reloadagent /bye`, bounded in time.
fn clear_gpg_agent() -> Result<()> {
    let mut child = std::process::Command::new("gpg-connect-agent")
        .args(["reloadagent", "/bye"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting gpg-connect-agent")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "gpg-connect-agent exited with {status}");
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            anyhow::bail!("gpg-connect-agent did not answer within 5 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The persisted clock; an unreadable file is set aside and the clock starts over.
fn load_state(dir: &Path) -> CacheState {
    match state::read(dir, STATE_FILE) {
        Ok(Some(bytes)) => match serde_json::from_slice::<CacheState>(&bytes) {
            Ok(s) if s.version == keycheck::daemon::expiry::STATE_VERSION => s,
            _ => {
                eprintln!(
                    "keycheck: {} is not a state file this keycheck reads; starting the cache clock over",
                    dir.join(STATE_FILE).display()
                );
                state::set_aside(dir, STATE_FILE);
                CacheState::default()
            }
        },
        Ok(None) => CacheState::default(),
        Err(e) => {
            eprintln!("keycheck: {e}; starting the cache clock over");
            CacheState::default()
        }
    }
}

fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
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
                i.verdict, i.fingerprint, i.comment, i.first_seen, left
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
            .any(|i| i.verdict == "expired")
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
