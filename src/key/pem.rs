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
        let kind = proc_type.split_once(',').map_or("", |(_, kind)| kind.trim());
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

/// An [`ParseError::Asn1`] maker for `context`; the detail is the decoder's `Display`,
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
    let dek = armor.header("DEK-Info").ok_or_else(|| ParseError::Invalid {
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
        // RFC 5915 §3: the parameters must be present unless a wrapper names the curve.
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
        Some(p)
            if matches!(p.first(), Some(2 | 3)) && p.len() == 1 + curve.field_bytes =>
        {
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
    let seed = OctetStringRef::from_der(info.private_key)
        .map_err(asn1("pkcs#8 ed25519 private key"))?;
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
    (pkcs5::pbes1::PBE_WITH_MD2_AND_DES_CBC_OID, "pbkdf1-md2", "des-cbc"),
    (pkcs5::pbes1::PBE_WITH_MD2_AND_RC2_CBC_OID, "pbkdf1-md2", "rc2-cbc"),
    (pkcs5::pbes1::PBE_WITH_MD5_AND_DES_CBC_OID, "pbkdf1-md5", "des-cbc"),
    (pkcs5::pbes1::PBE_WITH_MD5_AND_RC2_CBC_OID, "pbkdf1-md5", "rc2-cbc"),
    (pkcs5::pbes1::PBE_WITH_SHA1_AND_DES_CBC_OID, "pbkdf1-sha1", "des-cbc"),
    (pkcs5::pbes1::PBE_WITH_SHA1_AND_RC2_CBC_OID, "pbkdf1-sha1", "rc2-cbc"),
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
            rounds: Some(salt_and_iterations(algorithm.parameters, "pbes1 parameters")?),
            memory_kib: None,
        });
    }
    let text = oid.to_string();
    if let Some((_, cipher)) = PKCS12_SCHEMES.iter().find(|(o, _)| *o == text) {
        return Ok(Protection {
            cipher: (*cipher).to_owned(),
            kdf: "pkcs12-sha1".to_owned(),
            rounds: Some(salt_and_iterations(algorithm.parameters, "pkcs#12 pbe parameters")?),
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
        // RFC 7914 §2 and §7.1: cost N (a power of two), block size r; scrypt uses
        // 128 * r * N bytes. Rounds are reported as log2(N), as OpenSSH's bcrypt rounds
        // and scrypt's own `logN` parameter are.
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
