//! EDGE: one pass of the cache window over the user's ssh-agents, for `keycheck cache` and
//! the background agent: list what each agent holds, judge it against the policy's window
//! with keycheck's own first-seen clock ([`crate::daemon::expiry`]), remove what must go,
//! and persist the clock in the state directory ([`crate::sys::state`]).
//!
//! Three things may be asked of a pass: look ([`pass`] without `enforce`), remove what is over
//! the window ([`pass`] with `enforce`), or clear the agents at a session event ([`clear`]:
//! everything at screen lock, what keycheck tracked at logout).
//!
//! Agents differ in what removal means:
//!
//! - OpenSSH's ssh-agent, gnome-keyring and unknown agents: remove requests (protocol
//!   messages 18 and 19, draft-miller-ssh-agent section 3.4).
//! - gpg-agent answers remove requests with success and keeps the key (measured with GnuPG
//!   2.2.40: `ssh-add -D` and `ssh-add -d` both report success and `ssh-add -l` still lists
//!   the key). What it can forget is the passphrase it caches for the key, so keycheck
//!   sends it `RELOADAGENT` (which flushes its cache, as SIGHUP does; gpg-agent(1)) and
//!   says so; the key then needs its passphrase again.
//! - Password managers' agents (1Password, Secretive, KeePassXC, Bitwarden) keep keys by
//!   their own rules: keycheck reports them and leaves them alone.
//!
//! This module never prints: what the user should see goes into the returned
//! [`CacheDocument`], its warnings included. Facts and decisions stay apart: the window
//! arithmetic is the pure [`CacheState`]; this module carries out what it decides.

use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::daemon::expiry::{AgentInstance, CacheState, Verdict, STATE_VERSION};
use crate::inventory::AgentFacts;
use crate::policy::Policy;
use crate::sshagent::kind::AgentKind;
use crate::sshagent::protocol::Identity;
use crate::sshconfig::SshConfigFacts;
use crate::sys::agent_process::{self, AgentProcess};
use crate::sys::ssh_agent::{self, AgentConnection, ConnectOptions};
use crate::sys::sshconfig;
use crate::sys::state::{self, StateError};

/// The `schema` of a [`CacheDocument`].
pub const SCHEMA: &str = "keycheck.cache/v1";

/// The state file of the cache window, in the state directory.
pub const STATE_FILE: &str = "cache-window.json";

/// How long `gpg-connect-agent` may take to clear gpg-agent's cache before it is killed.
const GPG_TIMEOUT: Duration = Duration::from_secs(5);

/// The most output of `gpg-connect-agent` read.
const GPG_MAX_OUTPUT: u64 = 64 * 1024;

/// What one pass saw and did: every agent of the user and each identity it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheDocument {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The device profile whose window applies (`laptop`, `desktop`, ...).
    pub profile: &'static str,
    /// The window, in seconds.
    pub window_seconds: u64,
    /// One entry per agent socket, in the order they were found.
    pub agents: Vec<AgentReport>,
    /// Problems that did not stop the pass (an unreadable state file set aside), one line
    /// each, for the caller to show.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl CacheDocument {
    /// The identities removed from their agents (or, for gpg-agent, whose cached passphrase
    /// was cleared) by this pass, with the socket of their agent: what a caller notifies.
    #[must_use]
    pub fn removed(&self) -> Vec<(&str, &IdentityReport)> {
        self.agents
            .iter()
            .flat_map(|a| a.identities.iter().map(move |i| (a.socket.as_str(), i)))
            .filter(|(_, i)| {
                matches!(
                    i.verdict,
                    IdentityVerdict::Removed | IdentityVerdict::Cleared
                )
            })
            .collect()
    }

    /// Returns true if and only if an identity is still loaded past the window (left in
    /// place, or kept by an agent keycheck does not fight) or an agent could not be read.
    #[must_use]
    pub fn needs_attention(&self) -> bool {
        self.agents.iter().any(|a| a.error.is_some())
            || self
                .agents
                .iter()
                .flat_map(|a| &a.identities)
                .any(|i| matches!(i.verdict, IdentityVerdict::Expired | IdentityVerdict::Kept))
    }
}

/// One agent as one pass saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentReport {
    /// The socket path.
    pub socket: String,
    /// The agent process, when it could be found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// What kind of agent it is, when its process could be found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<AgentKind>,
    /// The identities it holds (those whose key keycheck could read).
    pub identities: Vec<IdentityReport>,
    /// Why the agent could not be read, or could not be cleared; one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What keycheck did differently for this agent, and why (gpg-agent, password managers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One loaded identity and the verdict on it. Fingerprints and comments only: no key
