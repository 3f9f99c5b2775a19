//! PURE: PEM private keys: PKCS#1 RSA (RFC 8017 §A.1.2), PKCS#8 plain (RFC 5958 §2) and
//! password-encrypted (RFC 5958 §3, RFC 8018), SEC1 EC (RFC 5915 §3), and OpenSSL's DSA.
//!
//! Nothing here decrypts. An encrypted file tells only how it is protected (cipher, KDF,
//! rounds); its algorithm, bits and fingerprint then come from the matching `.pub`
//! (see [`KeyFacts::needs_public_part`]). A plain file gives its public key, from which the
//! SSH public blob, and so the fingerprint `ssh-keygen -l` prints, is rebuilt.
//!
//! RSA keys are read straight from the DER structure (`n` and `e`); no RSA key object is
//! ever built, so nothing is validated or computed with the private values.

use der::asn1::{AnyRef, ContextSpecific, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode as _, Reader as _, Tag, TagNumber, Tagged as _};
use pkcs8::pkcs5;
use pkcs8::AlgorithmIdentifierRef;

use super::armor::Armor;
use super::blob;
use super::{Format, KeyFacts, Kind, ParseError};

/// `rsaEncryption` (RFC 8017 §A.1).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480 §2.1.1).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `id-dsa` (RFC 3279 §2.3.2).
const ID_DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
/// `id-Ed25519` (RFC 8410 §3).
const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// PKCS#8 key algorithms OpenSSH has no name for, so the error can say what the file is.
const UNSUPPORTED_KEY_ALGORITHMS: [(&str, &str); 5] = [
    ("1.2.840.113549.1.1.10", "RSASSA-PSS"),
    ("1.3.101.110", "X25519"),
    ("1.3.101.111", "X448"),
    ("1.3.101.113", "Ed448"),
    ("1.2.840.10046.2.1", "Diffie-Hellman"),
];

/// An elliptic curve OpenSSH signs with (RFC 5656 §10.1).
struct Curve {
    /// Named-curve OID (RFC 5480 §2.1.1.1).
    oid: ObjectIdentifier,
    /// The SSH curve name, the suffix of `ecdsa-sha2-`.
    name: &'static str,
    /// Key size as `ssh-keygen -l` prints it.
    bits: u32,
    /// Bytes of one field element; an uncompressed SEC1 point is `04 || X || Y`.
    field_bytes: usize,
}

/// The three curves of RFC 5656 §10.1.
const CURVES: [Curve; 3] = [
    Curve {
        oid: ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
        name: "nistp256",
        bits: 256,
        field_bytes: 32,
    },
    Curve {
        oid: ObjectIdentifier::new_unwrap("1.3.132.0.34"),
        name: "nistp384",
        bits: 384,
        field_bytes: 48,
    },
    Curve {
        oid: ObjectIdentifier::new_unwrap("1.3.132.0.35"),
        name: "nistp521",
        bits: 521,
        field_bytes: 66,
    },
];

/// Facts of a PEM private key block of `format` (one of the PEM formats of [`Format`]).
///
/// # Errors
/// [`ParseError::Asn1`] when the DER body does not decode, [`ParseError::Invalid`] when it
/// decodes but holds something keycheck cannot describe (an unknown key algorithm or curve,
/// a broken `DEK-Info` header).
pub(super) fn inspect(format: Format, armor: &Armor) -> Result<KeyFacts, ParseError> {
    // RFC 1421 §4.6.1.1: OpenSSL's "traditional" encryption marks the block with
    // `Proc-Type: 4,ENCRYPTED`; the body is then ciphertext, never DER.
    if let Some(proc_type) = armor.header("Proc-Type") {
        let kind = proc_type
            .split_once(',')
            .map_or("", |(_, kind)| kind.trim());
        if !kind.eq_ignore_ascii_case("ENCRYPTED") {
            return Err(ParseError::Invalid {
                context: "pem Proc-Type header",
                detail: format!("\"{}\" is not ENCRYPTED", clip(proc_type)),
            });
        }
        return legacy_encrypted(format, armor);
    }
    let der = armor.body.as_slice();
    match format {
        Format::Pkcs1Pem => pkcs1(format, der),
        Format::Sec1Pem => sec1(format, der, None, None),
        Format::DsaPem => dsa_traditional(der),
        Format::Pkcs8Pem => pkcs8_plain(der),
        Format::Pkcs8EncryptedPem => pkcs8_encrypted(der),
        other => Err(ParseError::Invalid {
            context: "pem private key",
            detail: format!("{} is not a PEM private key format", other.as_str()),
        }),
    }
}

/// A [`ParseError::Asn1`] maker for `context`; the detail is the decoder's `Display`,
/// which names a tag or a byte position, never the bytes themselves.
fn asn1<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> ParseError {
    move |error| ParseError::Asn1 {
        context,
        detail: error.to_string(),
    }
}

/// At most 64 characters of a header value, for error messages.
fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Ciphers OpenSSL 3 keeps in its `legacy` provider, which it does not load by default.
/// Measured with OpenSSH 9.2 on OpenSSL 3.0: a key under one of them (`DEK-Info: DES-CBC`,
/// `BF-CBC`, PBES1 DES or RC2) fails to load even with the right passphrase.
const LEGACY_PROVIDER_CIPHERS: [&str; 12] = [
    "des-cbc", "des-ecb", "des-cfb", "des-ofb", "desx", "bf-", "cast", "idea", "rc2", "rc4", "rc5",
    "seed",
];

/// Returns true if and only if OpenSSL 3's default provider has `cipher` (any case).
fn default_provider_has(cipher: &str) -> bool {
    let cipher = cipher.to_ascii_lowercase();
    !LEGACY_PROVIDER_CIPHERS
        .iter()
        .any(|legacy| cipher.starts_with(legacy))
}

/// Blank private-key facts of `format`.
fn private(format: Format) -> KeyFacts {
    KeyFacts::new(Kind::Private, format)
}

/// Facts whose algorithm, bits and fingerprint come from an SSH public key blob.
fn from_blob(format: Format, public_blob: &[u8]) -> Result<KeyFacts, ParseError> {
    let mut facts = private(format);
    facts.set_public(blob::describe(public_blob)?);
    Ok(facts)
}

/// A block under OpenSSL's traditional PEM encryption (RFC 1421 §4.6.1.3 `DEK-Info:
/// <cipher>,<iv hex>`). OpenSSL derives the key with `EVP_BytesToKey(MD5, salt = first 8
/// IV bytes, one iteration)`: one MD5 round, hence kdf `md5`, rounds 1.
fn legacy_encrypted(format: Format, armor: &Armor) -> Result<KeyFacts, ParseError> {
    const CONTEXT: &str = "pem DEK-Info header";
    let dek = armor
        .header("DEK-Info")
        .ok_or_else(|| ParseError::Invalid {
            context: CONTEXT,
            detail: "missing, but Proc-Type says ENCRYPTED".to_owned(),
        })?;
    let (cipher, iv) = dek.split_once(',').ok_or_else(|| ParseError::Invalid {
        context: CONTEXT,
        detail: "no \",<iv>\" after the cipher name".to_owned(),
    })?;
    let (cipher, iv) = (cipher.trim(), iv.trim());
    if cipher.is_empty()
        || cipher.len() > 64
        || !cipher
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ParseError::Invalid {
            context: CONTEXT,
            detail: format!("\"{}\" is not a cipher name", clip(cipher)),
        });
    }
    if iv.is_empty() || iv.len() % 2 != 0 || !iv.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::Invalid {
            context: CONTEXT,
            detail: "the IV is not an even number of hex digits".to_owned(),
        });
    }
    if armor.body.is_empty() {
        return Err(ParseError::Truncated {
            context: "encrypted pem body",
        });
    }
    let mut facts = private(format);
    facts.encrypted = true;
    facts.cipher = Some(cipher.to_owned());
    facts.kdf = Some("md5".to_owned());
    facts.kdf_rounds = Some(1);
    facts.openssh_loads = default_provider_has(cipher);
    // The label says RSA or DSA; an EC label hides the curve, so the .pub must say.
    facts.algorithm = match format {
        Format::Pkcs1Pem => Some("ssh-rsa".to_owned()),
        Format::DsaPem => Some("ssh-dss".to_owned()),
        _ => None,
    };
    Ok(facts)
}

/// `RSAPrivateKey` (RFC 8017 §A.1.2): the public part is `modulus` and `publicExponent`.
fn pkcs1(format: Format, der: &[u8]) -> Result<KeyFacts, ParseError> {
    let key = pkcs1::RsaPrivateKey::from_der(der).map_err(asn1("pkcs#1 rsa private key"))?;
    let n = key.modulus.as_bytes();
    let e = key.public_exponent.as_bytes();
    if blob::bit_length(n) == 0 || blob::bit_length(e) == 0 {
        return Err(ParseError::Invalid {
            context: "pkcs#1 rsa private key",
            detail: "zero modulus or public exponent".to_owned(),
        });
    }
    from_blob(format, &blob::rsa_blob(e, n))
}

/// `ECPrivateKey` (RFC 5915 §3). `outer_curve` and `outer_public` are what a PKCS#8
/// wrapper says (its algorithm parameters, its v2 `publicKey`).
fn sec1(
    format: Format,
    der: &[u8],
    outer_curve: Option<ObjectIdentifier>,
    outer_public: Option<&[u8]>,
) -> Result<KeyFacts, ParseError> {
    const CONTEXT: &str = "sec1 ec private key";
    let key = sec1::EcPrivateKey::from_der(der).map_err(|error| {
        if has_explicit_parameters(der) {
            ParseError::Invalid {
                context: CONTEXT,
                detail: "explicit curve parameters instead of a named curve are not supported"
                    .to_owned(),
            }
        } else {
            asn1(CONTEXT)(error)
        }
    })?;
    let inner_curve = key.parameters.and_then(sec1::EcParameters::named_curve);
    let oid = match (inner_curve, outer_curve) {
        (Some(inner), Some(outer)) if inner != outer => {
            return Err(ParseError::Invalid {
                context: CONTEXT,
                detail: format!("curve {inner} contradicts the pkcs#8 curve {outer}"),
            })
        }
        (Some(oid), _) | (None, Some(oid)) => oid,
        // RFC 5915 §3: conforming writers always include the (named-curve) parameters;
        // inside PKCS#8 the wrapper's algorithm parameters name the curve instead.
        (None, None) => {
            return Err(ParseError::Invalid {
                context: CONTEXT,
                detail: "no named curve".to_owned(),
            })
        }
    };
    let curve = CURVES
        .iter()
        .find(|c| c.oid == oid)
        .ok_or_else(|| ParseError::Invalid {
            context: CONTEXT,
            detail: format!("curve {oid} is not one OpenSSH uses (nistp256/384/521)"),
        })?;
    ec_facts(format, curve, key.public_key.or(outer_public))
}

