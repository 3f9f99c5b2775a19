//! PURE: the opt-in common-passphrase audit's one exception to "never decrypt": try a
//! passphrase against an encrypted private key and say whether it unlocks it.
//!
//! [`prepare`] reads a key file's bytes once into an [`Unlocker`] (format, cipher, KDF
//! parameters, ciphertext; never anything secret), and [`Unlocker::try_passphrase`] runs
//! the key derivation and decryption for one candidate. [`common_passphrases`] is the
//! built-in list the audit tries, the empty passphrase first.
//!
//! A hit must be certain, never a false positive, so each format checks everything it can
//! before it says yes:
//!
//! | format | cipher | KDF | a hit means |
//! |---|---|---|---|
//! | OpenSSH `openssh-key-v1` | aes{128,192,256}-{ctr,cbc}, 3des-cbc, aes{128,256}-gcm@openssh.com, chacha20-poly1305@openssh.com | bcrypt-pbkdf | AEAD tag verifies (gcm, chacha), check integers equal and the key type after them is the public key's |
//! | legacy PEM (`Proc-Type: 4,ENCRYPTED`) | AES-{128,192,256}-CBC, DES-EDE3-CBC, DES-CBC | `EVP_BytesToKey`, MD5, 1 round | PKCS#7 padding valid and the plaintext is the DER key the label names |
//! | PKCS#8 `ENCRYPTED PRIVATE KEY` | PBES2: AES-{128,192,256}-CBC, DES-EDE3-CBC | PBKDF2 (HMAC-SHA-1/224/256/384/512), scrypt | padding valid and the plaintext is a `PrivateKeyInfo` |
//! | PuTTY PPK v2 | aes256-cbc | SHA-1 | HMAC-SHA-1 MAC verifies |
//! | PuTTY PPK v3 | aes256-cbc | Argon2id/i/d | HMAC-SHA-256 MAC verifies |
//!
//! ssh.com and SSH-1 keys, PBES1 and unknown ciphers are [`DecryptError::Unsupported`].
//!
//! No I/O here, no clock, no threads, no printing: the time budget and the threads live in
//! `sys::passphrase_audit`. Everything decrypted or derived (keys, IVs, MAC keys,
//! plaintext) is held in [`Zeroizing`] buffers and dropped as soon as the check is done.
//! Neither [`Unlocker`]'s `Debug` nor any error ever shows a passphrase or key bytes.
//! (The crates' own internal state is theirs to wipe: `aes`, `des`, `cbc`, `ctr`,
//! `chacha20`, `poly1305`, `aes-gcm` and `argon2` do with their `zeroize` features, and
//! Argon2's working memory is a wiped buffer of ours; the MD5, SHA-1 and SHA-2 hash states
//! used by PBKDF2, HMAC, bcrypt-pbkdf, scrypt and the MD5/SHA-1 derivations here are not
//! wiped, as those crates offer no way to.)

mod openssh;
mod pem;
mod pkcs8;
mod ppk;

use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockCipher, BlockDecryptMut, KeyInit, KeyIvInit as _};
use zeroize::Zeroizing;

use super::{armor, Format, Inspection, Kind, ParseError};

/// Why a file's bytes cannot be audited. Messages never carry key bytes or passphrases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptError {
    /// The bytes are not a key at all.
    #[error("not a key: {reason}")]
    NotKey {
        /// What the bytes are instead (from [`super::inspect`]).
        reason: String,
    },
    /// No passphrase protects the file: an unencrypted private key, a public key or a
    /// certificate. There is nothing to try.
    #[error("{format} file is not encrypted: no passphrase to audit")]
    NotEncrypted {
        /// The file's format (`openssh`, `pkcs8-pem`, ...).
        format: &'static str,
    },
    /// The file is encrypted in a way the audit cannot try passphrases against.
    #[error("{format}: {what} is not supported by the passphrase audit")]
    Unsupported {
        /// The file's format.
        format: &'static str,
        /// The cipher, KDF or format feature that is not supported.
        what: String,
    },
    /// The file's KDF parameters make a single attempt cost more than the audit allows
    /// (see [`limits`]), so no passphrase can be tried in reasonable time.
    #[error("{format}: {what} is above the passphrase audit's limit of {limit} for one attempt")]
    TooCostly {
        /// The file's format.
        format: &'static str,
        /// The parameter and its value, e.g. `bcrypt rounds 100000`.
        what: String,
        /// The limit it exceeds.
        limit: String,
    },
    /// The file looks like a key but cannot be read as one.
    #[error("malformed key: {0}")]
    Malformed(#[from] ParseError),
}

