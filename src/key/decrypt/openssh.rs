//! PURE: passphrase attempts against an OpenSSH `openssh-key-v1` private key
//! (OpenSSH PROTOCOL.key; the cipher table of OpenSSH's cipher.c).
//!
//! The key and IV come from `bcrypt_pbkdf(passphrase, salt, rounds)` (PROTOCOL.key §2),
//! `key_len + iv_len` bytes of it. The private section then decrypts to two equal check
//! integers, the key type, the key, the comment and padding (§3). A hit needs the AEAD tag
//! to verify (gcm, chacha20-poly1305), the check integers to be equal and the key type
//! after them to be the public key's: for the non-AEAD ciphers a wrong passphrase passes
//! the 32-bit check-integer test once in four billion tries, and the key type name as well
//! practically never.

use aes_gcm::aead::AeadInPlace as _;
use chacha20::cipher::consts::U16;
use chacha20::cipher::{
    BlockCipher, BlockEncryptMut, KeyInit, KeyIvInit as _, StreamCipher as _, StreamCipherSeek as _,
};
use zeroize::Zeroizing;

use super::super::armor::Armor;
use super::super::blob::Reader;
use super::super::openssh::Envelope;
use super::{limits, secret_buffer, secret_copy, CbcCipher, DecryptError, ParseError};

/// The authentication tag length of both AEAD ciphers (OpenSSH's `cipher_authlen`).
const TAG_LEN: usize = 16;

/// The format name in errors.
const FORMAT: &str = "openssh";

/// The ciphers OpenSSH writes private keys with (`ssh-keygen -Z`), from cipher.c.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cipher {
    /// aes128-ctr, aes192-ctr, aes256-ctr: AES in big-endian 128-bit counter mode.
    AesCtr(CbcCipher),
    /// aes128-cbc, aes192-cbc, aes256-cbc, 3des-cbc: no padding (the section pads itself).
    Cbc(CbcCipher),
    /// aes128-gcm@openssh.com (16-byte key) or aes256-gcm@openssh.com (32): 12-byte IV,
    /// no additional data, the tag after the section.
    AesGcm(usize),
    /// chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305).
    ChaCha20Poly1305,
}

impl Cipher {
    fn from_name(name: &str) -> Option<Cipher> {
        Some(match name {
            "aes128-ctr" => Cipher::AesCtr(CbcCipher::Aes128),
            "aes192-ctr" => Cipher::AesCtr(CbcCipher::Aes192),
            "aes256-ctr" => Cipher::AesCtr(CbcCipher::Aes256),
            "aes128-cbc" => Cipher::Cbc(CbcCipher::Aes128),
            "aes192-cbc" => Cipher::Cbc(CbcCipher::Aes192),
            "aes256-cbc" | "rijndael-cbc@lysator.liu.se" => Cipher::Cbc(CbcCipher::Aes256),
            "3des-cbc" => Cipher::Cbc(CbcCipher::TdesEde3),
            "aes128-gcm@openssh.com" => Cipher::AesGcm(16),
            "aes256-gcm@openssh.com" => Cipher::AesGcm(32),
            "chacha20-poly1305@openssh.com" => Cipher::ChaCha20Poly1305,
            _ => return None,
        })
    }

    /// (key length, IV length, block size, tag length), as in OpenSSH's cipher table.
    fn sizes(self) -> (usize, usize, usize, usize) {
        match self {
            Cipher::AesCtr(c) | Cipher::Cbc(c) => (c.key_len(), c.block_len(), c.block_len(), 0),
            Cipher::AesGcm(key) => (key, 12, 16, TAG_LEN),
            // Two 256-bit keys (payload, then length header, unused here); no IV: the
            // nonce is the packet sequence number, 0 for a key file.
            Cipher::ChaCha20Poly1305 => (64, 0, 8, TAG_LEN),
        }
    }
}

/// An encrypted OpenSSH private key: everything an attempt needs, nothing secret.
pub(super) struct Locked {
    /// The cipher name as written, for [`Locked::protection`].
    cipher_name: String,
    cipher: Cipher,
    salt: Vec<u8>,
    rounds: u32,
    /// The encrypted private section.
    section: Vec<u8>,
    /// The AEAD tag (empty for the other ciphers).
    tag: Vec<u8>,
    /// The public key's algorithm: the key type the decrypted section must start with.
    key_type: Vec<u8>,
}

