//! PURE: the policy keycheck enforces, from TOML text to a validated [`Policy`].
//!
//! Two stages, as in cargo-deny: [`raw`] reads each file with every value's position;
//! [`layer`] checks each value on its own and tags it with `file:line:column`; [`merge`]
//! lays the layers over each other — the built-in policy, the organisation's file, the
//! user's file, `--policy FILE` — where every layer after the organisation's may only
//! tighten. No I/O here: callers pass each layer's kind, name and text.

mod layer;
mod merge;
mod raw;
mod show;
pub mod strictness;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::finding::Severity;
use crate::rules::Rule;

/// The built-in policy text (`policy.toml`), also the template `keycheck policy init` writes.
pub const BUILTIN: &str = include_str!("../policy.toml");

/// The one policy version this keycheck reads.
pub const VERSION: u32 = 1;

/// One problem with a policy file: where, which setting, and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {key}: {message}")]
pub struct Diagnostic {
    /// `file:line:column`.
    pub at: String,
    /// The setting, e.g. `keys.rsa_min_bits` (`toml` for a syntax error).
    pub key: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

/// A policy could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// One or more files have mistakes; every one found is listed.
    #[error("{}{}", .0.first().map(ToString::to_string).unwrap_or_default(), more(.0.len()))]
    Invalid(Vec<Diagnostic>),
}

fn more(n: usize) -> String {
    match n {
        0 | 1 => String::new(),
        2 => " (and 1 more problem)".to_owned(),
        n => format!(" (and {} more problems)", n - 1),
    }
}

impl Error {
    /// Every problem found.
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Invalid(d) => d,
        }
    }
}

/// Which layer a policy text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LayerKind {
    /// `policy.toml` built into keycheck.
    Builtin,
    /// The organisation's file (`/etc/keycheck/policy.toml` on Linux).
    Organisation,
    /// The user's own file (in the platform config dir).
    User,
    /// A file given with `--policy FILE`.
    CommandLine,
}

impl LayerKind {
    /// Returns true if and only if this layer may loosen what came before it.
    #[must_use]
    pub fn sets_freely(self) -> bool {
        matches!(self, LayerKind::Builtin | LayerKind::Organisation)
    }

    /// How the layer is named in `policy show`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            LayerKind::Builtin => "built-in",
            LayerKind::Organisation => "organisation",
            LayerKind::User => "user",
            LayerKind::CommandLine => "--policy",
        }
    }
}

/// One layer's text and what it is.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// What layer it is.
    pub kind: LayerKind,
    /// Its name in messages (a path, or `built-in policy`).
    pub name: &'a str,
    /// The TOML text.
    pub text: &'a str,
}

/// A setting a later layer tried to loosen; it was ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loosening {
    /// `file:line:column` of the refused value.
    pub at: String,
    /// The setting.
    pub key: String,
    /// What was refused and what stays in force.
    pub message: String,
}

/// The kind of device, which decides the cache window.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// A laptop (the default).
    Laptop,
    /// A desktop.
    Desktop,
    /// A mobile device.
    Mobile,
    /// A server: user private keys do not belong here at all.
    Server,
}

impl Profile {
    /// The profile with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Profile> {
        Some(match name {
            "laptop" => Profile::Laptop,
            "desktop" => Profile::Desktop,
            "mobile" => Profile::Mobile,
            "server" => Profile::Server,
            _ => return None,
        })
    }

    /// Its name in the policy.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Laptop => "laptop",
            Profile::Desktop => "desktop",
            Profile::Mobile => "mobile",
            Profile::Server => "server",
        }
    }
}

/// A severity as a policy may set it: a [`Severity`], or `off` to waive a rule.
/// Ordered from loosest (`off`) to strictest (`fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Waive the rule.
    Off,
    /// Report as information.
    Info,
    /// Report as a warning.
    Warn,
    /// Report as a failure.
    Fail,
}