/// Returns true if and only if `der` is an `ECPrivateKey` whose `[0]` parameters are an
/// explicit `ECParameters` SEQUENCE (`openssl ec -param_enc explicit`) rather than an OID.
fn has_explicit_parameters(der: &[u8]) -> bool {
    AnyRef::from_der(der)
        .and_then(|any| {
            any.sequence(|r| {
                let _version: u8 = r.decode()?;
                let _private: OctetStringRef<'_> = r.decode()?;
                let parameters = ContextSpecific::<AnyRef<'_>>::decode_explicit(r, TagNumber::N0)?;
                while !r.is_finished() {
                    let _rest: AnyRef<'_> = r.decode()?;
                }
                Ok(parameters.is_some_and(|p| p.value.tag() == Tag::Sequence))
            })
        })
        .unwrap_or(false)
}

/// ECDSA facts of `curve` and, when the file holds it, the SEC1 public point.
fn ec_facts(format: Format, curve: &Curve, point: Option<&[u8]>) -> Result<KeyFacts, ParseError> {
    let mut facts = match point {
        None => private(format),
        // SEC1 §2.3.3 uncompressed point `04 || X || Y`: the form SSH carries (RFC 5656 §3.1).
        Some(p) if p.first() == Some(&4) && p.len() == 1 + 2 * curve.field_bytes => {
            from_blob(format, &blob::ecdsa_blob(curve.name, p))?
        }
        // A compressed point (`openssl ec -conv_form compressed`): OpenSSH fingerprints the
        // uncompressed form, which takes curve arithmetic to recover; the .pub says it.
        Some(p) if matches!(p.first(), Some(2 | 3)) && p.len() == 1 + curve.field_bytes => {
            private(format)
        }
        Some(p) => {
            return Err(ParseError::Invalid {
                context: "ec public key",
                detail: format!("{} bytes is not a {} point", p.len(), curve.name),
            })
        }
    };
    facts.algorithm = Some(format!("ecdsa-sha2-{}", curve.name));
    facts.bits = Some(curve.bits);
    Ok(facts)
}

/// OpenSSL's traditional DSA key: `SEQUENCE { version INTEGER (0), p, q, g, y, x }`
/// (the `DSAPrivateKey` of OpenSSL's `dsa_asn1.c`; no RFC defines it).
fn dsa_traditional(der: &[u8]) -> Result<KeyFacts, ParseError> {
    const CONTEXT: &str = "dsa private key";
    let (version, p, q, g, y) = AnyRef::from_der(der)
        .and_then(|any| {
            any.sequence(|r| {
                let version: u8 = r.decode()?;
                let p: UintRef<'_> = r.decode()?;
                let q: UintRef<'_> = r.decode()?;
                let g: UintRef<'_> = r.decode()?;
                let y: UintRef<'_> = r.decode()?;
                let _x: UintRef<'_> = r.decode()?;
                Ok((version, p, q, g, y))
            })
        })
        .map_err(asn1(CONTEXT))?;
    if version != 0 {
        return Err(ParseError::Invalid {
            context: CONTEXT,
            detail: format!("version {version}, expected 0"),
        });
    }
    from_blob(
        Format::DsaPem,
        &blob::dsa_blob(p.as_bytes(), q.as_bytes(), g.as_bytes(), y.as_bytes()),
    )
}

/// `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5958 §2): dispatch on the key algorithm.
fn pkcs8_plain(der: &[u8]) -> Result<KeyFacts, ParseError> {
    const CONTEXT: &str = "pkcs#8 private key";
    let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(asn1(CONTEXT))?;
    let format = Format::Pkcs8Pem;
    match info.algorithm.oid {
        RSA_ENCRYPTION => pkcs1(format, info.private_key),
        EC_PUBLIC_KEY => {
            // RFC 5480 §2.1.1: the parameters name the curve.
            let curve = info
                .algorithm
                .parameters_oid()
                .map_err(asn1("pkcs#8 ec curve parameter"))?;
            sec1(format, info.private_key, Some(curve), info.public_key)
        }
        ID_DSA => dsa_pkcs8(&info),
        ID_ED25519 => ed25519_pkcs8(&info),
        oid => {
            let text = oid.to_string();
            let detail = match UNSUPPORTED_KEY_ALGORITHMS.iter().find(|(o, _)| *o == text) {
                Some((_, name)) => format!("unsupported key algorithm {name} ({text})"),
                None => format!("unsupported key algorithm {text}"),
            };
            Err(ParseError::Invalid {
                context: CONTEXT,
                detail,
            })
        }
    }
}

/// A PKCS#8 DSA key (RFC 5958 with RFC 3279 §2.3.2): the parameters are `Dss-Parms
/// { p, q, g }` and the private key is the INTEGER `x` alone. The public `y = g^x mod p`
/// is not stored, and computing it would mean exponentiating with the secret, so the
/// fingerprint is left to the matching `.pub`; bits are those of `p`, as `ssh-keygen -l`.
fn dsa_pkcs8(info: &pkcs8::PrivateKeyInfo<'_>) -> Result<KeyFacts, ParseError> {
    const CONTEXT: &str = "pkcs#8 dsa parameters";
    let parameters = info
        .algorithm
        .parameters
        .ok_or_else(|| ParseError::Invalid {
            context: CONTEXT,
            detail: "missing".to_owned(),
        })?;
    let p = parameters
        .sequence(|r| {
            let p: UintRef<'_> = r.decode()?;
            let _q: UintRef<'_> = r.decode()?;
            let _g: UintRef<'_> = r.decode()?;
            Ok(p)
        })
        .map_err(asn1(CONTEXT))?;
    UintRef::from_der(info.private_key).map_err(asn1("pkcs#8 dsa private key"))?;
    let mut facts = private(Format::Pkcs8Pem);
    facts.algorithm = Some("ssh-dss".to_owned());
    facts.bits = Some(blob::bit_length(p.as_bytes()));
    Ok(facts)
}

/// A PKCS#8 Ed25519 key (RFC 8410 §7): the private key is `CurvePrivateKey ::= OCTET
/// STRING` (the 32-byte seed); only a v2 `OneAsymmetricKey` carries the public key.
/// Deriving it from the seed takes curve arithmetic; without it the `.pub` says.
fn ed25519_pkcs8(info: &pkcs8::PrivateKeyInfo<'_>) -> Result<KeyFacts, ParseError> {
    let seed =
        OctetStringRef::from_der(info.private_key).map_err(asn1("pkcs#8 ed25519 private key"))?;
    if seed.as_bytes().len() != 32 {
        return Err(ParseError::Invalid {
            context: "pkcs#8 ed25519 private key",
            detail: format!("{} bytes, expected 32", seed.as_bytes().len()),
        });
    }
    let mut facts = match info.public_key {
        Some(public) if public.len() == 32 => {
            from_blob(Format::Pkcs8Pem, &blob::ed25519_blob(public))?
        }
        Some(public) => {
            return Err(ParseError::Invalid {
                context: "pkcs#8 ed25519 public key",
                detail: format!("{} bytes, expected 32", public.len()),
            })
        }
        None => private(Format::Pkcs8Pem),
    };
    facts.algorithm = Some("ssh-ed25519".to_owned());
    facts.bits = Some(256);
    // Measured: OpenSSH 9.2 reads Ed25519 only from its own format ("invalid format").
    facts.openssh_loads = false;
    Ok(facts)
}

/// How an `EncryptedPrivateKeyInfo` is protected.
struct Protection {
    cipher: String,
    kdf: String,
    rounds: Option<u32>,
    memory_kib: Option<u32>,
}

/// `EncryptedPrivateKeyInfo` (RFC 5958 §3): `SEQUENCE { encryptionAlgorithm
/// AlgorithmIdentifier, encryptedData OCTET STRING }`.
///
/// The outer structure is read here rather than with `pkcs8::EncryptedPrivateKeyInfo`
/// because that type decodes the whole scheme with `pkcs5::EncryptionScheme`, which (as
/// built in this crate, without pkcs5's `3des` feature) rejects the `des-ede3-cbc` that
/// `openssl pkcs8 -v2 des3` writes, and reads PBES1 iteration counts as 16 bits. The KDF
/// itself is still decoded by `pkcs5::pbes2::Kdf`.
fn pkcs8_encrypted(der: &[u8]) -> Result<KeyFacts, ParseError> {
    const CONTEXT: &str = "pkcs#8 encrypted private key";
    let (algorithm, data_len) = AnyRef::from_der(der)
        .and_then(|any| {
            any.sequence(|r| {
                let algorithm: AlgorithmIdentifierRef<'_> = r.decode()?;
                let data: OctetStringRef<'_> = r.decode()?;
                Ok((algorithm, data.as_bytes().len()))
            })
        })
        .map_err(asn1(CONTEXT))?;
    if data_len == 0 {
        return Err(ParseError::Truncated {
            context: "pkcs#8 encrypted data",
        });
    }
    let protection = protection(&algorithm)?;
    let mut facts = private(Format::Pkcs8EncryptedPem);
    facts.encrypted = true;
    facts.openssh_loads = default_provider_has(&protection.cipher);
    facts.cipher = Some(protection.cipher);
    facts.kdf = Some(protection.kdf);
    facts.kdf_rounds = protection.rounds;
    facts.kdf_memory_kib = protection.memory_kib;
    Ok(facts)
}