/// material.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityReport {
    /// `SHA256:…`, as `ssh-add -l -E sha256` prints it.
    pub fingerprint: String,
    /// The comment the agent holds for it.
    pub comment: String,
    /// Its key type (`ssh-ed25519`, ...), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// When keycheck first saw it in this agent instance (RFC 3339).
    pub first_seen: String,
    /// Seconds left in the window (0 once over it).
    pub seconds_left: u64,
    /// What the pass concluded, or did.
    pub verdict: IdentityVerdict,
}

/// The verdict on one loaded identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityVerdict {
    /// Inside the window, and left in place.
    Ok,
    /// Over the window, and left in place (a look-only pass, or removal failed).
    Expired,
    /// Removed from the agent by this pass.
    Removed,
    /// gpg-agent: the key stays listed, but its cached passphrase was cleared by this pass.
    Cleared,
    /// Over the window or asked to be cleared, but held by an agent keycheck does not fight
    /// (a password manager's).
    Kept,
}

impl IdentityVerdict {
    /// The verdict as the JSON document spells it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityVerdict::Ok => "ok",
            IdentityVerdict::Expired => "expired",
            IdentityVerdict::Removed => "removed",
            IdentityVerdict::Cleared => "cleared",
            IdentityVerdict::Kept => "kept",
        }
    }
}

/// Which identities [`clear`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClearScope {
    /// Every identity in every agent of the user (screen lock).
    All,
    /// Only the identities keycheck's state has a first-seen record for: what keycheck
    /// tracked during the session (logout).
    Tracked,
}

/// A pass could not do its job. Agents that cannot be read are not errors: they are
/// reported in [`AgentReport::error`] and the pass goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CachePassError {
    /// There is no state directory to keep the first-seen clock in.
    #[error(
        "cannot find a state directory for keycheck's cache clock (no home directory); set \
         KEYCHECK_STATE_DIR"
    )]
    NoStateDir,
    /// The state file could not be written.
    #[error("cannot keep keycheck's cache clock: {0}")]
    State(#[from] StateError),
    /// The state could not be encoded.
    #[error("cannot encode keycheck's cache clock: {detail}")]
    Encode {
        /// The encoder's message.
        detail: String,
    },
}