impl Level {
    /// The severity, or `None` for `off`.
    #[must_use]
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Off => None,
            Level::Info => Some(Severity::Info),
            Level::Warn => Some(Severity::Warn),
            Level::Fail => Some(Severity::Fail),
        }
    }

    /// The level of a severity.
    #[must_use]
    pub fn from_severity(severity: Severity) -> Level {
        match severity {
            Severity::Info => Level::Info,
            Severity::Warn => Level::Warn,
            Severity::Fail => Level::Fail,
        }
    }

    /// The level with this name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Level> {
        Some(match name {
            "off" => Level::Off,
            "info" => Level::Info,
            "warn" => Level::Warn,
            "fail" => Level::Fail,
            _ => return None,
        })
    }

    /// Its name in the policy.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// `[keys]`: what a private key must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysPolicy {
    /// Allowed algorithms by OpenSSH name; everything else is denied.
    pub allowed_algorithms: Vec<String>,
    /// RSA keys below this fail.
    pub rsa_min_bits: u32,
    /// RSA keys below this warn, and fail from `rsa_recommended_becomes_minimum`.
    pub rsa_recommended_bits: u32,
    /// The day the recommended RSA size becomes the minimum.
    pub rsa_recommended_becomes_minimum: Option<time::Date>,
    /// Private keys must be encrypted.
    pub passphrase_required: bool,
    /// FIDO `sk-` keys need no passphrase.
    pub hardware_keys_exempt: bool,
    /// Minimum bcrypt KDF rounds of OpenSSH-format keys.
    pub bcrypt_min_rounds: u32,
    /// Minimum PBKDF2 iterations of encrypted PKCS#8 keys.
    pub pbkdf2_min_iterations: u32,
    /// Minimum Argon2 memory (KiB) of PuTTY v3 keys.
    pub argon2_min_memory_kib: u32,
    /// Keys whose file is older than this are reported (`None`: no limit).
    pub max_age: Option<Duration>,
    /// Certificates ending within this are reported as expiring.
    pub certificate_expiry_warning: Duration,
}

/// `[files]`: where and how key files are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesPolicy {
    /// The most a private key file's mode may allow.
    pub key_mode: u32,
    /// The most a scanned directory's mode may allow.
    pub ssh_dir_mode: u32,
    /// How many copies of one private key may exist.
    pub max_copies: u32,
    /// Extra places always searched for stray keys (absolute or `~/...`).
    pub search: Vec<String>,
    /// Globs the home search skips.
    pub exclude: Vec<String>,
}

/// `[cache]`: how long a decrypted key may stay in an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachePolicy {
    /// Window on laptops.
    pub laptop: Duration,
    /// Window on desktops.
    pub desktop: Duration,
    /// Window on mobile devices.
    pub mobile: Duration,
    /// Window on servers.
    pub server: Duration,
    /// Remove the keys keycheck tracked from the user's agents when the login session ends.
    pub clear_at_logout: bool,
    /// Remove every key from every agent when the screen locks.
    pub clear_at_lock: bool,
}

impl CachePolicy {
    /// The window for `profile`.
    #[must_use]
    pub fn window(&self, profile: Profile) -> Duration {
        match profile {
            Profile::Laptop => self.laptop,
            Profile::Desktop => self.desktop,
            Profile::Mobile => self.mobile,
            Profile::Server => self.server,
        }
    }
}

/// `[notify]`: desktop notifications of the background agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyPolicy {
    /// Findings below this are not notified.
    pub min_severity: Severity,
    /// Unresolved findings are notified again after this long.
    pub repeat_after: Duration,
    /// Where to report an incident (empty: none).
    pub incident_url: String,
}

/// `[report]`: where reports and the SQLite state go (empty: the state dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPolicy {
    /// Directory for report files.
    pub dir: String,
    /// Path of the SQLite file.
    pub database: String,
}

/// One `[[exceptions.waive]]` entry: rules waived for a path or a key, for a reason,
/// until a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// A glob over finding paths (`~/` is the home directory).
    pub path: Option<String>,
    /// A key fingerprint (`SHA256:...`).
    pub fingerprint: Option<String>,
    /// The rules waived.
    pub rules: Vec<Rule>,
    /// Why.
    pub reason: String,
    /// The last day it waives anything.
    pub expires: time::Date,
    /// `file:line:column` of the entry.
    pub at: String,
}

impl Exception {
    /// The waived rule ids, comma-separated.
    #[must_use]
    pub fn rule_list(&self) -> String {
        let ids: Vec<&str> = self.rules.iter().map(|r| r.id()).collect();
        ids.join(", ")
    }
}

/// `[exceptions]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionsPolicy {
    /// Whether layers after the organisation's may add exceptions.
    pub users_may_add: bool,
    /// The exceptions in force.
    pub waive: Vec<Exception>,
}