/// The most a single attempt may cost. A file above one of these is
/// [`DecryptError::TooCostly`]: one attempt could not be interrupted by the caller's time
/// budget, and a file crafted with absurd parameters must not hang or exhaust memory.
///
/// Each bound is far above what the format's writer uses by default, so that real keys
/// with hardened parameters are still audited (and then usually run out of time).
pub mod limits {
    /// bcrypt-pbkdf rounds (`ssh-keygen -a`; default 16). At about 7 ms a round for a
    /// 48-byte key and IV (one core of a 2026 AMD EPYC VM, release build), 1024 rounds is
    /// about 7 s for one attempt.
    pub const BCRYPT_ROUNDS: u32 = 1024;
    /// PBKDF2 iterations (OpenSSL writes 2048).
    pub const PBKDF2_ITERATIONS: u32 = 10_000_000;
    /// scrypt memory (`128 * r * N` bytes); OpenSSL itself refuses more than 32 MiB.
    pub const SCRYPT_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
    /// scrypt work (`N * r * p`, in 128-byte block mixes).
    pub const SCRYPT_WORK: u64 = 1 << 24;
    /// Argon2 memory in KiB (PuTTY's default is 8192).
    pub const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
    /// Argon2 work (`memory KiB * passes`); PuTTY's default is 8192 KiB times a pass count
    /// calibrated to about 0.1 s.
    pub const ARGON2_WORK: u64 = 8192 * 4096;
}

/// One encrypted private key, read once and ready for passphrase attempts.
///
/// Holds the format, cipher, KDF parameters and the ciphertext, never anything secret;
/// its `Debug` shows only the format and how it is protected.
pub struct Unlocker {
    inner: Inner,
}

enum Inner {
    Openssh(openssh::Locked),
    Pem(pem::Locked),
    Pkcs8(pkcs8::Locked),
    Ppk(ppk::Locked),
}

impl std::fmt::Debug for Unlocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlocker")
            .field("format", &self.format().as_str())
            .field("protection", &self.protection())
            .finish_non_exhaustive()
    }
}

impl Unlocker {
    /// Returns true if and only if `passphrase` decrypts the key and the result passes the
    /// format's integrity check (MAC, AEAD tag, check integers, padding and structure).
    ///
    /// Never panics; the decrypted bytes are wiped before it returns.
    #[must_use]
    pub fn try_passphrase(&self, passphrase: &[u8]) -> bool {
        match &self.inner {
            Inner::Openssh(locked) => locked.try_passphrase(passphrase),
            Inner::Pem(locked) => locked.try_passphrase(passphrase),
            Inner::Pkcs8(locked) => locked.try_passphrase(passphrase),
            Inner::Ppk(locked) => locked.try_passphrase(passphrase),
        }
    }

    /// The file's format.
    #[must_use]
    pub fn format(&self) -> Format {
        match &self.inner {
            Inner::Openssh(_) => Format::Openssh,
            Inner::Pem(locked) => locked.format(),
            Inner::Pkcs8(_) => Format::Pkcs8EncryptedPem,
            Inner::Ppk(locked) => locked.format(),
        }
    }

    /// The working memory one attempt needs, in bytes: Argon2's and scrypt's memory
    /// cost, 0 for the KDFs that need next to none. Callers running attempts in parallel
    /// use it to bound the memory they take all together.
    #[must_use]
    pub fn memory_per_attempt(&self) -> u64 {
        match &self.inner {
            Inner::Openssh(_) | Inner::Pem(_) => 0,
            Inner::Pkcs8(locked) => locked.memory_per_attempt(),
            Inner::Ppk(locked) => locked.memory_per_attempt(),
        }
    }