/// The user's agent sockets: `$SSH_AUTH_SOCK` and every `IdentityAgent` of the ssh config
/// (see [`agent_process::user_agent_sockets`]).
#[must_use]
pub fn agent_sockets(home: Option<&Path>, config: Option<&SshConfigFacts>) -> Vec<PathBuf> {
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

/// What `keycheck check` records about one agent: what it is and how many keys it holds.
#[must_use]
pub fn agent_facts(socket: &Path, uid: u32) -> AgentFacts {
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

/// One pass over every agent socket of this user at time `now` (Unix seconds): list each
/// agent's identities and judge them against the policy's window; with `enforce`, remove
/// those over it (gpg-agent: clear its cache; password managers' agents: report only).
/// The first-seen clock is read from and written back to the state directory.
///
/// # Errors
/// [`CachePassError`] when the clock cannot be kept: no state directory, or the state file
/// cannot be written.
pub fn pass(policy: &Policy, enforce: bool, now: u64) -> Result<CacheDocument, CachePassError> {
    run(
        policy,
        if enforce { Mode::Enforce } else { Mode::Look },
        now,
    )
}

/// Clears the user's agents at a session event, at time `now` (Unix seconds):
/// [`ClearScope::All`] removes every identity from every agent (remove-all, message 19),
/// [`ClearScope::Tracked`] only those keycheck's state has first-seen records for.
/// gpg-agent's cache is cleared with `RELOADAGENT` instead (it ignores removal); password
/// managers' agents are reported and left alone. Removed identities carry
/// [`IdentityVerdict::Removed`] (gpg-agent's [`IdentityVerdict::Cleared`]). The
/// first-seen clock is updated as in [`pass`].
///
/// # Errors
/// As [`pass`].
pub fn clear(
    policy: &Policy,
    scope: ClearScope,
    now: u64,
) -> Result<CacheDocument, CachePassError> {
    run(policy, Mode::Clear(scope), now)
}

/// What a pass does to what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Report only.
    Look,
    /// Remove what is over the window.
    Enforce,
    /// Remove what the scope names, whatever the window says.
    Clear(ClearScope),
}

/// [`pass`] over the given sockets: a long-running caller keeps the list from its last
/// look at the ssh config instead of running `ssh -G` on every poll.
///
/// # Errors
/// As [`pass`].
pub fn pass_on(
    policy: &Policy,
    sockets: &[PathBuf],
    enforce: bool,
    now: u64,
) -> Result<CacheDocument, CachePassError> {
    let mode = if enforce { Mode::Enforce } else { Mode::Look };
    run_on(policy, sockets, mode, now)
}

/// [`clear`] over the given sockets (see [`pass_on`]).
///
/// # Errors
/// As [`pass`].
pub fn clear_on(
    policy: &Policy,
    sockets: &[PathBuf],
    scope: ClearScope,
    now: u64,
) -> Result<CacheDocument, CachePassError> {
    run_on(policy, sockets, Mode::Clear(scope), now)
}

fn run(policy: &Policy, mode: Mode, now: u64) -> Result<CacheDocument, CachePassError> {
    let home = directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let config = home
        .as_deref()
        .and_then(|h| sshconfig::read_ssh_config(Path::new("ssh"), h, None).ok());
    let sockets = agent_sockets(home.as_deref(), config.as_ref());
    run_on(policy, &sockets, mode, now)
}

fn run_on(
    policy: &Policy,
    sockets: &[PathBuf],
    mode: Mode,
    now: u64,
) -> Result<CacheDocument, CachePassError> {
    let window = policy.cache_window().as_secs();
    let uid = rustix::process::geteuid().as_raw();

    let dir = state::state_dir().ok_or(CachePassError::NoStateDir)?;
    let mut warnings = Vec::new();
    let mut cache = load_state(&dir, &mut warnings);
    let mut live = Vec::new();
    let mut agents = Vec::new();
    for socket in sockets {
        let mut visit = Visit {
            uid,
            now,
            window,
            mode,
            cache: &mut cache,
        };
        let (report, instance) = visit.agent(socket);
        agents.push(report);
        live.extend(instance);
    }
    cache.retain_agents(&live);
    let bytes = serde_json::to_vec_pretty(&cache).map_err(|e| CachePassError::Encode {
        detail: e.to_string(),
    })?;
    state::write_atomic(&dir, STATE_FILE, &bytes)?;
    Ok(CacheDocument {
        schema: SCHEMA,
        profile: policy.profile.as_str(),
        window_seconds: window,
        agents,
        warnings,
    })
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

/// One agent's part of a pass.
struct Visit<'a> {
    uid: u32,
    now: u64,
    window: u64,
    mode: Mode,
    cache: &'a mut CacheState,
}

impl Visit<'_> {
    /// Reads, judges and (as the mode says) clears the agent at `socket`; the report, and the
    /// agent instance when it could be read (its records are kept).
    fn agent(&mut self, socket: &Path) -> (AgentReport, Option<AgentInstance>) {
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
        } = match open(socket, self.uid) {
            Ok(o) => o,
            Err(e) => {
                report.error = Some(e);
                return (report, None);
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
        // What keycheck tracked before this pass: read before `observe` records what is
        // loaded now.
        let tracked: Vec<String> = self
            .cache
            .agents
            .iter()
            .filter(|r| r.agent == instance)
            .flat_map(|r| r.first_seen.keys().cloned())
            .collect();
        let loaded: Vec<(&Identity, &str)> = identities
            .iter()
            .filter_map(|i| i.fingerprint.as_deref().map(|fp| (i, fp)))
            .collect();
        let fingerprints: Vec<&str> = loaded.iter().map(|(_, fp)| *fp).collect();
        let verdicts: Vec<Verdict> =
            self.cache
                .observe(&instance, &fingerprints, self.now, self.window);

        let mut judged: Vec<(&Identity, &Verdict, bool)> = Vec::new();
        for (identity, fp) in &loaded {
            let Some(v) = verdicts.iter().find(|v| v.fingerprint == *fp) else {
                continue;
            };
            let target = match self.mode {
                Mode::Look => false,
                Mode::Enforce => v.expired,
                Mode::Clear(ClearScope::All) => true,
                Mode::Clear(ClearScope::Tracked) => tracked.iter().any(|t| t == fp),
            };
            judged.push((identity, v, target));
        }
        let mut verdict_of: Vec<IdentityVerdict> = judged
            .iter()
            .map(|(_, v, _)| {
                if v.expired {
                    IdentityVerdict::Expired
                } else {
                    IdentityVerdict::Ok
                }
            })
            .collect();
        let any_target = judged.iter().any(|(_, _, t)| *t);

        match &report.kind {
            Some(AgentKind::Vault { .. }) => {
                for (slot, (_, _, target)) in verdict_of.iter_mut().zip(&judged) {
                    if *target {
                        *slot = IdentityVerdict::Kept;
                    }
                }
                if any_target {
                    report.note = Some(
                        "a password manager's agent: keycheck reports, and leaves its keys to \
                         its own rules"
                            .to_owned(),
                    );
                }
            }
            Some(AgentKind::GpgAgent { .. }) if any_target => {
                // gpg-agent ignores remove requests for the keys it holds; forgetting its
                // cached passphrases is what ends their window.
                match clear_gpg_agent(socket, self.uid) {
                    Ok(()) => {
                        for (slot, (_, v, target)) in verdict_of.iter_mut().zip(&judged) {
                            if *target {
                                *slot = IdentityVerdict::Cleared;
                                // The passphrase must be given again: a new unlock, a new
                                // window.
                                self.cache.forget(&instance, &v.fingerprint);
                            }
                        }
                        report.note = Some(
                            "gpg-agent ignores remove requests: its cached passphrases were \
                             cleared with `gpg-connect-agent reloadagent`"
                                .to_owned(),
                        );
                    }
                    Err(e) => {
                        report.note = Some(format!(
                            "gpg-agent ignores remove requests, and clearing its cache failed: {e}"
                        ));
                    }
                }
            }
            Some(AgentKind::GpgAgent { .. }) => {}
            _ if any_target => {
                let all = self.mode == Mode::Clear(ClearScope::All);
                // Remove-all (19) when everything goes; one remove (18) per identity
                // otherwise, and when an agent refuses remove-all.
                let removed_all = all && matches!(conn.remove_all(), Ok(true));
                let mut refused = 0usize;
                for (slot, (identity, v, target)) in verdict_of.iter_mut().zip(&judged) {
                    if !*target {
                        continue;
                    }
                    if removed_all || matches!(conn.remove(&identity.blob), Ok(true)) {
                        *slot = IdentityVerdict::Removed;
                        self.cache.forget(&instance, &v.fingerprint);
                    } else {
                        refused += 1;
                    }
                }
                if refused > 0 {
                    report.error = Some(format!(
                        "the agent did not remove {refused} of the identities keycheck asked \
                         it to remove"
                    ));
                }
            }
            _ => {}
        }

        for ((identity, v, _), verdict) in judged.iter().zip(verdict_of) {
            report.identities.push(IdentityReport {
                fingerprint: v.fingerprint.clone(),
                comment: identity.comment.clone(),
                algorithm: identity.algorithm.clone(),
                first_seen: rfc3339(v.first_seen),
                seconds_left: v.remaining(self.now),
                verdict,
            });
        }
        (report, Some(instance))
    }
}

/// Why gpg-agent's cache could not be cleared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum GpgClearError {
    /// The agent's control socket is not beside its ssh socket.
    #[error("no gpg-agent control socket {control} beside {socket} ({reason})")]
    NoControlSocket {
        /// The ssh socket.
        socket: String,
        /// Where the control socket was looked for.
        control: String,
        /// What is there instead.
        reason: String,
    },
    /// `gpg-connect-agent` could not be started.
    #[error("cannot run gpg-connect-agent: {detail}")]
    Spawn {
        /// The error as one phrase.
        detail: String,
    },
    /// It did not finish in time.
    #[error("gpg-connect-agent did not finish within {} s", .0.as_secs())]
    Timeout(Duration),
    /// gpg-agent did not accept the request.
    #[error("gpg-agent did not accept RELOADAGENT: {detail}")]
    Refused {
        /// Its answer or exit status.
        detail: String,
    },
}

