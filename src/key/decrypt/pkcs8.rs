//! PURE: passphrase attempts against a PKCS#8 `EncryptedPrivateKeyInfo` (RFC 5958 §3)
//! under PBES2 (RFC 8018 §6.2), as `ssh-keygen -m PKCS8` and `openssl pkcs8 -topk8`
//! write it.
//!
//! The `pkcs8` crate decodes the structure and its PBES2 parameters (with its `encryption`
//! and `3des` features, so that DES-EDE3-CBC is among them); the key is then derived here,
//! with PBKDF2 (RFC 8018 §5.2) or scrypt (RFC 7914), into a wiped buffer: `pkcs5`'s own
//! `decrypt` keeps the derived key in a plain array. A hit needs valid PKCS#7 padding and a
//! plaintext that decodes, exactly, as a `PrivateKeyInfo` (RFC 5958 §2).

use der::Decode as _;
use pkcs8::pkcs5::{self, pbes2};

use super::super::armor::Armor;
use super::super::KeyFacts;
use super::{limits, secret_buffer, CbcCipher, DecryptError, ParseError};

/// The format name in errors.
const FORMAT: &str = "pkcs8-encrypted-pem";

/// The PBKDF2 pseudo-random function (RFC 8018 Appendix B.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prf {
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// The key derivation, with its parameters.
enum Kdf {
    Pbkdf2 {
        prf: Prf,
        salt: Vec<u8>,
        iterations: u32,
    },
    Scrypt {
        salt: Vec<u8>,
        params: pkcs5::scrypt::Params,
    },
}

/// A PBES2-encrypted PKCS#8 key: everything an attempt needs, nothing secret.
pub(super) struct Locked {
    kdf: Kdf,
    cipher: CbcCipher,
    iv: Vec<u8>,
    data: Vec<u8>,
    /// `aes-128-cbc, pbkdf2-sha256 2048 rounds`, from the facts `inspect` found.
    protection: String,
}

impl Locked {
    /// Reads the `EncryptedPrivateKeyInfo` in `armor`; `facts` are what `inspect` found
    /// (cipher and KDF names for messages).
    pub(super) fn parse(armor: &Armor, facts: &KeyFacts) -> Result<Locked, DecryptError> {
        let kdf_name = facts.kdf.as_deref().unwrap_or("unknown kdf");
        let cipher_name = facts.cipher.as_deref().unwrap_or("unknown cipher");
        let unsupported = || DecryptError::Unsupported {
            format: FORMAT,
            what: format!("{kdf_name} with {cipher_name}"),
        };
        // `inspect` decoded the outer structure already; a scheme the `pkcs8` crate cannot
        // decode (PBES1, PKCS#12 PBE, GCM, RC2, an unknown PRF) is unsupported here.
        let info =
            pkcs8::EncryptedPrivateKeyInfo::from_der(&armor.body).map_err(|_| unsupported())?;
        let pkcs5::EncryptionScheme::Pbes2(params) = info.encryption_algorithm else {
            return Err(unsupported());
        };
        let (cipher, iv): (CbcCipher, &[u8]) = match params.encryption {
            pbes2::EncryptionScheme::Aes128Cbc { iv } => (CbcCipher::Aes128, iv),
            pbes2::EncryptionScheme::Aes192Cbc { iv } => (CbcCipher::Aes192, iv),
            pbes2::EncryptionScheme::Aes256Cbc { iv } => (CbcCipher::Aes256, iv),
            pbes2::EncryptionScheme::DesEde3Cbc { iv } => (CbcCipher::TdesEde3, iv),
            _ => return Err(unsupported()),
        };
        if let Some(len) = params.kdf.key_length() {
            if usize::from(len) != cipher.key_len() {
                return Err(ParseError::Invalid {
                    context: "pbes2 kdf key length",
                    detail: format!("{len} bytes for a {}-byte key", cipher.key_len()),
                }
                .into());
            }
        }
        let kdf = match params.kdf {
            pbes2::Kdf::Pbkdf2(p) => pbkdf2(&p, &unsupported)?,
            pbes2::Kdf::Scrypt(p) => scrypt(&p, cipher.key_len())?,
            _ => return Err(unsupported()),
        };
        if info.encrypted_data.is_empty() || info.encrypted_data.len() % cipher.block_len() != 0 {
            return Err(ParseError::Invalid {
                context: "pkcs#8 encrypted data",
                detail: format!(
                    "{} bytes, not a whole number of {}-byte blocks",
                    info.encrypted_data.len(),
                    cipher.block_len()
                ),
            }
            .into());
        }
        let protection = match facts.kdf_rounds {
            Some(rounds) if kdf_name.starts_with("pbkdf2") => {
                format!("{cipher_name}, {kdf_name} {rounds} rounds")
            }
            _ => format!("{cipher_name}, {kdf_name}"),
        };
        Ok(Locked {
            kdf,
            cipher,
            iv: iv.to_vec(),
            data: info.encrypted_data.to_vec(),
            protection,
        })
    }

    /// `aes-128-cbc, pbkdf2-sha256 2048 rounds`.
    pub(super) fn protection(&self) -> String {
        self.protection.clone()
    }

