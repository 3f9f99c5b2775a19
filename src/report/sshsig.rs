//! PURE: SSHSIG signatures over a report's bytes, and the `allowed_signers` file that
//! says which key may sign for which host.
//!
//! A report is signed as `ssh-keygen -Y sign -n keycheck-report` would sign it: the
//! SSHSIG format of OpenSSH's `PROTOCOL.sshsig` (magic `SSHSIG`, version 1, the signer's
//! public key, the namespace [`NAMESPACE`], the hash algorithm SHA-512, and an Ed25519
//! signature over the signed-data blob), armored between `-----BEGIN SSH SIGNATURE-----`
//! and `-----END SSH SIGNATURE-----`. So `ssh-keygen -Y verify -n keycheck-report -f
//! allowed_signers -I <principal> -s report.sig < report` checks a report without
//! keycheck, and [`verify`] checks signatures made by `ssh-keygen -Y sign`.
//!
//! The cryptography is the `ssh-key` crate's (RustCrypto); this module adds the
//! namespace, the key type keycheck signs with, and the `allowed_signers` subset keycheck
//! writes and reads (see [`AllowedSigners`]).
//!
//! No I/O here: bytes and text in, values out. The caller supplies randomness
//! ([`SigningKey::generate`]) and reads and writes files. Private key material stays in
//! `ssh-key`'s zeroizing types or in [`Zeroizing`] buffers, and no `Debug` or error of
//! this module shows it.

use std::fmt;

use ssh_key::rand_core::CryptoRngCore;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use zeroize::Zeroizing;

/// The SSHSIG namespace of keycheck reports: a signature made for anything else (a git
/// commit, a file signed with `-n file`) never verifies as a report signature.
pub const NAMESPACE: &str = "keycheck-report";

/// The hash keycheck signs with (ssh-keygen's default, and the stronger of the two
/// PROTOCOL.sshsig allows).
pub const HASH: HashAlg = HashAlg::Sha512;

/// The comment keycheck gives the device keys it creates.
pub const DEVICE_KEY_COMMENT: &str = "keycheck device key";

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A signing key could not be created, read, written or used.
///
/// Reasons never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not an OpenSSH private key.
    #[error("not an OpenSSH private key: {reason}")]
    NotAPrivateKey {
        /// What the parser said.
        reason: String,
    },
    /// The key is not Ed25519, the only kind keycheck signs reports with.
    #[error(
        "the key is {algorithm}, not ssh-ed25519: keycheck signs reports with Ed25519 keys only"
    )]
    NotEd25519 {
        /// The key's algorithm.
        algorithm: String,
    },
    /// The key is protected by a passphrase; a device key is kept unencrypted in a
    /// secret store (or a 0600 file) so that unattended runs can sign.
    #[error("the key is encrypted: a device key is kept in the secret store without a passphrase")]
    Encrypted,
    /// Encoding, decoding or signing failed inside `ssh-key`.
    #[error("{what}: {reason}")]
    Crypto {
        /// What was being done.
        what: &'static str,
        /// What `ssh-key` said.
        reason: String,
    },
}

/// A principal cannot be written into an `allowed_signers` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {principal:?} is not usable in allowed_signers: {reason}")]
pub struct PrincipalError {
    /// The principal as given.
    pub principal: String,
    /// Why not.
    pub reason: &'static str,
}

/// Why an `allowed_signers` line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The line has principals but no key.
    #[error("missing key after the principals")]
    MissingKey,
    /// An empty principal (`a,,b`).
    #[error("empty principal in {list:?}")]
    EmptyPrincipal {
        /// The comma-separated list.
        list: String,
    },
    /// A principal pattern (`*`, `?`, `!`): ssh-keygen matches these as patterns; keycheck
    /// does not, and refuses rather than matching differently.
    #[error("principal patterns are not supported: {principal:?} (list each host id)")]
    PrincipalPattern {
        /// The principal.
        principal: String,
    },
    /// A quoted principal list.
    #[error("quoted principals are not supported")]
    QuotedPrincipals,
    /// The option list is malformed (an unterminated quote, an empty option).
    #[error("malformed options {options:?}: {reason}")]
    BadOptions {
        /// The options text.
        options: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An option ssh-keygen knows but keycheck does not apply (`cert-authority`,
    /// `valid-after`, `valid-before`): refused rather than ignored, since ignoring a
    /// restriction would accept what ssh-keygen rejects.
    #[error("option {option:?} is not supported by keycheck (supported: namespaces=\"...\")")]
    UnsupportedOption {
        /// The option's name.
        option: String,
    },
    /// An option nobody knows.
    #[error("unknown option {option:?} (supported: namespaces=\"...\")")]
    UnknownOption {
        /// The option's name.
        option: String,
    },
    /// `namespaces` given twice, or without a value.
    #[error("bad namespaces option: {reason}")]
    BadNamespaces {
        /// What is wrong.
        reason: &'static str,
    },
    /// The key text is not an OpenSSH public key.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The key type and the start of its base64.
        key: String,
        /// What the parser said.
        reason: String,
    },
}

