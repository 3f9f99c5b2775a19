//! PURE: what a key file is, from its bytes alone.
//!
//! [`inspect`] recognises the format from the content (never from the file name) and turns
//! the bytes into [`KeyFacts`]: algorithm, bits, fingerprint, how the private part is
//! protected. It never judges (that is `rules`), never touches the filesystem, and never
//! decrypts anything — except [`decrypt`], the opt-in common-passphrase audit. Decoded
//! private key bytes live only in [`zeroize::Zeroizing`] buffers and no fact, error or
//! `Debug` output ever carries them.

pub mod armor;
pub mod authorized;
pub mod blob;
pub mod decrypt;
mod error;
mod legacy;
mod openssh;
mod pem;
mod ppk;
mod public;

pub use error::ParseError;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of key material a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A private key (possibly encrypted).
    Private,
    /// A public key only.
    Public,
    /// An OpenSSH certificate (a public key signed by a CA).
    Certificate,
}

/// The file format a key was found in. Spellings are the design's and stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` (openssh-key-v1).
    Openssh,
    /// `-----BEGIN RSA PRIVATE KEY-----`, plain or with `Proc-Type: 4,ENCRYPTED`.
    Pkcs1Pem,
    /// `-----BEGIN PRIVATE KEY-----`.
    Pkcs8Pem,
    /// `-----BEGIN ENCRYPTED PRIVATE KEY-----` (PBES2).
    Pkcs8EncryptedPem,
    /// `-----BEGIN EC PRIVATE KEY-----`.
    Sec1Pem,
    /// `-----BEGIN DSA PRIVATE KEY-----`.
    DsaPem,
    /// `PuTTY-User-Key-File-2`.
    PuttyV2,
    /// `PuTTY-User-Key-File-3`.
    PuttyV3,
    /// `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` (ssh.com / Tectia).
    Sshcom,
    /// `SSH PRIVATE KEY FILE FORMAT 1.1` (SSH protocol 1 RSA key).
    Ssh1,
    /// One line `ALGORITHM BASE64 [COMMENT]`.
    OpensshPublic,
    /// `---- BEGIN SSH2 PUBLIC KEY ----`.
    Rfc4716Public,
    /// One line `ALGORITHM-cert-v01@openssh.com BASE64 [COMMENT]`.
    OpensshCertificate,
}

impl Format {
    /// The stable spelling used in reports (`pkcs1-pem`, `putty-v3`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Openssh => "openssh",
            Format::Pkcs1Pem => "pkcs1-pem",
            Format::Pkcs8Pem => "pkcs8-pem",
            Format::Pkcs8EncryptedPem => "pkcs8-encrypted-pem",
            Format::Sec1Pem => "sec1-pem",
            Format::DsaPem => "dsa-pem",
            Format::PuttyV2 => "putty-v2",
            Format::PuttyV3 => "putty-v3",
            Format::Sshcom => "sshcom",
            Format::Ssh1 => "ssh1",
            Format::OpensshPublic => "openssh-public",
            Format::Rfc4716Public => "rfc4716-public",
            Format::OpensshCertificate => "openssh-certificate",
        }
    }
}

/// Something about the file's text that differs from what its writer produces.
///
/// keycheck still reports the key's real facts; a quirk says whether OpenSSH would load
/// the file as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Quirk {
    /// Lines end in CR LF.
    CrlfLineEndings,
    /// Non-blank text stands before the BEGIN line.
    TextBeforeArmor,
    /// Non-blank text stands after the END line.
    TextAfterArmor,
    /// The base64 body is not wrapped (one long line).
    UnwrappedBase64,
    /// Legacy-encrypted PEM with base64 lines over 64 characters.
    LongBase64Lines,
}

impl Quirk {
    /// A short human description.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Quirk::CrlfLineEndings => "CRLF line endings",
            Quirk::TextBeforeArmor => "text before the BEGIN line",
            Quirk::TextAfterArmor => "text after the END line",
            Quirk::UnwrappedBase64 => "base64 body on one line",
            Quirk::LongBase64Lines => "base64 lines longer than 64 characters",
        }
    }
}

/// FIDO/U2F security key details of an `sk-` key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SkFacts {
    /// The FIDO application string (usually `ssh:`).
    pub application: String,
    /// The raw flags byte, when the private part is readable (not encrypted).
    pub flags: Option<u8>,
    /// Flag 0x01: a touch is required for each signature.
    pub user_presence_required: Option<bool>,
    /// Flag 0x04: a PIN or biometric is required for each signature.
    pub user_verification_required: Option<bool>,
    /// Flag 0x20: the key handle is resident on the token.
    pub resident: Option<bool>,
}

