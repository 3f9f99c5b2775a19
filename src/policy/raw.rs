//! PURE: one policy file as written. Every setting is optional and keeps its position in
//! the text, unknown names are refused, and values are left as close to the TOML as
//! possible so that [`super::layer`] can say *which* value is wrong and what is accepted.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A value as written, with its byte span in the file.
pub(super) type At<T> = toml::Spanned<T>;

/// A whole policy file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub version: Option<At<i64>>,
    pub profile: Option<At<String>>,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub files: RawFiles,
    #[serde(default)]
    pub cache: RawCache,
    #[serde(default)]
    pub notify: RawNotify,
    #[serde(default)]
    pub report: RawReport,
    #[serde(default)]
    pub exceptions: RawExceptions,
    #[serde(default)]
    pub rules: BTreeMap<At<String>, At<String>>,
}

/// `[keys]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKeys {
    pub allowed_algorithms: Option<At<Vec<At<String>>>>,
    pub rsa_min_bits: Option<At<i64>>,
    pub rsa_recommended_bits: Option<At<i64>>,
    pub rsa_recommended_becomes_minimum: Option<At<toml::value::Datetime>>,
    pub passphrase_required: Option<At<bool>>,
    pub hardware_keys_exempt: Option<At<bool>>,
    pub bcrypt_min_rounds: Option<At<i64>>,
    pub pbkdf2_min_iterations: Option<At<i64>>,
    pub argon2_min_memory_kib: Option<At<i64>>,
    pub max_age: Option<At<toml::Value>>,
    pub certificate_expiry_warning: Option<At<toml::Value>>,
}

/// `[files]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFiles {
    pub key_mode: Option<At<String>>,
    pub ssh_dir_mode: Option<At<String>>,
    pub max_copies: Option<At<i64>>,
    pub search: Option<At<Vec<At<String>>>>,
    pub exclude: Option<At<Vec<At<String>>>>,
}

/// `[cache]`: how long a decrypted key may stay in an agent, per device profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCache {
    pub laptop: Option<At<toml::Value>>,
    pub desktop: Option<At<toml::Value>>,
    pub mobile: Option<At<toml::Value>>,
    pub server: Option<At<toml::Value>>,
    pub clear_at_logout: Option<At<bool>>,
    pub clear_at_lock: Option<At<bool>>,
}

/// `[notify]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    pub min_severity: Option<At<String>>,
    pub repeat_after: Option<At<toml::Value>>,
    pub incident_url: Option<At<String>>,
}

/// `[report]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub dir: Option<At<String>>,
    pub database: Option<At<String>>,
}

/// `[exceptions]` and its `[[exceptions.waive]]` entries.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExceptions {
    pub users_may_add: Option<At<bool>>,
    #[serde(default)]
    pub waive: Vec<At<RawException>>,
}

/// One `[[exceptions.waive]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawException {
    pub path: Option<At<String>>,
    pub fingerprint: Option<At<String>>,
    pub rules: Option<At<Vec<At<String>>>>,
    pub reason: Option<At<String>>,
    pub expires: Option<At<toml::value::Datetime>>,
}

/// Parses `text`; the error is the TOML parser's, with its byte span.
pub(super) fn parse(text: &str) -> Result<RawPolicy, toml::de::Error> {
    toml::from_str(text)
}