/// Clears the passphrase cache of the gpg-agent serving the ssh socket `socket`:
/// `gpg-connect-agent --no-autostart -S DIR/S.gpg-agent RELOADAGENT /bye`, where DIR is the
/// directory of the ssh socket (symlinks resolved), bounded in time.
///
/// Why the control socket beside the ssh socket, and not a GnuPG home: gpg-agent puts all
/// its sockets (`S.gpg-agent`, `.ssh`, `.extra`, `.browser`) in one socket directory, which
/// is either the home itself or `/run/user/UID/gnupg/d.HASH` (a hash of the home, which
/// cannot be turned back into it; gnupg's `common/homedir.c`). The socket being handled is
/// the one fact keycheck holds for certain, so its directory names the right agent,
/// whichever home it serves. The alternatives guess: the agent's environment (`GNUPGHOME`)
/// cannot be read, because gpg-agent makes itself non-dumpable; its command line names
/// `--homedir` only when gpg or gpgconf started it; and keycheck's own `GNUPGHOME` or
/// `~/.gnupg` may belong to another agent. `--no-autostart` makes sure no agent is started
/// when this one is gone.
fn clear_gpg_agent(socket: &Path, uid: u32) -> Result<(), GpgClearError> {
    let real = std::fs::canonicalize(socket).unwrap_or_else(|_| socket.to_path_buf());
    let control = real.parent().unwrap_or(Path::new("/")).join("S.gpg-agent");
    let missing = |reason: String| GpgClearError::NoControlSocket {
        socket: socket.display().to_string(),
        control: control.display().to_string(),
        reason,
    };
    let meta = std::fs::symlink_metadata(&control).map_err(|e| missing(e.kind().to_string()))?;
    if !meta.file_type().is_socket() {
        return Err(missing("not a socket".to_owned()));
    }
    if meta.uid() != uid {
        return Err(missing(format!("owned by uid {}, not you", meta.uid())));
    }
    let mut child = Command::new("gpg-connect-agent")
        .arg("--no-autostart")
        .arg("-S")
        .arg(&control)
        .args(["RELOADAGENT", "/bye"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| GpgClearError::Spawn {
            detail: e.to_string(),
        })?;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut stdout = stdout;
            let _ = (&mut stdout).take(GPG_MAX_OUTPUT).read_to_end(&mut bytes);
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            let _ = tx.send(bytes);
        });
    }
    let deadline = Instant::now() + GPG_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                // Not reaped yet, so the group id is still its own.
                let _ = rustix::process::kill_process_group(
                    rustix::process::Pid::from_child(&child),
                    rustix::process::Signal::KILL,
                );
                let _ = child.kill();
                let _ = child.wait();
                return Err(GpgClearError::Timeout(GPG_TIMEOUT));
            }
        }
    };
    let output = rx
        .recv_timeout(Duration::from_millis(500))
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&output);
    // Assuan (gpg-connect-agent prints the agent's answer): `OK` or `ERR code text`.
    if let Some(err) = text.lines().find(|l| l.starts_with("ERR")) {
        return Err(GpgClearError::Refused {
            detail: err.trim().to_owned(),
        });
    }
    if !status.success() || !text.lines().any(|l| l.trim() == "OK") {
        return Err(GpgClearError::Refused {
            detail: format!("gpg-connect-agent exited with {status}"),
        });
    }
    Ok(())
}

