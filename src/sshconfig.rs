//! PURE: the ssh client configuration as facts: what `ssh -G HOST` says about the agent
//! cache (`AddKeysToAgent`), agent forwarding, `UseKeychain`, identity files and the agent
//! socket, for every host the configuration names, and where each setting was written.
//!
//! The effective values come from the real client (`ssh -G` follows `Include` and
//! `Match` exactly as a connection would; the edge `sys::sshconfig` runs it). This module
//! only reads text:
//!
//! - [`ConfigText`] is a light hand scan of the configuration files (ssh_config(5) syntax,
//!   `Include`s resolved through a callback). It finds the literal host names worth asking
//!   `ssh -G` about, and the file and line a value most likely came from.
//! - [`ClientConfig::from_ssh_g`] reads the output of `ssh -G`.
//! - [`HostSettings::from_client`] joins the two into facts, and
//!   [`SshConfigFacts::issues`] is the judging helper the cache rules build on.
//!
//! No I/O here: no files, no processes, no environment.

use std::collections::HashSet;
use std::sync::Arc;

use serde::Serialize;

/// The host name asked about to stand for `Host *`: `.invalid` is reserved (RFC 6761 §6.4),
/// so no specific `Host` block is meant for it.
pub const PROBE_HOST: &str = "keycheck-probe.invalid";

/// How issues found for [`PROBE_HOST`] name their host.
pub const ALL_HOSTS: &str = "*";

/// ssh refuses `Include`s nested deeper than this (`READCONF_MAX_DEPTH` in `readconf.c`).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// The most configuration files one scan reads (globs in `Include` could name many).
pub const MAX_CONFIG_FILES: usize = 256;

/// The longest problem text kept from ssh's own error output.
const REASON_MAX: usize = 300;

// ---------------------------------------------------------------------------------------
// Facts
// ---------------------------------------------------------------------------------------

/// Where a setting was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Source {
    /// The configuration file.
    pub file: String,
    /// The line of the directive; `None` when the hand scan could not tell which line
    /// (the file is then the main configuration file).
    pub line: Option<u32>,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// A value and where it was written; `source` is `None` for the client's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    /// The effective value.
    pub value: T,
    /// Where it was written; `None` when it is the client's default.
    pub source: Option<Source>,
}

/// The `AddKeysToAgent` mode (ssh_config(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddKeysMode {
    /// Keys are not added to the agent (the default).
    No,
    /// Keys are added to the agent as they are used.
    Yes,
    /// ssh asks before adding each key.
    Ask,
    /// Keys are added, and the agent asks before each use.
    Confirm,
}

/// The effective `AddKeysToAgent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct AddKeysToAgent {
    /// Whether and how keys are added.
    pub mode: AddKeysMode,
    /// How long the agent keeps an added key, in seconds; `None` = no time given, so the
    /// agent's own default applies (none, unless it was started with `-t`).
    pub lifetime_secs: Option<u32>,
}

/// The effective `ForwardAgent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardAgent {
    /// No agent forwarding (the default).
    No,
    /// The agent in `$SSH_AUTH_SOCK` is forwarded.
    Yes,
    /// The agent listening on this socket (as `ssh -G` prints it) is forwarded.
    Socket(String),
}

/// One `IdentityFile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityFile {
    /// The path with `~` and the `%d`, `%h`, `%n`, `%p`, `%r` and `%%` tokens expanded.
    pub path: String,
    /// As `ssh -G` printed it (`~/.ssh/id_ed25519`).
    pub written: String,
    /// Where it was written; `None` for the client's default list.
    pub source: Option<Source>,
}

/// The effective settings of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSettings {
    /// The name given to `ssh -G` ([`PROBE_HOST`] for the probe).
    pub host: String,
    /// True for the probe that stands for `Host *`.
    pub probe: bool,
    /// The `hostname` ssh would connect to.
    pub hostname: Option<String>,
    /// The remote `user`.
    pub user: Option<String>,
    /// `AddKeysToAgent`; `None` when the client did not print it.
    pub add_keys_to_agent: Option<Sourced<AddKeysToAgent>>,
    /// `ForwardAgent`; `None` when the client did not print it.
    pub forward_agent: Option<Sourced<ForwardAgent>>,
    /// `UseKeychain`; only Apple's ssh knows it (elsewhere it is a configuration error,
    /// or ignored under `IgnoreUnknown`), so it is `None` everywhere else.
    pub use_keychain: Option<Sourced<bool>>,
    /// `IdentityFile`s, in the order ssh tries them (`none` left out).
    pub identity_files: Vec<IdentityFile>,
    /// `IdentityAgent`, as printed (ssh has expanded `~` with the passwd home already).
    pub identity_agent: Option<Sourced<String>>,
}

/// Something that kept keycheck from reading part of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigProblem {
    /// The file at fault, when known.
    pub file: Option<String>,
    /// The line at fault, when known.
    pub line: Option<u32>,
    /// The hosts whose settings are missing because of it (empty for file problems).
    pub hosts: Vec<String>,
    /// What went wrong (ssh's own words when it refused the configuration).
    pub reason: String,
}

/// Everything keycheck learns from the ssh client configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshConfigFacts {
    /// The main configuration file (`~/.ssh/config` unless another was given).
    pub config: String,
    /// False when that file is missing or unreadable: the settings are then the
    /// client's defaults (`ssh -G -F none`), as ssh itself falls back to them.
    pub config_read: bool,
    /// Every configuration file read, the main one first, then `Include`s in order.
    pub files: Vec<String>,
    /// Settings per host: the probe for `Host *` first, then every literal `Host` name.
    pub hosts: Vec<HostSettings>,
    /// Every identity file of every host, expanded, each once, in first-seen order.
    pub identity_files: Vec<String>,
    /// Files that could not be read, hosts `ssh -G` failed for.
    pub problems: Vec<ConfigProblem>,
}

impl SshConfigFacts {
    /// Assembles the facts and derives the deduplicated identity file list.
    #[must_use]
    pub fn new(
        config: String,
        config_read: bool,
        files: Vec<String>,
        hosts: Vec<HostSettings>,
        problems: Vec<ConfigProblem>,
    ) -> Self {
        let mut identity_files: Vec<String> = Vec::new();
        for file in hosts.iter().flat_map(|h| &h.identity_files) {
            if !identity_files.contains(&file.path) {
                identity_files.push(file.path.clone());
            }
        }
        SshConfigFacts {
            config,
            config_read,
            files,
            hosts,
            identity_files,
            problems: merge_problems(problems),
        }
    }

    /// The issues the cache rules judge, for a cache window of `window_secs` seconds.
    ///
    /// What the probe host has is reported once, for [`ALL_HOSTS`]; a specific host is
    /// reported only where its issue differs from the probe's (another value, or the same
    /// value written elsewhere). [`ConfigIssue::ForwardAgentEverywhere`] comes from the
    /// probe only.
    #[must_use]
    pub fn issues(&self, window_secs: u64) -> Vec<ConfigIssue> {
        let probe_issues: Vec<ConfigIssue> = self
            .hosts
            .iter()
            .filter(|h| h.probe)
            .flat_map(|h| host_issues(h, ALL_HOSTS, window_secs))
            .collect();
        let mut out = probe_issues.clone();
        for host in self.hosts.iter().filter(|h| !h.probe) {
            for issue in host_issues(host, &host.host, window_secs) {
                if !probe_issues.iter().any(|p| p.same_but_host(&issue)) && !out.contains(&issue) {
                    out.push(issue);
                }
            }
        }
        out
    }
}

