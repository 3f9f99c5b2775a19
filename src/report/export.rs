//! PURE: the `keycheck.report/v1` document that `keycheck report` exports for a fleet:
//! who and where (host, user), with what (tool, policy), what was found (roots, keys,
//! agents) and what the policy thinks of it (findings, waived, errors, summary).
//!
//! [`Report::build`] assembles it from an [`Inventory`], an [`Evaluation`] and facts the
//! caller gathered ([`Context`]); nothing here reads the machine, the clock or the
//! environment. The document serialises to JSON ([`Report::to_json`], [`write_json`]),
//! and to one record per finding in [`lines`] (NDJSON, CSV). [`json_schema`] generates
//! the published JSON Schema (`schemas/keycheck.report-v1.json`) from these types.
//!
//! # Signing
//!
//! A report is signed as a whole: the signer fills [`Report::signing`] (who signs, with
//! which key, kept where), serialises the document once with [`Report::to_json`], signs
//! exactly those bytes (SSHSIG, namespace [`SIGNING_NAMESPACE`]), writes them unchanged
//! as `report.json` and the signature beside them as `report.json.sig`. The signature
//! never appears in the document, so `ssh-keygen -Y verify -n keycheck-report
//! -s report.json.sig < report.json` checks the file as it lies on disk, and the
//! `signing` block is itself covered by the signature.
//!
//! Like [`crate::report::json`], no key material ever reaches this module:
//! [`crate::key::KeyFacts`] holds none.

pub mod lines;

use std::borrow::Cow;
use std::io;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::Summary;
use crate::finding::Finding;
use crate::inventory::{AgentFacts, Found, Inventory, KeyRecord};
use crate::policy::{Policy, Profile};
use crate::rules::{Evaluation, Waived};

/// The schema id of the report document.
pub const REPORT_SCHEMA: &str = "keycheck.report/v1";

/// The SSHSIG namespace reports are signed in (`ssh-keygen -Y sign -n keycheck-report`).
pub const SIGNING_NAMESPACE: &str = "keycheck-report";

/// The report could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The merged policy's text does not read back as TOML (a bug in `policy show`).
    #[error("the merged policy cannot be put in canonical form: {0}")]
    PolicyText(String),
    /// The document could not be serialised.
    #[error("cannot serialise the report: {0}")]
    Serialise(String),
}

/// The `schema` field: always `keycheck.report/v1`. Reading a document with any other
/// value (a `keycheck.check/v1` document, a later major version) fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SchemaId;

impl Serialize for SchemaId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REPORT_SCHEMA)
    }
}

impl<'de> Deserialize<'de> for SchemaId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = Cow::<'de, str>::deserialize(d)?;
        if id == REPORT_SCHEMA {
            Ok(SchemaId)
        } else {
            Err(serde::de::Error::custom(format!(
                "not a {REPORT_SCHEMA} document: schema is {id:?}"
            )))
        }
    }
}

impl JsonSchema for SchemaId {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "SchemaId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({
            "description": "The document's schema and major version.",
            "type": "string",
            "const": REPORT_SCHEMA,
        })
    }
}

/// One `keycheck report`: this user's keys on this host, judged against the policy in
/// force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "keycheck.report/v1")]
pub struct Report {
    /// Always `keycheck.report/v1`.
    pub schema: SchemaId,
    /// The machine.
    pub host: Host,
    /// The person whose keys were checked.
    pub user: User,
    /// The program that wrote the report.
    pub tool: Tool,
    /// The policy the keys were judged against.
    pub policy: PolicyInfo,
    /// When the check ran, RFC 3339 in UTC.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub generated_at: OffsetDateTime,
    /// What was looked at: `~/.ssh`, files the ssh config names, the policy's search paths.
    pub roots: Vec<Root>,
    /// Every key found: facts only, never key material. Sorted by path.
    pub keys: Vec<KeyRecord>,
    /// The user's ssh-agents: which agent, how long it keeps keys, how many it holds.
    pub agents: Vec<AgentFacts>,
    /// Findings in force (exceptions applied), sorted by path, then severity (worst
    /// first), then rule.
    pub findings: Vec<Finding>,
    /// Findings a policy exception waived, with the exception.
    pub waived: Vec<Waived>,
    /// Files and settings that could not be examined, sorted by path.
    pub errors: Vec<ErrorEntry>,
    /// Counts.
    pub summary: Summary,
    /// Who signed the report, when it is signed (the signature itself is a detached
    /// `.sig` file; see the module docs). Absent in an unsigned report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<Signing>,
}