    /// How the key is protected, e.g. `aes256-ctr, bcrypt 16 rounds` (no secrets).
    #[must_use]
    pub fn protection(&self) -> String {
        match &self.inner {
            Inner::Openssh(locked) => locked.protection(),
            Inner::Pem(locked) => locked.protection(),
            Inner::Pkcs8(locked) => locked.protection(),
            Inner::Ppk(locked) => locked.protection(),
        }
    }
}

/// Reads an encrypted private key file's bytes into an [`Unlocker`].
///
/// The format is recognised from the content by [`super::inspect`], as everywhere else
/// in keycheck. Never panics, whatever the input.
///
/// # Errors
/// [`DecryptError::NotKey`] when the bytes are not a key, [`DecryptError::NotEncrypted`]
/// for an unencrypted private key or a public key, [`DecryptError::Unsupported`] for ssh.com
/// and SSH-1 keys and for ciphers and KDFs the audit does not implement,
/// [`DecryptError::TooCostly`] when one attempt would exceed [`limits`], and
/// [`DecryptError::Malformed`] when the file claims a format but cannot be read.
pub fn prepare(bytes: &[u8]) -> Result<Unlocker, DecryptError> {
    let facts = match super::inspect(bytes) {
        Inspection::Key(facts) => facts,
        Inspection::NotKey(reason) => return Err(DecryptError::NotKey { reason }),
        Inspection::Malformed { error, .. } => return Err(DecryptError::Malformed(error)),
    };
    let format = facts.format;
    if facts.kind != Kind::Private || !facts.encrypted {
        return Err(DecryptError::NotEncrypted {
            format: format.as_str(),
        });
    }
    let inner = match format {
        Format::PuttyV2 | Format::PuttyV3 => Inner::Ppk(ppk::Locked::parse(text(bytes)?, format)?),
        Format::Openssh => Inner::Openssh(openssh::Locked::parse(&find_armor(bytes)?)?),
        Format::Pkcs1Pem | Format::Sec1Pem | Format::DsaPem => {
            Inner::Pem(pem::Locked::parse(format, &find_armor(bytes)?)?)
        }
        Format::Pkcs8EncryptedPem => {
            Inner::Pkcs8(pkcs8::Locked::parse(&find_armor(bytes)?, &facts)?)
        }
        // ssh.com (Tectia) and SSH-1 keys; the public formats never get here.
        other => {
            return Err(DecryptError::Unsupported {
                format: other.as_str(),
                what: format!("the {} format", other.as_str()),
            })
        }
    };
    Ok(Unlocker { inner })
}

/// The text of a file `inspect` read as text (every format but SSH-1), without a BOM.
fn text(bytes: &[u8]) -> Result<&str, DecryptError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::Invalid {
        context: "key file",
        detail: "not UTF-8 text".to_owned(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// The armoured block `inspect` already found and accepted.
fn find_armor(bytes: &[u8]) -> Result<armor::Armor, DecryptError> {
    match armor::find(text(bytes)?) {
        Some(Ok(armor)) => Ok(armor),
        Some(Err((_, error))) => Err(DecryptError::Malformed(error)),
        None => Err(DecryptError::Malformed(ParseError::Truncated {
            context: "armored block",
        })),
    }
}

/// The built-in list, `data/common-passphrases.txt`: most common first, `#` comments.
const COMMON_PASSPHRASES: &str = include_str!("../../data/common-passphrases.txt");

/// The passphrases the audit tries, in order: the empty passphrase first, then the
/// built-in list of the most common passwords and passphrases, most common first.
pub fn common_passphrases() -> impl Iterator<Item = &'static str> {
    std::iter::once("").chain(
        COMMON_PASSPHRASES
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#')),
    )
}

/// A block cipher in CBC mode, as the formats name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CbcCipher {
    Aes128,
    Aes192,
    Aes256,
    /// Three-key triple DES (EDE).
    TdesEde3,
    /// Single DES.
    Des,
}

