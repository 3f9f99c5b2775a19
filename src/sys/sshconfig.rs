//! EDGE: the ssh client configuration as the real client computes it.
//!
//! For the probe host ([`PROBE_HOST`], standing for `Host *`) and every literal `Host`
//! name of `~/.ssh/config` and the files it includes, this runs `ssh -G -F CONFIG -- HOST`
//! (the same `Include` and `Match` evaluation as a real connection) and reads the output
//! with the pure [`crate::sshconfig`] module, which also places each value in the files.
//!
//! Safety: ssh runs with stdin closed, `HOME` set to the given home, in its own process
//! group, and is killed with that group after [`ReadOptions::timeout`] (a `Match exec`
//! command can hang; ssh runs it even for `-G`); all hosts together get
//! [`ReadOptions::total_timeout`]. Configuration files are opened without blocking and
//! read up to [`ReadOptions::max_file_size`]; `Include` nesting and the number of files
//! are bounded. A missing or unreadable file is a problem in the facts, never an error.
//!
//! `-F` is always given, so the system-wide `/etc/ssh/ssh_config` is not read; and as in
//! ssh, a missing or unreadable main file means the client's defaults (`-F none`).
//! Facts only: judging them is the rules' job.

use std::ffi::OsString;
use std::io::{self, Read as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::sshconfig::{
    glob_match, has_glob_meta, problem_from_stderr, ClientConfig, ConfigProblem, ConfigText,
    HostSettings, IncludedFile, SshConfigFacts, MAX_CONFIG_FILES, PROBE_HOST,
};
use crate::sys::scan::{describe_io, display_path, read_bounded, ReadError};

/// The most `ssh -G` output kept per stream (the real output is about 5 KB).
const MAX_OUTPUT: u64 = 1024 * 1024;

/// How often a running `ssh -G` is checked on.
const POLL: Duration = Duration::from_millis(5);

/// How long the output of an exited `ssh -G` is waited for (a process it started could
/// still hold the pipes open).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);

/// Limits for reading the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// How long one `ssh -G` may run before it is killed.
    pub timeout: Duration,
    /// How long all `ssh -G` runs together may take; hosts left are reported, not run.
    pub total_timeout: Duration,
    /// The most `Host` names asked about (besides the probe).
    pub max_hosts: usize,
    /// The largest configuration file read by the hand scan, in bytes.
    pub max_file_size: u64,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(60),
            max_hosts: 256,
            max_file_size: 1024 * 1024,
        }
    }
}

/// keycheck could not read the configuration at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SshConfigError {
    /// The ssh client could not be started (missing, not executable).
    #[error("cannot run {ssh}: {kind}")]
    Spawn {
        /// The ssh binary as given.
        ssh: String,
        /// Why it could not be started.
        kind: io::ErrorKind,
    },
}

/// Reads the effective ssh client configuration of the user whose home is `home`, with
/// the default [`ReadOptions`].
///
/// `ssh` is the client binary to run; `config` the main configuration file (default
/// `HOME/.ssh/config`).
///
/// # Errors
/// [`SshConfigError::Spawn`] when `ssh` cannot be started. Everything else (a missing
/// or unreadable configuration, a host `ssh -G` refuses or that hangs) is a problem
/// in the returned facts.
pub fn read_ssh_config(
    ssh: &Path,
    home: &Path,
    config: Option<&Path>,
) -> Result<SshConfigFacts, SshConfigError> {
    read_ssh_config_with(ssh, home, config, &ReadOptions::default())
}