/// A cache or forwarding setting the rules may judge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "issue", rename_all = "kebab-case")]
pub enum ConfigIssue {
    /// `AddKeysToAgent yes`, `ask` or `confirm` without a time: keys stay in the agent
    /// for as long as it runs (unless the agent was started with `-t`).
    CacheUnbounded {
        /// The host, or [`ALL_HOSTS`].
        host: String,
        /// The mode that adds keys.
        mode: AddKeysMode,
        /// Where it was written.
        source: Source,
    },
    /// `AddKeysToAgent` with a time longer than the policy's window.
    CacheWindowExceeded {
        /// The host, or [`ALL_HOSTS`].
        host: String,
        /// The configured lifetime in seconds.
        secs: u32,
        /// Where it was written.
        source: Source,
    },
    /// `UseKeychain yes` (macOS): passphrases are stored in the login keychain.
    UseKeychain {
        /// The host, or [`ALL_HOSTS`].
        host: String,
        /// Where it was written.
        source: Source,
    },
    /// `ForwardAgent` on for `Host *`: every server reached can use the agent.
    ForwardAgentEverywhere {
        /// Where it was written.
        source: Source,
    },
}

impl ConfigIssue {
    /// Returns true if and only if both are the same issue from the same place, whatever
    /// host each names.
    fn same_but_host(&self, other: &ConfigIssue) -> bool {
        use ConfigIssue as I;
        match (self, other) {
            (
                I::CacheUnbounded {
                    mode: a, source: s, ..
                },
                I::CacheUnbounded {
                    mode: b, source: t, ..
                },
            ) => a == b && s == t,
            (
                I::CacheWindowExceeded {
                    secs: a, source: s, ..
                },
                I::CacheWindowExceeded {
                    secs: b, source: t, ..
                },
            ) => a == b && s == t,
            (I::UseKeychain { source: s, .. }, I::UseKeychain { source: t, .. }) => s == t,
            (I::ForwardAgentEverywhere { source: s }, I::ForwardAgentEverywhere { source: t }) => {
                s == t
            }
            _ => false,
        }
    }
}

/// The issues of one host's settings, naming it `name`.
fn host_issues(host: &HostSettings, name: &str, window_secs: u64) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    let unknown = || Source {
        file: String::new(),
        line: None,
    };
    if let Some(add) = &host.add_keys_to_agent {
        let source = add.source.clone().unwrap_or_else(unknown);
        match (add.value.mode, add.value.lifetime_secs) {
            (AddKeysMode::No, _) => {}
            (mode, None) => out.push(ConfigIssue::CacheUnbounded {
                host: name.to_owned(),
                mode,
                source,
            }),
            (_, Some(secs)) if u64::from(secs) > window_secs => {
                out.push(ConfigIssue::CacheWindowExceeded {
                    host: name.to_owned(),
                    secs,
                    source,
                });
            }
            _ => {}
        }
    }
    if let Some(keychain) = &host.use_keychain {
        if keychain.value {
            out.push(ConfigIssue::UseKeychain {
                host: name.to_owned(),
                source: keychain.source.clone().unwrap_or_else(unknown),
            });
        }
    }
    if host.probe {
        if let Some(forward) = &host.forward_agent {
            if forward.value != ForwardAgent::No {
                out.push(ConfigIssue::ForwardAgentEverywhere {
                    source: forward.source.clone().unwrap_or_else(unknown),
                });
            }
        }
    }
    out
}

/// Merges problems with the same file, line and reason (one bad line makes `ssh -G` fail
/// for every host), keeping the hosts of each.
fn merge_problems(problems: Vec<ConfigProblem>) -> Vec<ConfigProblem> {
    let mut out: Vec<ConfigProblem> = Vec::new();
    for problem in problems {
        match out.iter_mut().find(|p| {
            p.file == problem.file && p.line == problem.line && p.reason == problem.reason
        }) {
            Some(same) => {
                for host in problem.hosts {
                    if !same.hosts.contains(&host) {
                        same.hosts.push(host);
                    }
                }
            }
            None => out.push(problem),
        }
    }
    out
}

/// A problem from what `ssh -G` wrote to stderr when it failed for `host`.
///
/// ssh names the place in two forms: `FILE line N: MESSAGE` (most directives) and
/// `FILE: line N: MESSAGE` (unknown keywords). The first line in either form wins;
/// otherwise the first non-blank line is the reason.
#[must_use]
pub fn problem_from_stderr(stderr: &str, host: &str) -> ConfigProblem {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    let placed = lines().find_map(|line| {
        let (file, rest) = line.split_once(" line ")?;
        let (number, message) = rest.split_once(": ")?;
        let line = number.parse::<u32>().ok()?;
        let file = file.strip_suffix(':').unwrap_or(file);
        Some((file.to_owned(), line, message.to_owned()))
    });
    let (file, line, reason) = match placed {
        Some((file, line, message)) => (Some(file), Some(line), message),
        None => (
            None,
            None,
            lines().next().map_or_else(
                || "ssh -G failed without a message".to_owned(),
                str::to_owned,
            ),
        ),
    };
    ConfigProblem {
        file,
        line,
        hosts: vec![host.to_owned()],
        reason: reason.chars().take(REASON_MAX).collect(),
    }
}

// ---------------------------------------------------------------------------------------
// `ssh -G` output
// ---------------------------------------------------------------------------------------

/// What `ssh -G HOST` printed, for the settings keycheck cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// `host`: the name asked about, lowercased by ssh.
    pub host: Option<String>,
    /// `hostname`.
    pub hostname: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `port`.
    pub port: Option<String>,
    /// `addkeystoagent`.
    pub add_keys_to_agent: Option<AddKeysToAgent>,
    /// `forwardagent`.
    pub forward_agent: Option<ForwardAgent>,
    /// `usekeychain` (Apple's ssh only).
    pub use_keychain: Option<bool>,
    /// `identityfile` lines, in order, as printed (`~` not expanded).
    pub identity_files: Vec<String>,
    /// `identityagent`.
    pub identity_agent: Option<String>,
}

/// `ssh -G` printed something keycheck cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// No `KEYWORD VALUE` line at all.
    #[error("ssh -G printed no configuration")]
    Empty,
    /// A value keycheck does not know for a setting it reads.
    #[error("ssh -G printed \"{keyword} {value}\", a value keycheck does not know")]
    Value {
        /// The keyword (`addkeystoagent`, ...).
        keyword: &'static str,
        /// The value as printed.
        value: String,
    },
}

impl ClientConfig {
    /// Reads the output of `ssh -G`: one lowercase `keyword value` per line, where the
    /// value is the rest of the line (`identityfile ~/.ssh/my key`).
    ///
    /// `addkeystoagent` as OpenSSH 9.2 prints it (measured): `AddKeysToAgent no` →
    /// `false`, `yes` → `true`, `ask` → `ask`, `confirm` → `confirm`, `confirm 10m` →
    /// `confirm 600`, `1h` → `3600` (a bare time means yes), `0` → `true` (a zero time
    /// is no time). `forwardagent` is `yes`, `no` or a socket path.
    ///
    /// # Errors
    /// [`OutputError::Empty`] when nothing reads as a setting, [`OutputError::Value`] for
    /// an `addkeystoagent`, `forwardagent` or `usekeychain` value keycheck does not know.
    pub fn from_ssh_g(text: &str) -> Result<Self, OutputError> {
        let mut config = ClientConfig::default();
        let mut settings = 0_usize;
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            let Some((keyword, value)) = line.split_once(' ') else {
                continue;
            };
            if keyword.is_empty() || !keyword.bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            settings += 1;
            match keyword {
                "host" => config.host = Some(value.to_owned()),
                "hostname" => config.hostname = Some(value.to_owned()),
                "user" => config.user = Some(value.to_owned()),
                "port" => config.port = Some(value.to_owned()),
                "addkeystoagent" => {
                    config.add_keys_to_agent =
                        Some(add_keys_printed(value).ok_or_else(|| OutputError::Value {
                            keyword: "addkeystoagent",
                            value: value.to_owned(),
                        })?);
                }
                "forwardagent" => {
                    config.forward_agent = Some(match yes_no(value) {
                        Some(true) => ForwardAgent::Yes,
                        Some(false) => ForwardAgent::No,
                        None if value.is_empty() => {
                            return Err(OutputError::Value {
                                keyword: "forwardagent",
                                value: String::new(),
                            })
                        }
                        None => ForwardAgent::Socket(value.to_owned()),
                    });
                }
                "usekeychain" => {
                    config.use_keychain =
                        Some(yes_no(value).ok_or_else(|| OutputError::Value {
                            keyword: "usekeychain",
                            value: value.to_owned(),
                        })?);
                }
                "identityfile" => config.identity_files.push(value.to_owned()),
                "identityagent" => config.identity_agent = Some(value.to_owned()),
                _ => {}
            }
        }
        if settings == 0 {
            return Err(OutputError::Empty);
        }
        Ok(config)
    }
}