/// PKCS#12 password-based encryption (RFC 7292 Appendix C), written by
/// `openssl pkcs8 -v1 PBE-SHA1-3DES`: SHA-1 PKCS#12 KDF and a cipher per OID.
const PKCS12_SCHEMES: [(&str, &str); 6] = [
    ("1.2.840.113549.1.12.1.1", "rc4-128"),
    ("1.2.840.113549.1.12.1.2", "rc4-40"),
    ("1.2.840.113549.1.12.1.3", "des-ede3-cbc"),
    ("1.2.840.113549.1.12.1.4", "des-ede-cbc"),
    ("1.2.840.113549.1.12.1.5", "rc2-128-cbc"),
    ("1.2.840.113549.1.12.1.6", "rc2-40-cbc"),
];

/// PBES1 schemes (RFC 8018 §6.1, Appendix A.3): PBKDF1 with a digest, and a cipher.
const PBES1_SCHEMES: [(ObjectIdentifier, &str, &str); 6] = [
    (
        pkcs5::pbes1::PBE_WITH_MD2_AND_DES_CBC_OID,
        "pbkdf1-md2",
        "des-cbc",
    ),
    (
        pkcs5::pbes1::PBE_WITH_MD2_AND_RC2_CBC_OID,
        "pbkdf1-md2",
        "rc2-cbc",
    ),
    (
        pkcs5::pbes1::PBE_WITH_MD5_AND_DES_CBC_OID,
        "pbkdf1-md5",
        "des-cbc",
    ),
    (
        pkcs5::pbes1::PBE_WITH_MD5_AND_RC2_CBC_OID,
        "pbkdf1-md5",
        "rc2-cbc",
    ),
    (
        pkcs5::pbes1::PBE_WITH_SHA1_AND_DES_CBC_OID,
        "pbkdf1-sha1",
        "des-cbc",
    ),
    (
        pkcs5::pbes1::PBE_WITH_SHA1_AND_RC2_CBC_OID,
        "pbkdf1-sha1",
        "rc2-cbc",
    ),
];

/// PBES2 ciphers (RFC 8018 Appendix B.2, NIST CSOR for AES).
const PBES2_CIPHERS: [(&str, &str); 10] = [
    ("2.16.840.1.101.3.4.1.2", "aes-128-cbc"),
    ("2.16.840.1.101.3.4.1.22", "aes-192-cbc"),
    ("2.16.840.1.101.3.4.1.42", "aes-256-cbc"),
    ("2.16.840.1.101.3.4.1.6", "aes-128-gcm"),
    ("2.16.840.1.101.3.4.1.26", "aes-192-gcm"),
    ("2.16.840.1.101.3.4.1.46", "aes-256-gcm"),
    ("1.2.840.113549.3.7", "des-ede3-cbc"),
    ("1.3.14.3.2.7", "des-cbc"),
    ("1.2.840.113549.3.2", "rc2-cbc"),
    ("1.2.840.113549.3.9", "rc5-cbc-pad"),
];

/// The protection an `encryptionAlgorithm` describes.
fn protection(algorithm: &AlgorithmIdentifierRef<'_>) -> Result<Protection, ParseError> {
    let oid = algorithm.oid;
    if oid == pkcs5::pbes2::PBES2_OID {
        return pbes2(algorithm.parameters);
    }
    if let Some((_, kdf, cipher)) = PBES1_SCHEMES.iter().find(|(o, _, _)| *o == oid) {
        return Ok(Protection {
            cipher: (*cipher).to_owned(),
            kdf: (*kdf).to_owned(),
            rounds: Some(salt_and_iterations(
                algorithm.parameters,
                "pbes1 parameters",
            )?),
            memory_kib: None,
        });
    }
    let text = oid.to_string();
    if let Some((_, cipher)) = PKCS12_SCHEMES.iter().find(|(o, _)| *o == text) {
        return Ok(Protection {
            cipher: (*cipher).to_owned(),
            kdf: "pkcs12-sha1".to_owned(),
            rounds: Some(salt_and_iterations(
                algorithm.parameters,
                "pkcs#12 pbe parameters",
            )?),
            memory_kib: None,
        });
    }
    Err(ParseError::Invalid {
        context: "pkcs#8 encryption algorithm",
        detail: format!("unsupported scheme {text}"),
    })
}

/// `PBEParameter` (RFC 8018 §A.3) and `pkcs-12PbeParams` (RFC 7292 Appendix C), both
/// `SEQUENCE { salt OCTET STRING, iterationCount INTEGER }`: the iteration count.
fn salt_and_iterations(
    parameters: Option<AnyRef<'_>>,
    context: &'static str,
) -> Result<u32, ParseError> {
    let parameters = parameters.ok_or_else(|| ParseError::Invalid {
        context,
        detail: "missing".to_owned(),
    })?;
    parameters
        .sequence(|r| {
            let _salt: OctetStringRef<'_> = r.decode()?;
            r.decode::<u32>()
        })
        .map_err(asn1(context))
}

/// `PBES2-params` (RFC 8018 §A.4): `SEQUENCE { keyDerivationFunc, encryptionScheme }`.
fn pbes2(parameters: Option<AnyRef<'_>>) -> Result<Protection, ParseError> {
    const CONTEXT: &str = "pbes2 parameters";
    let parameters = parameters.ok_or_else(|| ParseError::Invalid {
        context: CONTEXT,
        detail: "missing".to_owned(),
    })?;
    let (kdf, scheme) = parameters
        .sequence(|r| {
            let kdf: AlgorithmIdentifierRef<'_> = r.decode()?;
            let scheme: AlgorithmIdentifierRef<'_> = r.decode()?;
            Ok((kdf, scheme))
        })
        .map_err(asn1(CONTEXT))?;
    let scheme_oid = scheme.oid.to_string();
    let cipher = PBES2_CIPHERS
        .iter()
        .find(|(o, _)| *o == scheme_oid)
        .map(|(_, name)| (*name).to_owned())
        .ok_or_else(|| ParseError::Invalid {
            context: "pbes2 encryption scheme",
            detail: format!("unsupported cipher {scheme_oid}"),
        })?;
    let kdf = pkcs5::pbes2::Kdf::try_from(kdf).map_err(asn1("pbes2 key derivation function"))?;
    match kdf {
        // RFC 8018 §5.2 and Appendix B.1: the PRF names the hash; HMAC-SHA-1 by default.
        pkcs5::pbes2::Kdf::Pbkdf2(params) => {
            let hash = match params.prf {
                pkcs5::pbes2::Pbkdf2Prf::HmacWithSha1 => "sha1".to_owned(),
                pkcs5::pbes2::Pbkdf2Prf::HmacWithSha224 => "sha224".to_owned(),
                pkcs5::pbes2::Pbkdf2Prf::HmacWithSha256 => "sha256".to_owned(),
                pkcs5::pbes2::Pbkdf2Prf::HmacWithSha384 => "sha384".to_owned(),
                pkcs5::pbes2::Pbkdf2Prf::HmacWithSha512 => "sha512".to_owned(),
                other => other.oid().to_string(),
            };
            Ok(Protection {
                cipher,
                kdf: format!("pbkdf2-{hash}"),
                rounds: Some(params.iteration_count),
                memory_kib: None,
            })
        }
        // RFC 7914 §2 and §7.1: cost N (a power of two) and block size r; scrypt works in
        // 128 * r * N bytes of memory. Rounds are reported as log2(N), scrypt's own `logN`.
        pkcs5::pbes2::Kdf::Scrypt(params) => {
            let n = params.cost_parameter;
            if n < 2 || !n.is_power_of_two() {
                return Err(ParseError::Invalid {
                    context: "scrypt parameters",
                    detail: format!("cost {n} is not a power of two above 1"),
                });
            }
            let memory = n
                .checked_mul(128)
                .and_then(|b| b.checked_mul(u64::from(params.block_size)))
                .map_or(u32::MAX, |bytes| {
                    u32::try_from(bytes / 1024).unwrap_or(u32::MAX)
                });
            Ok(Protection {
                cipher,
                kdf: "scrypt".to_owned(),
                rounds: Some(n.trailing_zeros()),
                memory_kib: Some(memory),
            })
        }
        other => Err(ParseError::Invalid {
            context: "pbes2 key derivation function",
            detail: format!("unsupported kdf {}", other.oid()),
        }),
    }
}

#[cfg(test)]
mod tests {
    //! Real keys written once by ssh-keygen 9.2 / OpenSSL 3.0 in a temp dir; encrypted ones
    //! under the throwaway passphrase `keycheck-test`. Fingerprints are `ssh-keygen -l -E sha256`
    //! of each key's `.pub`.

    use super::*;
    use crate::key::armor;