/// A validated, merged policy: every setting present and acceptable, with where each
/// value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Schema version; always [`VERSION`].
    pub version: u32,
    /// The device profile.
    pub profile: Profile,
    /// `[keys]`.
    pub keys: KeysPolicy,
    /// `[files]`.
    pub files: FilesPolicy,
    /// `[cache]`.
    pub cache: CachePolicy,
    /// `[notify]`.
    pub notify: NotifyPolicy,
    /// `[report]`.
    pub report: ReportPolicy,
    /// `[exceptions]`.
    pub exceptions: ExceptionsPolicy,
    /// `[rules]`: severity overrides.
    pub rules: BTreeMap<Rule, Level>,
    /// For each setting (`keys.rsa_min_bits`), the `file:line:column` its value came from.
    pub origins: BTreeMap<String, String>,
    /// Settings later layers tried to loosen, which were ignored.
    pub ignored: Vec<Loosening>,
    /// The layers read, in order.
    pub layers: Vec<(LayerKind, String)>,
}

impl Policy {
    /// The built-in policy.
    ///
    /// # Errors
    /// Only if the embedded `policy.toml` is broken, which a test rules out.
    pub fn builtin() -> Result<Policy, Error> {
        Policy::from_sources(&[Source {
            kind: LayerKind::Builtin,
            name: "built-in policy",
            text: BUILTIN,
        }])
    }

    /// The built-in policy with `text` laid over it as the organisation's file (which
    /// may set anything).
    ///
    /// # Errors
    /// [`Error`] naming `name`, the line and column, the setting and what is accepted.
    pub fn with_override(name: &str, text: &str) -> Result<Policy, Error> {
        Policy::from_sources(&[
            Source {
                kind: LayerKind::Builtin,
                name: "built-in policy",
                text: BUILTIN,
            },
            Source {
                kind: LayerKind::Organisation,
                name,
                text,
            },
        ])
    }

