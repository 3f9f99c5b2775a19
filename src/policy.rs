//! PURE: the policy keycheck enforces, from TOML text to a validated [`Policy`].
//!
//! The built-in default is `policy.toml` at the repository root, embedded in the binary.
//! A policy file given by the user is laid over it: every setting the file names replaces
//! the built-in value, every setting it leaves out keeps it. No I/O here: callers pass
//! text and a name to use in messages.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::finding::Severity;
use crate::rules::Rule;

/// The built-in policy text (`policy.toml`).
pub const BUILTIN: &str = include_str!("../policy.toml");

/// The one policy version this keycheck reads.
pub const VERSION: u32 = 1;

/// A policy could not be read or is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not valid TOML, or a value has the wrong type or an unknown name.
    #[error("{source_name}: {message}")]
    Syntax {
        /// The policy's name in messages (its path, or `built-in policy`).
        source_name: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A value is well-formed but not acceptable.
    #[error("{source_name}: {key}: {message}")]
    Invalid {
        /// The policy's name in messages.
        source_name: String,
        /// The setting, e.g. `keys.rsa_min_bits`.
        key: String,
        /// What is wrong and what is accepted.
        message: String,
    },
}

/// A severity as a policy may set it: a [`Severity`], or `off` to waive a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
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
}

/// A validated policy: every setting present and acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Schema version; always [`VERSION`].
    pub version: u32,
    /// `[keys]`.
    pub keys: KeysPolicy,
    /// `[files]`.
    pub files: FilesPolicy,
    /// `[rules]`: severity overrides by rule id.
    pub rules: BTreeMap<String, Level>,
}

/// A value as written in one layer, with where it was written.
type At<T> = toml::Spanned<T>;

/// One policy file as written: every setting optional, each with its position, unknown
/// names refused. Types are checked here (so type errors carry line and column); meaning
/// is checked by [`Policy::from_layers`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Option<At<u32>>,
    #[serde(default)]
    keys: RawKeys,
    #[serde(default)]
    files: RawFiles,
    #[serde(default)]
    rules: BTreeMap<At<String>, Level>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeys {
    allowed_algorithms: Option<Vec<String>>,
    rsa_min_bits: Option<At<u32>>,
    rsa_recommended_bits: Option<u32>,
    rsa_recommended_becomes_minimum: Option<At<toml::value::Datetime>>,
    passphrase_required: Option<bool>,
    hardware_keys_exempt: Option<bool>,
    bcrypt_min_rounds: Option<u32>,
    pbkdf2_min_iterations: Option<u32>,
    argon2_min_memory_kib: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFiles {
    key_mode: Option<At<String>>,
    ssh_dir_mode: Option<At<String>>,
    max_copies: Option<At<u32>>,
}

/// A raw layer and the name and text it came from (for positions in messages).
struct Layer<'a> {
    name: &'a str,
    text: &'a str,
    raw: RawPolicy,
}

impl Layer<'_> {
    /// `name:line:column` of a byte offset in this layer's text.
    fn at(&self, offset: usize) -> String {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{line}:{column}", self.name)
    }
}

impl Policy {
    /// The built-in policy.
    ///
    /// # Errors
    /// Only if the embedded `policy.toml` is broken, which a test rules out.
    pub fn builtin() -> Result<Policy, Error> {
        Policy::from_layers(&[("built-in policy", BUILTIN)])
    }

    /// The built-in policy with `text` (named `name` in messages) laid over it.
    ///
    /// # Errors
    /// [`Error`] naming `name`, the line and column, the setting and what is accepted.
    pub fn with_override(name: &str, text: &str) -> Result<Policy, Error> {
        Policy::from_layers(&[("built-in policy", BUILTIN), (name, text)])
    }