    /// See [`super::Unlocker::memory_per_attempt`]: scrypt's `128 * r * N` (RFC 7914 §6:
    /// the vector `V`) plus `128 * r * p` for the blocks it mixes.
    pub(super) fn memory_per_attempt(&self) -> u64 {
        match &self.kdf {
            Kdf::Pbkdf2 { .. } => 0,
            Kdf::Scrypt { params, .. } => {
                let r = u64::from(params.r());
                let n = 1u64 << params.log_n();
                128 * r * (n + u64::from(params.p()))
            }
        }
    }

    /// See [`super::Unlocker::try_passphrase`].
    pub(super) fn try_passphrase(&self, passphrase: &[u8]) -> bool {
        let mut key = secret_buffer(self.cipher.key_len());
        match &self.kdf {
            Kdf::Pbkdf2 {
                prf,
                salt,
                iterations,
            } => {
                let (salt, rounds) = (salt.as_slice(), *iterations);
                match prf {
                    Prf::Sha1 => {
                        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(passphrase, salt, rounds, &mut key)
                    }
                    Prf::Sha224 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha224>(passphrase, salt, rounds, &mut key);
                    }
                    Prf::Sha256 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(passphrase, salt, rounds, &mut key);
                    }
                    Prf::Sha384 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha384>(passphrase, salt, rounds, &mut key);
                    }
                    Prf::Sha512 => {
                        pbkdf2::pbkdf2_hmac::<sha2::Sha512>(passphrase, salt, rounds, &mut key);
                    }
                }
            }
            Kdf::Scrypt { salt, params } => {
                if pkcs5::scrypt::scrypt(passphrase, salt, params, &mut key).is_err() {
                    return false;
                }
            }
        }
        self.cipher
            .open_padded(&key, &self.iv, &self.data)
            .is_some_and(|der| pkcs8::PrivateKeyInfo::from_der(&der).is_ok())
    }
}

/// PBKDF2 parameters, within [`limits::PBKDF2_ITERATIONS`].
fn pbkdf2(
    p: &pbes2::Pbkdf2Params<'_>,
    unsupported: &dyn Fn() -> DecryptError,
) -> Result<Kdf, DecryptError> {
    let prf = match p.prf {
        pbes2::Pbkdf2Prf::HmacWithSha1 => Prf::Sha1,
        pbes2::Pbkdf2Prf::HmacWithSha224 => Prf::Sha224,
        pbes2::Pbkdf2Prf::HmacWithSha256 => Prf::Sha256,
        pbes2::Pbkdf2Prf::HmacWithSha384 => Prf::Sha384,
        pbes2::Pbkdf2Prf::HmacWithSha512 => Prf::Sha512,
        _ => return Err(unsupported()),
    };
    if p.iteration_count == 0 {
        return Err(ParseError::Invalid {
            context: "pbkdf2 iteration count",
            detail: "zero".to_owned(),
        }
        .into());
    }
    if p.iteration_count > limits::PBKDF2_ITERATIONS {
        return Err(DecryptError::TooCostly {
            format: FORMAT,
            what: format!("pbkdf2 iteration count {}", p.iteration_count),
            limit: limits::PBKDF2_ITERATIONS.to_string(),
        });
    }
    Ok(Kdf::Pbkdf2 {
        prf,
        salt: p.salt.to_vec(),
        iterations: p.iteration_count,
    })
}