impl SkFacts {
    /// Facts for an application string and, when known, the flags byte.
    #[must_use]
    pub fn new(application: String, flags: Option<u8>) -> Self {
        SkFacts {
            application,
            flags,
            user_presence_required: flags.map(|f| f & 0x01 != 0),
            user_verification_required: flags.map(|f| f & 0x04 != 0),
            resident: flags.map(|f| f & 0x20 != 0),
        }
    }
}

/// What an OpenSSH certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CertFacts {
    /// `user` or `host`.
    pub cert_type: String,
    /// The key id chosen by the CA.
    pub key_id: String,
    /// The certificate serial number.
    pub serial: u64,
    /// Principals the certificate is valid for (empty = any).
    pub principals: Vec<String>,
    /// Start of validity, seconds since the Unix epoch.
    pub valid_after: u64,
    /// End of validity, seconds since the Unix epoch (`u64::MAX` = forever).
    pub valid_before: u64,
    /// The SHA256 fingerprint of the signing CA key.
    pub ca_fingerprint: String,
    /// The CA key's algorithm.
    pub ca_algorithm: String,
}

/// Everything keycheck learns about one key from the bytes of its file.
///
/// Field names and value spellings are the design's fact table and stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyFacts {
    /// Private, public or certificate.
    pub kind: Kind,
    /// The file format.
    pub format: Format,
    /// OpenSSH algorithm name (`ssh-ed25519`, `ssh-rsa`, ...), `rsa1` for SSH-1 keys;
    /// `None` when the file hides it and no matching `.pub` was found.
    pub algorithm: Option<String>,
    /// Key size exactly as `ssh-keygen -l` prints it.
    pub bits: Option<u32>,
    /// Whether a passphrase protects the private part (always false for public keys).
    pub encrypted: bool,
    /// The cipher protecting the private part (`aes256-ctr`, `AES-128-CBC`, `aes256-cbc`).
    pub cipher: Option<String>,
    /// The key derivation function (`bcrypt`, `md5`, `pbkdf2-sha256`, `argon2id`, ...).
    pub kdf: Option<String>,
    /// bcrypt rounds, PBKDF2 iterations or Argon2 passes.
    pub kdf_rounds: Option<u32>,
    /// Argon2 memory in KiB.
    pub kdf_memory_kib: Option<u32>,
    /// Argon2 parallelism.
    pub kdf_parallelism: Option<u32>,
    /// `SHA256:...` exactly as `ssh-keygen -l -E sha256` prints it.
    pub fingerprint: Option<String>,
    /// The key's comment, when the file carries one in the clear.
    pub comment: Option<String>,
    /// True for FIDO `sk-` keys, whose private half lives on a token.
    pub hardware_backed: bool,
    /// FIDO details of `sk-` keys.
    pub sk: Option<SkFacts>,
    /// Certificate details.
    pub certificate: Option<CertFacts>,
    /// Where algorithm, bits and fingerprint came from when the private file hides them:
    /// the path of the matching public key file. `None` = from the key itself.
    pub public_from: Option<String>,
    /// Text differences from what the format's writer produces.
    pub quirks: Vec<Quirk>,
    /// Whether OpenSSH (`ssh`, `ssh-add`, `ssh-keygen`) can load this file as it is.
    pub openssh_loads: bool,
}

impl KeyFacts {
    /// Blank facts of a kind and format, to be filled in by a format module.
    #[must_use]
    pub fn new(kind: Kind, format: Format) -> Self {
        KeyFacts {
            kind,
            format,
            algorithm: None,
            bits: None,
            encrypted: false,
            cipher: None,
            kdf: None,
            kdf_rounds: None,
            kdf_memory_kib: None,
            kdf_parallelism: None,
            fingerprint: None,
            comment: None,
            hardware_backed: false,
            sk: None,
            certificate: None,
            public_from: None,
            quirks: Vec::new(),
            openssh_loads: true,
        }
    }

    /// Copies algorithm, bits, fingerprint and hardware facts from a public key.
    pub(crate) fn set_public(&mut self, info: blob::PublicInfo) {
        self.hardware_backed = info.sk_application.is_some();
        self.sk = info.sk_application.map(|app| SkFacts::new(app, None));
        self.algorithm = Some(info.algorithm);
        self.bits = info.bits;
        self.fingerprint = Some(info.fingerprint);
    }

    /// Returns true if and only if this is a private key whose file hides the public part
    /// (encrypted legacy PEM, encrypted PKCS#8, encrypted ssh.com), so that algorithm, bits
    /// and fingerprint must come from a matching `.pub` file.
    #[must_use]
    pub fn needs_public_part(&self) -> bool {
        self.kind == Kind::Private && self.fingerprint.is_none()
    }