impl Locked {
    /// Reads the envelope of PROTOCOL.key §1.
    pub(super) fn parse(armor: &Armor) -> Result<Locked, DecryptError> {
        let envelope = Envelope::parse(&armor.body)?;
        let (cipher_name, kdf, kdf_options) = (envelope.cipher, envelope.kdf, envelope.kdf_options);
        let (public, section, after) = (envelope.public, envelope.private, envelope.after);

        let cipher = Cipher::from_name(&cipher_name).ok_or_else(|| DecryptError::Unsupported {
            format: FORMAT,
            what: format!("cipher {cipher_name}"),
        })?;
        if kdf != "bcrypt" {
            return Err(DecryptError::Unsupported {
                format: FORMAT,
                what: format!("kdf {kdf}"),
            });
        }
        let mut options = Reader::new(kdf_options);
        let salt = options.string("bcrypt salt")?.to_vec();
        let rounds = options.u32("bcrypt rounds")?;
        if salt.is_empty() || rounds == 0 {
            // bcrypt_pbkdf (OpenSSH's and the crate's) refuses both.
            return Err(ParseError::Invalid {
                context: "bcrypt kdf options",
                detail: "empty salt or zero rounds".to_owned(),
            }
            .into());
        }
        if rounds > limits::BCRYPT_ROUNDS {
            return Err(DecryptError::TooCostly {
                format: FORMAT,
                what: format!("bcrypt rounds {rounds}"),
                limit: limits::BCRYPT_ROUNDS.to_string(),
            });
        }
        let (_, _, block, tag_len) = cipher.sizes();
        if section.is_empty() || section.len() % block != 0 {
            return Err(ParseError::Invalid {
                context: "private section",
                detail: format!(
                    "{} bytes, not a whole number of {block}-byte blocks",
                    section.len()
                ),
            }
            .into());
        }
        if after.len() != tag_len {
            return Err(ParseError::Invalid {
                context: "authentication tag",
                detail: format!(
                    "{} bytes after the private section, expected {tag_len}",
                    after.len()
                ),
            }
            .into());
        }
        let key_type = Reader::new(public).string("public key algorithm")?.to_vec();
        Ok(Locked {
            cipher_name,
            cipher,
            salt,
            rounds,
            section: section.to_vec(),
            tag: after.to_vec(),
            key_type,
        })
    }

    /// `aes256-ctr, bcrypt 16 rounds`.
    pub(super) fn protection(&self) -> String {
        format!("{}, bcrypt {} rounds", self.cipher_name, self.rounds)
    }

    /// See [`super::Unlocker::try_passphrase`].
    pub(super) fn try_passphrase(&self, passphrase: &[u8]) -> bool {
        // OpenSSH's bcrypt_pbkdf refuses an empty passphrase (so does `sshkey_parse_private2`
        // in effect): no passphrase opens a key that has a cipher.
        if passphrase.is_empty() {
            return false;
        }
        let (key_len, iv_len, _, _) = self.cipher.sizes();
        let mut derived = secret_buffer(key_len + iv_len);
        // bcrypt_pbkdf's scratch space, wiped too (it holds the hash output before the
        // final shuffle); 32 bytes per started 32 bytes of output.
        let mut scratch = secret_buffer(derived.len().div_ceil(32) * 32);
        if bcrypt_pbkdf::bcrypt_pbkdf_with_memory(
            passphrase,
            &self.salt,
            self.rounds,
            &mut derived,
            &mut scratch,
        )
        .is_err()
        {
            return false;
        }
        let (key, iv) = derived.split_at(key_len);
        let mut plain = secret_copy(&self.section);
        if !self.decrypt(key, iv, &mut plain) {
            return false;
        }
        self.plaintext_is_right(&plain)
    }