/// `yes`/`true` or `no`/`false`, case-insensitive.
fn yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

/// An `addkeystoagent` value as `ssh -G` prints it.
fn add_keys_printed(value: &str) -> Option<AddKeysToAgent> {
    let mut words = value.split(' ');
    let first = words.next()?;
    let second = words.next();
    if words.next().is_some() {
        return None;
    }
    let lifetime = match second {
        Some(secs) => Some(secs.parse::<u32>().ok()?).filter(|&s| s > 0),
        None => None,
    };
    let mode = match first {
        "false" | "no" => {
            return (second.is_none()).then_some(AddKeysToAgent {
                mode: AddKeysMode::No,
                lifetime_secs: None,
            })
        }
        "true" | "yes" => AddKeysMode::Yes,
        "ask" => AddKeysMode::Ask,
        "confirm" => AddKeysMode::Confirm,
        digits if second.is_none() => {
            let secs = digits.parse::<u32>().ok()?;
            return Some(AddKeysToAgent {
                mode: AddKeysMode::Yes,
                lifetime_secs: (secs > 0).then_some(secs),
            });
        }
        _ => return None,
    };
    Some(AddKeysToAgent {
        mode,
        lifetime_secs: lifetime,
    })
}

/// An `AddKeysToAgent` directive's arguments as `readconf.c` reads them: `yes`, `no`,
/// `ask`, `confirm`, `confirm TIME`, or a bare `TIME` (meaning yes); a zero time is no
/// time. `None` when ssh would refuse it.
#[must_use]
pub fn add_keys_written(args: &[String]) -> Option<AddKeysToAgent> {
    let (first, second) = match args {
        [first] => (first.as_str(), None),
        [first, second] => (first.as_str(), Some(second.as_str())),
        _ => return None,
    };
    let mode = match first.to_ascii_lowercase().as_str() {
        "yes" | "true" => Some(AddKeysMode::Yes),
        "no" | "false" => Some(AddKeysMode::No),
        "ask" => Some(AddKeysMode::Ask),
        "confirm" => Some(AddKeysMode::Confirm),
        _ => None,
    };
    match (mode, second) {
        (Some(AddKeysMode::Confirm), Some(time)) => Some(AddKeysToAgent {
            mode: AddKeysMode::Confirm,
            lifetime_secs: Some(convtime(time)?).filter(|&s| s > 0),
        }),
        (Some(mode), None) => Some(AddKeysToAgent {
            mode,
            lifetime_secs: None,
        }),
        (None, None) => Some(AddKeysToAgent {
            mode: AddKeysMode::Yes,
            lifetime_secs: Some(convtime(first)?).filter(|&s| s > 0),
        }),
        _ => None,
    }
}

/// A time in ssh's format (`misc.c` `convtime`): digits with an optional unit `s`, `m`,
/// `h`, `d` or `w` (either case), repeated (`1h30m`); at most `i32::MAX` seconds.
#[must_use]
pub fn convtime(text: &str) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, after) = rest.split_at(digits);
        let value: u64 = number.parse().ok()?;
        let (unit, after) = match after.bytes().next() {
            None => (1, after),
            Some(b) => {
                let unit = match b.to_ascii_lowercase() {
                    b's' => 1,
                    b'm' => 60,
                    b'h' => 3600,
                    b'd' => 86_400,
                    b'w' => 604_800,
                    _ => return None,
                };
                (unit, after.get(1..)?)
            }
        };
        total = total.checked_add(value.checked_mul(unit)?)?;
        if total > i32::MAX as u64 {
            return None;
        }
        rest = after;
    }
    u32::try_from(total).ok()
}

// ---------------------------------------------------------------------------------------
// The configuration text (hand scan)
// ---------------------------------------------------------------------------------------

/// A `Host` or `Match` line a directive sits under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// `Host PATTERN...`.
    Host(Vec<String>),
    /// `Match CRITERIA...`.
    Match(Vec<String>),
}

/// One directive of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The file it is in.
    pub file: String,
    /// Its 1-based line.
    pub line: u32,
    /// The keyword, lowercased (`addkeystoagent`).
    pub keyword: String,
    /// The arguments, unquoted.
    pub args: Vec<String>,
    /// The blocks it sits under, outermost first: the `Host`/`Match` around an
    /// `Include`, then the one in the included file. Shared by every directive under the
    /// same line: a copy each would make a `Host` line of many names followed by many
    /// directives quadratic in memory (a 13 KB file included 20 times took over 2 GB).
    pub within: Vec<Arc<Block>>,
}

/// One file an `Include` pattern names, as the caller read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludedFile {
    /// The path, as shown.
    pub path: String,
    /// The text, or why it could not be read.
    pub text: Result<String, String>,
}

/// The directives of a configuration file and every file it includes, in reading order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigText {
    /// Every file read, the main one first.
    pub files: Vec<String>,
    /// Every directive, in the order ssh reads them.
    pub directives: Vec<Directive>,
    /// Files that could not be read, and `Include`s not followed.
    pub problems: Vec<ConfigProblem>,
}

impl ConfigText {
    /// Scans the main file `root` with text `text`. `include` resolves one `Include`
    /// argument as written (relative to `~/.ssh`, `~`, globs: the caller's job) into the
    /// files it names, sorted, or says why it cannot.
    ///
    /// `Include`s nest at most [`MAX_INCLUDE_DEPTH`] deep and at most
    /// [`MAX_CONFIG_FILES`] files are read; past either, a problem is recorded.
    pub fn from_files(
        root: &str,
        text: &str,
        mut include: impl FnMut(&str) -> Result<Vec<IncludedFile>, String>,
    ) -> Self {
        let mut scan = ConfigText {
            files: vec![root.to_owned()],
            ..ConfigText::default()
        };
        scan.read(root, text, 0, &[], &mut include);
        scan
    }