    /// Fills the hidden public facts of an encrypted private key from the facts of its
    /// matching public key file found at `source`.
    ///
    /// Returns false (and changes nothing) when `public` cannot belong to this key: it is
    /// not a public key, or its algorithm contradicts what the private file shows.
    pub fn complete_from_public(&mut self, public: &KeyFacts, source: &str) -> bool {
        if public.kind == Kind::Private || public.fingerprint.is_none() {
            return false;
        }
        if let (Some(mine), Some(theirs)) = (&self.algorithm, &public.algorithm) {
            if mine != theirs {
                return false;
            }
        }
        self.algorithm.clone_from(&public.algorithm);
        self.bits = public.bits;
        self.fingerprint.clone_from(&public.fingerprint);
        self.hardware_backed = public.hardware_backed;
        if self.sk.is_none() {
            self.sk.clone_from(&public.sk);
        }
        if self.comment.is_none() {
            self.comment.clone_from(&public.comment);
        }
        self.public_from = Some(source.to_owned());
        true
    }
}

/// The outcome of inspecting one file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// The file holds a key.
    Key(Box<KeyFacts>),
    /// The file is not a key; the reason says what it is instead.
    NotKey(String),
    /// The file looks like a key (armour, magic, header) but cannot be read as one.
    Malformed {
        /// The format it claims to be, when that much is known.
        format: Option<Format>,
        /// Why it cannot be read.
        error: ParseError,
    },
}