    /// `ssh-keygen -t rsa -b 1024 -m PEM -N ''`.
    const PKCS1_RSA1024: &str = "\
-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQC+fjUp2sgqVS6xQRA7/4fTmU1WFpG3MatOFoX+e0xA/3n03GTP
GNsKNOGFnrWzW+nyqAAtvA+coJFx/kQ6mb+vL67Qwxy/FnP9apmPP26aw7psi5+Z
La+C4/y5b2WvL1ef21ZrF81thP9XxyPU+1FhcqAs+f4nGUgV6JSNtVc8mQIDAQAB
AoGBAJXx/GEU0QjZgmaOY3wG2WDLRF/mZg8ArupJunGlllF3iAUhUszdsNVo6Lho
RHiJei7C5VkatmNA1RwY3JYQHhwoMShlsH5TU6DpA/wok/V0MWqL5m6b3S9a6In8
+zPc12R1TuGbqJgDomk/eNOkS5sa5g9wLLmTwRJj+bQlsW2BAkEA71aIa0N6aNWX
y0c0HNYTfUKbuM/s4MAvrh/YSMpfgqmmKAPHv8qziASvmyAebZiaVFzDJyqo/E4E
rOamowerkQJBAMvBKXKMJWkSdBwQeR2fcOYNbRnFHYSt9oaHU6C/XU+tIVouDhRO
b5bjf2A5eKBGes/9OORoTdc1/l7WjL4HrIkCQDAyzvo69pXSHeWUC0ybWAVruox3
Yw7H5VI9m4LdLmrT22BHkpxvJ8SGnQ6yYy5TAxFmNO7YSnu1AoAHWxuN2eECQQCK
HT2DMAyL1L5v55qxwco9pww1U7BWp7VcK488f3s47xqUjnNswF5T4ZIOH+bsfdnx
8qwF584b+7WZg8WTapBBAkEAg6h8/ESY4wN3zNtSHgC+j9a7bGLLKsFNeac2+qAP
jcb/mN5ZJvGjTpPuijdR2wvNBtUQ8gs0AHE/XWRPI2QvaA==
-----END RSA PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 1031 -m PEM -N ''`: an odd size.
    const PKCS1_RSA1031: &str = "\
-----BEGIN RSA PRIVATE KEY-----
MIICXwIBAAKBgVITWhjpXiVudl7H7WMbFLaCsiN6Qj7AuyT/h5CRy4BamicL+Bbx
jLUKuOnoUzBNW99KaoF+OwtUrIXjs7o2Mi6+OuDqyYVg0LY7Vo7V2ggtCoUelKbr
0jqYqOpFCAEUydFRp3jvXeyNBNVikOBooP0PQb3HpKR0u2q24K5gQwe/gwIDAQAB
AoGBScvYoLmDywgtKj989DUvRILzBO8yjRXhrvyKubQ9U6UjIaSjZo29RDLl3Hrm
AXIs/vH8HX6QPDnf/Wqk+PMt38RKKkpwxJkgO74DEVhjqnaDk2Qt4DV6pT6JCWXr
spfEH+k/yn2niBMZ0uSoXxFkDOnLX4A0PL+DIoDbgJekgJfBAkEMgT7cB1bzErSQ
x2lJzUAIZr46OLPE9K4IzvoLmbQb0tXFUmmeWpNXBMR+8+6BqpF33m6thPq+9GqG
e8/Avq8jUwJBBpBBD6zI7QNZO0cBfZrJ9VQnD7p93Rff0ECAhCIJSeGMcA0icWwl
Y0dDNoIN2Lvqtcn9BSrS8JfAKSxt3N1CHRECQQQcDa598wNbaGAUSPPqMlsQeP/l
Vp8p0nAupVpenyRtu7dniDJ0jeuRM4qNXBrdFYWRYkpAY6+R39hmpDYx9JjlAkEE
FF/MPWp6H020UZM0niSPr2nEFferl+5Og/kdqAY7/MyMzS0ucLjgd2folnfC0jK2
IcF6F78bOkd/kBUNZh108QJBAjnhEEN/6/TUOAdafOK7yRkdh6jOtIl/OGUdZqp6
YcmLLL4xOUq9wJVcjsbpZTbYWBOGDg0v3IoHdVdr6KOycEw=
-----END RSA PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 1024 -m PEM -N keycheck-test`: legacy AES-128-CBC.
    const PKCS1_RSA_AES128: &str = "\
-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,5145631722730B2E25C71D6650FFD29F

zmcQ72DOOnBpj3LHJIDzGoMpWzUrwAixFuwCi3jf0ZdbYF41qicY5tTjqNvJdUmo
g3sWSPSk+NuSDI/TzZIHfBaqIj31zJ3fJMqgYkHkgIumrYFUhaAFD4hDeKNsAqen
9tf//R2oh1Jwo9UwSJA6qSmT087tvhD2cJXb0hoMR6+/C9hhoOxY3ATtrL2asYVx
ijUeQQ/njVZu7liZpt1oI4/m5ldBMfWa5RJ7OnDQY7K18qeczEuHVIZqruXcqilw
80HpRCX9fIp/O3T7R3UqSguNUFOCUW1Vuh4MRvKxYoubKRpOe8Z3Hx98tiy/8Rfk
lupipuYaS7tChXB8B7CFicDKpwY3mlGKKVaFCDRj1b+RMumyQPsV/0S7s37y6uLd
dCl41vGHtrYwz8nHhBTAUTweQUUGtUjQ0CMtxYWyc2LLKNLxURbdXdrTIRCc48NP
JetVH7pkiyQ+yfYVISNaDE1Vc1+qY3Q0AUvcN8nl8GoZB/yh3juj1nvJtLusSHau
w54uMuJVEurOE2kg2USD9hssqcUaYw33LA4nxE+xT7kDzKOqXLmgeU0JSqP3PvT/
nk0qsGUof736uCBw+wSSVrtpa7IEd3kmWVNURJMLWfqZfAGM37djP2T75VGxCXLc
x4SI1Qousk6s6CTY+4mhS8249ygpd7jVWpkAIDpT4QxRMybLMc5O5X89xd6DkW/S
mCEczPsdB+PgJLIy4Xw71xhb8aMWlQ1hhVFOSeQHXTFhlyas/CX1pgn8N6ntOE3v
s8CKxx4YvEHvvQadxDZ+pPJzLyqEZaUOq94Zz0NiNQ6QHEQr9heO6lEQlhjUt/5W
-----END RSA PRIVATE KEY-----
";

    /// `openssl rsa -traditional -des3` of PKCS1_RSA1024: legacy DES-EDE3-CBC.
    const PKCS1_RSA_DES3: &str = "\
-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: DES-EDE3-CBC,BBF9C6D71B417F63

haBjr9qWP5Q0VJGgZGw1YNOuRR/j4t33Z7z4D3rEaks7Rqz/9ozlI3wlz4kbMS44
iezf05gQ1MjvUDs9YfmMreXAZf6J3WLy2GrcATtA0kb3VaVznZGMNhd16D1uuG7z
gZ98fp0s37I2eW07gG8hukqErX0ZQSsvW8tY6q5EY+kMJi95ZKtzFmZO7mwYifqn
KZ9HkyizLuYz+4c8cA5SzqNd7xtuCsFXgCp4x4fTYWerie4gcluG5jn/y7za4pOK
aXpdZJxYPDHg8Ah9o6tjTV/7IHh2T3QstEfd0x0QuVqQ81uyEgaOmY2F0RAPpCa0
n7eJVFRzU9vQARLdl8WXSU0ytS8Gp9AhT/Nm4SB4MndpHoUU388lL9SAxLzP9otV
aD8AhqzN6l1C3KK2iCoVlViYvgbz7KnrThSS9SCESCAiePFi0kk0CyjbSvSEPPUj
94mq8P+2LvneH6O9qhNo8Pbcdm6V0oTO9BcT6t1zBEofUcgCp20cEsmqiw1NPGMc
lGCCQ4JyUV6XWGAxzpEHn5hH8Rj8WvpFoIzBdufwHlZNMQPgHPwKC4VcVHEGI6Uk
Yhkcb4nkHDYd2Lf/SORB7nKC4dfTfB4auvGwWROD2EliraJhDL5a9fZanONKXSO9
4JMvpKL8vU8lEx1Kt+KuLj4j2nYD4h+IjmJ8lMCgPtzLkZL9TZNF6I5FcDyqlu7K
2ffNjjqVcgGlwst0zQkTRKQmX3QCelaqFRKuQPloYAX7KHKAiwxCt7uoOy3DWPbr
8WhVdY3XAS/Yh0XSgpsy+XFo8yYqfh0VP/KuvOkxeoVqjVkrIotYqQ==
-----END RSA PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 256 -m PEM -N ''`.
    const SEC1_P256: &str = "\
-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIAxiR5ISp7E6o1BvvX0XzOzDDGEPJi8OPlf8ODw67MZooAoGCCqGSM49
AwEHoUQDQgAEyGrUZ7npSCuLlH+PZ/0Ge0cCEcn1eozcCPbJwQ0VtHc/FunmpJI6
+eDIrr25UB4HEPZi/4sPBz0Il9wkV4opxw==
-----END EC PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 384 -m PEM -N ''`.
    const SEC1_P384: &str = "\
-----BEGIN EC PRIVATE KEY-----
MIGkAgEBBDDwTviqO1fuVg1dOXFUoCOE+YZ+HC2eyT5bc22t/1esZjRQyEEA7oNT
35eglePeaiCgBwYFK4EEACKhZANiAATIvvZ1Ix3U/t6ABmwyBdNpZp4U7AQcOMGG
CxG83pqiqrGTHr1vm/67O+Ns2NJ8tE5AsPLPTAc1LzTgID2SG59FhsBE3lL1YBo+
RTJsZd6mycOO7mZm5XUSbY3HQy5ESIM=
-----END EC PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 521 -m PEM -N ''`.
    const SEC1_P521: &str = "\
-----BEGIN EC PRIVATE KEY-----
MIHcAgEBBEIBjy39N5S36IDAMb27YirqJvZE83JQeRGVYzdGI1TEibUbMoADyZMj
rQ7/XROmCT2zfqvJ7e0jECFL2riiBgfnZb2gBwYFK4EEACOhgYkDgYYABAHfWGOQ
SCbXKzG+6n13to0rw8qffwTSYrA88j/2c2ylYGzQuv4JL5yS0dimSCNyqaZmtD+v
TT5lCrpfZ6VceAYZrgHZFjs2qdgcLSlRfosG92+QYo//0P2YJhM/iJMTJjP8sDsc
hDmCGbwyji+cYQIsRpSoqbPXfpyecK1xeEtRQ+EmWQ==
-----END EC PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 256 -m PEM -N keycheck-test`.
    const SEC1_P256_AES128: &str = "\
-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,EBCE72F8417F2EA8BE460E2DD4A1608E

WUYpG1GyZWLlHxU3x9l3IYeJyCuIouSZCA1Z1mngbeArSLtKoKufutcJn5k+yApX
ujv1qEbBs1jsgGrBgdIgzRkbikLhKYeq2F7odBPHU9KLoSRzTNrVsVR+2egEDf78
0b4NFsCd05UZ2ps7Vo44E/IF8WdeQ9c/oiKEzC2wpAg=
-----END EC PRIVATE KEY-----
";