    fn read(
        &mut self,
        file: &str,
        text: &str,
        depth: usize,
        outer: &[Arc<Block>],
        include: &mut dyn FnMut(&str) -> Result<Vec<IncludedFile>, String>,
    ) {
        let mut current: Option<Arc<Block>> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let Some((keyword, args)) = split_line(raw) else {
                continue;
            };
            let mut within = outer.to_vec();
            match keyword.as_str() {
                "host" => current = Some(Arc::new(Block::Host(args.clone()))),
                "match" => current = Some(Arc::new(Block::Match(args.clone()))),
                _ => within.extend(current.clone()),
            }
            if keyword == "include" {
                for pattern in &args {
                    self.include(file, line, pattern, depth, &within, include);
                }
            }
            self.directives.push(Directive {
                file: file.to_owned(),
                line,
                keyword,
                args,
                within,
            });
        }
    }

    fn include(
        &mut self,
        file: &str,
        line: u32,
        pattern: &str,
        depth: usize,
        within: &[Arc<Block>],
        include: &mut dyn FnMut(&str) -> Result<Vec<IncludedFile>, String>,
    ) {
        let problem = |reason: String| ConfigProblem {
            file: Some(file.to_owned()),
            line: Some(line),
            hosts: Vec::new(),
            reason,
        };
        if depth + 1 > MAX_INCLUDE_DEPTH {
            self.problem(problem(format!(
                "Include {pattern}: more than {MAX_INCLUDE_DEPTH} levels of Include; not followed"
            )));
            return;
        }
        let found = match include(pattern) {
            Ok(found) => found,
            Err(reason) => {
                self.problem(problem(format!("Include {pattern}: {reason}")));
                return;
            }
        };
        for included in found {
            if self.files.len() >= MAX_CONFIG_FILES {
                self.problem(problem(format!(
                    "Include {pattern}: more than {MAX_CONFIG_FILES} configuration files; the rest not read"
                )));
                return;
            }
            self.files.push(included.path.clone());
            match included.text {
                Ok(text) => self.read(&included.path, &text, depth + 1, within, include),
                Err(reason) => self.problem(ConfigProblem {
                    file: Some(included.path),
                    line: None,
                    hosts: Vec::new(),
                    reason,
                }),
            }
        }
    }

    /// Records a problem once (a file included many times fails the same way each time).
    fn problem(&mut self, problem: ConfigProblem) {
        if !self.problems.contains(&problem) {
            self.problems.push(problem);
        }
    }

    /// Every literal name on a `Host` line: no wildcard (`*`, `?`), not negated (`!`),
    /// and nothing ssh would read as an option, a user or a URI. Each once, in order
    /// (in linear time: a 1 MiB file holds some 150,000 names).
    #[must_use]
    pub fn literal_hosts(&self) -> Vec<String> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut hosts: Vec<String> = Vec::new();
        for d in self.directives.iter().filter(|d| d.keyword == "host") {
            for name in &d.args {
                let literal = !name.is_empty()
                    && !name.starts_with(['!', '-'])
                    && !name.contains(['*', '?', '@', '/'])
                    && !name.chars().any(|c| c.is_whitespace() || c.is_control());
                if literal && seen.insert(name) {
                    hosts.push(name.clone());
                }
            }
        }
        hosts
    }

    /// Where the value `matches` accepts was most likely written for `host`: the first
    /// `keyword` directive, in ssh's reading order, whose blocks can apply to the host and
    /// whose arguments `matches`. ssh keeps the first value it reads for most keywords,
    /// so that is the one in effect.
    ///
    /// `Host` patterns are matched as ssh does (`*`, `?`, `!`); of `Match` criteria only
    /// `all`, `host` (against `client.hostname`), `originalhost` and `user` are
    /// evaluated, the others (`exec`, `localuser`, `canonical`, ...) are taken to apply.
    #[must_use]
    pub fn locate(
        &self,
        host: &str,
        client: &ClientConfig,
        keyword: &str,
        matches: impl Fn(&[String]) -> bool,
    ) -> Option<Source> {
        self.directives
            .iter()
            .filter(|d| d.keyword == keyword)
            .filter(|d| d.within.iter().all(|b| block_may_apply(b, host, client)))
            .find(|d| matches(&d.args))
            .map(|d| Source {
                file: d.file.clone(),
                line: Some(d.line),
            })
    }
}

/// Returns true if and only if `block` applies, or may apply, to `host`.
fn block_may_apply(block: &Block, host: &str, client: &ClientConfig) -> bool {
    match block {
        Block::Host(patterns) => host_line_matches(patterns, host),
        Block::Match(criteria) => match_may_apply(criteria, host, client),
    }
}

/// `Host` line semantics (`readconf.c`): active when some pattern matches and no negated
/// pattern does. Case counts: OpenSSH 9.2 gives `Host WORK` settings to `ssh -G WORK` but
/// not to `ssh -G work` (measured).
fn host_line_matches(patterns: &[String], host: &str) -> bool {
    let mut positive = false;
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, host) => return false,
            Some(_) => {}
            None => positive |= wildcard_match(pattern, host),
        }
    }
    positive
}

/// `Match` semantics for the criteria keycheck can evaluate; the rest count as true.
fn match_may_apply(criteria: &[String], host: &str, client: &ClientConfig) -> bool {
    let mut words = criteria.iter();
    while let Some(word) = words.next() {
        let lower = word.to_ascii_lowercase();
        let (negated, name) = match lower.strip_prefix('!') {
            Some(name) => (true, name),
            None => (false, lower.as_str()),
        };
        let result = match name {
            "all" => Some(true),
            "canonical" | "final" => None,
            "host" | "originalhost" | "user" => {
                let Some(list) = words.next() else {
                    return true;
                };
                let subject = match name {
                    "host" => client.hostname.as_deref(),
                    "originalhost" => Some(host),
                    _ => client.user.as_deref(),
                };
                subject.map(|s| pattern_list_matches(list, &s.to_ascii_lowercase()))
            }
            _ => {
                // exec, localuser, localnetwork, tagged...: one argument, not evaluated.
                words.next();
                None
            }
        };
        if let Some(result) = result {
            if result == negated {
                return false;
            }
        }
    }
    true
}

/// `match.c` `match_pattern_list`: a comma-separated list where a negated match
/// overrides; true if and only if some pattern matches and no negated one does.
fn pattern_list_matches(list: &str, subject: &str) -> bool {
    let mut positive = false;
    for pattern in list.split(',') {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard_match(negated, subject) => return false,
            Some(_) => {}
            None => positive |= wildcard_match(&pattern, subject),
        }
    }
    positive
}

/// ssh's `match_pattern`: `*` matches any run, `?` any one character.
#[must_use]
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    glob_like(pattern, text, false)
}

/// `glob(3)`/`fnmatch(3)` for one path component: `*`, `?`, `[...]` (with `!` or `^`
/// negation and ranges) and `\` escapes; a leading `.` must be matched explicitly.
#[must_use]
pub fn glob_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    glob_like(pattern, name, true)
}

/// Returns true if and only if `component` holds a glob metacharacter.
#[must_use]
pub fn has_glob_meta(component: &str) -> bool {
    component.contains(['*', '?', '['])
}

/// Iterative wildcard matching with single-star backtracking (linear in practice, never
/// exponential).
fn glob_like(pattern: &str, text: &str, brackets: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            Some('?') => Some(1),
            Some('[') if brackets => match bracket(&p[pi..], t[ti]) {
                Some((true, len)) => Some(len),
                Some((false, _)) => None,
                // An unclosed `[` is a literal `[`.
                None => (t[ti] == '[').then_some(1),
            },
            Some('\\') if brackets && p.get(pi + 1) == Some(&t[ti]) => Some(2),
            Some(&c) if c == t[ti] => Some(1),
            _ => None,
        };
        match step {
            Some(len) => {
                pi += len;
                ti += 1;
            }
            None => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Matches `c` against the bracket expression at the start of `p`: whether `c` is in the
/// set, and the expression's length; `None` when the `[` is never closed.
fn bracket(p: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    loop {
        let &lo = p.get(i)?;
        if lo == ']' && !first {
            break;
        }
        first = false;
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&hi| hi != ']') {
            let hi = p[i + 2];
            found |= lo <= c && c <= hi;
            i += 3;
        } else {
            found |= lo == c;
            i += 1;
        }
    }
    Some((found != negate, i + 1))
}

/// Splits one configuration line into its lowercased keyword and unquoted arguments, as
/// `readconf.c` `process_config_line_depth` does: trailing blanks stripped, the keyword
/// ends at a blank or `=`, one `=` may separate it from the arguments, and `argv_split`
/// reads the arguments (`"` and `'` quote, `\` escapes, a `#` starting a word ends the
/// line). `None` for blank lines, comments, and lines ssh would refuse.
#[must_use]
pub fn split_line(raw: &str) -> Option<(String, Vec<String>)> {
    let line = raw
        .trim_end_matches([' ', '\t', '\r', '\n', '\x0c'])
        .trim_start_matches([' ', '\t']);
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find([' ', '\t', '=', '"']).unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let args = argv_split(rest.trim_start_matches([' ', '\t']))?;
    if keyword.is_empty() || args.is_empty() {
        return None;
    }
    Some((keyword.to_ascii_lowercase(), args))
}