    /// Decrypts `buf` in place, verifying the tag first for the AEAD ciphers. Returns
    /// false when the tag does not verify.
    fn decrypt(&self, key: &[u8], iv: &[u8], buf: &mut [u8]) -> bool {
        match self.cipher {
            Cipher::AesCtr(c) => {
                fn run<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> bool
                where
                    C: BlockCipher<BlockSize = U16> + BlockEncryptMut + KeyInit,
                {
                    match ctr::Ctr128BE::<C>::new_from_slices(key, iv) {
                        Ok(mut ctr) => ctr.try_apply_keystream(buf).is_ok(),
                        Err(_) => false,
                    }
                }
                match c {
                    CbcCipher::Aes128 => run::<aes::Aes128>(key, iv, buf),
                    CbcCipher::Aes192 => run::<aes::Aes192>(key, iv, buf),
                    CbcCipher::Aes256 => run::<aes::Aes256>(key, iv, buf),
                    CbcCipher::TdesEde3 | CbcCipher::Des => false,
                }
            }
            Cipher::Cbc(c) => c.decrypt(key, iv, buf),
            Cipher::AesGcm(key_len) => {
                // Both lengths are fixed by `sizes` and `parse`; checked again because
                // `from_slice` panics on any other.
                if iv.len() != 12 || self.tag.len() != TAG_LEN {
                    return false;
                }
                let nonce = aes_gcm::Nonce::from_slice(iv);
                let tag = aes_gcm::Tag::from_slice(&self.tag);
                if key_len == 16 {
                    aes_gcm::Aes128Gcm::new_from_slice(key)
                        .is_ok_and(|c| c.decrypt_in_place_detached(nonce, b"", buf, tag).is_ok())
                } else {
                    aes_gcm::Aes256Gcm::new_from_slice(key)
                        .is_ok_and(|c| c.decrypt_in_place_detached(nonce, b"", buf, tag).is_ok())
                }
            }
            Cipher::ChaCha20Poly1305 => chacha20_poly1305_open(key, &self.tag, buf),
        }
    }

    /// Returns true if and only if `plain` starts with two equal check integers followed
    /// by the public key's type (PROTOCOL.key §3).
    fn plaintext_is_right(&self, plain: &[u8]) -> bool {
        let mut r = Reader::new(plain);
        match (r.u32("checkint"), r.u32("checkint"), r.string("key type")) {
            (Ok(a), Ok(b), Ok(key_type)) => a == b && key_type == self.key_type.as_slice(),
            _ => false,
        }
    }
}

