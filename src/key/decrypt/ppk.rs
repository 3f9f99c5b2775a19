//! PURE: passphrase attempts against PuTTY private key files, versions 2 and 3 (PuTTY
//! manual appendix C, "PuTTY's key file format"; `ppk_load_s` in PuTTY's `sshpubk.c`).
//!
//! - v2 (C.4): the AES-256-CBC key is `SHA-1(uint32 0 || passphrase) || SHA-1(uint32 1 ||
//!   passphrase)` cut to 32 bytes, the IV is zero, and the MAC is HMAC-SHA-1 keyed with
//!   `SHA-1("putty-private-key-file-mac-key" || passphrase)`.
//! - v3 (C.3): Argon2 (`Key-Derivation`: Argon2id, Argon2i or Argon2d, version 0x13) over
//!   the passphrase and `Argon2-Salt` gives 80 bytes: the AES-256-CBC key (32), IV (16)
//!   and HMAC-SHA-256 key (32).
//!
//! The MAC covers the algorithm name, the encryption name, the comment, the public blob and
//! the decrypted private blob, each as an SSH `string`. A hit is a MAC that verifies, which
//! a wrong passphrase cannot produce.

use hmac::Hmac;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::super::armor::decode_base64;
use super::super::blob::Writer;
use super::super::ppk::{clip, decimal, Lines};
use super::super::Format;
use super::{hex_decode, limits, secret_buffer, secret_copy, CbcCipher, DecryptError, ParseError};

/// The prefix PuTTY hashes with the passphrase to make a v2 MAC key (appendix C.4).
const V2_MAC_KEY_PREFIX: &[u8] = b"putty-private-key-file-mac-key";

/// Bytes of Argon2 output a v3 file uses: cipher key, IV, MAC key (appendix C.3).
const V3_DERIVED_LEN: usize = 32 + 16 + 32;

/// The most base64 lines PuTTY reads for one blob (`MAX_KEY_BLOB_LINES` in `sshpubk.c`).
const MAX_BLOB_LINES: usize = 262_144 / 48;

/// How a version derives its keys.
enum Kdf {
    /// v2: one SHA-1 round, no salt.
    Sha1,
    /// v3: Argon2 with the file's parameters.
    Argon2 {
        algorithm: argon2::Algorithm,
        params: argon2::Params,
        salt: Vec<u8>,
    },
}

/// An encrypted PPK file: everything an attempt needs, nothing secret.
pub(super) struct Locked {
    format: Format,
    kdf: Kdf,
    /// The MAC's input up to the private blob: algorithm, encryption, comment, public blob.
    mac_prefix: Vec<u8>,
    /// The encrypted private blob.
    private: Vec<u8>,
    /// The `Private-MAC` value.
    mac: Vec<u8>,
}

impl Locked {
    /// Reads a `PuTTY-User-Key-File-2` or `-3` text (`format` says which).
    pub(super) fn parse(text: &str, format: Format) -> Result<Locked, DecryptError> {
        let fmt = format.as_str();
        let mut lines = Lines::new(text.trim_start());
        let (_, algorithm) = lines.header()?;
        let encryption = lines.field("Encryption")?;
        if encryption != "aes256-cbc" {
            return Err(DecryptError::Unsupported {
                format: fmt,
                what: format!("encryption {}", clip(encryption)),
            });
        }
        let comment = lines.field("Comment")?;
        let public = blob(&mut lines, "Public-Lines", "putty public key")?;
        let kdf = if format == Format::PuttyV3 {
            argon2(&mut lines, fmt)?
        } else {
            Kdf::Sha1
        };
        let private = blob(&mut lines, "Private-Lines", "putty private key")?;
        if private.is_empty() || private.len() % 16 != 0 {
            return Err(ParseError::Invalid {
                context: "putty private key",
                detail: format!("{} bytes is not a multiple of the AES block", private.len()),
            }
            .into());
        }
        let (name, mac) = lines.header()?;
        let mac_len = if format == Format::PuttyV3 { 32 } else { 20 };
        let mac = hex_decode(mac.trim())
            .filter(|mac| name == "Private-MAC" && mac.len() == mac_len)
            .ok_or_else(|| ParseError::Invalid {
                context: "putty Private-MAC",
                detail: format!("not a Private-MAC line of {} hex digits", 2 * mac_len),
            })?;
        let mac_prefix = Writer::new()
            .string(algorithm.trim().as_bytes())
            .string(encryption.as_bytes())
            .string(comment.as_bytes())
            .string(&public)
            .finish();
        Ok(Locked {
            format,
            kdf,
            mac_prefix,
            private: private.to_vec(),
            mac,
        })
    }

    pub(super) fn format(&self) -> Format {
        self.format
    }