/// An `allowed_signers` file could not be read: the line, the column where the problem
/// starts (both 1-based), and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allowed_signers line {line}, column {column}: {problem}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) where the problem starts.
    pub column: usize,
    /// What is wrong.
    pub problem: Problem,
}

/// A signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The text is not an armored SSH signature.
    #[error("not an SSH signature (-----BEGIN SSH SIGNATURE-----): {reason}")]
    Malformed {
        /// What the parser said.
        reason: String,
    },
    /// The signature was made for another namespace.
    #[error("signature namespace is {found:?}, not \"keycheck-report\" (sign with `ssh-keygen -Y sign -n keycheck-report`)")]
    WrongNamespace {
        /// The namespace in the signature.
        found: String,
    },
    /// The signing key is not Ed25519.
    #[error(
        "signature made with a {algorithm} key: keycheck verifies Ed25519 report signatures only"
    )]
    UnsupportedAlgorithm {
        /// The key's algorithm.
        algorithm: String,
    },
    /// The signature does not match the data: the report was changed after signing, or
    /// the signature belongs to another document.
    #[error("bad signature by {fingerprint}: the data was changed after signing or the signature is for other data")]
    BadSignature {
        /// The signing key's SHA256 fingerprint.
        fingerprint: String,
    },
    /// No line of the allowed signers names the principal.
    #[error("principal {principal:?} is not in the allowed signers (add its line, e.g. from `keycheck report --signer-line`)")]
    UnknownPrincipal {
        /// The principal asked for.
        principal: String,
    },
    /// The principal is listed, but not with the key that signed.
    #[error("key {fingerprint} is not allowed to sign for {principal:?} (the device key changed, or the report comes from another host)")]
    UnlistedKey {
        /// The principal asked for.
        principal: String,
        /// The signing key's SHA256 fingerprint.
        fingerprint: String,
    },
    /// The principal and key are listed, but the line's `namespaces` excludes
    /// `keycheck-report`.
    #[error("allowed_signers line {line} does not allow namespace \"keycheck-report\" for {principal:?}")]
    NamespaceNotAllowed {
        /// The principal asked for.
        principal: String,
        /// The line of the allowed signers.
        line: usize,
    },
}

// ---------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------

/// An Ed25519 private key that signs reports. The key is held in `ssh-key`'s
/// [`PrivateKey`], whose Ed25519 secret is wiped when dropped; `Debug` shows only the
/// fingerprint.
pub struct SigningKey {
    key: PrivateKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Creates a new Ed25519 key from `rng` (the caller's source of randomness, e.g.
    /// `ssh_key::rand_core::OsRng`), with `comment`.
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if `ssh-key` refuses (it does not for Ed25519).
    pub fn generate(rng: &mut impl CryptoRngCore, comment: &str) -> Result<SigningKey, KeyError> {
        let mut key =
            PrivateKey::random(rng, Algorithm::Ed25519).map_err(|e| KeyError::Crypto {
                what: "creating an Ed25519 key",
                reason: e.to_string(),
            })?;
        key.set_comment(comment);
        Ok(SigningKey { key })
    }

    /// Reads an unencrypted OpenSSH Ed25519 private key
    /// (`-----BEGIN OPENSSH PRIVATE KEY-----`).
    ///
    /// # Errors
    /// [`KeyError::NotAPrivateKey`], [`KeyError::NotEd25519`] or [`KeyError::Encrypted`].
    pub fn from_openssh(text: &[u8]) -> Result<SigningKey, KeyError> {
        let key = PrivateKey::from_openssh(text).map_err(|e| KeyError::NotAPrivateKey {
            reason: e.to_string(),
        })?;
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(KeyError::NotEd25519 {
                algorithm: key.algorithm().as_str().to_owned(),
            });
        }
        if key.is_encrypted() {
            return Err(KeyError::Encrypted);
        }
        Ok(SigningKey { key })
    }

