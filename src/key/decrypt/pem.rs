//! PURE: passphrase attempts against OpenSSL's traditional ("legacy") PEM encryption:
//! `Proc-Type: 4,ENCRYPTED` and `DEK-Info: <cipher>,<iv hex>` (RFC 1421 §4.6.1.3), as
//! `ssh-keygen -m PEM` and `openssl rsa -aes128` write it.
//!
//! The key is OpenSSL's `EVP_BytesToKey(cipher, MD5, salt = first 8 IV bytes, passphrase,
//! count = 1)`; the body is CBC with PKCS#7 padding. A wrong passphrase yields valid
//! padding about once in 256 tries, so a hit also needs the plaintext to decode, exactly
//! and completely, as the DER structure the label names: `RSAPrivateKey` (RFC 8017
//! §A.1.2), `ECPrivateKey` (RFC 5915 §3) or OpenSSL's DSA `SEQUENCE { 0, p, q, g, y, x }`.

use der::asn1::{AnyRef, UintRef};
use der::{Decode as _, Reader as _};
use md5::Digest as _;
use zeroize::Zeroizing;

use super::super::armor::Armor;
use super::super::Format;
use super::{hex_decode, secret_buffer, CbcCipher, DecryptError, ParseError};

/// A legacy-encrypted PEM key: everything an attempt needs, nothing secret.
pub(super) struct Locked {
    format: Format,
    /// The `DEK-Info` cipher name as written.
    cipher_name: String,
    cipher: CbcCipher,
    iv: Vec<u8>,
    body: Vec<u8>,
}

impl Locked {
    /// Reads the `DEK-Info` header and the encrypted body of a `format` block.
    pub(super) fn parse(format: Format, armor: &Armor) -> Result<Locked, DecryptError> {
        const CONTEXT: &str = "pem DEK-Info header";
        let dek = armor
            .header("DEK-Info")
            .ok_or(ParseError::Truncated { context: CONTEXT })?;
        let (name, iv) = dek.split_once(',').ok_or_else(|| ParseError::Invalid {
            context: CONTEXT,
            detail: "no \",<iv>\" after the cipher name".to_owned(),
        })?;
        let name = name.trim();
        let cipher = match name.to_ascii_uppercase().as_str() {
            "AES-128-CBC" => CbcCipher::Aes128,
            "AES-192-CBC" => CbcCipher::Aes192,
            "AES-256-CBC" => CbcCipher::Aes256,
            "DES-EDE3-CBC" => CbcCipher::TdesEde3,
            "DES-CBC" => CbcCipher::Des,
            _ => {
                return Err(DecryptError::Unsupported {
                    format: format.as_str(),
                    what: format!(
                        "DEK-Info cipher {}",
                        name.chars().take(64).collect::<String>()
                    ),
                })
            }
        };
        let iv = hex_decode(iv.trim())
            .filter(|iv| iv.len() == cipher.block_len())
            .ok_or_else(|| ParseError::Invalid {
                context: CONTEXT,
                detail: format!("the IV is not {} hex-encoded bytes", cipher.block_len()),
            })?;
        if armor.body.is_empty() || !armor.body.len().is_multiple_of(cipher.block_len()) {
            return Err(ParseError::Invalid {
                context: "encrypted pem body",
                detail: format!(
                    "{} bytes, not a whole number of {}-byte blocks",
                    armor.body.len(),
                    cipher.block_len()
                ),
            }
            .into());
        }
        Ok(Locked {
            format,
            cipher_name: name.to_owned(),
            cipher,
            iv,
            body: armor.body.to_vec(),
        })
    }

    pub(super) fn format(&self) -> Format {
        self.format
    }

    /// `AES-128-CBC, md5 1 round`.
    pub(super) fn protection(&self) -> String {
        format!("{}, md5 1 round", self.cipher_name)
    }

    /// See [`super::Unlocker::try_passphrase`].
    pub(super) fn try_passphrase(&self, passphrase: &[u8]) -> bool {
        let mut key = secret_buffer(self.cipher.key_len());
        // The IV is at least 8 bytes (checked in `parse`); its first 8 are the salt.
        let Some(salt) = self.iv.get(..8) else {
            return false;
        };
        evp_bytes_to_key_md5(passphrase, salt, &mut key);
        self.cipher
            .open_padded(&key, &self.iv, &self.body)
            .is_some_and(|der| is_private_key_der(self.format, &der))
    }
}