    /// `aes256-cbc, sha1 1 round` or `aes256-cbc, argon2id 8192 KiB 34 passes 1 lane`.
    pub(super) fn protection(&self) -> String {
        match &self.kdf {
            Kdf::Sha1 => "aes256-cbc, sha1 1 round".to_owned(),
            Kdf::Argon2 {
                algorithm, params, ..
            } => format!(
                "aes256-cbc, {} {} KiB {} passes {} lanes",
                algorithm.as_str(),
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            ),
        }
    }

    /// See [`super::Unlocker::memory_per_attempt`]: Argon2's memory cost.
    pub(super) fn memory_per_attempt(&self) -> u64 {
        match &self.kdf {
            Kdf::Sha1 => 0,
            Kdf::Argon2 { params, .. } => u64::try_from(params.block_count())
                .unwrap_or(u64::MAX)
                .saturating_mul(1024),
        }
    }

    /// See [`super::Unlocker::try_passphrase`].
    pub(super) fn try_passphrase(&self, passphrase: &[u8]) -> bool {
        let mut plain = secret_copy(&self.private);
        match &self.kdf {
            Kdf::Sha1 => {
                let mut key = secret_buffer(40);
                for (i, half) in key.chunks_mut(20).enumerate() {
                    let mut sha = Sha1::new();
                    sha.update(u32::try_from(i).unwrap_or_default().to_be_bytes());
                    sha.update(passphrase);
                    sha.finalize_into(half.into());
                }
                let mut mac_key = secret_buffer(20);
                let mut sha = Sha1::new();
                sha.update(V2_MAC_KEY_PREFIX);
                sha.update(passphrase);
                sha.finalize_into(mac_key.as_mut_slice().into());
                CbcCipher::Aes256.decrypt(&key[..32], &[0; 16], &mut plain)
                    && self.mac_verifies::<Hmac<Sha1>>(&mac_key, &plain)
            }
            Kdf::Argon2 {
                algorithm,
                params,
                salt,
            } => {
                let mut derived = secret_buffer(V3_DERIVED_LEN);
                // The working memory holds values derived from the passphrase: wiped too.
                let blocks = params.block_count();
                let mut memory = Zeroizing::new(vec![argon2::Block::default(); blocks]);
                let argon = argon2::Argon2::new(*algorithm, argon2::Version::V0x13, params.clone());
                if argon
                    .hash_password_into_with_memory(passphrase, salt, &mut derived, &mut memory[..])
                    .is_err()
                {
                    return false;
                }
                drop(memory);
                let (key, rest) = derived.split_at(32);
                let (iv, mac_key) = rest.split_at(16);
                CbcCipher::Aes256.decrypt(key, iv, &mut plain)
                    && self.mac_verifies::<Hmac<Sha256>>(mac_key, &plain)
            }
        }
    }

    /// Returns true if and only if the file's MAC is `M` keyed with `key` over the MAC
    /// prefix and the decrypted private blob `plain` (as an SSH `string`).
    fn mac_verifies<M: hmac::Mac + hmac::digest::KeyInit>(&self, key: &[u8], plain: &[u8]) -> bool {
        let Ok(mut mac) = <M as hmac::digest::KeyInit>::new_from_slice(key) else {
            return false;
        };
        let Ok(len) = u32::try_from(plain.len()) else {
            return false;
        };
        mac.update(&self.mac_prefix);
        mac.update(&len.to_be_bytes());
        mac.update(plain);
        mac.verify_slice(&self.mac).is_ok()
    }
}

/// Reads the Argon2 fields of a v3 file (appendix C.3).
fn argon2(lines: &mut Lines<'_>, fmt: &'static str) -> Result<Kdf, DecryptError> {
    let algorithm = match lines.field("Key-Derivation")? {
        "Argon2id" => argon2::Algorithm::Argon2id,
        "Argon2i" => argon2::Algorithm::Argon2i,
        "Argon2d" => argon2::Algorithm::Argon2d,
        other => {
            return Err(DecryptError::Unsupported {
                format: fmt,
                what: format!("Key-Derivation {}", clip(other)),
            })
        }
    };
    let memory = decimal(lines.field("Argon2-Memory")?, "putty Argon2-Memory")?;
    let passes = decimal(lines.field("Argon2-Passes")?, "putty Argon2-Passes")?;
    let parallelism = decimal(
        lines.field("Argon2-Parallelism")?,
        "putty Argon2-Parallelism",
    )?;
    let salt = hex_decode(lines.field("Argon2-Salt")?.trim()).ok_or(ParseError::Invalid {
        context: "putty Argon2-Salt",
        detail: "not an even number of hex digits".to_owned(),
    })?;
    if memory > limits::ARGON2_MEMORY_KIB {
        return Err(DecryptError::TooCostly {
            format: fmt,
            what: format!("Argon2 memory {memory} KiB"),
            limit: format!("{} KiB", limits::ARGON2_MEMORY_KIB),
        });
    }
    let work = u64::from(memory) * u64::from(passes);
    if work > limits::ARGON2_WORK {
        return Err(DecryptError::TooCostly {
            format: fmt,
            what: format!("Argon2 work {memory} KiB * {passes} passes"),
            limit: format!("{} KiB-passes", limits::ARGON2_WORK),
        });
    }
    let params = argon2::Params::new(memory, passes, parallelism, Some(V3_DERIVED_LEN))
        .ok()
        .filter(|_| salt.len() >= argon2::MIN_SALT_LEN)
        .ok_or_else(|| ParseError::Invalid {
            context: "putty Argon2 parameters",
            detail: format!(
                "memory {memory} KiB, {passes} passes, {parallelism} lanes and a {}-byte salt \
                 are not valid Argon2 parameters",
                salt.len()
            ),
        })?;
    Ok(Kdf::Argon2 {
        algorithm,
        params,
        salt,
    })
}

