//! PURE: what a scan found, as plain values: keys with their file facts, the directories
//! that hold them, files that are not keys, and files that could not be examined.
//!
//! The filesystem edge (`sys::scan`) fills it in; rules and reports read it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::key::KeyFacts;

/// Facts about a file itself, as the filesystem reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FileFacts {
    /// Permission bits (`st_mode & 0o7777`), as four octal digits (`"0600"`).
    #[serde(
        serialize_with = "serialize_mode",
        deserialize_with = "deserialize_mode"
    )]
    #[schemars(with = "String", regex(pattern = r"^[0-7]{4}$"))]
    pub mode: u32,
    /// Owner uid.
    pub owner: u32,
    /// Last modification as RFC 3339 UTC text.
    pub modified: Option<String>,
    /// True when the path is not UTF-8 and is shown with `\xNN` (and `\\`) escapes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_escaped: bool,
}

/// Serialises a mode as four octal digits, the way `chmod` takes it (`"0600"`).
fn serialize_mode<S: serde::Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_mode(*mode))
}

/// Reads a mode written by [`serialize_mode`]: four octal digits.
fn deserialize_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let text = String::deserialize(d)?;
    let octal = text.len() == 4 && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
    match u32::from_str_radix(&text, 8) {
        Ok(mode) if octal => Ok(mode),
        _ => Err(serde::de::Error::custom(format!(
            "mode {text:?} is not four octal digits"
        ))),
    }
}

/// A mode as four octal digits (`0600`).
#[must_use]
pub fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// One key found on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyRecord {
    /// The path as found.
    pub path: String,
    /// What the bytes say.
    #[serde(flatten)]
    pub facts: KeyFacts,
    /// What the filesystem says.
    #[serde(flatten)]
    pub file: FileFacts,
}

/// A directory that was scanned as a root (for `~/.ssh` permission checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DirRecord {
    /// The path as given.
    pub path: String,
    /// What the filesystem says.
    #[serde(flatten)]
    pub file: FileFacts,
}

/// A file that is not a key, and what it is instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The path as found.
    pub path: String,
    /// What it is (`known_hosts`, `binary data, not a key`, ...).
    pub reason: String,
}

/// A file keycheck could not examine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// The path as found.
    pub path: String,
    /// Why (`permission denied`, `not a regular file (fifo)`, ...).
    pub error: String,
}

/// A file that looks like a key but could not be parsed as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    /// The path as found.
    pub path: String,
    /// The format it claims to be, when known.
    pub format: Option<crate::key::Format>,
    /// Why it could not be read.
    pub error: String,
}

/// Everything one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Keys, sorted by path.
    pub keys: Vec<KeyRecord>,
    /// Scanned root directories.
    pub dirs: Vec<DirRecord>,
    /// Files that look like keys but cannot be read as keys.
    pub malformed: Vec<Malformed>,
    /// Files that are not keys.
    pub skipped: Vec<Skipped>,
    /// Files that could not be examined.
    pub errors: Vec<FileError>,
    /// `~/.ssh` as shown in paths, when known: keys elsewhere are strays.
    pub ssh_dir: Option<String>,
    /// How each key found outside the plain scan was found, by path.
    pub found: BTreeMap<String, Found>,
    /// What the opt-in common-passphrase audit learnt, by key path.
    pub passphrase_audit: BTreeMap<String, Audit>,
    /// The ssh client's effective configuration, when it was read.
    pub ssh_config: Option<crate::sshconfig::SshConfigFacts>,
    /// `authorized_keys` files read, with their entries.
    pub authorized_keys: Vec<AuthorizedFile>,
    /// The user's ssh-agents (`$SSH_AUTH_SOCK`, `IdentityAgent`), when they were read.
    pub agents: Vec<AgentFacts>,
}

/// One ssh-agent socket of the user and what is behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AgentFacts {
    /// The socket, as shown in paths.
    pub socket: String,
    /// What agent serves it and how long it keeps keys, when it could be told.
    pub kind: Option<crate::sshagent::kind::AgentKind>,
    /// The agent process, when found.
    pub pid: Option<u32>,
    /// How many identities it holds now.
    pub identities: usize,
    /// Why it could not be read (refused, not answering), if so.
    pub error: Option<String>,
}

/// One `authorized_keys` file and its entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedFile {
    /// The file, as shown in paths.
    pub path: String,
    /// Its entries.
    pub entries: crate::key::authorized::AuthorizedKeys,
}

impl Inventory {
    /// Adds what `other` found (by `how`) to this inventory. A key both hold (the same
    /// path) is kept once; lists stay sorted by path.
    pub fn absorb(&mut self, other: Inventory, how: Found) {
        let known: std::collections::BTreeSet<String> =
            self.keys.iter().map(|k| k.path.clone()).collect();
        for key in other.keys {
            if !known.contains(&key.path) {
                if how != Found::Scan {
                    self.found.insert(key.path.clone(), how);
                }
                self.keys.push(key);
            }
        }
        let malformed: std::collections::BTreeSet<String> =
            self.malformed.iter().map(|m| m.path.clone()).collect();
        self.malformed.extend(
            other
                .malformed
                .into_iter()
                .filter(|m| !malformed.contains(&m.path)),
        );
        let errors: std::collections::BTreeSet<String> =
            self.errors.iter().map(|e| e.path.clone()).collect();
        self.errors.extend(
            other
                .errors
                .into_iter()
                .filter(|e| !errors.contains(&e.path)),
        );
        self.skipped.extend(other.skipped);
        self.dirs.extend(other.dirs);
        self.keys.sort_by(|a, b| a.path.cmp(&b.path));
        self.malformed.sort_by(|a, b| a.path.cmp(&b.path));
        self.errors.sort_by(|a, b| a.path.cmp(&b.path));
        self.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    }
}

/// How a key outside the plain scan of the given roots was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Found {
    /// In a root given to the scan (`~/.ssh` by default).
    Scan,
    /// By the home-tree search (`--search-home`, `[files] search`).
    Search,
    /// Named by an `IdentityFile` in the ssh config.
    IdentityFile,
}

/// The outcome of the common-passphrase audit for one key. It never says which
/// passphrase opened the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum Audit {
    /// One of the common passphrases (or the empty one) opens the key.
    Weak {
        /// How many passphrases were tried.
        tried: usize,
    },
    /// None of the list opens the key.
    NotFound {
        /// How many passphrases were tried.
        tried: usize,
    },
    /// The time budget ran out first.
    OutOfTime {
        /// How many were tried.
        tried: usize,
        /// How many there are.
        of: usize,
    },
    /// keycheck cannot try passphrases on this format.
    Unsupported {
        /// Why.
        reason: String,
    },
}

/// What a file that OpenSSH keeps in `~/.ssh` is, by its name; `None` for other names.
///
/// Used only for files whose content is not a private key: a private key is a key
/// whatever its name.
#[must_use]
pub fn known_ssh_file(name: &str) -> Option<&'static str> {
    Some(match name {
        "config" => "ssh client configuration",
        "known_hosts" | "known_hosts2" | "known_hosts.old" => {
            "known hosts list (servers' public keys)"
        }
        "authorized_keys" | "authorized_keys2" => {
            "authorized keys list (keys allowed to log in here)"
        }
        "allowed_signers" => "allowed signers list",
        "environment" => "ssh environment file",
        "rc" => "ssh login script",
        _ => return None,
    })
}