    /// Parses and validates each layer, then lays them over each other in order. The
    /// first must be the built-in policy, which sets every value.
    ///
    /// # Errors
    /// [`Error::Invalid`] listing every mistake in every layer, each with
    /// `file:line:column`.
    pub fn from_sources(sources: &[Source<'_>]) -> Result<Policy, Error> {
        let mut merger = merge::Merger::default();
        let mut diagnostics = Vec::new();
        let mut layers = Vec::new();
        for source in sources {
            let loc = layer::Locator {
                name: source.name,
                text: source.text,
            };
            let raw = match raw::parse(source.text) {
                Ok(raw) => raw,
                Err(e) => {
                    let span = e.span();
                    diagnostics.push(Diagnostic {
                        at: span
                            .as_ref()
                            .map_or_else(|| source.name.to_owned(), |s| loc.at(s.start)),
                        key: span
                            .and_then(|s| key_at(source.text, s.start))
                            .unwrap_or_else(|| "toml".to_owned()),
                        message: plain_types(&one_line(e.message())),
                    });
                    continue;
                }
            };
            let (partial, problems) = layer::validate(raw, loc);
            diagnostics.extend(problems);
            merger.apply(partial, source.kind);
            layers.push((source.kind, source.name.to_owned()));
        }
        // Across layers too, the minimum cannot pass the recommendation.
        if let (Some(min), Some(rec)) = (&merger.acc.rsa_min_bits, &merger.acc.rsa_recommended_bits)
        {
            if min.value > rec.value && diagnostics.is_empty() {
                diagnostics.push(Diagnostic {
                    at: min.at.clone(),
                    key: "keys.rsa_min_bits".to_owned(),
                    message: format!(
                        "{} is above keys.rsa_recommended_bits ({}, from {}); the minimum cannot exceed the recommendation, raise both",
                        min.value, rec.value, rec.at
                    ),
                });
            }
        }
        if !diagnostics.is_empty() {
            return Err(Error::Invalid(diagnostics));
        }
        finish(merger, layers)
    }

    /// The severity of `rule` under this policy, or `None` when it is switched off.
    #[must_use]
    pub fn severity(&self, rule: Rule) -> Option<Severity> {
        match self.rules.get(&rule) {
            Some(level) => level.severity(),
            None => Some(rule.default_severity()),
        }
    }

    /// The cache window of this device's profile.
    #[must_use]
    pub fn cache_window(&self) -> Duration {
        self.cache.window(self.profile)
    }

    /// The merged policy as commented TOML: each value with the layer it came from.
    #[must_use]
    pub fn show(&self) -> String {
        show::render(self)
    }
}

/// Turns the merged settings into a [`Policy`]; every setting must have a value.
fn finish(m: merge::Merger, layers: Vec<(LayerKind, String)>) -> Result<Policy, Error> {
    let mut origins = BTreeMap::new();
    let mut missing = Vec::new();
    let a = m.acc;
    macro_rules! need {
        ($field:ident, $key:literal) => {
            match a.$field {
                Some(set) => {
                    origins.insert($key.to_owned(), set.at);
                    Some(set.value)
                }
                None => {
                    missing.push($key);
                    None
                }
            }
        };
    }
    macro_rules! maybe {
        ($field:ident, $key:literal) => {
            a.$field.map(|set| {
                origins.insert($key.to_owned(), set.at);
                set.value
            })
        };
    }
    let version = need!(version, "version");
    let profile = need!(profile, "profile");
    let allowed_algorithms = need!(allowed_algorithms, "keys.allowed_algorithms");
    let rsa_min_bits = need!(rsa_min_bits, "keys.rsa_min_bits");
    let rsa_recommended_bits = need!(rsa_recommended_bits, "keys.rsa_recommended_bits");
    let becomes = maybe!(
        rsa_recommended_becomes_minimum,
        "keys.rsa_recommended_becomes_minimum"
    );
    let passphrase_required = need!(passphrase_required, "keys.passphrase_required");
    let hardware_keys_exempt = need!(hardware_keys_exempt, "keys.hardware_keys_exempt");
    let bcrypt_min_rounds = need!(bcrypt_min_rounds, "keys.bcrypt_min_rounds");
    let pbkdf2_min_iterations = need!(pbkdf2_min_iterations, "keys.pbkdf2_min_iterations");
    let argon2_min_memory_kib = need!(argon2_min_memory_kib, "keys.argon2_min_memory_kib");
    let max_age = maybe!(max_age, "keys.max_age");
    let certificate_expiry_warning = need!(
        certificate_expiry_warning,
        "keys.certificate_expiry_warning"
    );
    let key_mode = need!(key_mode, "files.key_mode");
    let ssh_dir_mode = need!(ssh_dir_mode, "files.ssh_dir_mode");
    let max_copies = need!(max_copies, "files.max_copies");
    let search = maybe!(search, "files.search").unwrap_or_default();
    let exclude = maybe!(exclude, "files.exclude").unwrap_or_default();
    let laptop = need!(cache_laptop, "cache.laptop");
    let desktop = need!(cache_desktop, "cache.desktop");
    let mobile = need!(cache_mobile, "cache.mobile");
    let server = need!(cache_server, "cache.server");
    let clear_at_logout = need!(clear_at_logout, "cache.clear_at_logout");
    let clear_at_lock = need!(clear_at_lock, "cache.clear_at_lock");
    let min_severity = need!(notify_min_severity, "notify.min_severity");
    let repeat_after = need!(notify_repeat_after, "notify.repeat_after");
    let incident_url = maybe!(incident_url, "notify.incident_url").unwrap_or_default();
    let dir = maybe!(report_dir, "report.dir").unwrap_or_default();
    let database = maybe!(report_database, "report.database").unwrap_or_default();
    let users_may_add = need!(users_may_add, "exceptions.users_may_add");
    let mut rules = BTreeMap::new();
    for (rule, level) in a.rules {
        origins.insert(format!("rules.{}", rule.id()), level.at);
        rules.insert(rule, level.value);
    }
    let complete = || -> Option<Policy> {
        Some(Policy {
            version: version?,
            profile: profile?,
            keys: KeysPolicy {
                allowed_algorithms: allowed_algorithms?,
                rsa_min_bits: rsa_min_bits?,
                rsa_recommended_bits: rsa_recommended_bits?,
                rsa_recommended_becomes_minimum: becomes,
                passphrase_required: passphrase_required?,
                hardware_keys_exempt: hardware_keys_exempt?,
                bcrypt_min_rounds: bcrypt_min_rounds?,
                pbkdf2_min_iterations: pbkdf2_min_iterations?,
                argon2_min_memory_kib: argon2_min_memory_kib?,
                max_age,
                certificate_expiry_warning: certificate_expiry_warning?,
            },
            files: FilesPolicy {
                key_mode: key_mode?,
                ssh_dir_mode: ssh_dir_mode?,
                max_copies: max_copies?,
                search,
                exclude,
            },
            cache: CachePolicy {
                laptop: laptop?,
                desktop: desktop?,
                mobile: mobile?,
                server: server?,
                clear_at_logout: clear_at_logout?,
                clear_at_lock: clear_at_lock?,
            },
            notify: NotifyPolicy {
                min_severity: min_severity?,
                repeat_after: repeat_after?,
                incident_url,
            },
            report: ReportPolicy { dir, database },
            exceptions: ExceptionsPolicy {
                users_may_add: users_may_add?,
                waive: a.exceptions,
            },
            rules,
            origins,
            ignored: m.ignored,
            layers,
        })
    };
    let missing_error = |missing: &[&str]| {
        Error::Invalid(
            missing
                .iter()
                .map(|key| Diagnostic {
                    at: "built-in policy".to_owned(),
                    key: (*key).to_owned(),
                    message: "missing".to_owned(),
                })
                .collect(),
        )
    };
    if !missing.is_empty() {
        return Err(missing_error(&missing));
    }
    complete().ok_or_else(|| missing_error(&["?"]))
}

/// The dotted name of the setting written on the line holding `offset`
/// (`keys.rsa_min_bits`), for messages about a value of the wrong type.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let (name, _) = line.split_once('=')?;
    let name = name.trim().trim_matches('"');
    if name.is_empty() || name.starts_with('[') {
        return None;
    }
    let table = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match table {
        Some(t) => format!("{t}.{name}"),
        None => name.to_owned(),
    })
}

