//! The background agent as a process: one instance per user, no core dumps, logs to
//! journald under systemd and to stderr otherwise, and signals turned into messages.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::mpsc::Sender;

use anyhow::{bail, Context as _, Result};
use rustix::fs::FlockOperation;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use super::Wake;

/// The lock file that keeps a second agent of the same user from starting.
const LOCK_FILE: &str = "agent.lock";

/// Logs through `tracing`: to journald when systemd started us with the journal as
/// output (`JOURNAL_STREAM`), else to stderr. `KEYCHECK_LOG` filters (default `info`).
/// No log line ever carries key material: the agent only handles facts and findings.
pub(super) fn init_logging() {
    // The watcher crate logs its own recoverable trouble (a watch that vanished with
    // its directory) at info and warn; the agent reports what matters itself.
    let filter = EnvFilter::try_from_env("KEYCHECK_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,notify=error"));
    let registry = tracing_subscriber::registry().with(filter);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        match tracing_journald::layer() {
            Ok(journald) => {
                let _ = registry
                    .with(journald.with_syslog_identifier("keycheck".to_owned()))
                    .try_init();
                return;
            }
            Err(e) => eprintln!("keycheck: journald unavailable ({e}); logging to stderr"),
        }
    }
    let _ = registry
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_target(false),
        )
        .try_init();
}

/// No core dumps, and no ptrace attach by other processes of the same user: the agent
/// reads key files (into memory wiped after use) and must not leave them in a core.
pub(super) fn harden() {
    for problem in keycheck::sys::hardening::harden() {
        tracing::warn!("{problem}");
    }
}

/// Holds the per-user lock while the agent runs (released when dropped or at exit).
#[derive(Debug)]
pub(super) struct InstanceLock {
    _file: File,
}

/// Takes the per-user agent lock in `dir`, writing our pid into it.
///
/// # Errors
/// When another agent holds it (its pid in the message), or the file cannot be opened.
pub(super) fn lock(dir: &Path) -> Result<InstanceLock> {
    let path = dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if let Err(e) = rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            if pid.is_empty() {
                bail!("another keycheck agent is already running for this user");
            }
            bail!("another keycheck agent is already running for this user (pid {pid})");
        }
        return Err(std::io::Error::from(e)).with_context(|| format!("locking {}", path.display()));
    }
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "{}", std::process::id())?;
    Ok(InstanceLock { _file: file })
}

/// The pid of the agent holding the lock in `dir`, or `None` when no agent runs.
pub(crate) fn running_agent(dir: &Path) -> Option<u32> {
    let mut file = std::fs::File::open(dir.join(LOCK_FILE)).ok()?;
    match rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared) {
        // We got the lock: nobody holds it.
        Ok(()) => None,
        Err(_) => {
            let mut pid = String::new();
            file.read_to_string(&mut pid).ok()?;
            pid.trim().parse().ok()
        }
    }
}

/// Turns SIGTERM, SIGINT and SIGHUP into [`Wake::Signal`] messages on a thread of
/// their own.
///
/// # Errors
/// When the handlers cannot be installed.
pub(super) fn forward_signals(tx: Sender<Wake>) -> Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .context("installing signal handlers")?;
    std::thread::Builder::new()
        .name("signals".to_owned())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(Wake::Signal(signal)).is_err() {
                    break;
                }
            }
        })
        .context("starting the signal thread")?;
    Ok(())
}