/// The machine a report comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Host {
    /// A stable id for the machine: HMAC-SHA256 keyed with `keycheck host id v1` over
    /// the machine id, as 64 lowercase hex digits. Never the machine id itself.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub id: String,
    /// What the id was derived from.
    pub id_source: IdSource,
    /// The host name (`uname -n`).
    pub hostname: String,
    /// The operating system: `PRETTY_NAME` of os-release, else `uname -sr`.
    pub os: String,
}

/// What a host id was derived from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IdSource {
    /// `/etc/machine-id` (systemd).
    MachineId,
    /// `/var/lib/dbus/machine-id` (D-Bus), when `/etc/machine-id` is missing.
    DbusMachineId,
    /// The `IOPlatformUUID` of `ioreg` (macOS).
    IoPlatformUuid,
    /// No machine id exists: a random secret generated once and kept in keycheck's state
    /// directory. It lasts as long as that directory and is per user, so two users of one
    /// machine report different ids.
    Generated,
}

/// The person whose keys a report is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct User {
    /// The login name, when it could be found.
    pub name: Option<String>,
    /// The numeric user id.
    pub uid: u32,
}

/// The program that wrote a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Tool {
    /// Always `keycheck`.
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Tool {
    /// This build of keycheck.
    #[must_use]
    pub fn this() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// The policy a report was judged against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PolicyInfo {
    /// SHA-256 (lowercase hex) of the merged policy in canonical form: the values of
    /// `keycheck policy show` as compact JSON with sorted keys, without the comments
    /// naming the file and line each value came from. Two hosts under the same values
    /// report the same digest whichever files set them.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub digest: String,
    /// The device profile, which decides the cache window.
    pub profile: Profile,
}

impl PolicyInfo {
    /// The digest and profile of `policy`.
    ///
    /// # Errors
    /// [`ExportError::PolicyText`] if the policy's text does not read back (a bug).
    pub fn of(policy: &Policy) -> Result<PolicyInfo, ExportError> {
        let canonical = canonical_policy(policy)?;
        Ok(PolicyInfo {
            digest: hex(&Sha256::digest(canonical.as_bytes())),
            profile: policy.profile,
        })
    }
}

/// A file or directory a check started from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Root {
    /// The path as shown in paths elsewhere in the report.
    pub path: String,
    /// Why it was looked at: `scan` (`~/.ssh`), `identity-file` (named by the ssh
    /// config), `search` (the policy's `[files] search`).
    pub found_by: Found,
}

/// A file or setting that could not be examined, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorEntry {
    /// The file (or `file:line` of an ssh config setting).
    pub path: String,
    /// Why.
    pub error: String,
}

impl ErrorEntry {
    /// The files `inventory` could not examine and those that look like keys but are not
    /// readable as keys, sorted by path.
    #[must_use]
    pub fn all_of(inventory: &Inventory) -> Vec<ErrorEntry> {
        let mut errors: Vec<ErrorEntry> = inventory
            .errors
            .iter()
            .map(|e| ErrorEntry {
                path: e.path.clone(),
                error: e.error.clone(),
            })
            .chain(inventory.malformed.iter().map(|m| ErrorEntry {
                path: m.path.clone(),
                error: match m.format {
                    Some(format) => format!("malformed {} key: {}", format.as_str(), m.error),
                    None => format!("malformed key: {}", m.error),
                },
            }))
            .collect();
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        errors
    }
}