    /// The key as OpenSSH private key text (unencrypted, LF line endings), in a buffer
    /// that is wiped when dropped. This is what a secret store or the 0600 key file holds.
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if encoding fails.
    pub fn to_openssh(&self) -> Result<Zeroizing<String>, KeyError> {
        self.key
            .to_openssh(LineEnding::LF)
            .map_err(|e| KeyError::Crypto {
                what: "encoding the private key",
                reason: e.to_string(),
            })
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The public key as `ssh-ed25519 AAAA...` (no comment).
    #[must_use]
    pub fn public_key_text(&self) -> String {
        public_key_text(self.key.public_key())
    }

    /// `SHA256:...`, as `ssh-keygen -l` prints it.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Signs `data` in the [`NAMESPACE`] with SHA-512 and returns the armored signature
    /// (`-----BEGIN SSH SIGNATURE-----`, LF line endings, a final newline), as
    /// `ssh-keygen -Y sign -n keycheck-report` writes it.
    ///
    /// # Errors
    /// [`KeyError::Crypto`] if signing or encoding fails.
    pub fn sign(&self, data: &[u8]) -> Result<String, KeyError> {
        let sig = self
            .key
            .sign(NAMESPACE, HASH, data)
            .map_err(|e| KeyError::Crypto {
                what: "signing",
                reason: e.to_string(),
            })?;
        let mut armored = sig.to_pem(LineEnding::LF).map_err(|e| KeyError::Crypto {
            what: "encoding the signature",
            reason: e.to_string(),
        })?;
        if !armored.ends_with('\n') {
            armored.push('\n');
        }
        Ok(armored)
    }

    /// The `allowed_signers` line that lets this key sign reports for `principal`:
    /// `<principal> namespaces="keycheck-report" ssh-ed25519 AAAA...`.
    #[must_use]
    pub fn signer_line(&self, principal: &Principal) -> String {
        signer_line(principal, self.key.public_key())
    }
}

/// `ssh-ed25519 AAAA...` for `key`, without its comment.
#[must_use]
pub fn public_key_text(key: &PublicKey) -> String {
    let mut bare = key.clone();
    bare.set_comment("");
    bare.to_openssh()
        .map(|t| t.trim_end().to_owned())
        // Encoding a parsed public key cannot fail; an empty string would match nothing.
        .unwrap_or_default()
}

/// The `allowed_signers` line that lets `key` sign reports for `principal`.
#[must_use]
pub fn signer_line(principal: &Principal, key: &PublicKey) -> String {
    format!(
        "{} namespaces=\"{NAMESPACE}\" {}",
        principal.as_str(),
        public_key_text(key)
    )
}

/// A name a key may sign for (keycheck uses the host id): one word that an
/// `allowed_signers` file can hold and that matches only itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal(String);

impl Principal {
    /// Checks `name`: not empty, no whitespace or control characters, no `,` or `"`
    /// (they separate and quote principals), no `*`, `?` or `!` (ssh-keygen would read a
    /// pattern), and not starting with `#` (a comment).
    ///
    /// # Errors
    /// [`PrincipalError`] naming the reason.
    pub fn new(name: &str) -> Result<Principal, PrincipalError> {
        let err = |reason| PrincipalError {
            principal: name.to_owned(),
            reason,
        };
        if name.is_empty() {
            return Err(err("it is empty"));
        }
        if name.len() > 1024 {
            return Err(err("it is longer than 1024 bytes"));
        }
        if name.starts_with('#') {
            return Err(err("it starts with `#`, which starts a comment"));
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("it contains whitespace or a control character"));
        }
        if name.contains([',', '"']) {
            return Err(err("it contains `,` or `\"`"));
        }
        if name.contains(['*', '?', '!']) {
            return Err(err(
                "it contains `*`, `?` or `!`, which ssh-keygen reads as a pattern",
            ));
        }
        Ok(Principal(name.to_owned()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------
// allowed_signers
// ---------------------------------------------------------------------------------------

/// One line of an `allowed_signers` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedSigner {
    /// 1-based line number in the file.
    pub line: usize,
    /// The principals the key may sign for.
    pub principals: Vec<String>,
    /// The `namespaces="..."` option: `None` allows every namespace.
    pub namespaces: Option<Vec<String>>,
    /// The key.
    pub key: PublicKey,
}

impl AllowedSigner {
    /// Returns true if and only if this line allows signatures in `namespace`.
    #[must_use]
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.namespaces
            .as_ref()
            .is_none_or(|list| list.iter().any(|n| n == namespace))
    }
}

/// The signers an `allowed_signers` file lists (ssh-keygen(1), "ALLOWED SIGNERS").
///
/// keycheck reads the subset it writes and needs: per line, comma-separated principals,
/// an optional `namespaces="a,b"` option, and a public key with an optional comment;
/// blank lines and `#` comments are skipped. Everything else ssh-keygen accepts (principal
/// patterns, `cert-authority`, `valid-after`, `valid-before`, quoted principals) is
/// refused with its line number rather than read differently from ssh-keygen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedSigners {
    signers: Vec<AllowedSigner>,
    /// Every (line, principal) pair as indexes into `signers` and its `principals`, sorted
    /// by principal and then file order: a fleet's file has a line per device, so
    /// [`verify`] finds its principal's lines by binary search instead of scanning every
    /// line for every report. 16 bytes a principal, no copy of the names.
    by_principal: Vec<(usize, usize)>,
}

impl AllowedSigners {
    /// Parses the text of an `allowed_signers` file.
    ///
    /// # Errors
    /// [`ParseError`] for the first line that is not in the supported subset, with its
    /// line and column.
    pub fn parse(text: &str) -> Result<AllowedSigners, ParseError> {
        let mut signers =
            Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(signer) = parse_line(raw).map_err(|(offset, problem)| ParseError {
                line,
                column: raw[..offset.min(raw.len())].chars().count() + 1,
                problem,
            })? {
                signers.push(AllowedSigner { line, ..signer });
            }
        }
        let name = |&(line, at): &(usize, usize)| signers[line].principals[at].as_str();
        let mut by_principal: Vec<(usize, usize)> = signers
            .iter()
            .enumerate()
            .flat_map(|(line, s)| (0..s.principals.len()).map(move |at| (line, at)))
            .collect();
        by_principal.sort_unstable_by(|a, b| name(a).cmp(name(b)).then(a.cmp(b)));
        // `a,a key`: the line once for `a`.
        by_principal.dedup_by(|b, a| a.0 == b.0 && name(a) == name(b));
        signers.shrink_to_fit();
        Ok(AllowedSigners {
            signers,
            by_principal,
        })
    }