    /// `openssl ec -des` of SEC1_P256: DES-CBC, which OpenSSL 3 keeps in its legacy provider.
    const SEC1_P256_DES: &str = "\
-----BEGIN EC PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: DES-CBC,9E151BF23FDD4A47

2F+27HEHap+7NRcwc9oQQuKjV8Kk3EAKuDQj9LfdMX+OF3KsIiyr/ClE7UgrLWdR
eG4N7IoG+PxBFWJLJdiASgjgrBs3C+tQDFHQeENwFV7Jp7ow3Gp7Y1GzRCwtc4wK
kubFjUh/7m531/IYbTmIE90KS6VhX3npqfDtcL8ypcA=
-----END EC PRIVATE KEY-----
";

    /// `openssl ec -no_public` of SEC1_P256: no public key in the file.
    const SEC1_NO_PUBLIC: &str = "\
-----BEGIN EC PRIVATE KEY-----
MDECAQEEIAxiR5ISp7E6o1BvvX0XzOzDDGEPJi8OPlf8ODw67MZooAoGCCqGSM49
AwEH
-----END EC PRIVATE KEY-----
";

    /// `openssl ec -conv_form compressed` of SEC1_P256 (OpenSSH loads it).
    const SEC1_COMPRESSED: &str = "\
-----BEGIN EC PRIVATE KEY-----
MFcCAQEEIAxiR5ISp7E6o1BvvX0XzOzDDGEPJi8OPlf8ODw67MZooAoGCCqGSM49
AwEHoSQDIgADyGrUZ7npSCuLlH+PZ/0Ge0cCEcn1eozcCPbJwQ0VtHc=
-----END EC PRIVATE KEY-----
";

    /// `openssl ec -param_enc explicit` of SEC1_P256: explicit curve parameters.
    const SEC1_EXPLICIT: &str = "\
-----BEGIN EC PRIVATE KEY-----
MIIBaAIBAQQgDGJHkhKnsTqjUG+9fRfM7MMMYQ8mLw4+V/w4PDrsxmiggfowgfcC
AQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAAAAAAAAAAAAAA////////////////
MFsEIP////8AAAABAAAAAAAAAAAAAAAA///////////////8BCBaxjXYqjqT57Pr
vVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSdNgiG5wSTamZ44ROdJreBn36QBEEE
axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpZP40Li/hp/m47n60p8D54W
K84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA//////////+85vqtpxeehPO5ysL8
YyVRAgEBoUQDQgAEyGrUZ7npSCuLlH+PZ/0Ge0cCEcn1eozcCPbJwQ0VtHc/Funm
pJI6+eDIrr25UB4HEPZi/4sPBz0Il9wkV4opxw==
-----END EC PRIVATE KEY-----
";

    /// `ssh-keygen -t dsa -m PEM -N ''`.
    const DSA_PLAIN: &str = "\
-----BEGIN DSA PRIVATE KEY-----
MIIBugIBAAKBgQCKFdkiZAPjGX3xpimwziDYM5ZdVsUidORd47j3Cbw4pQGntRMu
nIx28K1B1/9g2OWpn1iul2KH91FrcX5ey/71KoM7oNZr6VKL0hw9qipdayr1HFid
K459zGwVIpKzCYix9vhWyftdBK1Iyudig+NlA6APpxvmdLE/at0ji8RlwQIVAMoR
5G9JHVgLUWp1rYlKjUJSac7JAoGADDbX4OaqG3P3jh3EAwHsTnEWssnbiFNqt+ev
6M5GRV5W0fJOzJ8J3QIMUjcGU1yaTf1IViwSG+bRR6PAnbFjJzCHUDlB44jG7Zg0
8cOUdozPsEZkqGb++g0l41+bCD2TFUBcsxzNuehkxYwuJrXEbViJ93b9v4wbmp2P
tnS2BzUCgYB/i9O8c8O2jYRnH3RrfIrLAxu8qFVbXkyVHezFBZM0zm8eqgORFVTk
erc1Xm0vA0oLPs7Y4a6R1LFSzFpQhhuprv/wZ/LjQJjhomqLwcUIXtuazpRfmPmn
2nYJy3YS25WgoOFgQHAVij3YtJbN9uckX+MzVVTSgKgB/IJgewXZPQIUEoMInk46
iT91v9JGBbcEJUeXfGY=
-----END DSA PRIVATE KEY-----
";