/// Who signed a report. The signer fills it in before serialising, so the signature
/// covers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Signing {
    /// The SSHSIG namespace: `keycheck-report`.
    pub namespace: String,
    /// The principal to verify as (`ssh-keygen -Y verify -I`), as in the fleet's
    /// `allowed_signers` file.
    pub principal: String,
    /// The device's public key, as one OpenSSH line (`ssh-ed25519 AAAA...`).
    pub public_key: String,
    /// Its fingerprint, `SHA256:...` as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// Where the device's private key is kept.
    pub key_store: KeyStore,
}

/// Where a device signing key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStore {
    /// The freedesktop Secret Service (GNOME Keyring, KWallet).
    SecretService,
    /// The macOS Keychain.
    Keychain,
    /// A 0600 file in keycheck's state directory: no secret store answered.
    File,
}

/// What the caller gathered about the run, beside the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The machine.
    pub host: Host,
    /// The person.
    pub user: User,
    /// When the check ran.
    pub generated_at: OffsetDateTime,
    /// What was looked at.
    pub roots: Vec<Root>,
}

impl Report {
    /// Assembles the report of one check: `inventory` judged under `policy` into
    /// `evaluation`. The result is unsigned.
    ///
    /// # Errors
    /// [`ExportError::PolicyText`] if the policy cannot be digested (a bug).
    pub fn build(
        context: Context,
        policy: &Policy,
        inventory: &Inventory,
        evaluation: &Evaluation,
    ) -> Result<Report, ExportError> {
        let summary = Summary {
            waived: evaluation.waived.len(),
            ..Summary::of(inventory, &evaluation.findings)
        };
        Ok(Report {
            schema: SchemaId,
            host: context.host,
            user: context.user,
            tool: Tool::this(),
            policy: PolicyInfo::of(policy)?,
            generated_at: context.generated_at,
            roots: context.roots,
            keys: inventory.keys.clone(),
            agents: inventory.agents.clone(),
            findings: evaluation.findings.clone(),
            waived: evaluation.waived.clone(),
            errors: ErrorEntry::all_of(inventory),
            summary,
            signing: None,
        })
    }