    /// The lines that name `principal`, in file order.
    pub fn lines_for<'a>(&'a self, principal: &'a str) -> impl Iterator<Item = &'a AllowedSigner> {
        let name = |&(line, at): &(usize, usize)| self.signers[line].principals[at].as_str();
        let start = self.by_principal.partition_point(|e| name(e) < principal);
        self.by_principal[start..]
            .iter()
            .take_while(move |e| name(e) == principal)
            .map(|&(line, _)| &self.signers[line])
    }

    /// The lines, in file order.
    #[must_use]
    pub fn signers(&self) -> &[AllowedSigner] {
        &self.signers
    }

    /// Returns true if and only if the file lists no signer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty()
    }
}

/// Byte offset into the line where a problem starts, and the problem.
type LineError = (usize, Problem);

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Parses one line: `Ok(None)` for blank and comment lines.
fn parse_line(raw: &str) -> Result<Option<AllowedSigner>, LineError> {
    let start = raw.len() - raw.trim_start_matches(is_blank).len();
    let rest = &raw[start..];
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    if rest.starts_with('"') {
        return Err((start, Problem::QuotedPrincipals));
    }
    let end = rest.find(is_blank).unwrap_or(rest.len());
    let list = &rest[..end];
    let mut principals = Vec::new();
    for principal in list.split(',') {
        if principal.is_empty() {
            return Err((
                start,
                Problem::EmptyPrincipal {
                    list: list.to_owned(),
                },
            ));
        }
        if principal.contains(['*', '?', '!']) {
            return Err((
                start,
                Problem::PrincipalPattern {
                    principal: principal.to_owned(),
                },
            ));
        }
        principals.push(principal.to_owned());
    }

    let mut at = start + end;
    at += raw[at..].len() - raw[at..].trim_start_matches(is_blank).len();
    if at >= raw.len() {
        return Err((at, Problem::MissingKey));
    }
    // A key starts with its type; anything else is the option list (ssh-keygen tries
    // the key first, then options, the same way).
    let mut namespaces = None;
    let first_word_end = raw[at..].find(is_blank).map_or(raw.len(), |i| at + i);
    if !is_key_type(&raw[at..first_word_end]) {
        let options_end = options_end(raw, at)?;
        namespaces = parse_options(&raw[at..options_end], at)?;
        at = options_end;
        at += raw[at..].len() - raw[at..].trim_start_matches(is_blank).len();
        if at >= raw.len() {
            return Err((at, Problem::MissingKey));
        }
    }
    let key = parse_key(&raw[at..]).map_err(|p| (at, p))?;
    // A fleet's file holds a line per device: no spare capacity on each.
    principals.shrink_to_fit();
    let namespaces = namespaces.map(|mut n: Vec<String>| {
        n.shrink_to_fit();
        n
    });
    Ok(Some(AllowedSigner {
        line: 0,
        principals,
        namespaces,
        key,
    }))
}