/// `misc.c` `argv_split` with `terminate_on_comment`; `None` on an unclosed quote.
fn argv_split(text: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        match chars.peek() {
            None | Some('#') => break,
            Some(_) => {}
        }
        let mut arg = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.peek() {
                    Some(&next @ ('\'' | '"' | '\\')) => {
                        arg.push(next);
                        chars.next();
                    }
                    Some(' ') if quote.is_none() => {
                        arg.push(' ');
                        chars.next();
                    }
                    _ => arg.push('\\'),
                },
                ' ' | '\t' if quote.is_none() => break,
                '"' | '\'' if quote.is_none() => quote = Some(c),
                c if Some(c) == quote => quote = None,
                c => arg.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        args.push(arg);
    }
    Some(args)
}

// ---------------------------------------------------------------------------------------
// Joining the client's values with the text
// ---------------------------------------------------------------------------------------

impl HostSettings {
    /// The settings of `host` from what `ssh -G` printed, each with where it was written
    /// (found in `text`; a value the scan cannot place is attributed to `config`, the main
    /// file, without a line). `home` expands `~` and `%d` in identity files.
    #[must_use]
    pub fn from_client(
        host: &str,
        client: &ClientConfig,
        text: &ConfigText,
        config: &str,
        home: &str,
    ) -> Self {
        let probe = host == PROBE_HOST;
        let unplaced = || Source {
            file: config.to_owned(),
            line: None,
        };
        let place = |keyword: &str, is_default: bool, matches: &dyn Fn(&[String]) -> bool| {
            text.locate(host, client, keyword, matches)
                .or_else(|| (!is_default).then(unplaced))
        };

        let add_keys_to_agent = client.add_keys_to_agent.map(|value| Sourced {
            value,
            source: place("addkeystoagent", value.mode == AddKeysMode::No, &|args| {
                add_keys_written(args) == Some(value)
            }),
        });
        let forward_agent = client.forward_agent.clone().map(|value| {
            let source = place("forwardagent", value == ForwardAgent::No, &|args| {
                let first = args.first().map(String::as_str).unwrap_or_default();
                matches!(
                    (&value, yes_no(first)),
                    (ForwardAgent::Yes, Some(true))
                        | (ForwardAgent::No, Some(false))
                        | (ForwardAgent::Socket(_), None)
                )
            });
            Sourced { value, source }
        });
        let use_keychain = client.use_keychain.map(|value| Sourced {
            value,
            source: place("usekeychain", !value, &|args| {
                args.first().and_then(|a| yes_no(a)) == Some(value)
            }),
        });
        let identity_agent = client.identity_agent.clone().map(|value| Sourced {
            source: place("identityagent", false, &|_| true),
            value,
        });
        let identity_files = client
            .identity_files
            .iter()
            .filter(|written| !written.eq_ignore_ascii_case("none"))
            .map(|written| IdentityFile {
                path: expand_path(written, home, host, client),
                written: written.clone(),
                source: text.locate(host, client, "identityfile", |args| {
                    args.first() == Some(written)
                }),
            })
            .collect();
        HostSettings {
            host: host.to_owned(),
            probe,
            hostname: client.hostname.clone(),
            user: client.user.clone(),
            add_keys_to_agent,
            forward_agent,
            use_keychain,
            identity_files,
            identity_agent,
        }
    }
}