/// [`read_ssh_config`] with explicit limits.
///
/// # Errors
/// [`SshConfigError::Spawn`] when `ssh` cannot be started.
pub fn read_ssh_config_with(
    ssh: &Path,
    home: &Path,
    config: Option<&Path>,
    options: &ReadOptions,
) -> Result<SshConfigFacts, SshConfigError> {
    let config_path = config.map_or_else(|| home.join(".ssh").join("config"), Path::to_path_buf);
    let shown = display_path(&config_path);
    let home_shown = display_path(home);
    let mut problems = Vec::new();
    let file_problem = |reason: String| ConfigProblem {
        file: Some(shown.clone()),
        line: None,
        hosts: Vec::new(),
        reason,
    };

    // What ssh gets with -F, and what the hand scan reads.
    let (config_read, scan) = match read_text(&config_path, options.max_file_size) {
        Ok(text) => {
            let scan = ConfigText::from_files(&shown, &text, |pattern| {
                resolve_include(pattern, home, options.max_file_size)
            });
            (true, scan)
        }
        Err(TextError::TooLarge(reason)) => {
            // ssh reads it anyway; only the lines of values are lost.
            problems.push(file_problem(reason));
            let scan = ConfigText {
                files: vec![shown.clone()],
                ..ConfigText::default()
            };
            (true, scan)
        }
        Err(TextError::Unreadable(reason)) => {
            problems.push(file_problem(format!(
                "{reason}; the client's defaults apply"
            )));
            (false, ConfigText::default())
        }
    };
    problems.extend(scan.problems.iter().cloned());

    let mut hosts = scan.literal_hosts();
    if hosts.len() > options.max_hosts {
        problems.push(ConfigProblem {
            file: Some(shown.clone()),
            line: None,
            hosts: hosts.split_off(options.max_hosts),
            reason: format!(
                "more than {} Host names; the rest not examined",
                options.max_hosts
            ),
        });
    }
    hosts.insert(0, PROBE_HOST.to_owned());

    let f_arg: OsString = if config_read {
        config_path.into_os_string()
    } else {
        OsString::from("none")
    };
    let started = Instant::now();
    let mut settings = Vec::new();
    let mut not_run = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        if started.elapsed() >= options.total_timeout {
            not_run.push(host.clone());
            continue;
        }
        let host_problem = |reason: String| ConfigProblem {
            file: None,
            line: None,
            hosts: vec![host.clone()],
            reason,
        };
        match run_ssh_g(ssh, home, &f_arg, host, options.timeout) {
            Ok(Run::Exited {
                status,
                stdout,
                stderr,
            }) => {
                if !status.success() {
                    problems.push(problem_from_stderr(&stderr, host));
                    continue;
                }
                match ClientConfig::from_ssh_g(&stdout) {
                    Ok(client) => settings.push(HostSettings::from_client(
                        host,
                        &client,
                        &scan,
                        &shown,
                        &home_shown,
                    )),
                    Err(error) => problems.push(host_problem(error.to_string())),
                }
            }
            Ok(Run::TimedOut) => problems.push(host_problem(format!(
                "ssh -G did not finish within {} s (a Match exec command, or an included file that blocks?); killed",
                options.timeout.as_secs_f64()
            ))),
            Ok(Run::Failed(error)) => problems.push(host_problem(format!(
                "waiting for ssh -G: {}",
                describe_io(&error)
            ))),
            Err(error) if index == 0 => {
                return Err(SshConfigError::Spawn {
                    ssh: display_path(ssh),
                    kind: error.kind(),
                })
            }
            Err(error) => problems.push(host_problem(format!(
                "cannot run ssh -G: {}",
                describe_io(&error)
            ))),
        }
    }
    if !not_run.is_empty() {
        problems.push(ConfigProblem {
            file: None,
            line: None,
            hosts: not_run,
            reason: format!(
                "not examined: ssh -G runs took more than {} s in all",
                options.total_timeout.as_secs_f64()
            ),
        });
    }
    Ok(SshConfigFacts::new(
        shown,
        config_read,
        scan.files,
        settings,
        problems,
    ))
}

/// Why a configuration file's text is not available.
enum TextError {
    /// Missing, unreadable or not a regular file: ssh cannot read it either.
    Unreadable(String),
    /// Larger than the scan reads; ssh still can.
    TooLarge(String),
}

/// Reads a configuration file's text (lossily: ssh does not care about UTF-8).
fn read_text(path: &Path, max: u64) -> Result<String, TextError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        TextError::Unreadable(if e.kind() == io::ErrorKind::NotFound {
            "no such file".to_owned()
        } else {
            describe_io(&e)
        })
    })?;
    if !meta.is_file() {
        return Err(TextError::Unreadable(
            "not a regular file; not opened".to_owned(),
        ));
    }
    let too_large = || {
        TextError::TooLarge(format!(
            "larger than {max} bytes; not scanned for the lines of settings"
        ))
    };
    if meta.len() > max {
        return Err(too_large());
    }
    match read_bounded(path, max) {
        Ok((bytes, _)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(ReadError::Io(e)) => Err(TextError::Unreadable(describe_io(&e))),
        Err(ReadError::NotRegular(kind)) => Err(TextError::Unreadable(format!(
            "not a regular file ({kind}); not read"
        ))),
        Err(ReadError::TooLarge) => Err(too_large()),
    }
}

/// Resolves one `Include` argument as ssh does for a user configuration
/// (`readconf.c`): `~` and `~/` are the home, a relative path is relative to `~/.ssh`,
/// and globs (`glob(3)`) name the files, sorted; a pattern that matches nothing is no
/// file, and no error.
fn resolve_include(pattern: &str, home: &Path, max: u64) -> Result<Vec<IncludedFile>, String> {
    let full = if pattern == "~" {
        home.to_path_buf()
    } else if let Some(rest) = pattern.strip_prefix("~/") {
        home.join(rest)
    } else if pattern.starts_with('~') {
        return Err("~user paths are not followed".to_owned());
    } else if pattern.starts_with('/') {
        PathBuf::from(pattern)
    } else {
        home.join(".ssh").join(pattern)
    };
    Ok(expand_glob(&full)
        .into_iter()
        .map(|path| IncludedFile {
            path: display_path(&path),
            text: read_text(&path, max).map_err(|e| match e {
                TextError::Unreadable(reason) | TextError::TooLarge(reason) => reason,
            }),
        })
        .collect())
}