impl CbcCipher {
    /// Key length in bytes.
    fn key_len(self) -> usize {
        match self {
            CbcCipher::Aes128 => 16,
            CbcCipher::Aes192 | CbcCipher::TdesEde3 => 24,
            CbcCipher::Aes256 => 32,
            CbcCipher::Des => 8,
        }
    }

    /// Block (and IV) length in bytes.
    fn block_len(self) -> usize {
        match self {
            CbcCipher::Aes128 | CbcCipher::Aes192 | CbcCipher::Aes256 => 16,
            CbcCipher::TdesEde3 | CbcCipher::Des => 8,
        }
    }

    /// Decrypts `buf` in place. Returns false (leaving `buf` in an unspecified state) when
    /// the key or IV length is wrong or `buf` is not a whole number of blocks.
    fn decrypt(self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> bool {
        fn run<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> bool
        where
            C: BlockCipher + BlockDecryptMut + KeyInit,
        {
            match cbc::Decryptor::<C>::new_from_slices(key, iv) {
                Ok(decryptor) => decryptor.decrypt_padded_mut::<NoPadding>(buf).is_ok(),
                Err(_) => false,
            }
        }
        match self {
            CbcCipher::Aes128 => run::<aes::Aes128>(key, iv, buf),
            CbcCipher::Aes192 => run::<aes::Aes192>(key, iv, buf),
            CbcCipher::Aes256 => run::<aes::Aes256>(key, iv, buf),
            CbcCipher::TdesEde3 => run::<des::TdesEde3>(key, iv, buf),
            CbcCipher::Des => run::<des::Des>(key, iv, buf),
        }
    }

    /// Decrypts `data` into a wiped buffer and strips its PKCS#7 padding; `None` when
    /// that fails (a wrong passphrase, nearly always).
    fn open_padded(self, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut plain = secret_copy(data);
        if !self.decrypt(key, iv, &mut plain) {
            return None;
        }
        let len = pkcs7_unpadded_len(&plain, self.block_len())?;
        plain.truncate(len);
        Some(plain)
    }
}

/// The length of `plain` without its PKCS#7 padding (RFC 5652 §6.3, RFC 8018 §6.1.1),
/// or `None` when the padding is not valid for `block` bytes.
fn pkcs7_unpadded_len(plain: &[u8], block: usize) -> Option<usize> {
    let pad = usize::from(*plain.last()?);
    if pad == 0 || pad > block || pad > plain.len() {
        return None;
    }
    let (body, padding) = plain.split_at(plain.len() - pad);
    padding
        .iter()
        .all(|&b| usize::from(b) == pad)
        .then_some(body.len())
}

/// Decodes hex digits (either case); `None` for an odd count or a non-hex character.
fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| {
            let digit = |c: u8| char::from(c).to_digit(16);
            Some(u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).unwrap_or_default())
        })
        .collect()
}

/// A zeroed, wiped-on-drop buffer of `len` bytes.
fn secret_buffer(len: usize) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(vec![0u8; len])
}