/// scrypt parameters, within [`limits::SCRYPT_MEMORY_BYTES`] and [`limits::SCRYPT_WORK`].
fn scrypt(p: &pbes2::ScryptParams<'_>, key_len: usize) -> Result<Kdf, DecryptError> {
    let n = p.cost_parameter;
    let (r, parallel) = (u64::from(p.block_size), u64::from(p.parallelization));
    let invalid = || {
        DecryptError::from(ParseError::Invalid {
            context: "scrypt parameters",
            detail: format!("N = {n}, r = {r}, p = {parallel} are not valid scrypt parameters"),
        })
    };
    if n < 2 || !n.is_power_of_two() || r == 0 || parallel == 0 {
        return Err(invalid());
    }
    let memory = n.saturating_mul(r).saturating_mul(128);
    if memory > limits::SCRYPT_MEMORY_BYTES {
        return Err(DecryptError::TooCostly {
            format: FORMAT,
            what: format!("scrypt memory {memory} bytes (N = {n}, r = {r})"),
            limit: format!("{} bytes", limits::SCRYPT_MEMORY_BYTES),
        });
    }
    let work = n.saturating_mul(r).saturating_mul(parallel);
    if work > limits::SCRYPT_WORK {
        return Err(DecryptError::TooCostly {
            format: FORMAT,
            what: format!("scrypt work N * r * p = {work}"),
            limit: limits::SCRYPT_WORK.to_string(),
        });
    }
    let log_n = u8::try_from(n.trailing_zeros()).map_err(|_| invalid())?;
    let params = pkcs5::scrypt::Params::new(
        log_n,
        u32::from(p.block_size),
        u32::from(p.parallelization),
        key_len,
    )
    .map_err(|_| invalid())?;
    Ok(Kdf::Scrypt {
        salt: p.salt.to_vec(),
        params,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    //! Keys written under the throwaway passphrase `keycheck-test`.

    use super::super::{prepare, DecryptError};

    /// `ssh-keygen -t ecdsa -b 256 -m PKCS8 -N keycheck-test` (OpenSSH 9.2, OpenSSL 3.0):
    /// PBKDF2-HMAC-SHA256, 2048 iterations, AES-128-CBC.
    pub(in crate::key::decrypt) const SSH_KEYGEN_P256: &str = r"-----BEGIN ENCRYPTED PRIVATE KEY-----
MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAirGYRDrFp32AICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEOZJ8tib2XBvBW3UJXxMdEkEgZB6
vGblifdEToxpaSG9veDBMKtMp9yRWVwMEH7YpW+y7lrBdhNiScYBt4VbI0HFeV/Y
ZzDOf060Wr7xUSAyLMcEmDWYk5IlTQWjgatK+scrnQQc3Cs1q+mN6OfhMJhSUQ+n
VUdQx8rx3S1DR2QtFgSrgSZIRAEeK3brz/3ZCquC3vts9iShCjFdaM8Y2moBCgs=
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v2 des3` of an `openssl genpkey -algorithm ed25519` key.
    const ED25519_DES3: &str = r"-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGKME4GCSqGSIb3DQEFDTBBMCkGCSqGSIb3DQEFDDAcBAieVvO/bEuf7AICCAAw
DAYIKoZIhvcNAgkFADAUBggqhkiG9w0DBwQI+jkCeMngTDEEOMzY3tnRcBsuT4gM
1A7CvNkB+GzgkZ7jtWh7eeW6KJzh1WOPj17yNyVV86y3Se7XLWDeU2Mbplgl
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -scrypt` (N = 16384, r = 8, p = 1, AES-256-CBC).
    const ED25519_SCRYPT: &str = r"-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGTME8GCSqGSIb3DQEFDTBCMCEGCSsGAQQB2kcECzAUBAh8MD2ZZl4b9AICQAAC
AQgCAQEwHQYJYIZIAWUDBAEqBBAyPH+vP2vVuw6E2A+18l2OBEBzckgSx0zUn9vh
Y0fdfpimqQVne/N0qmhMwQgEa+N8ys86WHawg7LjiGm+mr1rORR68YlInMhz+mDM
hyzk2LLm
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v2 aes-192-cbc -v2prf hmacWithSHA1`.
    const ED25519_AES192_SHA1: &str = r"-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGNMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAgzdm5kUa0YegICCAAw
HQYJYIZIAWUDBAEWBBAStk7Lc3zv4aUP5kpgJTzgBECxygq6jXpSHNGIoptYlLeu
/yHQG+R3cZeIFaohmSjZEBe+KJrOoRsLOdC9hRWrk4c+Ho4pvBlgwGqQegvGSChL
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES` (PKCS#12 PBE, not PBES2).
    const ED25519_PKCS12: &str = r"-----BEGIN ENCRYPTED PRIVATE KEY-----
MFgwHAYKKoZIhvcNAQwBAzAOBAg56YdWW1kATwICCAAEOC5Cv42gLnAncXo2MRNJ
T37hCrSfO0KsUPrz13M5mIRRl7wEWLYMn7T2wRqaahzCdK/n/Pzk0GsO
-----END ENCRYPTED PRIVATE KEY-----
";

    #[test]
    fn every_pbes2_variant_opens_with_its_passphrase_only() {
        for (text, protection) in [
            (SSH_KEYGEN_P256, "aes-128-cbc, pbkdf2-sha256 2048 rounds"),
            (ED25519_DES3, "des-ede3-cbc, pbkdf2-sha256 2048 rounds"),
            (ED25519_SCRYPT, "aes-256-cbc, scrypt"),
            (ED25519_AES192_SHA1, "aes-192-cbc, pbkdf2-sha1 2048 rounds"),
        ] {
            let u = prepare(text.as_bytes()).unwrap();
            assert_eq!(u.protection(), protection);
            assert!(u.try_passphrase(b"keycheck-test"), "{protection}");
            assert!(!u.try_passphrase(b"keycheck"), "{protection}");
            assert!(!u.try_passphrase(b""), "{protection}");
        }
    }

    #[test]
    fn scrypt_memory_is_reported() {
        // N = 16384, r = 8, p = 1: 128 * 8 * (16384 + 1) bytes.
        let u = prepare(ED25519_SCRYPT.as_bytes()).unwrap();
        assert_eq!(u.memory_per_attempt(), 128 * 8 * 16385);
        assert_eq!(
            prepare(ED25519_DES3.as_bytes())
                .unwrap()
                .memory_per_attempt(),
            0
        );
    }

    #[test]
    fn pkcs12_pbe_is_unsupported() {
        assert_eq!(
            prepare(ED25519_PKCS12.as_bytes()).unwrap_err(),
            DecryptError::Unsupported {
                format: "pkcs8-encrypted-pem",
                what: "pkcs12-sha1 with des-ede3-cbc".to_owned()
            }
        );
    }
}