/// OpenSSL's `EVP_BytesToKey` with MD5 and one iteration, filling `out`:
/// `D_1 = MD5(passphrase || salt)`, `D_i = MD5(D_{i-1} || passphrase || salt)`,
/// `out = D_1 || D_2 || ...` (OpenSSL `crypto/evp/evp_key.c`). The IV comes from the
/// `DEK-Info` header, so only key bytes are derived here.
pub(super) fn evp_bytes_to_key_md5(passphrase: &[u8], salt: &[u8], out: &mut [u8]) {
    let mut block = Zeroizing::new([0u8; 16]);
    let mut first = true;
    for chunk in out.chunks_mut(16) {
        let mut md5 = md5::Md5::new();
        if !first {
            md5.update(&block[..]);
        }
        md5.update(passphrase);
        md5.update(salt);
        md5.finalize_into((&mut block[..]).into());
        chunk.copy_from_slice(&block[..chunk.len()]);
        first = false;
    }
}

/// Returns true if and only if `der` is exactly one DER private key of the kind `format`
/// holds.
fn is_private_key_der(format: Format, der: &[u8]) -> bool {
    match format {
        Format::Pkcs1Pem => pkcs1::RsaPrivateKey::from_der(der).is_ok(),
        Format::Sec1Pem => sec1::EcPrivateKey::from_der(der).is_ok(),
        // OpenSSL's DSAPrivateKey (`dsa_asn1.c`): version 0, p, q, g, y, x.
        Format::DsaPem => AnyRef::from_der(der)
            .and_then(|any| {
                any.sequence(|r| {
                    let version: u8 = r.decode()?;
                    for _ in 0..5 {
                        let _: UintRef<'_> = r.decode()?;
                    }
                    Ok(version == 0)
                })
            })
            .unwrap_or(false),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{prepare, DecryptError};
    use super::*;

    #[test]
    fn evp_bytes_to_key_matches_openssl() {
        // `openssl enc -aes-256-cbc -md md5 -P -S 0102030405060708 -pass pass:password`
        // prints this key and IV: the IV is the next 16 bytes of the same stream.
        let mut out = [0u8; 48];
        evp_bytes_to_key_md5(b"password", &[1, 2, 3, 4, 5, 6, 7, 8], &mut out);
        assert_eq!(
            hex(&out[..32]),
            "E7B0971E52CA5CC8D0539FB3412F6316F7BA2E6EE293D9F3457B99436B51CE02"
        );
        assert_eq!(hex(&out[32..]), "8D450E2ED75A84A923D4EAC9FE49226B");
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn rsa_fixture_opens_with_its_passphrase_only() {
        let u = prepare(include_bytes!("../../../tests/fixtures/ssh/id_rsa_pem_enc")).unwrap();
        assert_eq!(u.format(), Format::Pkcs1Pem);
        assert_eq!(u.protection(), "AES-128-CBC, md5 1 round");
        assert!(u.try_passphrase(b"keycheck-test"));
        assert!(!u.try_passphrase(b"keycheck-test "));
        assert!(!u.try_passphrase(b""));
    }

    /// `openssl ecparam -genkey -name prime256v1 -noout | openssl ec -des3`, passphrase
    /// keycheck-test (OpenSSL 3.0).
    const EC_DES3: &str = r"-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: DES-EDE3-CBC,D6F2D192FBFF1222

cWwAzetYJik4CBaKGX6Htgpvon6JBw9Xr+RftUVsDt40PjZm5+L16Fny004tlQmq
+XkWidzK2LrLwDZGg1YGJllfH+G6INsQBdLi/yqL7qEk8ZqzywccEky60KHFJGKH
mcgpbcw4f3ug8DO23gmiE6qR8SYPz+1qrKEZOJQXkrE=
-----END EC PRIVATE KEY-----
";

    /// `openssl dsa -des -provider legacy -provider default` of a 1024-bit `openssl gendsa`
    /// key, passphrase keycheck-test.
    const DSA_DES: &str = r"-----BEGIN DSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: DES-CBC,0F2E81392751D4FB

VBcldoCaN5J41A/u9E1qp6T7xHhEeTv5UDb235ZGqi2vMs16xZ3ce/wfo0TfYsqt
1StYvT4Orqp+cppfLmiArFk1GhsnVKiQbOZzJTpwsy4PcAsYXdyTMQjIDWO4mcLJ
3lrTSTzY0ux+eQc48lqwahN4C78m+OmqWWV83q78huQ4ufGoL10XTgvR9r25D3Zg
GQ7KXouMj7ms5EluWi72ZE+Zdl72VwfGXpVYeeaaDGgk3B+KinR+G7L2nY+I/UK5
KmrK8ZGyzZQ5sbWs6AhH+stRAd/UR0H4S07PZqlv/DrAKLcqVumqkWYrGPOKMy2D
pkWhF7zQ1rRcf6s9syOWlNkxlVziwWUXME4LWjKD1IRj+cSimpF7iuZyRz9RRTIt
bNRZMKh6pRJtXQ3Xo2RoHMCtqrjl5Drhp6T0W1V/RGCsHlybXUaLiXvuzx2riasK
1A3JR3te3wfD68XLR65hzHp80D24FK8BJgmXzKUioAuJxN6IvtPVwmC454DmVEmY
CR8XCmRTF91hrTBW5LVg2MPtxRND/u3BsmMVIGyNbVusbaAx6eFWAY4KKE/64sdO
anHt56krPx5jent4MfxA5gBqzhLJMZvQN2BF4KKqHO4=
-----END DSA PRIVATE KEY-----
";

    /// `openssl rsa -aes256 -traditional` of a 1024-bit key, passphrase keycheck-test.
    const RSA_AES256: &str = r"-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-256-CBC,98674FB816C8B82A41263B87FCD8F2D4

n/h+WnWzqp92LwrJoeN7loamQMpEALsTpSiodv9Vky36LIOjPQW6UXXfcC3P8Z2W
7Xz+nPBvhwyLUuQBZkTeymtcxDYpmV82l387x54r4J0sK6B2gjvFhWQrNHCTyQfn
TTmv+ZEniW5XpVI1W3BoUqUaMlBiRTUqoBm6QHd9s7WOHOJ94pzT/PT33vskXXTD
C/2pyAcTDgS3e0oGgOUaj0QSBsD8rJTG9TIt07q1Sk85TsEnDN2VPdyQhLF2Qb66
o3eT9EtM8RTGbsZLNXXi2jC/MyT3+76teqTpwvKVtVZ2PSMY9rk8CqxCWxBZfQ7s
xUpWaCKbh4iL/KryjrhXa+rG/amz/2JOxEJ1pqa9L7Yo02MMrsNAUAZfV3v6rq5e
zifwVV41LOqjkkS4EvytH4j2dbbwgL27XEaQUOizdhveY+VED3UwGzod9L0P0OvA
KNQXqDO/EkzJecA12SqJ4mp4rvwc3d36S/lNFS1725mX64lt2Wux7gOM9UFi8jWF
2TzCl+DefbpMLGTMFRBc1Hrwgi1TQzTdCvYSKpbBMW2zYloPwBZcPY3lmy36RYfv
59djtPWGqFc38lhTymaSUnPi2cbInkawWIuePlRH9Dd3xU4fbjDChBx2CWUzAvVd
TODp2Lrannu9y+fOrnIG61rGMw+1ALinf62ouBS8R1q8NLK6yvRokFgKd+I+yvgb
131/1VMxDQeudn/Zf1bqKPYsfmkDtOnVt+ejSUJBuUMsQ5YEugdrUOIOSqjJgGB1
O6ZAWdgzWtiZWsjXzFHiy7wJP9qmd+Wrrjy9Ys61T8EuHnp9l0fdv0dXWDKRb6DP
-----END RSA PRIVATE KEY-----
";

    #[test]
    fn every_dek_info_cipher_opens() {
        for (text, format, protection) in [
            (EC_DES3, Format::Sec1Pem, "DES-EDE3-CBC, md5 1 round"),
            (DSA_DES, Format::DsaPem, "DES-CBC, md5 1 round"),
            (RSA_AES256, Format::Pkcs1Pem, "AES-256-CBC, md5 1 round"),
        ] {
            let u = prepare(text.as_bytes()).unwrap();
            assert_eq!((u.format(), u.protection().as_str()), (format, protection));
            assert!(u.try_passphrase(b"keycheck-test"), "{protection}");
            assert!(!u.try_passphrase(b"password"), "{protection}");
        }
    }

    #[test]
    fn unknown_cipher_is_unsupported_and_bad_iv_malformed() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: BF-CBC,0102030405060708\n\nAAAAAAAAAAA=\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            prepare(text.as_bytes()),
            Err(DecryptError::Unsupported { .. })
        ));
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0102\n\nAAAAAAAAAAAAAAAAAAAAAA==\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            prepare(text.as_bytes()),
            Err(DecryptError::Malformed(_))
        ));
    }

    #[test]
    fn valid_padding_alone_is_not_a_hit() {
        // One block that decrypts, under some passphrase, to valid padding but no DER:
        // `is_private_key_der` must say no whatever the padding says.
        assert!(!is_private_key_der(Format::Pkcs1Pem, b"\x30\x03\x02\x01"));
        assert!(!is_private_key_der(Format::Sec1Pem, b""));
        assert!(!is_private_key_der(Format::DsaPem, b"\x30\x00"));
    }
}