    /// `ssh-keygen -t dsa -m PEM -N keycheck-test`.
    const DSA_AES128: &str = "\
-----BEGIN DSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,18E0C886909A05DD610EC35EA7B79BA7

VFUFcTCmhSlnMXPmvc3/1qDLO3TNathuxopb07Z6JTvc6RskEXMtuDUIlqAcNsTP
W+Ae13FDBeKFpDVBygDdxtrcrEOOwqh8hijylBa4Hs91o6SElrQsNEHyJeqGMT4V
HUMk5fvLveb8X6c7baRGKnOQ/dhQYL9gMEhuL3hrsT0t1wrglJkQQxyxpHtXtVXl
3m/2eVgqlMov/2ATFpOaXSMNyBiRWH8e7nLo6fxtwhlVlj0jv91DBTluLvP59eGJ
XsK1V3bP3of79ynS7vlf7WFl4rHsNunjskITjKlIRZtICDDhETqQ26TqNoIVKgLg
gcHXKWFa1vV9xOymEGokGuNeGdj/O49ZttFiSwijHu+MrmK+0SytBHHroLuFleXB
DEL4H1/ZhVrYdS6Fk3dUPoY+Pl2IQFwssgRXo74vQ+hONmeNZhDGfx1QhZfcwqLp
VA2Fw+uaQzr60btllv5XI/O8kuOc1PBzgy69KunLLjJCOEK7neUrsrDWrIAdDY0C
MY8YbWBi2tKiBoV7iA/aaZ9ycB2R7WeUU0bhjOYhs8uPg4Zxu46wx9XhwlcPwtPk
h/skja28uDy1/2+lgYMMOQ==
-----END DSA PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 1031 -m PKCS8 -N ''`.
    const PKCS8_RSA1031: &str = "\
-----BEGIN PRIVATE KEY-----
MIICeQIBADANBgkqhkiG9w0BAQEFAASCAmMwggJfAgEAAoGBXUrCnVtW9b5QI8GT
uIi0uSJU/4C4xQcmjBII8BMSr7JkxWyvad/PDK5lAd1NUzt1DpQKkW9PADJon8aE
18iaeS82guHCkO8SDQnujtZakjcqXz4V50f5S01W04UAsOI+t09rmze1IoDN9HS/
jlGORH0K0nam/7JtbcMeza7NEGtTAgMBAAECgYEXuEVpKuseSkgn/zTm62M/2xnP
aNQRzHKhlIhPOho7L9ltVOf4vF3xdHncEn9xlSF7FmrldW6ZtzdgwGHQV4HnHtaB
qZqA8cuh37gQLwDxuyKmXoJOiGz8PuSroj3BVeCTjUm7ZspCBbWjb1eZ55WLLaJ0
PwQYHvJ/DuaiWtawL4ECQQ0KWBfwoDHQyhBXcZMcvDLH9nsop6IU6clz8re+Debs
uWW3nGEnnlCNwfT7p/RzR99ER8xBfyyqVj7ftQ0HdaKTAkEHJ3Fho3E/1bUqYqZd
S75yz38whMrYJzOI0bWKNWJyIGxJFwhXCr8D7sD2yOePJwUcCZbbXqXa2bD5rGsI
qOfMQQJBC2mRHSp2WAJ8xH5ypCfSwLJlkPVMd7nLvIVf1tRagE2OF2nwTsqIb8EQ
DKGtJG87aDbuiuCLNwC/x/iqD4QGvEcCQQTxadPOvFcg8BYjJ1PbG/H0EKuTdRw4
qdDlJQwjqqu0X114/pg1opmzA70AP46XpV4j+goEsZAvTaqVSTcojVCBAkEEFRf8
ENtnFHXnQ1mBIPKJ47Jjm7fDttYnikKt0ZixC5+J4l5kMUOk5+HIOSA3KD+LZL4I
nEhXcXVRMU+bjVj2cg==
-----END PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 256 -m PKCS8 -N ''`.
    const PKCS8_P256: &str = "\
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaYkQzZqJ3wFY6e5a
VKiFfPUqwbftfoNGh4HarKNIe+yhRANCAAS0z9FG2Lp6OUvjKimeHGn1ymdpIIOr
j0JobOgkoXuspDUQ6oDvQ+N3+aYUHP/9tKikErVNm1ZBqroFw0vG74+T
-----END PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 384 -m PKCS8 -N ''`.
    const PKCS8_P384: &str = "\
-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDzsnpXxCyF+tWhbXDg
LORwN56kiCLWVDzwYhK0UnQx7DnFAjVux+F5/k2J8saTojChZANiAASc1HxVKNdj
UB8xKPBCayUPJk3+Td/2f5bD7jkT/qtKMnu80th08HMk3iE0HNuGjHM9Ueoewfpy
hC1FUGCdYemwKbqI4edYX+sAmA9xMxyAHhiazEamRvvcXSHgBPxAKG8=
-----END PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 521 -m PKCS8 -N ''`.
    const PKCS8_P521: &str = "\
-----BEGIN PRIVATE KEY-----
MIHuAgEAMBAGByqGSM49AgEGBSuBBAAjBIHWMIHTAgEBBEIBw6BjLDt7Qydire0N
JpQOwWdDQcYCnBlNrW9tNpYQnnSGfOlq6BXZUw7Re7rFCgdAXleVGDldXaiBIAC+
E3wzSc6hgYkDgYYABAA9MKAQuop2eeXWz3m+/B5CR/+Cso2xT0VDjAHffo3fX1hl
Ny7/Ydq45R4GZvY03KtUEb1zwsemZ53ipiE2TyB1QwA5heUsJBlneaIs9nvcuZhz
gF9tYSNeBhzeoQr6YW83i8yuiONI8uGANwixOIK4P2pki4QTGnYzfB1914JicxdQ
dg==
-----END PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -nocrypt` of SEC1_COMPRESSED.
    const PKCS8_P256_COMPRESSED: &str = "\
-----BEGIN PRIVATE KEY-----
MGcCAQAwEwYHKoZIzj0CAQYIKoZIzj0DAQcETTBLAgEBBCAMYkeSEqexOqNQb719
F8zswwxhDyYvDj5X/Dg8OuzGaKEkAyIAA8hq1Ge56Ugri5R/j2f9BntHAhHJ9XqM
3Aj2ycENFbR3
-----END PRIVATE KEY-----
";

    /// `ssh-keygen -t dsa -m PKCS8 -N ''`: x only, no y.
    const PKCS8_DSA: &str = "\
-----BEGIN PRIVATE KEY-----
MIIBSgIBADCCASsGByqGSM44BAEwggEeAoGBAKbvUnKwiScBbRaaxvB8ykcoCUQr
cuy/Qkfv0z4xas//sD3l5siKk4OHSwi2jU9Spcc7DBQ+iNaC+y1bw5cCg0gglc96
GIATaIjF/k62JRVpzry5U+wxLHGpK+lOX8NYs+yIHN3IFcCW6W/O6uwQxUtqWKql
Qc0XcwBGp/dPc7oFAhUAkDIUipeEYC1G7aqBaWE+ALxLcJkCgYB/lBfp99bBPaea
FUw9DRFXLKz2KRX4PtvCdG6tWmiVuK/xK2OnYjdhYBg77FxBJYOyegPMM7Vq9xJr
5XOG6UXV0Ipd7XtmJsHZNF/UMPhqbJhevu/as4tGU8GrWMUgW/xPc8jgFghBASwc
PHp4ZXkIlZlTLUj4TvHIX7cTM1W9bQQWAhQKiCzhdG6btPdQPL8/0fYTEfxb9Q==
-----END PRIVATE KEY-----
";

    /// `openssl genpkey -algorithm ed25519`: v1, no public key.
    const PKCS8_ED25519: &str = "\
-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIBYoGI/Omf9fPdEduTCrnwZXUaP8dd9Fa7CPdw8xUMcZ
-----END PRIVATE KEY-----
";

    /// PKCS8_ED25519 rewritten as a v2 OneAsymmetricKey with its `publicKey`.
    const PKCS8_ED25519_V2: &str = "\
-----BEGIN PRIVATE KEY-----
MFECAQEwBQYDK2VwBCIEIBYoGI/Omf9fPdEduTCrnwZXUaP8dd9Fa7CPdw8xUMcZ
gSEA6oPFI3Y8TALnWumW5DUC/qDinyeOjIcjtzvpq6N3lJo=
-----END PRIVATE KEY-----

";

    /// RFC 8410 §10.3's example: v2 with attributes and a public key.
    const PKCS8_ED25519_RFC8410: &str = "\
-----BEGIN PRIVATE KEY-----
MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB
Z9w7lshQhqowtrbLDFw4rXAxZuE=
-----END PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 1031 -m PKCS8 -N keycheck-test`.
    const PKCS8_ENC_RSA1031: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIC3TBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI4NJmNCfLN2ACAggA
MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAECBBBgcOU3QtYrpbokL1luQZmoBIIC
gMqGhdu4B9qirlKo/lXnrTbxO/U8eXyojT/O53GLWor4kzwBIBY9z6CVqV1mshfy
ttPpzMhbBsJJDRzq+FlptXi11mtd5v26F9d947yTpQrP1DiyalG/17TPVQ9J0o2Q
q8R3T8LG7PW9zjm92f+axn/hf7m38rtdBMTuOA8CLDVzUZBjhSVpW3dGnwCbmfHB
jVCw8rZLbi8TDCvTKzMeDZ96rMVFYfKlwLPC2J1Zc/sRtJIG2Ig2qvqJ1VKpj3oZ
7ggpiYE4jHFjE+PgT/aTDDT2Qch+AAklcNdjuW3/Xh2Oax4kydNR+inMXV5YpX3V
Hw69u/CAXZivhrr8PCbtRrnuvz553nqrRRD22eD3uoVxhGTkMFTJQVcKWDJKXH3Z
C7Ro3ZKKGVZd8R3G1bb07fF2OdPVKdceqvV9ZiopmZVAFGNpByR4ndUWXtdST+ry
t4y7q/fj3e17nlnYbCKF5vJkKnJPt330Z5KpfrtP8bmG+BXi46cVjlXX46BdHnc6
nFK/L4gw7bv/3DgMqQSp2nt8igpY51uv+2s5SUAfja3g71STG3347aLkQURfm5Rq
pl8SwIofEa5P3vaveOxgQsGXZY91Dqk/QgQ6S4xVZ4P5VDEF8Rb4TcoGd98HUuEa
FYnBVdEXdpg1L32WXGQE/cq2jgrm2t92ejqH0XSYs3Mb4i+k+3ioS5gFCJJmhQ0z
VDmyEzo0diQeCRCUJUflWDSkaHBR7d5uPDmxwlZr/FQjxtlU11RS8KAfeH8KktLa
4Hx/vaGToaNOXdM1Fv8mD84hLYpKv1m9vR7vvfjSjRbHqUgfGxZ6D+WxE3OaubOz
WB4sVw4WAPBYRZGn9HkCLsQ=
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 384 -m PKCS8 -N keycheck-test`.
    const PKCS8_ENC_P384: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIBHDBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIzPMEx9UQeCECAggA
MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAECBBA0pHXgknRj/9TF3FDjqnexBIHA
NU9mGWi2I/zmdrAT3/+OJo382XCnXvcHlGwQgs5YIK9m6GTmqZ2bxAnrMo1r4pQh
MINkgnx6ZwNCIQZ4da3L/FRX8sBCpJ1ueADg4oxwyKbS69zgPoUzSGvsBtcM3JzN
lXXSv41pGMlY8/Jo43ovva7wuAX0JujSVJBndewHJ6ymAe2okoTgmRfATfsJp1wB
hnug9Kw9Zuwrt1jekjLtto0/ngOBzTjBPJktuw/lt0/PvUsFDKXeTrJT2Cz8z2y7
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `ssh-keygen -t dsa -m PKCS8 -N keycheck-test`.
    const PKCS8_ENC_DSA: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIBrTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQIMgsFt0Sw3t4CAggA
MAwGCCqGSIb3DQIJBQAwHQYJYIZIAWUDBAECBBD5mH3flTCJloW8fZjH3dVNBIIB
UN+EGE+mJ3GQ9uoQOzcNzPj5lbSPzX/nbhH81gaBAcfOx4koN3e9MdtQV8cwfsy5
vtYgypDmMkpQi4eTefcziPkNC8cvXc//qFDBjCO3DlDisGnH5jjAVPsA9lbti8Oq
eJuVYCnxUd2EH9q5bzuF446tZ82fyAt/yU08bjm4Szs6hzVKRNfKLK4Mv3HWaeWS
5RXqPPChWi+zOZFvbKnl3FddEtaLRGAHl9vTn0sxiuRdTq7a7rqvhZX71+08h3iL
93DRBsPhTa+IFhh/wjS2Ibnf7R0TI88QGbTTChKfdAbjkT2cI6C3sT4hSEb79eu1
MgK5ll3PC6xuGR2tuwk+6liccMTkKqx8Q/GzomfWpNcp12GqNPz05tQEV7LRrTz+
Ii9M3UsmcUfFGh3kPcThL/PYRRsgGIV4UitFsKTZuJ06Gg/Kxq/BjO7n6ZsmkZnR
0w==
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8` of PKCS8_ED25519: PBKDF2-SHA256, AES-256-CBC.
    const PKCS8_ENC_DEFAULT: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAipir8XAB3rXwICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEDxNGFvIRUfEB5NxgMxRSxYEQOxy
QOeDjvCiAH0/67gKWkoKCPWLxt31N3QGXp6Lxqtp75lM/5DGBNzrFS9SBH7ENlL9
tmeIp6P/ceLfS5pR1us=
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -scrypt -scrypt_N 16384 -scrypt_r 8 -scrypt_p 1`.
    const PKCS8_ENC_SCRYPT: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGTME8GCSqGSIb3DQEFDTBCMCEGCSsGAQQB2kcECzAUBAiGaVO3rwXGJwICQAAC
AQgCAQEwHQYJYIZIAWUDBAEqBBBGPNsfhr1IPzCub1AAjRIVBEDISTZMr9Qx+az3
2vpBOx7yx0gKIJJ1qhcyD9hBfTl2ewhOz3OJdPOERbwF2jtGYu7RVwCd1b9WObtY
PMV+V7/y
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v2 des3`.
    const PKCS8_ENC_DES3: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGKME4GCSqGSIb3DQEFDTBBMCkGCSqGSIb3DQEFDDAcBAgZPeTfccRRnAICCAAw
DAYIKoZIhvcNAgkFADAUBggqhkiG9w0DBwQI3BADNDRjjpYEOFTPEbY45jJXOvtI
B6q3xsblimZGSffNPqpgvzkZwelB0VOWG3DEFzszqMY3fbIvbzvx9DIOb0g1
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v2 aes-192-cbc -v2prf hmacWithSHA512 -iter 100000`.
    const PKCS8_ENC_AES192_SHA512: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGcMFgGCSqGSIb3DQEFDTBLMCoGCSqGSIb3DQEFDDAdBAivhJ5zycYQZgIDAYag
MAwGCCqGSIb3DQILBQAwHQYJYIZIAWUDBAEWBBDM4aDCHMPNExoOx3se0ci/BEAy
xkkZ2T9sYXH2TrdPUIaSsQyuJutfQM7pWantFGWyWyi8zEbp2BrG78pIZrKiTTMq
tsnot0gdLWbzD1OKal+V
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA1`: the PRF left at its default.
    const PKCS8_ENC_SHA1: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGNMEkGCSqGSIb3DQEFDTA8MBsGCSqGSIb3DQEFDDAOBAgBbcKk3KUNLgICCAAw
HQYJYIZIAWUDBAEqBBC3bzp64w+BwRg+zpJmu+iQBECrUVaTLzGIjF7EstXB1k47
witj5UoSUcJZsst6FQD1LbM3aHvsUtF4NYG7eAXGxkkMv0taBrFeUQ0c8qhTCIIU
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES`: PKCS#12 PBE.
    const PKCS8_ENC_PKCS12: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MFgwHAYKKoZIhvcNAQwBAzAOBAhGMssIDVl8MAICCAAEOD9CesyPI1Ty/iNTOOuw
2GVYeRVZM91zI9Hq2OgIlSSGHH2NkdBp7kq3n/zO1gfZvAeqjkereI7/
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v1 PBE-MD5-DES`: PBES1.
    const PKCS8_ENC_PBES1_MD5: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MFcwGwYJKoZIhvcNAQUDMA4ECHzEUpicMWEqAgIIAAQ4MJRr81cafx3D5whx/zXW
LDmECy6WOGX/234ysORmAG3Y3qa1mRvOIm8l5xNy9qwikBQyGXeRSPE=
-----END ENCRYPTED PRIVATE KEY-----
";