/// Recognises the format of `bytes` from its content and returns what it holds.
///
/// Never panics, whatever the input.
#[must_use]
pub fn inspect(bytes: &[u8]) -> Inspection {
    if let Some(rest) = bytes.strip_prefix(legacy::SSH1_MAGIC) {
        return wrap(Some(Format::Ssh1), legacy::inspect_ssh1(rest));
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Inspection::NotKey("binary data, not a key".to_owned());
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(version) = text.trim_start().strip_prefix("PuTTY-User-Key-File-") {
        let format = match version.get(..2) {
            Some("2:") => Some(Format::PuttyV2),
            Some("3:") => Some(Format::PuttyV3),
            _ => None,
        };
        return wrap(format, ppk::inspect(text));
    }
    if let Some(found) = armor::find(text) {
        let armor = match found {
            Ok(armor) => armor,
            Err((label, error)) => {
                return match armor_format(&label) {
                    ArmorKind::Key(format) => Inspection::Malformed {
                        format: Some(format),
                        error,
                    },
                    ArmorKind::UnknownPrivate => Inspection::Malformed {
                        format: None,
                        error,
                    },
                    ArmorKind::Other(reason) => Inspection::NotKey(reason),
                };
            }
        };
        let format = match armor_format(&armor.label) {
            ArmorKind::Key(format) => format,
            ArmorKind::UnknownPrivate => {
                return Inspection::Malformed {
                    format: None,
                    error: ParseError::UnsupportedLabel {
                        label: armor.label.clone(),
                    },
                }
            }
            ArmorKind::Other(reason) => return Inspection::NotKey(reason),
        };
        let result = match format {
            Format::Openssh => openssh::inspect(&armor),
            Format::Sshcom => legacy::inspect_sshcom(&armor),
            Format::Rfc4716Public => public::inspect_rfc4716(&armor),
            _ => pem::inspect(format, &armor),
        };
        return wrap(
            Some(format),
            result.map(|mut facts| {
                facts.quirks.clone_from(&armor.quirks);
                let legacy_encrypted = armor.header("Proc-Type").is_some();
                if legacy_encrypted
                    && armor.longest_line > LEGACY_PEM_LINE_MAX
                    && !facts.quirks.contains(&Quirk::UnwrappedBase64)
                {
                    facts.quirks.push(Quirk::LongBase64Lines);
                }
                facts.openssh_loads &= openssh_loads_with(format, &armor, legacy_encrypted);
                facts
            }),
        );
    }
    match public::inspect_line(text) {
        Some(result) => {
            let format = result.as_ref().map(|f| f.format).ok();
            wrap(format.or(Some(Format::OpensshPublic)), result)
        }
        None => Inspection::NotKey(describe_not_key(text)),
    }
}

/// How an armour label is treated.
enum ArmorKind {
    Key(Format),
    UnknownPrivate,
    Other(String),
}

fn armor_format(label: &str) -> ArmorKind {
    match label {
        "OPENSSH PRIVATE KEY" => ArmorKind::Key(Format::Openssh),
        "RSA PRIVATE KEY" => ArmorKind::Key(Format::Pkcs1Pem),
        "PRIVATE KEY" => ArmorKind::Key(Format::Pkcs8Pem),
        "ENCRYPTED PRIVATE KEY" => ArmorKind::Key(Format::Pkcs8EncryptedPem),
        "EC PRIVATE KEY" => ArmorKind::Key(Format::Sec1Pem),
        "DSA PRIVATE KEY" => ArmorKind::Key(Format::DsaPem),
        "SSH2 ENCRYPTED PRIVATE KEY" => ArmorKind::Key(Format::Sshcom),
        "SSH2 PUBLIC KEY" => ArmorKind::Key(Format::Rfc4716Public),
        other if other.contains("PRIVATE KEY") && !other.starts_with("PGP") => {
            ArmorKind::UnknownPrivate
        }
        other => ArmorKind::Other(format!("{other} block, not an SSH key")),
    }
}

/// OpenSSL's legacy PEM decryption (`Proc-Type: 4,ENCRYPTED`) refuses base64 lines
/// longer than this; its plain PEM reader does not care.
const LEGACY_PEM_LINE_MAX: usize = 64;

/// Returns true if and only if OpenSSH loads a `format` file with this armour as it is.
///
/// Measured against OpenSSH 9.2p1 with OpenSSL 3.0 (`ssh-keygen -y`; the
/// `quirks_match_what_openssh_loads` interop test re-measures it on every run):
///
/// | source                         | CRLF  | text before | text after | one-line body |
/// |--------------------------------|-------|-------------|------------|---------------|
/// | OpenSSH, plain or encrypted    | fails | fails       | loads      | loads         |
/// | legacy-encrypted PEM           | loads | loads       | loads      | fails (> 64)  |
/// | other PEM (PKCS#1/#8, SEC1)    | loads | loads       | loads      | loads         |
fn openssh_loads_with(format: Format, armor: &armor::Armor, legacy_encrypted: bool) -> bool {
    match format {
        Format::Openssh => {
            !armor.quirks.contains(&Quirk::CrlfLineEndings)
                && !armor.quirks.contains(&Quirk::TextBeforeArmor)
        }
        Format::Pkcs1Pem | Format::Sec1Pem | Format::DsaPem if legacy_encrypted => {
            armor.longest_line <= LEGACY_PEM_LINE_MAX
        }
        Format::Pkcs1Pem
        | Format::Pkcs8Pem
        | Format::Pkcs8EncryptedPem
        | Format::Sec1Pem
        | Format::DsaPem
        | Format::Rfc4716Public => true,
        _ => false,
    }
}

fn wrap(format: Option<Format>, result: Result<KeyFacts, ParseError>) -> Inspection {
    match result {
        Ok(facts) => Inspection::Key(Box::new(facts)),
        Err(error) => Inspection::Malformed { format, error },
    }
}

/// Says what a text file that holds no key is, for the `skipped` list.
fn describe_not_key(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.is_empty() {
        return if text.trim().is_empty() {
            "empty file".to_owned()
        } else {
            "only comments, no key".to_owned()
        };
    }
    // authorized_keys and known_hosts lines carry a key after options or host names.
    let key_lines = lines
        .iter()
        .filter(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.windows(2).any(|w| {
                (w[0].starts_with("ssh-") || w[0].starts_with("ecdsa-") || w[0].starts_with("sk-"))
                    && w[1].starts_with("AAAA")
            })
        })
        .count();
    if key_lines > 0 {
        format!("list of {key_lines} public keys (authorized_keys or known_hosts style)")
    } else {
        "text without a key".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_keys_say_what_they_are() {
        assert_eq!(inspect(b""), Inspection::NotKey("empty file".to_owned()));
        assert_eq!(
            inspect(b"# just a comment\n"),
            Inspection::NotKey("only comments, no key".to_owned())
        );
        assert_eq!(
            inspect(b"Host *\n  User me\n"),
            Inspection::NotKey("text without a key".to_owned())
        );
        assert_eq!(
            inspect(&[0, 159, 146, 150]),
            Inspection::NotKey("binary data, not a key".to_owned())
        );
        let hosts = b"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\nexample.org ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ\n";
        assert_eq!(
            inspect(hosts),
            Inspection::NotKey(
                "list of 2 public keys (authorized_keys or known_hosts style)".to_owned()
            )
        );
    }

    #[test]
    fn unknown_private_pem_is_malformed_and_other_pem_is_not_a_key() {
        let unknown = b"-----BEGIN FOO PRIVATE KEY-----\nAAAA\n-----END FOO PRIVATE KEY-----\n";
        assert!(matches!(
            inspect(unknown),
            Inspection::Malformed {
                format: None,
                error: ParseError::UnsupportedLabel { .. }
            }
        ));
        let cert = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            inspect(cert),
            Inspection::NotKey("CERTIFICATE block, not an SSH key".to_owned())
        );
    }
}