/// A `NAME: count` field and the base64 lines after it, decoded into a wiped buffer.
fn blob(
    lines: &mut Lines<'_>,
    name: &'static str,
    context: &'static str,
) -> Result<Zeroizing<Vec<u8>>, ParseError> {
    let count = decimal(lines.field(name)?, name)?;
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c < MAX_BLOB_LINES)
        .ok_or_else(|| ParseError::Invalid {
            context,
            detail: format!("{count} lines is more than any key needs"),
        })?;
    let joined = lines.take(count, context)?;
    decode_base64(&joined, context)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Files written by puttygen 0.78 under the throwaway passphrase `keycheck-test` (the
    //! same ones `key/ppk.rs` tests).

    use super::super::{prepare, DecryptError};
    use super::*;
    use crate::key::ppk::tests::{V2_ED25519_AES, V3_ED25519_ARGON2I};

    #[test]
    fn v2_and_v3_open_with_their_passphrase_only() {
        for (text, format, protection) in [
            (V2_ED25519_AES, Format::PuttyV2, "aes256-cbc, sha1 1 round"),
            (
                V3_ED25519_ARGON2I,
                Format::PuttyV3,
                "aes256-cbc, argon2i 1024 KiB 3 passes 2 lanes",
            ),
        ] {
            let u = prepare(text.as_bytes()).unwrap();
            assert_eq!((u.format(), u.protection().as_str()), (format, protection));
            assert!(u.try_passphrase(b"keycheck-test"), "{protection}");
            assert!(!u.try_passphrase(b"Keycheck-test"), "{protection}");
            assert!(!u.try_passphrase(b""), "{protection}");
        }
        let v3 = prepare(V3_ED25519_ARGON2I.as_bytes()).unwrap();
        assert_eq!(v3.memory_per_attempt(), 1024 * 1024);
        assert_eq!(
            prepare(V2_ED25519_AES.as_bytes())
                .unwrap()
                .memory_per_attempt(),
            0
        );
    }

    #[test]
    fn committed_argon2id_fixture_opens() {
        let u = prepare(include_bytes!("../../../tests/fixtures/ssh/id_ecdsa.ppk")).unwrap();
        assert_eq!(u.format(), Format::PuttyV3);
        assert!(u.protection().starts_with("aes256-cbc, argon2id "));
        assert!(u.try_passphrase(b"keycheck-test"));
    }

    #[test]
    fn a_changed_comment_breaks_the_mac() {
        // The MAC covers the comment: the right passphrase no longer "opens" the file.
        let text = V2_ED25519_AES.replace("ppk2-ed25519-enc", "ppk2-ed25519-enD");
        let u = prepare(text.as_bytes()).unwrap();
        assert!(!u.try_passphrase(b"keycheck-test"));
    }

    #[test]
    fn costly_and_broken_argon2_parameters() {
        let huge = V3_ED25519_ARGON2I.replace("Argon2-Memory: 1024", "Argon2-Memory: 4194304");
        assert!(matches!(
            prepare(huge.as_bytes()),
            Err(DecryptError::TooCostly { .. })
        ));
        let slow = V3_ED25519_ARGON2I.replace("Argon2-Passes: 3", "Argon2-Passes: 4000000");
        assert!(matches!(
            prepare(slow.as_bytes()),
            Err(DecryptError::TooCostly { .. })
        ));
        let short_salt = V3_ED25519_ARGON2I.replace("dfafa30edadf5308985cc378bb48d18e", "dfaf");
        assert!(matches!(
            prepare(short_salt.as_bytes()),
            Err(DecryptError::Malformed(_))
        ));
        let lanes = V3_ED25519_ARGON2I.replace("Argon2-Parallelism: 2", "Argon2-Parallelism: 0");
        assert!(prepare(lanes.as_bytes()).is_err());
    }
}