    /// `openssl pkcs8 -topk8 -v1 PBE-SHA1-RC2-64`: PBES1.
    const PKCS8_ENC_PBES1_SHA1: &str = "\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MFcwGwYJKoZIhvcNAQULMA4ECAHRVWQw5lMeAgIIAAQ4GGXQ1Y0OKVw0wdLGm+Bn
50oPaBmbhopoTDCwa3USCFVsCIWW6QgI/1Jcl5EUHSkgj7apKB47p4k=
-----END ENCRYPTED PRIVATE KEY-----
";

    /// Decodes the armour of a test constant.
    fn armor_of(text: &str) -> Armor {
        armor::find(text).expect("armour").expect("armour parses")
    }

    /// Inspects a test constant as `format`.
    fn facts(format: Format, text: &str) -> KeyFacts {
        inspect(format, &armor_of(text)).expect("inspects")
    }

    /// Asserts the public facts `ssh-keygen -l -E sha256` printed for the key's `.pub`.
    fn assert_public(facts: &KeyFacts, algorithm: &str, bits: u32, fingerprint: &str) {
        assert_eq!(facts.kind, Kind::Private);
        assert_eq!(facts.algorithm.as_deref(), Some(algorithm));
        assert_eq!(facts.bits, Some(bits));
        assert_eq!(facts.fingerprint.as_deref(), Some(fingerprint));
        assert!(!facts.needs_public_part());
    }

    /// Asserts that every strict prefix of the body is an error, never a panic.
    fn assert_prefixes_fail(format: Format, text: &str) {
        let armor = armor_of(text);
        for n in 0..armor.body.len() {
            let cut = armor.with_body(armor.body.get(..n).expect("prefix"));
            assert!(
                inspect(format, &cut).is_err(),
                "{format:?} prefix of {n} bytes"
            );
        }
    }

    /// Replaces the first occurrence of `from` in the body with `to` (same length).
    fn patched(text: &str, from: &[u8], to: &[u8]) -> Armor {
        let armor = armor_of(text);
        let mut body = armor.body.to_vec();
        let at = body
            .windows(from.len())
            .position(|w| w == from)
            .expect("pattern in body");
        body.splice(at..at + from.len(), to.iter().copied());
        armor.with_body(&body)
    }

    #[test]
    fn pkcs1_rsa_plain() {
        let f = facts(Format::Pkcs1Pem, PKCS1_RSA1024);
        assert_eq!(f.format, Format::Pkcs1Pem);
        assert_public(
            &f,
            "ssh-rsa",
            1024,
            "SHA256:QqBt5SWTuje3N+JDRiACtRRzr8cw1dJBojDhBmsvkN0",
        );
        assert!(!f.encrypted);
        assert_eq!(
            (f.cipher.as_deref(), f.kdf.as_deref(), f.kdf_rounds),
            (None, None, None)
        );
        assert!(f.openssh_loads);
        let odd = facts(Format::Pkcs1Pem, PKCS1_RSA1031);
        assert_public(
            &odd,
            "ssh-rsa",
            1031,
            "SHA256:ihaXLnDUkT03q0e+PqJbTHNrbwFKI6kLh/iUrPRRkxQ",
        );
    }

    #[test]
    fn pkcs1_rsa_legacy_encrypted() {
        for (text, cipher) in [
            (PKCS1_RSA_AES128, "AES-128-CBC"),
            (PKCS1_RSA_DES3, "DES-EDE3-CBC"),
        ] {
            let f = facts(Format::Pkcs1Pem, text);
            assert!(f.encrypted);
            assert_eq!(f.cipher.as_deref(), Some(cipher));
            assert_eq!(f.kdf.as_deref(), Some("md5"));
            assert_eq!(f.kdf_rounds, Some(1));
            assert_eq!(f.algorithm.as_deref(), Some("ssh-rsa"));
            assert_eq!((f.bits, f.fingerprint.as_deref()), (None, None));
            assert!(f.needs_public_part());
            assert!(f.openssh_loads);
        }
    }

    #[test]
    fn legacy_provider_ciphers_do_not_load_in_openssh() {
        let f = facts(Format::Sec1Pem, SEC1_P256_DES);
        assert_eq!(f.cipher.as_deref(), Some("DES-CBC"));
        assert!(!f.openssh_loads);
        for (text, loads) in [
            (PKCS8_ENC_PBES1_MD5, false),
            (PKCS8_ENC_PBES1_SHA1, false),
            (PKCS8_ENC_PKCS12, true),
            (PKCS8_ENC_DES3, true),
            (PKCS8_ENC_SCRYPT, true),
        ] {
            let f = facts(Format::Pkcs8EncryptedPem, text);
            assert_eq!(f.openssh_loads, loads, "{:?}", f.cipher);
        }
    }

    #[test]
    fn sec1_every_curve() {
        for (text, algorithm, bits, fingerprint) in [
            (
                SEC1_P256,
                "ecdsa-sha2-nistp256",
                256,
                "SHA256:qTdpJT/zSihCVetX33xdo8qF0FDAsbohY+DvuN0pjgo",
            ),
            (
                SEC1_P384,
                "ecdsa-sha2-nistp384",
                384,
                "SHA256:F9Wq10fuHyP0MGkidvI1jAaE0+uPQa7H751zP50ty2c",
            ),
            (
                SEC1_P521,
                "ecdsa-sha2-nistp521",
                521,
                "SHA256:ZupFAaOEqTlw80qagPraOXnqPsGqn0cQvqQjWopovOs",
            ),
        ] {
            let f = facts(Format::Sec1Pem, text);
            assert_eq!(f.format, Format::Sec1Pem);
            assert_public(&f, algorithm, bits, fingerprint);
            assert!(!f.encrypted);
        }
    }

    #[test]
    fn sec1_legacy_encrypted_hides_the_curve() {
        let f = facts(Format::Sec1Pem, SEC1_P256_AES128);
        assert!(f.encrypted);
        assert_eq!(f.cipher.as_deref(), Some("AES-128-CBC"));
        assert_eq!((f.kdf.as_deref(), f.kdf_rounds), (Some("md5"), Some(1)));
        assert_eq!(
            (f.algorithm.as_deref(), f.bits, f.fingerprint.as_deref()),
            (None, None, None)
        );
    }

    #[test]
    fn sec1_without_public_point_or_compressed() {
        for text in [SEC1_NO_PUBLIC, SEC1_COMPRESSED] {
            let f = facts(Format::Sec1Pem, text);
            assert_eq!(f.algorithm.as_deref(), Some("ecdsa-sha2-nistp256"));
            assert_eq!(f.bits, Some(256));
            assert_eq!(f.fingerprint, None);
            assert!(f.needs_public_part());
        }
        let f = facts(Format::Pkcs8Pem, PKCS8_P256_COMPRESSED);
        assert_eq!(
            (f.algorithm.as_deref(), f.fingerprint.as_deref()),
            (Some("ecdsa-sha2-nistp256"), None)
        );
    }

    #[test]
    fn sec1_explicit_parameters_are_named_in_the_error() {
        let error = inspect(Format::Sec1Pem, &armor_of(SEC1_EXPLICIT)).expect_err("explicit");
        assert!(
            error.to_string().contains("explicit curve parameters"),
            "{error}"
        );
    }