/// serde's type names (`i64`) in words a policy author knows.
fn plain_types(message: &str) -> String {
    message
        .replace("expected i64", "expected a whole number")
        .replace("expected a boolean", "expected true or false")
}

/// TOML errors may span several lines; keep them on one.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_policy_parses_and_matches_the_seeds() {
        let p = Policy::builtin().unwrap();
        assert_eq!(p.version, 1);
        assert_eq!(p.keys.rsa_min_bits, 2048);
        assert_eq!(p.keys.rsa_recommended_bits, 4096);
        assert!(p.keys.passphrase_required);
        assert!(!p.keys.allowed_algorithms.iter().any(|a| a == "ssh-dss"));
        assert_eq!(p.files.key_mode, 0o600);
        assert_eq!(p.files.max_copies, 1);
        assert_eq!(p.severity(Rule::PassphraseMissing), Some(Severity::Fail));
    }

    #[test]
    fn override_replaces_named_settings_only() {
        let p = Policy::with_override(
            "mine.toml",
            "version = 1\n[keys]\nrsa_min_bits = 3072\n[rules]\nduplicate-key = \"off\"\n",
        )
        .unwrap();
        assert_eq!(p.keys.rsa_min_bits, 3072);
        assert_eq!(p.keys.rsa_recommended_bits, 4096);
        assert_eq!(p.severity(Rule::DuplicateKey), None);
    }

    #[test]
    fn errors_name_the_file_and_setting() {
        let e = Policy::with_override("p.toml", "version = 1\n[keys]\nrsa_min_bits = \"x\"\n")
            .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("p.toml:3:16: "), "{text}");

        let e =
            Policy::with_override("p.toml", "version = 1\n[keys]\nrsa_min_bit = 1\n").unwrap_err();
        assert!(e.to_string().contains("rsa_min_bit"), "{e}");

        let e = Policy::with_override("p.toml", "[keys]\nrsa_min_bits = 8192\n").unwrap_err();
        assert!(e.to_string().contains("keys.rsa_min_bits"), "{e}");

        let e = Policy::with_override("p.toml", "[rules]\nno-such-rule = \"warn\"\n").unwrap_err();
        assert!(e.to_string().contains("no-such-rule"), "{e}");

        let e = Policy::with_override("p.toml", "version = 2\n").unwrap_err();
        assert!(e.to_string().contains("version 2"), "{e}");

        let e = Policy::with_override("p.toml", "[files]\nkey_mode = \"rw\"\n").unwrap_err();
        assert!(e.to_string().contains("octal"), "{e}");

        let e = Policy::with_override("p.toml", "[keys\n").unwrap_err();
        assert!(e.to_string().starts_with("p.toml:1:"), "{e}");

        let e = Policy::with_override("p.toml", "version = 1\n[files]\nkey_mode = \"0999\"\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.toml:3:12: files.key_mode: \"0999\" is not a file mode; write it in octal like \"0600\""
        );

        let e = Policy::with_override(
            "p.toml",
            "[keys]\nrsa_recommended_becomes_minimum = 2027-07-01T10:00:00\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.toml:2:35: keys.rsa_recommended_becomes_minimum"),
            "{e}"
        );
    }
}