/// Returns true if and only if `word` names an SSH public key type.
fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-")
        || word.starts_with("ecdsa-sha2-")
        || word.starts_with("sk-ssh-")
        || word.starts_with("sk-ecdsa-")
        || word.starts_with("rsa-sha2-")
}

/// Where the option list starting at `at` ends: the first blank outside quotes.
fn options_end(raw: &str, at: usize) -> Result<usize, LineError> {
    let mut quoted = false;
    for (i, c) in raw[at..].char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if is_blank(c) && !quoted => return Ok(at + i),
            _ => {}
        }
    }
    if quoted {
        return Err((
            at,
            Problem::BadOptions {
                options: raw[at..].to_owned(),
                reason: "unterminated quote",
            },
        ));
    }
    Ok(raw.len())
}

/// Parses `name[="value"],...`; returns the `namespaces` list if given.
fn parse_options(options: &str, at: usize) -> Result<Option<Vec<String>>, LineError> {
    let bad = |reason| {
        (
            at,
            Problem::BadOptions {
                options: options.to_owned(),
                reason,
            },
        )
    };
    let mut namespaces: Option<Vec<String>> = None;
    let mut rest = options;
    let mut offset = at;
    while !rest.is_empty() {
        let name_end = rest.find(['=', ',']).unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() {
            return Err(bad("empty option"));
        }
        let mut value = None;
        let mut next = &rest[name_end..];
        if let Some(after) = next.strip_prefix('=') {
            let Some(quoted) = after.strip_prefix('"') else {
                return Err(bad("option values must be quoted"));
            };
            let Some(close) = quoted.find('"') else {
                return Err(bad("unterminated quote"));
            };
            value = Some(&quoted[..close]);
            next = &quoted[close + 1..];
        }
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "namespaces" => {
                let Some(value) = value else {
                    return Err((
                        offset,
                        Problem::BadNamespaces {
                            reason: "it needs a quoted value",
                        },
                    ));
                };
                if namespaces.is_some() {
                    return Err((
                        offset,
                        Problem::BadNamespaces {
                            reason: "it is given twice",
                        },
                    ));
                }
                let list: Vec<String> = value.split(',').map(str::to_owned).collect();
                if list.iter().any(String::is_empty) {
                    return Err((
                        offset,
                        Problem::BadNamespaces {
                            reason: "it has an empty namespace",
                        },
                    ));
                }
                if list.iter().any(|n| n.contains(['*', '?', '!'])) {
                    return Err((
                        offset,
                        Problem::BadNamespaces {
                            reason: "namespace patterns are not supported",
                        },
                    ));
                }
                namespaces = Some(list);
            }
            "cert-authority" | "valid-after" | "valid-before" => {
                return Err((
                    offset,
                    Problem::UnsupportedOption {
                        option: name.to_owned(),
                    },
                ));
            }
            _ => {
                return Err((
                    offset,
                    Problem::UnknownOption {
                        option: name.to_owned(),
                    },
                ));
            }
        }
        match next.strip_prefix(',') {
            Some("") => return Err(bad("trailing comma")),
            Some(after) => {
                offset += rest.len() - after.len();
                rest = after;
            }
            None if next.is_empty() => rest = next,
            None => return Err(bad("expected `,` between options")),
        }
    }
    Ok(namespaces)
}

/// Parses `type base64 [comment]`.
fn parse_key(text: &str) -> Result<PublicKey, Problem> {
    let mut words = text.split([' ', '\t']).filter(|w| !w.is_empty());
    let kind = words.next().unwrap_or_default();
    let Some(base64) = words.next() else {
        return Err(Problem::InvalidKey {
            key: kind.to_owned(),
            reason: "no base64 key after the key type".to_owned(),
        });
    };
    PublicKey::from_openssh(&format!("{kind} {base64}")).map_err(|e| Problem::InvalidKey {
        key: format!("{kind} {}", base64.chars().take(16).collect::<String>()),
        reason: e.to_string(),
    })
}