    /// The document as pretty-printed JSON followed by a newline: the exact bytes to
    /// write, and to sign.
    ///
    /// # Errors
    /// [`ExportError::Serialise`]; not expected, as every field serialises.
    pub fn to_json(&self) -> Result<Vec<u8>, ExportError> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| ExportError::Serialise(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Writes `report` as [`Report::to_json`] does.
///
/// # Errors
/// Any error of `out`.
pub fn write_json(out: &mut dyn io::Write, report: &Report) -> io::Result<()> {
    out.write_all(&report.to_json().map_err(io::Error::other)?)
}

/// The JSON Schema (draft 2020-12) of [`Report`], describing what keycheck writes:
/// every field that is always present is required.
#[must_use]
pub fn json_schema() -> Schema {
    schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Report>()
}

/// [`json_schema`] as pretty-printed JSON followed by a newline: the text of
/// `schemas/keycheck.report-v1.json`.
///
/// # Errors
/// [`ExportError::Serialise`]; not expected.
pub fn json_schema_text() -> Result<String, ExportError> {
    let mut text = serde_json::to_string_pretty(&json_schema())
        .map_err(|e| ExportError::Serialise(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// The canonical text of `policy` that [`PolicyInfo::digest`] hashes: `policy.show()`
/// read back as TOML (dropping the comments, which name files and lines that differ
/// between machines), written as compact JSON with every table's keys sorted and dates
/// as strings.
fn canonical_policy(policy: &Policy) -> Result<String, ExportError> {
    let table: toml::Table = toml::from_str(&policy.show())
        .map_err(|e| ExportError::PolicyText(e.message().to_owned()))?;
    let mut out = String::new();
    canonical_table(&table, &mut out)?;
    Ok(out)
}

fn canonical_table(table: &toml::Table, out: &mut String) -> Result<(), ExportError> {
    let mut keys: Vec<&String> = table.keys().collect();
    keys.sort();
    out.push('{');
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        canonical_string(key, out)?;
        out.push(':');
        if let Some(value) = table.get(key) {
            canonical_value(value, out)?;
        }
    }
    out.push('}');
    Ok(())
}

fn canonical_value(value: &toml::Value, out: &mut String) -> Result<(), ExportError> {
    match value {
        toml::Value::String(s) => canonical_string(s, out)?,
        toml::Value::Integer(i) => out.push_str(&i.to_string()),
        toml::Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => out.push_str(&n.to_string()),
            None => return Err(ExportError::PolicyText(format!("{f} is not a number"))),
        },
        toml::Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        toml::Value::Datetime(d) => canonical_string(&d.to_string(), out)?,
        toml::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_value(item, out)?;
            }
            out.push(']');
        }
        toml::Value::Table(table) => canonical_table(table, out)?,
    }
    Ok(())
}

fn canonical_string(s: &str, out: &mut String) -> Result<(), ExportError> {
    out.push_str(&serde_json::to_string(s).map_err(|e| ExportError::PolicyText(e.to_string()))?);
    Ok(())
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests_support {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::inventory::FileFacts;
    use crate::key::{Format, KeyFacts, Kind};

    fn context() -> Context {
        Context {
            host: Host {
                id: "ab".repeat(32),
                id_source: IdSource::MachineId,
                hostname: "laptop-7".to_owned(),
                os: "Debian GNU/Linux 12 (bookworm)".to_owned(),
            },
            user: User {
                name: Some("ada".to_owned()),
                uid: 1000,
            },
            generated_at: time::macros::datetime!(2026-05-01 12:00:00 UTC),
            roots: vec![Root {
                path: "/home/ada/.ssh".to_owned(),
                found_by: Found::Scan,
            }],
        }
    }

    fn inventory() -> Inventory {
        let mut facts = KeyFacts::new(Kind::Private, Format::Openssh);
        facts.algorithm = Some("ssh-ed25519".to_owned());
        facts.bits = Some(256);
        facts.fingerprint = Some("SHA256:abc".to_owned());
        Inventory {
            keys: vec![KeyRecord {
                path: "/home/ada/.ssh/id_ed25519".to_owned(),
                facts,
                file: FileFacts {
                    mode: 0o600,
                    owner: 1000,
                    modified: None,
                    path_escaped: false,
                },
            }],
            errors: vec![crate::inventory::FileError {
                path: "/home/ada/.ssh/z".to_owned(),
                error: "permission denied".to_owned(),
            }],
            malformed: vec![crate::inventory::Malformed {
                path: "/home/ada/.ssh/broken".to_owned(),
                format: Some(Format::Openssh),
                error: "truncated".to_owned(),
            }],
            ..Inventory::default()
        }
    }

    /// A report of one ed25519 key, two unreadable files and `findings`.
    pub(crate) fn report_with(findings: Vec<Finding>) -> Report {
        let policy = Policy::builtin().unwrap();
        let evaluation = Evaluation {
            findings,
            waived: Vec::new(),
        };
        Report::build(context(), &policy, &inventory(), &evaluation).unwrap()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::tests_support::report_with;
    use super::*;
    use crate::finding::Severity;
    use crate::rules::Rule;

    fn report() -> Report {
        report_with(vec![Finding {
            rule: Rule::PassphraseMissing,
            severity: Severity::Fail,
            path: "/home/ada/.ssh/id_ed25519".to_owned(),
            fingerprint: Some("SHA256:abc".to_owned()),
            message: "no passphrase".to_owned(),
            fix: Some("ssh-keygen -p -f /home/ada/.ssh/id_ed25519".to_owned()),
        }])
    }

    #[test]
    fn builds_from_the_check_and_round_trips() {
        let report = report();
        assert_eq!(report.summary.keys, 1);
        assert_eq!(report.summary.fail, 1);
        assert_eq!(report.summary.errors, 2);
        assert_eq!(
            report
                .errors
                .iter()
                .map(|e| e.path.as_str())
                .collect::<Vec<_>>(),
            ["/home/ada/.ssh/broken", "/home/ada/.ssh/z"]
        );
        assert_eq!(report.errors[0].error, "malformed openssh key: truncated");
        let bytes = report.to_json().unwrap();
        let back: Report = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back, report);
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["schema"], REPORT_SCHEMA);
        assert_eq!(value["generated_at"], "2026-05-01T12:00:00Z");
        assert_eq!(value["keys"][0]["mode"], "0600");
        assert_eq!(value["policy"]["profile"], "laptop");
        assert!(value.get("signing").is_none(), "unsigned: no signing block");
    }

    #[test]
    fn the_signing_block_is_part_of_the_serialised_bytes() {
        let mut report = report();
        report.signing = Some(Signing {
            namespace: SIGNING_NAMESPACE.to_owned(),
            principal: report.host.id.clone(),
            public_key: "ssh-ed25519 AAAA".to_owned(),
            fingerprint: "SHA256:x".to_owned(),
            key_store: KeyStore::File,
        });
        let bytes = report.to_json().unwrap();
        let back: Report = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(back.signing, report.signing);
        assert_eq!(back.to_json().unwrap(), bytes, "re-serialising is stable");
    }

    #[test]
    fn another_schema_is_refused() {
        let mut value = serde_json::to_value(report()).unwrap();
        value["schema"] = "keycheck.check/v1".into();
        let err = serde_json::from_value::<Report>(value).unwrap_err();
        assert!(err
            .to_string()
            .contains("not a keycheck.report/v1 document"));
    }

    #[test]
    fn the_policy_digest_ignores_where_values_came_from_but_not_the_values() {
        let builtin = PolicyInfo::of(&Policy::builtin().unwrap()).unwrap();
        assert_eq!(builtin.digest.len(), 64);
        // The same value set by an organisation file: other origins, same digest.
        let same = Policy::with_override(
            "/etc/keycheck/policy.toml",
            "version = 1\n[keys]\nrsa_min_bits = 2048\n",
        )
        .unwrap();
        assert_ne!(same.show(), Policy::builtin().unwrap().show());
        assert_eq!(PolicyInfo::of(&same).unwrap().digest, builtin.digest);
        let tighter =
            Policy::with_override("org.toml", "version = 1\n[keys]\nrsa_min_bits = 3072\n")
                .unwrap();
        assert_ne!(PolicyInfo::of(&tighter).unwrap().digest, builtin.digest);
        let server =
            Policy::with_override("org.toml", "version = 1\nprofile = \"server\"\n").unwrap();
        let info = PolicyInfo::of(&server).unwrap();
        assert_eq!(info.profile, Profile::Server);
        assert_ne!(info.digest, builtin.digest);
    }

    #[test]
    fn canonical_policy_sorts_keys_and_drops_comments() {
        let text = canonical_policy(&Policy::builtin().unwrap()).unwrap();
        assert!(text.starts_with("{\"cache\":{"), "{text}");
        assert!(!text.contains("built-in"), "{text}");
        assert!(text.contains("\"rsa_recommended_becomes_minimum\":\"2027-07-01\""));
    }

    #[test]
    fn the_schema_requires_what_is_always_written() {
        let schema = serde_json::to_value(json_schema()).unwrap();
        let required = schema["required"].as_array().unwrap();
        for field in [
            "schema", "host", "user", "policy", "keys", "findings", "summary",
        ] {
            assert!(required.iter().any(|r| r == field), "{field} required");
        }
        assert!(!required.iter().any(|r| r == "signing"));
        assert_eq!(schema["properties"]["schema"]["const"], REPORT_SCHEMA);
    }
}