    #[test]
    fn unknown_curves_are_errors() {
        // prime256v1 (…3.1.7) patched to prime239v3 (…3.1.6).
        let p256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        let other = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x06];
        for (format, text) in [(Format::Sec1Pem, SEC1_P256), (Format::Pkcs8Pem, PKCS8_P256)] {
            let error = inspect(format, &patched(text, &p256, &other)).expect_err("curve");
            assert!(error.to_string().contains("1.2.840.10045.3.1.6"), "{error}");
        }
    }

    #[test]
    fn dsa_plain_and_encrypted() {
        let f = facts(Format::DsaPem, DSA_PLAIN);
        assert_public(
            &f,
            "ssh-dss",
            1024,
            "SHA256:iFtWJslCgkaKCchMOY/vZq36oQz83iT+J6e9yRjy91w",
        );
        let enc = facts(Format::DsaPem, DSA_AES128);
        assert!(enc.encrypted);
        assert_eq!(enc.algorithm.as_deref(), Some("ssh-dss"));
        assert_eq!(
            (enc.cipher.as_deref(), enc.kdf.as_deref()),
            (Some("AES-128-CBC"), Some("md5"))
        );
        assert!(enc.needs_public_part());
    }

    #[test]
    fn pkcs8_plain_rsa_and_ec() {
        let f = facts(Format::Pkcs8Pem, PKCS8_RSA1031);
        assert_eq!(f.format, Format::Pkcs8Pem);
        assert_public(
            &f,
            "ssh-rsa",
            1031,
            "SHA256:s3NbIMnlLoszxMkhMIraqlJ42zl/CPFMdUwKUbjkZ10",
        );
        for (text, algorithm, bits, fingerprint) in [
            (
                PKCS8_P256,
                "ecdsa-sha2-nistp256",
                256,
                "SHA256:xVhXvcWHS6gFRYpFU8G5lcLqMjXL0HeipE4xZIU1n1Q",
            ),
            (
                PKCS8_P384,
                "ecdsa-sha2-nistp384",
                384,
                "SHA256:R1q1sWwpwsh4plu8ifOYc9OlioR0CflL8+1mKRyTNqk",
            ),
            (
                PKCS8_P521,
                "ecdsa-sha2-nistp521",
                521,
                "SHA256:s48Eq60r+pEdlmyPtIHMA9gJ88/3Ln2R2nw8Qp6Kgxk",
            ),
        ] {
            assert_public(&facts(Format::Pkcs8Pem, text), algorithm, bits, fingerprint);
        }
    }

    #[test]
    fn pkcs8_dsa_needs_the_public_file() {
        let mut f = facts(Format::Pkcs8Pem, PKCS8_DSA);
        assert_eq!(
            (f.algorithm.as_deref(), f.bits),
            (Some("ssh-dss"), Some(1024))
        );
        assert_eq!(f.fingerprint, None);
        assert!(f.needs_public_part());
        // `ssh-keygen -l` of the key's .pub: SHA256:aMjoEqXq/zosGlWJegVtiD1vx0fHnhZdEiD3APnD8BU.
        let mut public = KeyFacts::new(Kind::Public, Format::OpensshPublic);
        public.algorithm = Some("ssh-rsa".to_owned());
        public.fingerprint = Some("SHA256:aMjoEqXq/zosGlWJegVtiD1vx0fHnhZdEiD3APnD8BU".to_owned());
        assert!(
            !f.complete_from_public(&public, "id_dsa.pub"),
            "algorithm must match"
        );
        public.algorithm = Some("ssh-dss".to_owned());
        public.bits = Some(1024);
        assert!(f.complete_from_public(&public, "id_dsa.pub"));
        assert_eq!(f.fingerprint, public.fingerprint);
    }

    #[test]
    fn pkcs8_ed25519_v1_and_v2() {
        let v1 = facts(Format::Pkcs8Pem, PKCS8_ED25519);
        assert_eq!(
            (v1.algorithm.as_deref(), v1.bits),
            (Some("ssh-ed25519"), Some(256))
        );
        assert_eq!(v1.fingerprint, None);
        assert!(
            !v1.openssh_loads,
            "OpenSSH 9.2 does not read PKCS#8 Ed25519"
        );
        let v2 = facts(Format::Pkcs8Pem, PKCS8_ED25519_V2);
        assert_public(
            &v2,
            "ssh-ed25519",
            256,
            "SHA256:xQkoMa8R8OeDKFckipSyW2lL8NWoIgCubJt3h2Ap1v4",
        );
        let rfc = facts(Format::Pkcs8Pem, PKCS8_ED25519_RFC8410);
        assert_public(
            &rfc,
            "ssh-ed25519",
            256,
            "SHA256:ebCT4wkJOqO5AIlHG03cHvn3Cr3ZZEEh8m81duHhR3Q",
        );
    }

    #[test]
    fn pkcs8_unknown_algorithm_names_the_oid() {
        // id-Ed25519 (1.3.101.112) patched to id-Ed448 (1.3.101.113).
        let armor = patched(
            PKCS8_ED25519,
            &[0x06, 0x03, 0x2b, 0x65, 0x70],
            &[0x06, 0x03, 0x2b, 0x65, 0x71],
        );
        let error = inspect(Format::Pkcs8Pem, &armor).expect_err("ed448");
        assert_eq!(
            error.to_string(),
            "pkcs#8 private key: unsupported key algorithm Ed448 (1.3.101.113)"
        );
        let armor = patched(
            PKCS8_ED25519,
            &[0x06, 0x03, 0x2b, 0x65, 0x70],
            &[0x06, 0x03, 0x2b, 0x65, 0x7f],
        );
        let error = inspect(Format::Pkcs8Pem, &armor).expect_err("unknown");
        assert!(
            error
                .to_string()
                .ends_with("unsupported key algorithm 1.3.101.127"),
            "{error}"
        );
    }

    #[test]
    fn pkcs8_encrypted_from_ssh_keygen() {
        for text in [PKCS8_ENC_RSA1031, PKCS8_ENC_P384, PKCS8_ENC_DSA] {
            let f = facts(Format::Pkcs8EncryptedPem, text);
            assert_eq!(f.format, Format::Pkcs8EncryptedPem);
            assert!(f.encrypted);
            assert_eq!(f.cipher.as_deref(), Some("aes-128-cbc"));
            assert_eq!(f.kdf.as_deref(), Some("pbkdf2-sha256"));
            assert_eq!(f.kdf_rounds, Some(2048));
            assert_eq!(
                (f.algorithm.as_deref(), f.bits, f.fingerprint.as_deref()),
                (None, None, None)
            );
            assert!(f.needs_public_part());
        }
    }

    #[test]
    fn pkcs8_encryption_schemes() {
        for (text, cipher, kdf, rounds, memory) in [
            (
                PKCS8_ENC_DEFAULT,
                "aes-256-cbc",
                "pbkdf2-sha256",
                2048,
                None,
            ),
            (PKCS8_ENC_SCRYPT, "aes-256-cbc", "scrypt", 14, Some(16384)),
            (PKCS8_ENC_DES3, "des-ede3-cbc", "pbkdf2-sha256", 2048, None),
            (
                PKCS8_ENC_AES192_SHA512,
                "aes-192-cbc",
                "pbkdf2-sha512",
                100_000,
                None,
            ),
            (PKCS8_ENC_SHA1, "aes-256-cbc", "pbkdf2-sha1", 2048, None),
            (PKCS8_ENC_PKCS12, "des-ede3-cbc", "pkcs12-sha1", 2048, None),
            (PKCS8_ENC_PBES1_MD5, "des-cbc", "pbkdf1-md5", 2048, None),
            (PKCS8_ENC_PBES1_SHA1, "rc2-cbc", "pbkdf1-sha1", 2048, None),
        ] {
            let f = facts(Format::Pkcs8EncryptedPem, text);
            assert!(f.encrypted, "{cipher} {kdf}");
            assert_eq!(f.cipher.as_deref(), Some(cipher));
            assert_eq!(f.kdf.as_deref(), Some(kdf));
            assert_eq!(f.kdf_rounds, Some(rounds), "{kdf}");
            assert_eq!(f.kdf_memory_kib, memory, "{kdf}");
        }
    }

    #[test]
    fn broken_legacy_headers_are_errors() {
        let no_dek = PKCS1_RSA_AES128.replace(
            "DEK-Info: AES-128-CBC,5145631722730B2E25C71D6650FFD29F\n",
            "",
        );
        let bad_iv = PKCS1_RSA_AES128.replace("D6650FFD29F", "D6650FFD29");
        let bad_name = PKCS1_RSA_AES128.replace("AES-128-CBC,", "AES 128/CBC,");
        let not_encrypted = PKCS1_RSA_AES128.replace("4,ENCRYPTED", "4,MIC-CLEAR");
        for text in [no_dek, bad_iv, bad_name, not_encrypted] {
            let error = inspect(Format::Pkcs1Pem, &armor_of(&text)).expect_err("broken header");
            assert!(matches!(error, ParseError::Invalid { .. }), "{error}");
        }
        let empty = armor_of(PKCS1_RSA_AES128).with_body(&[]);
        assert!(inspect(Format::Pkcs1Pem, &empty).is_err());
    }

    #[test]
    fn truncated_bodies_are_errors() {
        for (format, text) in [
            (Format::Pkcs1Pem, PKCS1_RSA1031),
            (Format::Sec1Pem, SEC1_P521),
            (Format::Sec1Pem, SEC1_EXPLICIT),
            (Format::DsaPem, DSA_PLAIN),
            (Format::Pkcs8Pem, PKCS8_P384),
            (Format::Pkcs8Pem, PKCS8_DSA),
            (Format::Pkcs8Pem, PKCS8_ED25519_RFC8410),
            (Format::Pkcs8EncryptedPem, PKCS8_ENC_SCRYPT),
            (Format::Pkcs8EncryptedPem, PKCS8_ENC_PKCS12),
            (Format::Pkcs8EncryptedPem, PKCS8_ENC_PBES1_MD5),
            (Format::Pkcs8EncryptedPem, PKCS8_ENC_DSA),
        ] {
            assert_prefixes_fail(format, text);
        }
    }

    #[test]
    fn garbage_and_mislabelled_bodies_are_asn1_errors() {
        let rsa = armor_of(PKCS1_RSA1024);
        for body in [
            &b"not a key at all"[..],
            &[0xff; 64],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x00],
        ] {
            for format in [
                Format::Pkcs1Pem,
                Format::Sec1Pem,
                Format::DsaPem,
                Format::Pkcs8Pem,
                Format::Pkcs8EncryptedPem,
            ] {
                let error = inspect(format, &rsa.with_body(body)).expect_err("garbage");
                assert!(
                    matches!(error, ParseError::Asn1 { .. }),
                    "{format:?}: {error}"
                );
            }
        }
        // A PKCS#8 body under an RSA label, an RSA body under the PKCS#8 labels.
        assert!(inspect(Format::Pkcs1Pem, &armor_of(PKCS8_RSA1031)).is_err());
        assert!(inspect(Format::Pkcs8Pem, &armor_of(PKCS1_RSA1024)).is_err());
        assert!(inspect(Format::Pkcs8EncryptedPem, &armor_of(PKCS8_RSA1031)).is_err());
        assert!(inspect(Format::DsaPem, &armor_of(PKCS1_RSA1024)).is_err());
        assert!(inspect(Format::Openssh, &rsa).is_err());
    }

    #[test]
    fn errors_never_carry_key_bytes() {
        let armor = patched(
            PKCS8_ED25519,
            &[0x04, 0x22, 0x04, 0x20],
            &[0x04, 0x22, 0x04, 0x21],
        );
        let error = inspect(Format::Pkcs8Pem, &armor).expect_err("bad seed");
        let text = format!("{error} {error:?}");
        // No hex or base64 run long enough to be key material, in Display or Debug.
        let longest = text
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '+' && c != '/')
            .map(str::len)
            .max();
        assert!(longest < Some(16), "{text}");
    }

    #[test]
    fn dispatch_through_key_inspect() {
        let crate::key::Inspection::Key(f) = crate::key::inspect(SEC1_P384.as_bytes()) else {
            panic!("not a key");
        };
        assert_eq!(f.format, Format::Sec1Pem);
        assert_eq!(
            f.fingerprint.as_deref(),
            Some("SHA256:F9Wq10fuHyP0MGkidvI1jAaE0+uPQa7H751zP50ty2c")
        );
    }
}