/// A wiped-on-drop copy of `data` (ciphertext about to be decrypted in place).
fn secret_copy(data: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut copy = secret_buffer(data.len());
    copy.copy_from_slice(data);
    copy
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn list_starts_empty_and_has_no_duplicates() {
        let list: Vec<&str> = common_passphrases().collect();
        assert_eq!(list.first(), Some(&""));
        assert!(
            (301..=501).contains(&list.len()),
            "{} entries (300 to 500 wanted, plus the empty one)",
            list.len()
        );
        let unique: HashSet<&str> = list.iter().copied().collect();
        assert_eq!(
            unique.len(),
            list.len(),
            "duplicate passphrases in the list"
        );
        for p in &list[1..] {
            assert!(!p.is_empty() && p.trim() == *p, "untrimmed entry {p:?}");
        }
        for expected in [
            "123456",
            "password",
            "qwerty",
            "letmein",
            "correct horse battery staple",
            "changeme",
            "passphrase",
            "secret",
        ] {
            assert!(unique.contains(expected), "{expected} is missing");
        }
        assert_eq!(list[1], "123456");
    }

    #[test]
    fn pkcs7_padding() {
        assert_eq!(pkcs7_unpadded_len(b"abc\x05\x05\x05\x05\x05", 8), Some(3));
        assert_eq!(pkcs7_unpadded_len(&[8; 8], 8), Some(0));
        assert_eq!(pkcs7_unpadded_len(b"abcdefg\x00", 8), None);
        assert_eq!(pkcs7_unpadded_len(b"abcdef\x01\x02", 8), None);
        assert_eq!(pkcs7_unpadded_len(b"abcdefg\x09", 8), None);
        assert_eq!(pkcs7_unpadded_len(b"", 8), None);
    }

    #[test]
    fn hex() {
        assert_eq!(hex_decode("00fFa1"), Some(vec![0, 255, 0xa1]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(hex_decode(""), Some(vec![]));
    }

    #[test]
    fn what_cannot_be_audited() {
        assert!(matches!(prepare(b""), Err(DecryptError::NotKey { .. })));
        assert!(matches!(
            prepare(&[0xff, 0xfe, 0x00]),
            Err(DecryptError::NotKey { .. })
        ));
        let public =
            b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl c\n";
        assert_eq!(
            prepare(public).unwrap_err(),
            DecryptError::NotEncrypted {
                format: "openssh-public"
            }
        );
        let plain = include_bytes!("../../tests/fixtures/ssh/id_ed25519");
        assert_eq!(
            prepare(plain).unwrap_err(),
            DecryptError::NotEncrypted { format: "openssh" }
        );
        let pkcs8 = include_bytes!("../../tests/fixtures/ssh/id_ecdsa_pkcs8");
        assert!(matches!(
            prepare(pkcs8),
            Err(DecryptError::NotEncrypted { .. })
        ));
        let sshcom = include_bytes!("../../tests/fixtures/ssh/id_rsa_sshcom");
        assert_eq!(
            prepare(sshcom).unwrap_err(),
            DecryptError::NotEncrypted { format: "sshcom" }
        );
        // The SSH-1 fixture with its cipher type byte (right after the magic) set to 3DES.
        let mut ssh1 = include_bytes!("../../tests/fixtures/ssh/id_rsa1").to_vec();
        ssh1[b"SSH PRIVATE KEY FILE FORMAT 1.1\n\0".len()] = 3;
        assert_eq!(
            prepare(&ssh1).unwrap_err(),
            DecryptError::Unsupported {
                format: "ssh1",
                what: "the ssh1 format".to_owned()
            }
        );
        let broken = b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n";
        assert!(matches!(prepare(broken), Err(DecryptError::Malformed(_))));
    }

    #[test]
    fn debug_shows_only_format_and_protection() {
        let unlocker = prepare(include_bytes!("../../tests/fixtures/ssh/id_ed25519_enc")).unwrap();
        let debug = format!("{unlocker:?}");
        assert_eq!(
            debug,
            "Unlocker { format: \"openssh\", protection: \"aes256-ctr, bcrypt 16 rounds\", .. }"
        );
    }

    /// Every prefix and every single-byte change of real encrypted files gives an error or
    /// a miss, never a panic (and never a hit for a passphrase that is not theirs).
    #[test]
    fn truncated_and_damaged_files_never_panic() {
        let files: [&[u8]; 4] = [
            include_bytes!("../../tests/fixtures/ssh/id_ed25519_enc"),
            include_bytes!("../../tests/fixtures/ssh/id_rsa_pem_enc"),
            include_bytes!("../../tests/fixtures/ssh/id_ecdsa.ppk"),
            pkcs8::tests::SSH_KEYGEN_P256.as_bytes(),
        ];
        for file in files {
            for len in (0..file.len()).step_by(7) {
                if let Ok(unlocker) = prepare(&file[..len]) {
                    // Cheap: only the empty passphrase, which is never theirs.
                    assert!(!unlocker.try_passphrase(b"") || len == file.len());
                }
            }
            let mut damaged = file.to_vec();
            for i in (0..damaged.len()).step_by(13) {
                let saved = damaged[i];
                damaged[i] = b'A';
                let _ = prepare(&damaged);
                damaged[i] = saved;
            }
        }
    }
}