// ---------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------

/// Who signed: the principal asked for, the line of the allowed signers that let the key
/// sign for it, and the key's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBy {
    /// The principal (as asked for).
    pub principal: String,
    /// The allowed_signers line that matched.
    pub line: usize,
    /// The signing key's `SHA256:` fingerprint.
    pub fingerprint: String,
}

/// Verifies that `armored_sig` is a [`NAMESPACE`] signature of `data` by a key that
/// `allowed_signers` lets sign for `principal`: what `ssh-keygen -Y verify -n
/// keycheck-report -f allowed_signers -I principal -s sig < data` checks, for the
/// supported subset (Ed25519 keys; SHA-512 or SHA-256, as ssh-keygen accepts both).
///
/// # Errors
/// [`VerifyError`] saying why the signature is not accepted.
pub fn verify(
    data: &[u8],
    armored_sig: &str,
    allowed_signers: &AllowedSigners,
    principal: &str,
) -> Result<VerifiedBy, VerifyError> {
    let sig = SshSig::from_pem(armored_sig.trim_end().as_bytes()).map_err(|e| {
        VerifyError::Malformed {
            reason: e.to_string(),
        }
    })?;
    if sig.namespace() != NAMESPACE {
        return Err(VerifyError::WrongNamespace {
            found: sig.namespace().to_owned(),
        });
    }
    let signer = PublicKey::from(sig.public_key().clone());
    if signer.algorithm() != Algorithm::Ed25519 {
        return Err(VerifyError::UnsupportedAlgorithm {
            algorithm: signer.algorithm().as_str().to_owned(),
        });
    }
    let fingerprint = signer.fingerprint(HashAlg::Sha256).to_string();
    // The signature is checked first, as ssh-keygen does (sshsig_verify before the
    // allowed-signers lookup): a changed document is a bad signature, whoever signed.
    signer
        .verify(NAMESPACE, data, &sig)
        .map_err(|_| VerifyError::BadSignature {
            fingerprint: fingerprint.clone(),
        })?;

    let mut named = false;
    let mut excluded_line = None;
    for line in allowed_signers.lines_for(principal) {
        named = true;
        if line.key.key_data() != signer.key_data() {
            continue;
        }
        if !line.allows_namespace(NAMESPACE) {
            excluded_line.get_or_insert(line.line);
            continue;
        }
        return Ok(VerifiedBy {
            principal: principal.to_owned(),
            line: line.line,
            fingerprint,
        });
    }
    Err(match (named, excluded_line) {
        (_, Some(line)) => VerifyError::NamespaceNotAllowed {
            principal: principal.to_owned(),
            line,
        },
        (true, None) => VerifyError::UnlistedKey {
            principal: principal.to_owned(),
            fingerprint,
        },
        (false, None) => VerifyError::UnknownPrincipal {
            principal: principal.to_owned(),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A fixed "random" source, so each test key is the same on every run.
    struct Fixed(u8);

    impl ssh_key::rand_core::RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            u32::from(self.0)
        }
        fn next_u64(&mut self) -> u64 {
            u64::from(self.0)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(self.0);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), ssh_key::rand_core::Error> {
            dest.fill(self.0);
            Ok(())
        }
    }
    impl ssh_key::rand_core::CryptoRng for Fixed {}

    fn key(seed: u8) -> SigningKey {
        SigningKey::generate(&mut Fixed(seed), DEVICE_KEY_COMMENT).unwrap()
    }

    fn signers(text: &str) -> AllowedSigners {
        AllowedSigners::parse(text).unwrap()
    }

    fn principal(name: &str) -> Principal {
        Principal::new(name).unwrap()
    }

    #[test]
    fn signs_and_verifies_with_the_signer_line() {
        let k = key(7);
        let sig = k.sign(b"report").unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
        assert!(sig.ends_with("-----END SSH SIGNATURE-----\n"));
        let line = k.signer_line(&principal("host-1"));
        assert!(line.starts_with("host-1 namespaces=\"keycheck-report\" ssh-ed25519 AAAA"));
        assert!(!line.contains(DEVICE_KEY_COMMENT));
        let allowed = signers(&line);
        let by = verify(b"report", &sig, &allowed, "host-1").unwrap();
        assert_eq!(
            by,
            VerifiedBy {
                principal: "host-1".to_owned(),
                line: 1,
                fingerprint: k.fingerprint(),
            }
        );
        assert!(matches!(
            verify(b"report!", &sig, &allowed, "host-1"),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn refuses_other_principals_keys_and_namespaces() {
        let (a, b) = (key(1), key(2));
        let sig = a.sign(b"doc").unwrap();
        let text = format!(
            "# fleet\n\n{}\n{}\n",
            b.signer_line(&principal("host-a")),
            a.signer_line(&principal("host-b"))
        );
        let allowed = signers(&text);
        assert_eq!(
            verify(b"doc", &sig, &allowed, "host-a"),
            Err(VerifyError::UnlistedKey {
                principal: "host-a".to_owned(),
                fingerprint: a.fingerprint()
            })
        );
        assert_eq!(
            verify(b"doc", &sig, &allowed, "host-c"),
            Err(VerifyError::UnknownPrincipal {
                principal: "host-c".to_owned()
            })
        );
        assert_eq!(verify(b"doc", &sig, &allowed, "host-b").unwrap().line, 4);

        let only_git = format!("host-a namespaces=\"git,file\" {}", a.public_key_text());
        assert_eq!(
            verify(b"doc", &sig, &signers(&only_git), "host-a"),
            Err(VerifyError::NamespaceNotAllowed {
                principal: "host-a".to_owned(),
                line: 1
            })
        );
        // No namespaces option: every namespace.
        let any = format!("x,host-a {} a comment", a.public_key_text());
        assert!(verify(b"doc", &sig, &signers(&any), "host-a").is_ok());
    }

    #[test]
    fn a_principal_on_several_lines_matches_its_first_allowing_line() {
        let (a, b, c) = (key(11), key(12), key(13));
        let sig = a.sign(b"doc").unwrap();
        // host-a: b's key, then a's key for git only, then c's, then a's key twice
        // (the first of them, line 6, is the one that lets it sign), with other hosts'
        // lines between.
        let text = format!(
            "host-a {b}\nhost-z {a}\nhost-a namespaces=\"git\" {a}\nhost-y,host-a {c}\n# x\nhost-q,host-a,host-a {a}\nhost-a {a}\n",
            a = a.public_key_text(),
            b = b.public_key_text(),
            c = c.public_key_text()
        );
        let allowed = signers(&text);
        assert_eq!(
            allowed
                .lines_for("host-a")
                .map(|s| s.line)
                .collect::<Vec<_>>(),
            [1, 3, 4, 6, 7]
        );
        assert_eq!(allowed.lines_for("host-none").count(), 0);
        let by = verify(b"doc", &sig, &allowed, "host-a").unwrap();
        assert_eq!(by.line, 6);
        assert_eq!(verify(b"doc", &sig, &allowed, "host-z").unwrap().line, 2);
        // Without the allowing lines: the namespace exclusion (line 3) is the reason,
        // not an unlisted key, as before the index.
        let excluded: String = text.lines().take(5).map(|l| format!("{l}\n")).collect();
        assert_eq!(
            verify(b"doc", &sig, &signers(&excluded), "host-a"),
            Err(VerifyError::NamespaceNotAllowed {
                principal: "host-a".to_owned(),
                line: 3
            })
        );
        // Only other keys for host-a: an unlisted key; a principal only on other
        // hosts' lines is unknown.
        let others = format!(
            "host-a {}\nhost-a,host-y {}\n",
            b.public_key_text(),
            c.public_key_text()
        );
        assert_eq!(
            verify(b"doc", &sig, &signers(&others), "host-a"),
            Err(VerifyError::UnlistedKey {
                principal: "host-a".to_owned(),
                fingerprint: a.fingerprint()
            })
        );
        assert_eq!(
            verify(b"doc", &sig, &signers(&others), "host"),
            Err(VerifyError::UnknownPrincipal {
                principal: "host".to_owned()
            })
        );
    }

    #[test]
    fn a_signature_in_another_namespace_is_refused() {
        let k = key(3);
        let sig = k.key.sign("file", HashAlg::Sha512, b"doc").unwrap();
        let armored = sig.to_pem(LineEnding::LF).unwrap();
        assert_eq!(
            verify(
                b"doc",
                &armored,
                &signers(&k.signer_line(&principal("h"))),
                "h"
            ),
            Err(VerifyError::WrongNamespace {
                found: "file".to_owned()
            })
        );
        assert!(matches!(
            verify(b"doc", "not a signature", &AllowedSigners::default(), "h"),
            Err(VerifyError::Malformed { .. })
        ));
    }

    #[test]
    fn round_trips_the_private_key_text_and_hides_it_from_debug() {
        let k = key(9);
        let text = k.to_openssh().unwrap();
        assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
        let back = SigningKey::from_openssh(text.as_bytes()).unwrap();
        assert_eq!(back.public_key_text(), k.public_key_text());
        assert_eq!(back.public_key().comment(), DEVICE_KEY_COMMENT);
        let debug = format!("{k:?}");
        assert!(debug.contains(&k.fingerprint()), "{debug}");
        // The seed is 32 bytes of 9: it shows neither as bytes nor as hex.
        assert!(!debug.contains("9, 9, 9"), "{debug}");
        assert!(!debug.contains("0909"), "{debug}");
        assert!(!debug.contains("OPENSSH PRIVATE"), "{debug}");
        assert!(matches!(
            SigningKey::from_openssh(b"nope"),
            Err(KeyError::NotAPrivateKey { .. })
        ));
    }

    #[test]
    fn parses_the_supported_subset() {
        let k = key(4);
        let text = format!(
            "  # comment\r\n\t\r\na,b\tNAMESPACES=\"keycheck-report,file\"  {}  trailing comment\r\n",
            k.public_key_text()
        );
        let allowed = signers(&text);
        assert_eq!(allowed.signers().len(), 1);
        let s = &allowed.signers()[0];
        assert_eq!(s.line, 3);
        assert_eq!(s.principals, ["a", "b"]);
        assert_eq!(
            s.namespaces.as_deref(),
            Some(&["keycheck-report".to_owned(), "file".to_owned()][..])
        );
        assert!(s.allows_namespace(NAMESPACE));
        assert!(!s.allows_namespace("git"));
        assert!(AllowedSigners::parse("").unwrap().is_empty());
    }

    #[test]
    fn names_the_line_and_column_of_each_mistake() {
        let k = key(5).public_key_text();
        let problem = |text: &str| {
            let e = AllowedSigners::parse(text).unwrap_err();
            (e.line, e.column, e.problem)
        };
        assert_eq!(problem("# ok\nhost\n"), (2, 5, Problem::MissingKey));
        assert_eq!(
            problem(&format!("a,,b {k}")),
            (
                1,
                1,
                Problem::EmptyPrincipal {
                    list: "a,,b".to_owned()
                }
            )
        );
        assert_eq!(
            problem(&format!("\n *@example.com {k}")),
            (
                2,
                2,
                Problem::PrincipalPattern {
                    principal: "*@example.com".to_owned()
                }
            )
        );
        assert_eq!(
            problem(&format!("\"a b\" {k}")).2,
            Problem::QuotedPrincipals
        );
        assert_eq!(
            problem(&format!("h cert-authority {k}")),
            (
                1,
                3,
                Problem::UnsupportedOption {
                    option: "cert-authority".to_owned()
                }
            )
        );
        assert_eq!(
            problem(&format!("h namespaces=\"a\",valid-before=\"20300101\" {k}")),
            (
                1,
                18,
                Problem::UnsupportedOption {
                    option: "valid-before".to_owned()
                }
            )
        );
        assert_eq!(
            problem(&format!("h frob {k}")).2,
            Problem::UnknownOption {
                option: "frob".to_owned()
            }
        );
        assert!(matches!(
            problem(&format!("h namespaces=\"a {k}")).2,
            Problem::BadOptions {
                reason: "unterminated quote",
                ..
            }
        ));
        assert!(matches!(
            problem(&format!("h namespaces=a {k}")).2,
            Problem::BadOptions { .. }
        ));
        assert!(matches!(
            problem(&format!("h namespaces=\"a\",namespaces=\"b\" {k}")).2,
            Problem::BadNamespaces {
                reason: "it is given twice"
            }
        ));
        assert!(matches!(
            problem("h namespaces=\"a\"\n").2,
            Problem::MissingKey
        ));
        assert!(matches!(
            problem("h ssh-ed25519 AAAAnotbase64!").2,
            Problem::InvalidKey { .. }
        ));
        assert!(matches!(
            problem("h ssh-ed25519").2,
            Problem::InvalidKey { .. }
        ));
        let e = AllowedSigners::parse("h\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "allowed_signers line 1, column 2: missing key after the principals"
        );
    }

    #[test]
    fn principals_are_single_literal_words() {
        assert_eq!(principal("host-1f3a").as_str(), "host-1f3a");
        for bad in ["", "a b", "a,b", "a\"b", "*", "h?", "!h", "#h", "a\nb"] {
            assert!(Principal::new(bad).is_err(), "{bad:?}");
        }
    }
}