/// Expands a path as ssh does for `IdentityFile` (`tilde_expand_filename`, then
/// `percent_expand`): a leading `~` or `~/` is `home`; `%d` is `home`, `%h` the host name,
/// `%n` the name as given, `%p` the port, `%r` the remote user, `%%` a `%`. Other tokens
/// (`%u`, `%l`, `%C`, ...) and `~user` stay as written.
#[must_use]
pub fn expand_path(written: &str, home: &str, host: &str, client: &ClientConfig) -> String {
    let home = home.trim_end_matches('/');
    let tilde = if written == "~" {
        home.to_owned()
    } else if let Some(rest) = written.strip_prefix("~/") {
        format!("{home}/{rest}")
    } else {
        written.to_owned()
    };
    let mut out = String::new();
    let mut chars = tilde.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let token = chars.next();
        let value = match token {
            Some('%') => Some("%"),
            Some('d') => Some(home),
            Some('h') => client.hostname.as_deref(),
            Some('n') => Some(host),
            Some('p') => client.port.as_deref(),
            Some('r') => client.user.as_deref(),
            _ => None,
        };
        match (value, token) {
            (Some(value), _) => out.push_str(value),
            (None, Some(t)) => {
                out.push('%');
                out.push(t);
            }
            (None, None) => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `HOME=/tmp/h ssh -G -F /tmp/h/.ssh/config work` on OpenSSH 9.2p1 (Debian 12), with
    /// `Host work` / `HostName work.example.com` / `AddKeysToAgent 4h` /
    /// `IdentityFile ~/.ssh/id_work` and an included `Host *` / `ForwardAgent yes`;
    /// the long algorithm lists are cut short.
    const SSH_G_WORK: &str = "\
host work
user root
hostname work.example.com
port 22
addressfamily any
batchmode no
canonicalizefallbacklocal yes
canonicalizehostname false
checkhostip no
compression no
controlmaster false
enablesshkeysign no
clearallforwardings no
exitonforwardfailure no
fingerprinthash SHA256
forwardx11 no
forwardx11trusted no
gatewayports no
gssapiauthentication no
hashknownhosts no
hostbasedauthentication no
identitiesonly no
kbdinteractiveauthentication yes
nohostauthenticationforlocalhost no
passwordauthentication yes
permitlocalcommand no
proxyusefdpass no
pubkeyauthentication true
requesttty auto
sessiontype default
stdinnull no
forkafterauthentication no
streamlocalbindunlink no
stricthostkeychecking ask
tcpkeepalive yes
tunnel false
verifyhostkeydns false
visualhostkey no
updatehostkeys true
enableescapecommandline no
canonicalizemaxdots 1
connectionattempts 1
forwardx11timeout 1200
numberofpasswordprompts 3
serveralivecountmax 3
serveraliveinterval 0
requiredrsasize 1024
ciphers chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr
loglevel INFO
securitykeyprovider internal
xauthlocation /usr/bin/xauth
identityfile ~/.ssh/id_work
canonicaldomains none
globalknownhostsfile /etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2
userknownhostsfile ~/.ssh/known_hosts ~/.ssh/known_hosts2
logverbose none
permitremoteopen any
addkeystoagent 14400
forwardagent yes
connecttimeout none
tunneldevice any:any
canonicalizePermittedcnames none
controlpersist no
escapechar ~
ipqos af21 cs1
rekeylimit 0 0
streamlocalbindmask 0177
syslogfacility USER
";

    /// `ssh -G keycheck-probe.invalid` for a configuration without a user file
    /// (`-F none`), trimmed to the lines keycheck reads.
    const SSH_G_DEFAULTS: &str = "\
host keycheck-probe.invalid
user root
hostname keycheck-probe.invalid
port 22
identityfile ~/.ssh/id_rsa
identityfile ~/.ssh/id_ecdsa
identityfile ~/.ssh/id_ecdsa_sk
identityfile ~/.ssh/id_ed25519
identityfile ~/.ssh/id_ed25519_sk
identityfile ~/.ssh/id_xmss
identityfile ~/.ssh/id_dsa
addkeystoagent false
forwardagent no
";

    fn add(mode: AddKeysMode, secs: Option<u32>) -> AddKeysToAgent {
        AddKeysToAgent {
            mode,
            lifetime_secs: secs,
        }
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn reads_real_ssh_g_output() {
        let config = ClientConfig::from_ssh_g(SSH_G_WORK).unwrap();
        assert_eq!(config.host.as_deref(), Some("work"));
        assert_eq!(config.hostname.as_deref(), Some("work.example.com"));
        assert_eq!(config.user.as_deref(), Some("root"));
        assert_eq!(config.port.as_deref(), Some("22"));
        assert_eq!(
            config.add_keys_to_agent,
            Some(add(AddKeysMode::Yes, Some(14_400)))
        );
        assert_eq!(config.forward_agent, Some(ForwardAgent::Yes));
        assert_eq!(config.use_keychain, None);
        assert_eq!(config.identity_files, ["~/.ssh/id_work"]);
        assert_eq!(config.identity_agent, None);

        let defaults = ClientConfig::from_ssh_g(SSH_G_DEFAULTS).unwrap();
        assert_eq!(defaults.add_keys_to_agent, Some(add(AddKeysMode::No, None)));
        assert_eq!(defaults.forward_agent, Some(ForwardAgent::No));
        assert_eq!(defaults.identity_files.len(), 7);
    }

    #[test]
    fn every_addkeystoagent_form_ssh_prints() {
        // What OpenSSH 9.2 `ssh -G` prints for each written form (measured).
        for (printed, want) in [
            ("false", add(AddKeysMode::No, None)),                 // no
            ("true", add(AddKeysMode::Yes, None)),                 // yes, and a time of 0
            ("ask", add(AddKeysMode::Ask, None)),                  // ask
            ("confirm", add(AddKeysMode::Confirm, None)),          // confirm, confirm 0
            ("confirm 600", add(AddKeysMode::Confirm, Some(600))), // confirm 10m
            ("3600", add(AddKeysMode::Yes, Some(3600))),           // 1h
            ("5400", add(AddKeysMode::Yes, Some(5400))),           // 1h30m
            ("90", add(AddKeysMode::Yes, Some(90))),               // 90
        ] {
            let text = format!("host x\naddkeystoagent {printed}\n");
            let config = ClientConfig::from_ssh_g(&text).unwrap();
            assert_eq!(config.add_keys_to_agent, Some(want), "{printed}");
        }
        for bad in ["maybe", "confirm soon", "false 10", "1 2 3", "", "-5"] {
            let text = format!("host x\naddkeystoagent {bad}\n");
            assert_eq!(
                ClientConfig::from_ssh_g(&text),
                Err(OutputError::Value {
                    keyword: "addkeystoagent",
                    value: bad.to_owned()
                }),
                "{bad}"
            );
        }
    }

    #[test]
    fn forwardagent_usekeychain_and_spaces() {
        let text = "host x\nforwardagent /tmp/my sock\nusekeychain yes\nidentityfile ~/.ssh/my key\nidentityagent /run/agent.sock\r\n";
        let config = ClientConfig::from_ssh_g(text).unwrap();
        assert_eq!(
            config.forward_agent,
            Some(ForwardAgent::Socket("/tmp/my sock".to_owned()))
        );
        assert_eq!(config.use_keychain, Some(true));
        assert_eq!(config.identity_files, ["~/.ssh/my key"]);
        assert_eq!(config.identity_agent.as_deref(), Some("/run/agent.sock"));
        assert!(ClientConfig::from_ssh_g("host x\nusekeychain sometimes\n").is_err());
        assert_eq!(ClientConfig::from_ssh_g(""), Err(OutputError::Empty));
        assert_eq!(
            ClientConfig::from_ssh_g("\n\nwarning: something\n"),
            Err(OutputError::Empty)
        );
    }

    #[test]
    fn written_forms_of_addkeystoagent() {
        for (args, want) in [
            (&["yes"][..], Some(add(AddKeysMode::Yes, None))),
            (&["YES"], Some(add(AddKeysMode::Yes, None))),
            (&["no"], Some(add(AddKeysMode::No, None))),
            (&["ask"], Some(add(AddKeysMode::Ask, None))),
            (&["confirm"], Some(add(AddKeysMode::Confirm, None))),
            (
                &["confirm", "30m"],
                Some(add(AddKeysMode::Confirm, Some(1800))),
            ),
            (
                &["Confirm", "1W2d"],
                Some(add(AddKeysMode::Confirm, Some(777_600))),
            ),
            (&["confirm", "0"], Some(add(AddKeysMode::Confirm, None))),
            (&["4h"], Some(add(AddKeysMode::Yes, Some(14_400)))),
            (&["0"], Some(add(AddKeysMode::Yes, None))),
            (
                &["2147483647"],
                Some(add(AddKeysMode::Yes, Some(2_147_483_647))),
            ),
            // ssh refuses these ("unsupported option").
            (&["2147483648"], None),
            (&["ask", "5m"], None),
            (&["yes", "5m"], None),
            (&["confirm", "soon"], None),
            (&["later"], None),
            (&[], None),
        ] {
            assert_eq!(add_keys_written(&strings(args)), want, "{args:?}");
        }
        assert_eq!(convtime("1h30m"), Some(5400));
        assert_eq!(convtime("90"), Some(90));
        assert_eq!(convtime("1w"), Some(604_800));
        assert_eq!(convtime("5S"), Some(5));
        for bad in ["", "h", "1x", "1h 2m", "-1", "99999999999999999999"] {
            assert_eq!(convtime(bad), None, "{bad}");
        }
    }

    #[test]
    fn config_lines_split_like_readconf() {
        let split = split_line;
        assert_eq!(
            split("  AddKeysToAgent=YES"),
            Some(("addkeystoagent".to_owned(), strings(&["YES"])))
        );
        assert_eq!(
            split("IdentityFile = \"~/.ssh/my key\" # mine\r"),
            Some(("identityfile".to_owned(), strings(&["~/.ssh/my key"])))
        );
        assert_eq!(
            split("Host a b\\ c 'd e' f#g"),
            Some(("host".to_owned(), strings(&["a", "b c", "d e", "f#g"])))
        );
        assert_eq!(
            split("\tMatch exec \"test -e /x\" host *.corp"),
            Some((
                "match".to_owned(),
                strings(&["exec", "test -e /x", "host", "*.corp"])
            ))
        );
        assert_eq!(split("# comment"), None);
        assert_eq!(split("   "), None);
        assert_eq!(split("User"), None);
        assert_eq!(split("User \"unclosed"), None);
        assert_eq!(split("User # only a comment"), None);
    }

    /// A small tree of files for the scan: `Include` patterns map to files.
    fn scan(root: &str, files: &[(&str, &str)]) -> ConfigText {
        ConfigText::from_files("/h/.ssh/config", root, |pattern| {
            let found: Vec<IncludedFile> = files
                .iter()
                .filter(|(path, _)| glob_match(pattern, path))
                .map(|(path, text)| IncludedFile {
                    path: (*path).to_owned(),
                    text: if text.starts_with("ERR") {
                        Err((*text).to_owned())
                    } else {
                        Ok((*text).to_owned())
                    },
                })
                .collect();
            Ok(found)
        })
    }

    const ROOT: &str = "\
Include conf.d*
Host work db.internal !bad *.corp
  AddKeysToAgent 4h
  IdentityFile ~/.ssh/id_work
Host short
  AddKeysToAgent 1h
Match originalhost matched user root
  AddKeysToAgent 3h
Host *
  AddKeysToAgent yes
  IdentityFile ~/.ssh/id_%h
";

    #[test]
    fn scan_follows_includes_and_finds_hosts() {
        let text = scan(
            ROOT,
            &[
                ("conf.d-a", "Host *\n  ForwardAgent yes\nHost inc\n"),
                ("conf.d-b", "ERR permission denied"),
            ],
        );
        assert_eq!(text.files, ["/h/.ssh/config", "conf.d-a", "conf.d-b"]);
        assert_eq!(
            text.problems,
            [ConfigProblem {
                file: Some("conf.d-b".to_owned()),
                line: None,
                hosts: vec![],
                reason: "ERR permission denied".to_owned()
            }]
        );
        assert_eq!(
            text.literal_hosts(),
            ["inc", "work", "db.internal", "short"]
        );
        let forward = text
            .directives
            .iter()
            .find(|d| d.keyword == "forwardagent")
            .unwrap();
        assert_eq!((forward.file.as_str(), forward.line), ("conf.d-a", 2));
        assert_eq!(forward.within, [Arc::new(Block::Host(strings(&["*"])))]);
    }

    #[test]
    fn locate_prefers_the_first_directive_that_applies() {
        let text = scan(ROOT, &[("conf.d-a", "Host *\n  ForwardAgent yes\n")]);
        let client = ClientConfig {
            hostname: Some("x".to_owned()),
            user: Some("root".to_owned()),
            ..ClientConfig::default()
        };
        let at = |host: &str, value: AddKeysToAgent| {
            text.locate(host, &client, "addkeystoagent", |args| {
                add_keys_written(args) == Some(value)
            })
            .map(|s| (s.file, s.line.unwrap()))
        };
        let root = "/h/.ssh/config".to_owned();
        assert_eq!(
            at("work", add(AddKeysMode::Yes, Some(14_400))),
            Some((root.clone(), 3))
        );
        assert_eq!(
            at("x.corp", add(AddKeysMode::Yes, Some(14_400))),
            Some((root.clone(), 3))
        );
        // Host patterns are case-sensitive, as in ssh.
        assert_eq!(at("WORK", add(AddKeysMode::Yes, Some(14_400))), None);
        // Negated: `bad` never takes the work block.
        assert_eq!(at("bad", add(AddKeysMode::Yes, Some(14_400))), None);
        assert_eq!(
            at("bad", add(AddKeysMode::Yes, None)),
            Some((root.clone(), 10))
        );
        assert_eq!(
            at("matched", add(AddKeysMode::Yes, Some(10_800))),
            Some((root.clone(), 8))
        );
        // `Match originalhost matched` cannot apply to another name.
        assert_eq!(at("other", add(AddKeysMode::Yes, Some(10_800))), None);
        let forward = text.locate(PROBE_HOST, &client, "forwardagent", |_| true);
        assert_eq!(
            forward,
            Some(Source {
                file: "conf.d-a".to_owned(),
                line: Some(2)
            })
        );
    }

    #[test]
    fn match_criteria() {
        let client = ClientConfig {
            hostname: Some("db.example.com".to_owned()),
            user: Some("alice".to_owned()),
            ..ClientConfig::default()
        };
        let applies = |words: &[&str]| match_may_apply(&strings(words), "db", &client);
        assert!(applies(&["all"]));
        assert!(applies(&["host", "*.example.com"]));
        assert!(!applies(&["host", "*.example.org"]));
        assert!(!applies(&["!host", "*.example.com"]));
        assert!(applies(&["originalhost", "db,web"]));
        assert!(!applies(&["originalhost", "db,!db"]));
        assert!(applies(&["user", "alice", "exec", "false"]));
        assert!(!applies(&["user", "bob"]));
        assert!(applies(&["canonical", "localuser", "nobody"]));
        assert!(applies(&["host"]));
    }

    #[test]
    fn patterns() {
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("*.corp", "a.corp"));
        assert!(!wildcard_match("*.corp", "corp"));
        assert!(wildcard_match("web-?", "web-1"));
        assert!(!wildcard_match("web-?", "web-10"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
        assert!(wildcard_match("[x]", "[x]"));
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*", ".hidden"));
        assert!(glob_match(".*", ".hidden"));
        assert!(glob_match("[a-c]?", "b1"));
        assert!(!glob_match("[!a-c]?", "b1"));
        assert!(glob_match("[^a-c]?", "d1"));
        assert!(glob_match("[]]", "]"));
        assert!(glob_match("\\*", "*"));
        assert!(!glob_match("\\*", "x"));
        assert!(glob_match("[unclosed", "[unclosed"));
        assert!(has_glob_meta("conf.d/*") && !has_glob_meta("conf.d/a"));
        // No exponential blow-up.
        let long = "a".repeat(5000);
        assert!(!wildcard_match(&format!("{}b", "*a".repeat(50)), &long));
    }

    #[test]
    fn garbage_never_panics() {
        let mut state: u32 = 0x1234_5678;
        let mut garbage = String::new();
        for _ in 0..100 * 1024 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let alphabet = b"Host *?![]\"'\\=#\t\r\n%~aZ09 ";
            garbage.push(char::from(
                alphabet[usize::from(state.to_be_bytes()[1]) % alphabet.len()],
            ));
        }
        garbage.push_str("\u{feff}\u{0}é");
        let long_line = format!("IdentityFile {}\n", "x\\ ".repeat(40_000));
        for text in [garbage.as_str(), long_line.as_str()] {
            let scan = ConfigText::from_files("/c", text, |_| Ok(vec![]));
            let _ = scan.literal_hosts();
            let client = ClientConfig::from_ssh_g(text).unwrap_or_default();
            let _ = HostSettings::from_client("h", &client, &scan, "/c", "/h");
            let _ = problem_from_stderr(text, "h");
        }
        let scan = ConfigText::from_files("/c", &long_line, |_| Ok(vec![]));
        assert_eq!(scan.directives[0].args.len(), 1);
    }

    #[test]
    fn include_depth_and_file_limits() {
        // A file that includes itself: stopped at the depth limit, not looping forever.
        let mut calls = 0;
        let text = ConfigText::from_files("/h/.ssh/config", "Include self\n", |_| {
            calls += 1;
            Ok(vec![IncludedFile {
                path: "self".to_owned(),
                text: Ok("Include self\n".to_owned()),
            }])
        });
        assert_eq!(calls, MAX_INCLUDE_DEPTH);
        assert_eq!(text.files.len(), MAX_INCLUDE_DEPTH + 1);
        assert_eq!(text.problems.len(), 1);
        assert!(text.problems[0].reason.contains("levels of Include"));
        // A glob that names many files, each including the glob again.
        let text = ConfigText::from_files("/h/.ssh/config", "Include *\n", |_| {
            Ok((0..10)
                .map(|i| IncludedFile {
                    path: format!("f{i}"),
                    text: Ok("Include *\n".to_owned()),
                })
                .collect())
        });
        assert_eq!(text.files.len(), MAX_CONFIG_FILES);
        assert!(text
            .problems
            .iter()
            .any(|p| p.reason.contains("configuration files")));
        // Each problem once: the ten files at the depth limit, and where the count ran out.
        assert!(text.problems.len() <= 2 * 10 + 1, "{:?}", text.problems);
        // The callback's own refusal.
        let text = ConfigText::from_files("/h/.ssh/config", "\n\nInclude ~bob/x\n", |_| {
            Err("~user paths are not followed".to_owned())
        });
        assert_eq!(
            text.problems,
            [ConfigProblem {
                file: Some("/h/.ssh/config".to_owned()),
                line: Some(3),
                hosts: vec![],
                reason: "Include ~bob/x: ~user paths are not followed".to_owned(),
            }]
        );
    }

    #[test]
    fn identity_paths_expand() {
        let client = ClientConfig {
            hostname: Some("work.example.com".to_owned()),
            user: Some("alice".to_owned()),
            port: Some("2222".to_owned()),
            ..ClientConfig::default()
        };
        let expand = |w: &str| expand_path(w, "/home/a/", "work", &client);
        assert_eq!(expand("~/.ssh/id_work"), "/home/a/.ssh/id_work");
        assert_eq!(expand("~"), "/home/a");
        assert_eq!(
            expand("%d/.ssh/id_%r@%h:%p"),
            "/home/a/.ssh/id_alice@work.example.com:2222"
        );
        assert_eq!(expand("~/.ssh/%n-100%%"), "/home/a/.ssh/work-100%");
        assert_eq!(expand("~bob/.ssh/id"), "~bob/.ssh/id");
        assert_eq!(expand("/k/%u/%C/%"), "/k/%u/%C/%");
        assert_eq!(expand("/abs/~/x"), "/abs/~/x");
    }

    fn host(name: &str, client: &ClientConfig, text: &ConfigText) -> HostSettings {
        HostSettings::from_client(name, client, text, "/h/.ssh/config", "/h")
    }

    fn client_with(add_keys: AddKeysToAgent, forward: ForwardAgent) -> ClientConfig {
        ClientConfig {
            hostname: Some("x".to_owned()),
            user: Some("root".to_owned()),
            add_keys_to_agent: Some(add_keys),
            forward_agent: Some(forward),
            identity_files: strings(&["~/.ssh/id_work", "none"]),
            ..ClientConfig::default()
        }
    }

    #[test]
    fn host_settings_carry_their_sources() {
        let text = scan(ROOT, &[("conf.d-a", "Host *\n  ForwardAgent yes\n")]);
        let client = client_with(add(AddKeysMode::Yes, Some(14_400)), ForwardAgent::Yes);
        let work = host("work", &client, &text);
        assert!(!work.probe);
        let add_keys = work.add_keys_to_agent.unwrap();
        assert_eq!(add_keys.value, add(AddKeysMode::Yes, Some(14_400)));
        assert_eq!(add_keys.source.unwrap().to_string(), "/h/.ssh/config:3");
        assert_eq!(
            work.forward_agent.unwrap().source.unwrap().to_string(),
            "conf.d-a:2"
        );
        assert_eq!(
            work.identity_files,
            [IdentityFile {
                path: "/h/.ssh/id_work".to_owned(),
                written: "~/.ssh/id_work".to_owned(),
                source: Some(Source {
                    file: "/h/.ssh/config".to_owned(),
                    line: Some(4)
                }),
            }]
        );
        // A default has no source; a value the scan cannot place is the main file's.
        let client = client_with(add(AddKeysMode::No, None), ForwardAgent::No);
        let probe = host(PROBE_HOST, &client, &text);
        assert!(probe.probe);
        assert_eq!(probe.add_keys_to_agent.unwrap().source, None);
        let client = client_with(
            add(AddKeysMode::Ask, None),
            ForwardAgent::Socket("/s".to_owned()),
        );
        let odd = host("odd", &client, &text);
        assert_eq!(
            odd.add_keys_to_agent.unwrap().source,
            Some(Source {
                file: "/h/.ssh/config".to_owned(),
                line: None
            })
        );
        assert_eq!(
            odd.forward_agent.unwrap().source.unwrap().to_string(),
            "/h/.ssh/config"
        );
    }

    fn facts(hosts: Vec<HostSettings>) -> SshConfigFacts {
        SshConfigFacts::new(
            "/h/.ssh/config".to_owned(),
            true,
            vec!["/h/.ssh/config".to_owned()],
            hosts,
            vec![],
        )
    }

    #[test]
    fn issues_report_host_star_once() {
        let text = scan(ROOT, &[("conf.d-a", "Host *\n  ForwardAgent yes\n")]);
        let star = client_with(add(AddKeysMode::Yes, None), ForwardAgent::Yes);
        let work = client_with(add(AddKeysMode::Yes, Some(14_400)), ForwardAgent::Yes);
        let short = client_with(add(AddKeysMode::Yes, Some(3600)), ForwardAgent::Yes);
        let facts = facts(vec![
            host(PROBE_HOST, &star, &text),
            host("work", &work, &text),
            host("short", &short, &text),
            host("other", &star, &text),
            host("another", &star, &text),
        ]);
        let root = |line| Source {
            file: "/h/.ssh/config".to_owned(),
            line: Some(line),
        };
        assert_eq!(
            facts.issues(7200),
            [
                ConfigIssue::CacheUnbounded {
                    host: ALL_HOSTS.to_owned(),
                    mode: AddKeysMode::Yes,
                    source: root(10),
                },
                ConfigIssue::ForwardAgentEverywhere {
                    source: Source {
                        file: "conf.d-a".to_owned(),
                        line: Some(2)
                    },
                },
                ConfigIssue::CacheWindowExceeded {
                    host: "work".to_owned(),
                    secs: 14_400,
                    source: root(3),
                },
            ]
        );
        // A wider window: nothing but the unbounded `Host *` and the forwarding.
        assert_eq!(facts.issues(86_400).len(), 2);
        assert_eq!(facts.identity_files, ["/h/.ssh/id_work"]);

        // The JSON shapes reports will carry.
        let json = serde_json::to_value(&facts).unwrap();
        let probe = &json["hosts"][0];
        assert_eq!(probe["add_keys_to_agent"]["value"]["mode"], "yes");
        assert_eq!(
            probe["add_keys_to_agent"]["value"]["lifetime_secs"],
            serde_json::Value::Null
        );
        assert_eq!(probe["add_keys_to_agent"]["source"]["line"], 10);
        assert_eq!(probe["forward_agent"]["value"], "yes");
        let issues = serde_json::to_value(facts.issues(7200)).unwrap();
        assert_eq!(issues[0]["issue"], "cache-unbounded");
        assert_eq!(issues[0]["host"], "*");
        assert_eq!(issues[2]["issue"], "cache-window-exceeded");
        assert_eq!(issues[2]["secs"], 14_400);
        let socket = serde_json::to_value(ForwardAgent::Socket("/s".to_owned())).unwrap();
        assert_eq!(socket, serde_json::json!({ "socket": "/s" }));
    }

    #[test]
    fn issues_without_a_probe_and_keychain() {
        let text = ConfigText::from_files(
            "/h/.ssh/config",
            "Host mac\n  UseKeychain yes\n  AddKeysToAgent confirm\n",
            |_| Ok(vec![]),
        );
        let mut client = client_with(add(AddKeysMode::Confirm, None), ForwardAgent::Yes);
        client.use_keychain = Some(true);
        let facts = facts(vec![host("mac", &client, &text)]);
        let at = |line| Source {
            file: "/h/.ssh/config".to_owned(),
            line: Some(line),
        };
        assert_eq!(
            facts.issues(3600),
            [
                ConfigIssue::CacheUnbounded {
                    host: "mac".to_owned(),
                    mode: AddKeysMode::Confirm,
                    source: at(3),
                },
                ConfigIssue::UseKeychain {
                    host: "mac".to_owned(),
                    source: at(2),
                },
            ]
        );
    }

    #[test]
    fn problems_from_ssh_stderr() {
        let p = problem_from_stderr(
            "/tmp/h/.ssh/config: line 6: Bad configuration option: usekeychain\n/tmp/h/.ssh/config: terminating, 1 bad configuration options\n",
            "work",
        );
        assert_eq!(p.file.as_deref(), Some("/tmp/h/.ssh/config"));
        assert_eq!(p.line, Some(6));
        assert_eq!(p.reason, "Bad configuration option: usekeychain");
        let p = problem_from_stderr(
            "/tmp/h/.ssh/config line 19: unsupported option\n",
            PROBE_HOST,
        );
        assert_eq!(
            (p.file.as_deref(), p.line),
            (Some("/tmp/h/.ssh/config"), Some(19))
        );
        assert_eq!(p.reason, "unsupported option");
        let p = problem_from_stderr("\nCan't open user config file /x: Permission denied\n", "a");
        assert_eq!((p.file, p.line), (None, None));
        assert_eq!(
            p.reason,
            "Can't open user config file /x: Permission denied"
        );
        assert_eq!(
            problem_from_stderr("", "a").reason,
            "ssh -G failed without a message"
        );
        // The same refusal for several hosts is one problem.
        let facts = SshConfigFacts::new(
            "c".to_owned(),
            true,
            vec![],
            vec![],
            vec![
                problem_from_stderr("c line 2: unsupported option", "a"),
                problem_from_stderr("c line 2: unsupported option", "b"),
                problem_from_stderr("c line 3: unsupported option", "b"),
            ],
        );
        assert_eq!(facts.problems.len(), 2);
        assert_eq!(facts.problems[0].hosts, ["a", "b"]);
    }
}
