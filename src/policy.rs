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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysPolicy {
    /// Allowed algorithms by OpenSSH name; everything else is denied.
    pub allowed_algorithms: Vec<String>,
    /// RSA keys below this fail.
    pub rsa_min_bits: u32,
    /// RSA keys below this warn, and fail from `rsa_recommended_becomes_minimum`.
    pub rsa_recommended_bits: u32,
    /// The day the recommended RSA size becomes the minimum.
    #[serde(deserialize_with = "deserialize_date")]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesPolicy {
    /// The most a private key file's mode may allow.
    #[serde(deserialize_with = "deserialize_mode")]
    pub key_mode: u32,
    /// The most a scanned directory's mode may allow.
    #[serde(deserialize_with = "deserialize_mode")]
    pub ssh_dir_mode: u32,
    /// How many copies of one private key may exist.
    pub max_copies: u32,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Schema version; always [`VERSION`].
    pub version: u32,
    /// `[keys]`.
    pub keys: KeysPolicy,
    /// `[files]`.
    pub files: FilesPolicy,
    /// `[rules]`: severity overrides by rule id.
    #[serde(default)]
    pub rules: BTreeMap<String, Level>,
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
    /// [`Error`] naming `name`, the setting and, for syntax errors, the line and column.
    pub fn with_override(name: &str, text: &str) -> Result<Policy, Error> {
        Policy::from_layers(&[("built-in policy", BUILTIN), (name, text)])
    }

    /// Lays each `(name, text)` layer over the previous ones and validates the result.
    fn from_layers(layers: &[(&str, &str)]) -> Result<Policy, Error> {
        let mut merged = toml::Table::new();
        let mut last_name = "built-in policy";
        for (name, text) in layers {
            let table: toml::Table = toml::from_str(text).map_err(|e| Error::Syntax {
                source_name: (*name).to_owned(),
                message: one_line(&e.to_string()),
            })?;
            merge(&mut merged, table);
            last_name = name;
        }
        let policy: Policy =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| Error::Syntax {
                    source_name: last_name.to_owned(),
                    message: one_line(&e.to_string()),
                })?;
        policy.validate(last_name)?;
        Ok(policy)
    }

    fn validate(&self, name: &str) -> Result<(), Error> {
        let invalid = |key: &str, message: String| Error::Invalid {
            source_name: name.to_owned(),
            key: key.to_owned(),
            message,
        };
        if self.version != VERSION {
            return Err(invalid(
                "version",
                format!("version {} is not supported; this keycheck reads version {VERSION}", self.version),
            ));
        }
        if self.keys.rsa_min_bits > self.keys.rsa_recommended_bits {
            return Err(invalid(
                "keys.rsa_min_bits",
                format!(
                    "{} is above keys.rsa_recommended_bits ({}); the minimum cannot exceed the recommendation",
                    self.keys.rsa_min_bits, self.keys.rsa_recommended_bits
                ),
            ));
        }
        if self.files.max_copies == 0 {
            return Err(invalid("files.max_copies", "0 would forbid every key; use 1 or more".to_owned()));
        }
        for id in self.rules.keys() {
            if Rule::from_id(id).is_none() {
                return Err(invalid(
                    &format!("rules.{id}"),
                    format!("unknown rule id \"{id}\"; `keycheck explain` lists the rules"),
                ));
            }
        }
        Ok(())
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

/// Deep-merges `top` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => merge(b, t),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// TOML errors span several lines (a source excerpt); keep the parts on one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('|') && !l.chars().all(|c| c == '^' || c == ' '))
        .collect::<Vec<_>>()
        .join("; ")
}

fn deserialize_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let text = String::deserialize(d)?;
    parse_mode(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "\"{text}\" is not a file mode; write it in octal like \"0600\""
        ))
    })
}

/// Parses an octal mode such as `0600` or `600`.
fn parse_mode(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 4 {
        return None;
    }
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

fn deserialize_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<time::Date>, D::Error> {
    /// A TOML date literal, or the same written as a string (a date that has passed
    /// through `toml::Value` arrives as text).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Date(toml::value::Datetime),
        Text(String),
    }
    let text = match Repr::deserialize(d)? {
        Repr::Date(date) => date.to_string(),
        Repr::Text(text) => text,
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(&text, format)
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("\"{text}\" is not a date; write it like 2027-07-01")))
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
        let e = Policy::with_override("p.toml", "version = 1\n[keys]\nrsa_min_bits = \"x\"\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("p.toml: "), "{text}");
        assert!(text.contains("rsa_min_bits"), "{text}");

        let e = Policy::with_override("p.toml", "version = 1\n[keys]\nrsa_min_bit = 1\n").unwrap_err();
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
        assert!(e.to_string().contains("line 1"), "{e}");
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