    /// Parses each `(name, text)` layer, lays each over the ones before it (a setting a
    /// layer names replaces the earlier value), and validates the result.
    fn from_layers(texts: &[(&str, &str)]) -> Result<Policy, Error> {
        let mut layers = Vec::with_capacity(texts.len());
        for (name, text) in texts {
            let raw: RawPolicy = toml::from_str(text).map_err(|e| Error::Syntax {
                source_name: match e.span() {
                    Some(span) => Layer {
                        name,
                        text,
                        raw: RawPolicy::default(),
                    }
                    .at(span.start),
                    None => (*name).to_owned(),
                },
                message: one_line(e.message()),
            })?;
            layers.push(Layer { name, text, raw });
        }
        // The last layer that sets a value decides it, and is the one named when the
        // value is refused.
        macro_rules! last {
            ($($field:ident).+) => {
                layers.iter().rev().find_map(|l| l.raw.$($field).+.as_ref().map(|v| (l, v)))
            };
        }
        let missing = |key: &str| Error::Invalid {
            source_name: "built-in policy".to_owned(),
            key: key.to_owned(),
            message: "missing".to_owned(),
        };
        let invalid = |layer: &Layer<'_>,
                       span: std::ops::Range<usize>,
                       key: &str,
                       message: String| Error::Invalid {
            source_name: layer.at(span.start),
            key: key.to_owned(),
            message,
        };

        let (layer, version) = last!(version).ok_or_else(|| missing("version"))?;
        if *version.get_ref() != VERSION {
            return Err(invalid(
                layer,
                version.span(),
                "version",
                format!(
                    "version {} is not supported; this keycheck reads version {VERSION}",
                    version.get_ref()
                ),
            ));
        }
        let (min_layer, min) =
            last!(keys.rsa_min_bits).ok_or_else(|| missing("keys.rsa_min_bits"))?;
        let recommended = *last!(keys.rsa_recommended_bits)
            .ok_or_else(|| missing("keys.rsa_recommended_bits"))?
            .1;
        if *min.get_ref() > recommended {
            return Err(invalid(
                min_layer,
                min.span(),
                "keys.rsa_min_bits",
                format!(
                    "{} is above keys.rsa_recommended_bits ({recommended}); the minimum cannot exceed the recommendation",
                    min.get_ref()
                ),
            ));
        }
        let becomes_minimum = match last!(keys.rsa_recommended_becomes_minimum) {
            None => None,
            Some((layer, date)) => Some(parse_date(date.get_ref()).ok_or_else(|| {
                invalid(
                    layer,
                    date.span(),
                    "keys.rsa_recommended_becomes_minimum",
                    format!(
                        "{} is not a plain date; write it like 2027-07-01",
                        date.get_ref()
                    ),
                )
            })?),
        };
        let mode = |key: &str, found: Option<(&Layer<'_>, &At<String>)>| -> Result<u32, Error> {
            let (layer, text) = found.ok_or_else(|| missing(key))?;
            parse_mode(text.get_ref()).ok_or_else(|| {
                invalid(
                    layer,
                    text.span(),
                    key,
                    format!(
                        "\"{}\" is not a file mode; write it in octal like \"0600\"",
                        text.get_ref()
                    ),
                )
            })
        };
        let (copies_layer, copies) =
            last!(files.max_copies).ok_or_else(|| missing("files.max_copies"))?;
        if *copies.get_ref() == 0 {
            return Err(invalid(
                copies_layer,
                copies.span(),
                "files.max_copies",
                "0 would forbid every key; use 1 or more".to_owned(),
            ));
        }
        let mut rules = BTreeMap::new();
        for layer in &layers {
            for (id, level) in &layer.raw.rules {
                if Rule::from_id(id.get_ref()).is_none() {
                    return Err(invalid(
                        layer,
                        id.span(),
                        &format!("rules.{}", id.get_ref()),
                        format!(
                            "unknown rule id \"{}\"; `keycheck explain` lists the rules",
                            id.get_ref()
                        ),
                    ));
                }
                rules.insert(id.get_ref().clone(), *level);
            }
        }
        let flag = |found: Option<(&Layer<'_>, &bool)>, key: &str| {
            found.map(|(_, v)| *v).ok_or_else(|| missing(key))
        };
        let number = |found: Option<(&Layer<'_>, &u32)>, key: &str| {
            found.map(|(_, v)| *v).ok_or_else(|| missing(key))
        };
        Ok(Policy {
            version: VERSION,
            keys: KeysPolicy {
                allowed_algorithms: last!(keys.allowed_algorithms)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| missing("keys.allowed_algorithms"))?,
                rsa_min_bits: *min.get_ref(),
                rsa_recommended_bits: recommended,
                rsa_recommended_becomes_minimum: becomes_minimum,
                passphrase_required: flag(
                    last!(keys.passphrase_required),
                    "keys.passphrase_required",
                )?,
                hardware_keys_exempt: flag(
                    last!(keys.hardware_keys_exempt),
                    "keys.hardware_keys_exempt",
                )?,
                bcrypt_min_rounds: number(last!(keys.bcrypt_min_rounds), "keys.bcrypt_min_rounds")?,
                pbkdf2_min_iterations: number(
                    last!(keys.pbkdf2_min_iterations),
                    "keys.pbkdf2_min_iterations",
                )?,
                argon2_min_memory_kib: number(
                    last!(keys.argon2_min_memory_kib),
                    "keys.argon2_min_memory_kib",
                )?,
            },
            files: FilesPolicy {
                key_mode: mode("files.key_mode", last!(files.key_mode))?,
                ssh_dir_mode: mode("files.ssh_dir_mode", last!(files.ssh_dir_mode))?,
                max_copies: *copies.get_ref(),
            },
            rules,
        })
    }

    /// The severity of `rule` under this policy, or `None` when it is switched off.
    #[must_use]
    pub fn severity(&self, rule: Rule) -> Option<Severity> {
        match self.rules.get(rule.id()) {
            Some(level) => level.severity(),
            None => Some(rule.default_severity()),
        }
    }
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

/// Parses an octal mode such as `0600` or `600`.
fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// A TOML date with no time part (`2027-07-01`).
fn parse_date(value: &toml::value::Datetime) -> Option<time::Date> {
    match (&value.date, &value.time, &value.offset) {
        (Some(date), None, None) => {
            let month = time::Month::try_from(date.month).ok()?;
            time::Date::from_calendar_date(i32::from(date.year), month, date.day).ok()
        }
        _ => None,
    }
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

    #[test]
    fn modes_parse_as_octal() {
        assert_eq!(parse_mode("0600"), Some(0o600));
        assert_eq!(parse_mode("700"), Some(0o700));
        assert_eq!(parse_mode("0800"), None);
        assert_eq!(parse_mode(""), None);
        assert_eq!(parse_mode("77777"), None);
    }
}