/// The persisted clock; an unreadable file is set aside (with a warning) and the clock
/// starts over.
fn load_state(dir: &Path, warnings: &mut Vec<String>) -> CacheState {
    match state::read(dir, STATE_FILE) {
        Ok(Some(bytes)) => match serde_json::from_slice::<CacheState>(&bytes) {
            Ok(s) if s.version == STATE_VERSION => s,
            _ => {
                warnings.push(format!(
                    "{} is not a state file this keycheck reads; starting the cache clock over",
                    dir.join(STATE_FILE).display()
                ));
                state::set_aside(dir, STATE_FILE);
                CacheState::default()
            }
        },
        Ok(None) => CacheState::default(),
        Err(e) => {
            warnings.push(format!("{e}; starting the cache clock over"));
            CacheState::default()
        }
    }
}

/// Unix seconds as RFC 3339, or the number when it is out of range.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_spelt_as_the_document_spells_them() {
        for v in [
            IdentityVerdict::Ok,
            IdentityVerdict::Expired,
            IdentityVerdict::Removed,
            IdentityVerdict::Cleared,
            IdentityVerdict::Kept,
        ] {
            assert_eq!(
                serde_json::to_value(v).ok(),
                Some(serde_json::Value::from(v.as_str()))
            );
        }
    }

    #[test]
    fn removed_lists_what_was_removed_or_cleared_and_attention_what_stays_over() {
        let identity = |fp: &str, verdict| IdentityReport {
            fingerprint: fp.to_owned(),
            comment: String::new(),
            algorithm: None,
            first_seen: rfc3339(0),
            seconds_left: 0,
            verdict,
        };
        let mut doc = CacheDocument {
            schema: SCHEMA,
            profile: "laptop",
            window_seconds: 60,
            agents: vec![AgentReport {
                socket: "/s".to_owned(),
                pid: None,
                kind: None,
                identities: vec![
                    identity("SHA256:a", IdentityVerdict::Removed),
                    identity("SHA256:b", IdentityVerdict::Ok),
                    identity("SHA256:c", IdentityVerdict::Cleared),
                ],
                error: None,
                note: None,
            }],
            warnings: Vec::new(),
        };
        let removed: Vec<&str> = doc
            .removed()
            .iter()
            .map(|(_, i)| i.fingerprint.as_str())
            .collect();
        assert_eq!(removed, ["SHA256:a", "SHA256:c"]);
        assert!(!doc.needs_attention());
        doc.agents[0].identities[1].verdict = IdentityVerdict::Kept;
        assert!(doc.needs_attention());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