/// OpenSSH's `chachapoly_crypt` for decryption with sequence number 0 and no additional
/// data (PROTOCOL.chacha20poly1305): `key` is K_2 (payload key, first 32 bytes) || K_1
/// (length key, unused). The Poly1305 key is the first 32 bytes of the ChaCha20 (original
/// 64-bit nonce variant) keystream of K_2 at block 0; the tag covers the ciphertext; the
/// payload is encrypted from block 1 on. Returns false when the tag does not verify.
fn chacha20_poly1305_open(key: &[u8], tag: &[u8], buf: &mut [u8]) -> bool {
    let Some(main_key) = key.get(..32) else {
        return false;
    };
    let nonce = [0u8; 8];
    let Ok(mut stream) = chacha20::ChaCha20Legacy::new_from_slices(main_key, &nonce) else {
        return false;
    };
    let mut poly_key = Zeroizing::new([0u8; 32]);
    stream.apply_keystream(&mut poly_key[..]);
    let Ok(mac) = poly1305::Poly1305::new_from_slice(&poly_key[..]) else {
        return false;
    };
    // A plain comparison: nobody can time these attempts but the auditor itself.
    if mac.compute_unpadded(buf).as_slice() != tag {
        return false;
    }
    stream.seek(64u64);
    stream.try_apply_keystream(buf).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Keys written by OpenSSH 9.2 `ssh-keygen` under the throwaway passphrase
    //! `keycheck-test` (the ones in `key/openssh.rs`'s tests and the committed fixtures).

    use super::super::{prepare, DecryptError, Unlocker};
    use crate::key::blob::Writer;
    use crate::key::openssh::tests::{ECDSA_CBC, ED25519_CHACHA, ED25519_GCM};

    fn unlocker(text: &str) -> Unlocker {
        prepare(text.as_bytes()).unwrap()
    }

    #[test]
    fn right_passphrase_opens_every_cipher_and_wrong_ones_do_not() {
        let files = [
            (
                include_str!("../../../tests/fixtures/ssh/id_ed25519_enc"),
                "aes256-ctr, bcrypt 16 rounds",
            ),
            (ED25519_GCM, "aes256-gcm@openssh.com, bcrypt 32 rounds"),
            (
                ED25519_CHACHA,
                "chacha20-poly1305@openssh.com, bcrypt 32 rounds",
            ),
            (ECDSA_CBC, "aes128-cbc, bcrypt 16 rounds"),
        ];
        for (text, protection) in files {
            let u = unlocker(text);
            assert_eq!(u.protection(), protection);
            assert!(u.try_passphrase(b"keycheck-test"), "{protection}");
            assert!(!u.try_passphrase(b"keycheck-tesT"), "{protection}");
            assert!(!u.try_passphrase(b""), "{protection}");
        }
    }

    /// Builds an envelope around a hand-made section (PROTOCOL.key §1).
    fn envelope(cipher: &str, kdf: &str, options: &[u8], section: &[u8], tail: &[u8]) -> String {
        let public = Writer::new()
            .string(b"ssh-ed25519")
            .string(&[7; 32])
            .finish();
        let mut body = b"openssh-key-v1\0".to_vec();
        body.extend(
            Writer::new()
                .string(cipher.as_bytes())
                .string(kdf.as_bytes())
                .string(options)
                .finish(),
        );
        body.extend(1u32.to_be_bytes());
        body.extend(Writer::new().string(&public).string(section).finish());
        body.extend(tail);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(body);
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{b64}\n-----END OPENSSH PRIVATE KEY-----\n")
    }

    fn bcrypt_options(rounds: u32) -> Vec<u8> {
        let mut options = Writer::new().string(&[1; 16]).finish();
        options.extend(rounds.to_be_bytes());
        options
    }

    #[test]
    fn unknown_cipher_and_kdf_are_unsupported() {
        let text = envelope(
            "twofish256-cbc",
            "bcrypt",
            &bcrypt_options(16),
            &[0; 32],
            b"",
        );
        assert_eq!(
            prepare(text.as_bytes()).unwrap_err(),
            DecryptError::Unsupported {
                format: "openssh",
                what: "cipher twofish256-cbc".to_owned()
            }
        );
        let text = envelope("aes256-ctr", "scrypt", b"", &[0; 32], b"");
        assert!(matches!(
            prepare(text.as_bytes()),
            Err(DecryptError::Unsupported { .. })
        ));
    }

    #[test]
    fn absurd_rounds_are_too_costly() {
        let text = envelope(
            "aes256-ctr",
            "bcrypt",
            &bcrypt_options(1 << 30),
            &[0; 32],
            b"",
        );
        assert!(matches!(
            prepare(text.as_bytes()),
            Err(DecryptError::TooCostly { .. })
        ));
    }

    #[test]
    fn missing_tag_and_bad_lengths_are_malformed() {
        let gcm = envelope(
            "aes256-gcm@openssh.com",
            "bcrypt",
            &bcrypt_options(2),
            &[0; 32],
            &[0; 8],
        );
        let err = prepare(gcm.as_bytes()).unwrap_err();
        assert!(matches!(err, DecryptError::Malformed(_)), "{err:?}");
        let ctr = envelope("aes256-ctr", "bcrypt", &bcrypt_options(2), &[0; 31], b"");
        let err = prepare(ctr.as_bytes()).unwrap_err();
        assert!(matches!(err, DecryptError::Malformed(_)), "{err:?}");
    }

    #[test]
    fn garbage_section_is_a_miss_not_a_panic() {
        // A well-formed envelope whose section is noise: every passphrase misses.
        for cipher in [
            "aes256-ctr",
            "aes192-cbc",
            "3des-cbc",
            "aes128-gcm@openssh.com",
            "chacha20-poly1305@openssh.com",
        ] {
            let tag: &[u8] = if cipher.contains('@') { &[9; 16] } else { b"" };
            let text = envelope(cipher, "bcrypt", &bcrypt_options(1), &[0x5a; 48], tag);
            let u = prepare(text.as_bytes()).unwrap();
            assert!(!u.try_passphrase(b"password"), "{cipher}");
        }
    }
}