/// The existing paths a glob names, sorted, at most [`MAX_CONFIG_FILES`].
fn expand_glob(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for component in pattern.components() {
        let glob = match component {
            Component::Normal(name) => name.to_str().filter(|n| has_glob_meta(n)),
            _ => None,
        };
        let Some(glob) = glob else {
            for path in &mut found {
                path.push(component);
            }
            continue;
        };
        let mut next = Vec::new();
        for dir in &found {
            let readable = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            let Ok(entries) = std::fs::read_dir(readable) else {
                continue;
            };
            let mut names: Vec<_> = entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(|n| n.to_str().is_some_and(|n| glob_match(glob, n)))
                .collect();
            names.sort();
            next.extend(names.into_iter().map(|n| dir.join(n)));
            if next.len() > MAX_CONFIG_FILES {
                break;
            }
        }
        found = next;
    }
    found.retain(|path| std::fs::symlink_metadata(path).is_ok());
    found.sort();
    found.truncate(MAX_CONFIG_FILES);
    found
}

/// How one `ssh -G` run ended.
enum Run {
    /// It exited on its own.
    Exited {
        status: ExitStatus,
        stdout: String,
        stderr: String,
    },
    /// It ran past the timeout and was killed.
    TimedOut,
    /// Waiting for it failed (it was killed).
    Failed(io::Error),
}

/// Runs `ssh -G -F CONFIG -- HOST` with stdin closed and `HOME` set, in its own process
/// group, killing the group if it runs longer than `timeout`.
///
/// # Errors
/// The spawn error when ssh cannot be started.
fn run_ssh_g(
    ssh: &Path,
    home: &Path,
    config: &OsString,
    host: &str,
    timeout: Duration,
) -> io::Result<Run> {
    let mut child = Command::new(ssh)
        .arg("-G")
        .arg("-F")
        .arg(config)
        .arg("--")
        .arg(host)
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    if let Some(stdout) = child.stdout.take() {
        collect(stdout, true, tx.clone());
    }
    if let Some(stderr) = child.stderr.take() {
        collect(stderr, false, tx.clone());
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(POLL),
            Ok(None) => {
                kill(&mut child);
                return Ok(Run::TimedOut);
            }
            Err(error) => {
                kill(&mut child);
                return Ok(Run::Failed(error));
            }
        }
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let grace = Instant::now() + OUTPUT_GRACE;
    for _ in 0..2 {
        match rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
            Ok((true, bytes)) => stdout = bytes,
            Ok((false, bytes)) => stderr = bytes,
            Err(_) => break,
        }
    }
    Ok(Run::Exited {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Reads a child's stream on a thread (at most [`MAX_OUTPUT`] kept, the rest drained so
/// the child never blocks on a full pipe) and sends it when the stream closes.
fn collect(
    mut stream: impl io::Read + Send + 'static,
    is_stdout: bool,
    tx: mpsc::Sender<(bool, Vec<u8>)>,
) {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = (&mut stream).take(MAX_OUTPUT).read_to_end(&mut bytes);
        let _ = io::copy(&mut stream, &mut io::sink());
        let _ = tx.send((is_stdout, bytes));
    });
}

/// Kills the child's whole process group (ssh and any `Match exec` command it started),
/// then the child itself, and reaps it. The child is not reaped before the group is
/// signalled, so its id cannot have been reused.
fn kill(child: &mut Child) {
    let _ = rustix::process::kill_process_group(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::KILL,
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn globs_name_existing_files_sorted() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("conf.d/sub")).unwrap();
        for name in ["b.conf", "a.conf", ".hidden.conf", "c.txt"] {
            std::fs::write(d.join("conf.d").join(name), "Host x\n").unwrap();
        }
        std::fs::write(d.join("conf.d/sub/z.conf"), "").unwrap();
        let found = expand_glob(&d.join("conf.d/*.conf"));
        assert_eq!(found, [d.join("conf.d/a.conf"), d.join("conf.d/b.conf")]);
        let found = expand_glob(&d.join("*/s?b/*"));
        assert_eq!(found, [d.join("conf.d/sub/z.conf")]);
        assert!(expand_glob(&d.join("conf.d/missing")).is_empty());
        assert_eq!(
            expand_glob(&d.join("conf.d/c.txt")),
            [d.join("conf.d/c.txt")]
        );
    }

    #[test]
    fn includes_resolve_like_ssh() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        std::fs::create_dir_all(h.join(".ssh/conf.d")).unwrap();
        std::fs::write(h.join(".ssh/conf.d/one"), "Host one\n").unwrap();
        std::fs::write(h.join("top"), "Host top\n").unwrap();
        let relative = resolve_include("conf.d/*", h, 1024).unwrap();
        assert_eq!(relative.len(), 1);
        assert_eq!(relative[0].path, display_path(&h.join(".ssh/conf.d/one")));
        assert_eq!(relative[0].text.as_deref(), Ok("Host one\n"));
        let tilde = resolve_include("~/top", h, 1024).unwrap();
        assert_eq!(tilde[0].text.as_deref(), Ok("Host top\n"));
        let absolute = resolve_include(&display_path(&h.join("t*")), h, 1024).unwrap();
        assert_eq!(absolute.len(), 1);
        assert!(resolve_include("~bob/x", h, 1024).is_err());
        let small = resolve_include("~/top", h, 3).unwrap();
        assert!(small[0].text.is_err());
    }
}
