//! PURE: two old formats still found on long-lived laptops: the ssh.com SSH2 private key
//! and the SSH-1 RSA private key.
//!
//! Neither has a published specification; the layouts below are those OpenSSH's old
//! `authfile.c` (SSH-1) and PuTTY's `import.c` / `sshpubk.c` read and write. OpenSSH 9.2
//! loads neither, so both are reported with `openssh_loads: false`.

use super::armor::Armor;
use super::blob::{self, Reader};
use super::{Format, KeyFacts, Kind, ParseError};

/// The first bytes of an SSH-1 private key file.
pub(super) const SSH1_MAGIC: &[u8] = b"SSH PRIVATE KEY FILE FORMAT 1.1\n\0";

/// The first `uint32` of an ssh.com key body.
const SSHCOM_MAGIC: u32 = 0x3f6f_f9eb;

/// Key type prefixes PuTTY's `import.c` accepts: the full strings vary
/// (`if-modn{sign{rsa-pkcs1-sha1},encrypt{rsa-pkcs1v2-oaep}}`,
/// `dl-modp{sign{dsa-nist-sha1},dh{plain}}`), the signature scheme does not.
const SSHCOM_RSA_PREFIX: &[u8] = b"if-modn{sign{rsa";
/// See [`SSHCOM_RSA_PREFIX`].
const SSHCOM_DSA_PREFIX: &[u8] = b"dl-modp{sign{dsa";

/// Facts of an SSH-1 key; `rest` follows [`SSH1_MAGIC`].
///
/// Layout: `uint8` cipher type, `uint32` reserved (0), `uint32` bits, SSH-1 mpints `n`
/// and `e`, `string` comment, then the private part (check bytes, `d`, `iqmp`, `q`, `p`,
/// padded to 8 bytes), encrypted unless the cipher type is 0. The public half is in the
/// clear, so even an encrypted key has its fingerprint.
///
/// The fingerprint is that of the `ssh-rsa` blob of `(e, n)`: an SSH-1 key is an RSA key,
/// and the same key converted to SSH-2 (`puttygen -O public-openssh` of a copy loaded as
/// SSH-2, or `ssh-keygen -i`) has exactly this fingerprint, so duplicates are found
/// across the two protocols.
///
/// # Errors
/// [`ParseError::Truncated`] when a field is cut off, [`ParseError::Invalid`] for a
/// nonzero reserved field, an unknown cipher type, a zero modulus or bad check bytes.
pub(super) fn inspect_ssh1(rest: &[u8]) -> Result<KeyFacts, ParseError> {
    let mut r = Reader::new(rest);
    let cipher_type = r.u8("ssh1 cipher type")?;
    if r.u32("ssh1 reserved field")? != 0 {
        return Err(ParseError::Invalid {
            context: "ssh1 reserved field",
            detail: "not zero".to_owned(),
        });
    }
    let _bits = r.u32("ssh1 key bits")?;
    let n = ssh1_mpint(&mut r, "ssh1 rsa modulus")?;
    let e = ssh1_mpint(&mut r, "ssh1 rsa public exponent")?;
    let comment = r.text("ssh1 comment")?;
    let private = r.rest();
    if private.is_empty() {
        return Err(ParseError::Truncated {
            context: "ssh1 private part",
        });
    }
    let bits = blob::bit_length(n);
    if bits == 0 || blob::bit_length(e) == 0 {
        return Err(ParseError::Invalid {
            context: "ssh1 rsa public key",
            detail: "zero modulus or public exponent".to_owned(),
        });
    }

    let mut facts = KeyFacts::new(Kind::Private, Format::Ssh1);
    facts.openssh_loads = false;
    facts.algorithm = Some("rsa1".to_owned());
    facts.bits = Some(bits);
    facts.fingerprint = Some(blob::fingerprint(&blob::rsa_blob(e, n)));
    facts.comment = Some(comment);
    if cipher_type == 0 {
        // The plain private part opens with two random bytes repeated, the check the
        // SSH-1 loaders use to detect a wrong passphrase; without it this is not a key.
        if !matches!(private, [a, b, c, d, ..] if a == c && b == d) {
            return Err(ParseError::Invalid {
                context: "ssh1 private part",
                detail: "check bytes do not match".to_owned(),
            });
        }
        // Then d, iqmp, q, p: only their lengths are checked, so that a cut-off file is
        // an error; the values stay where they are.
        let mut p = Reader::new(private.get(4..).unwrap_or_default());
        for context in ["ssh1 rsa d", "ssh1 rsa iqmp", "ssh1 rsa q", "ssh1 rsa p"] {
            ssh1_mpint(&mut p, context)?;
        }
    } else {
        // SSH-1 cipher numbers (draft-ylonen-ssh-protocol-00 §"Encryption"). The cipher
        // is keyed with MD5 of the passphrase: one round, no salt.
        let cipher = match cipher_type {
            1 => "idea",
            2 => "des",
            3 => "3des",
            6 => "blowfish",
            other => {
                return Err(ParseError::Invalid {
                    context: "ssh1 cipher type",
                    detail: format!("unknown cipher number {other}"),
                })
            }
        };
        if private.len() % 8 != 0 {
            return Err(ParseError::Invalid {
                context: "ssh1 private part",
                detail: "not a whole number of cipher blocks".to_owned(),
            });
        }
        facts.encrypted = true;
        facts.cipher = Some(cipher.to_owned());
        facts.kdf = Some("md5".to_owned());
        facts.kdf_rounds = Some(1);
    }
    Ok(facts)
}

/// An SSH-1 mpint: `uint16` bit count, then `ceil(bits / 8)` big-endian bytes.
fn ssh1_mpint<'a>(r: &mut Reader<'a>, context: &'static str) -> Result<&'a [u8], ParseError> {
    let count = r.bytes(2, context)?;
    let bits = u16::from_be_bytes(
        count
            .try_into()
            .map_err(|_| ParseError::Truncated { context })?,
    );
    r.bytes(usize::from(bits.div_ceil(8)), context)
}

/// An ssh.com mpint: `uint32` bit count, then `ceil(bits / 8)` big-endian bytes.
fn sshcom_mpint<'a>(r: &mut Reader<'a>, context: &'static str) -> Result<&'a [u8], ParseError> {
    let bits = r.u32(context)?;
    r.bytes(
        usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX),
        context,
    )
}

/// Facts of a `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` block.
///
/// Body layout: `uint32` magic `0x3f6ff9eb`, `uint32` total length (counting the magic
/// and itself), `string` key type, `string` cipher (`none` or `3des-cbc`), `string` key
/// data. Plain key data is a `string` holding ssh.com mpints: RSA `e, d, n, u, p, q`;
/// DSA `uint32 0, p, g, q, y, x`. Encrypted key data hides all of them, so bits and
/// fingerprint come from the matching `.pub`. The label says ENCRYPTED whatever the
/// cipher: that is ssh.com's name for the format.
///
/// # Errors
/// [`ParseError::Truncated`] when a field is cut off, [`ParseError::Invalid`] for a wrong
/// magic number, a key type other than RSA or DSA, or predefined DSA parameters.
pub(super) fn inspect_sshcom(armor: &Armor) -> Result<KeyFacts, ParseError> {
    let body = armor.body.as_slice();
    let mut r = Reader::new(body);
    if r.u32("ssh.com magic number")? != SSHCOM_MAGIC {
        return Err(ParseError::Invalid {
            context: "ssh.com magic number",
            detail: "not 0x3f6ff9eb".to_owned(),
        });
    }
    let total = r.u32("ssh.com length")?;
    if usize::try_from(total).map_or(true, |total| total > body.len()) {
        return Err(ParseError::Truncated {
            context: "ssh.com key body",
        });
    }
    let key_type = r.string("ssh.com key type")?;
    let dsa = if key_type.starts_with(SSHCOM_RSA_PREFIX) {
        false
    } else if key_type.starts_with(SSHCOM_DSA_PREFIX) {
        true
    } else {
        let shown: String = String::from_utf8_lossy(key_type).chars().take(64).collect();
        return Err(ParseError::Invalid {
            context: "ssh.com key type",
            detail: format!("\"{shown}\" is not an RSA or DSA key"),
        });
    };
    let cipher = r.name("ssh.com cipher")?;
    let data = r.string("ssh.com key data")?;
    if data.is_empty() {
        return Err(ParseError::Truncated {
            context: "ssh.com key data",
        });
    }

    let mut facts = if cipher == "none" {
        let payload = Reader::new(data).string("ssh.com key payload")?;
        let mut p = Reader::new(payload);
        let public_blob = if dsa {
            // A 1 here would mean "predefined parameters", which no known writer uses.
            if p.u32("ssh.com dsa parameter kind")? != 0 {
                return Err(ParseError::Invalid {
                    context: "ssh.com dsa parameters",
                    detail: "predefined parameters are not supported".to_owned(),
                });
            }
            let dsa_p = sshcom_mpint(&mut p, "ssh.com dsa p")?;
            let dsa_g = sshcom_mpint(&mut p, "ssh.com dsa g")?;
            let dsa_q = sshcom_mpint(&mut p, "ssh.com dsa q")?;
            let dsa_y = sshcom_mpint(&mut p, "ssh.com dsa y")?;
            sshcom_mpint(&mut p, "ssh.com dsa x")?;
            blob::dsa_blob(dsa_p, dsa_q, dsa_g, dsa_y)
        } else {
            let e = sshcom_mpint(&mut p, "ssh.com rsa e")?;
            sshcom_mpint(&mut p, "ssh.com rsa d")?;
            let n = sshcom_mpint(&mut p, "ssh.com rsa n")?;
            sshcom_mpint(&mut p, "ssh.com rsa u")?;
            sshcom_mpint(&mut p, "ssh.com rsa p")?;
            sshcom_mpint(&mut p, "ssh.com rsa q")?;
            blob::rsa_blob(e, n)
        };
        let mut facts = KeyFacts::new(Kind::Private, Format::Sshcom);
        facts.set_public(blob::describe(&public_blob)?);
        facts
    } else {
        // PuTTY's import.c: the 3DES-CBC key is MD5(passphrase) || MD5(passphrase ||
        // first hash), one round, no salt; the data is whole 8-byte blocks.
        if data.len() % 8 != 0 {
            return Err(ParseError::Invalid {
                context: "ssh.com key data",
                detail: "not a whole number of cipher blocks".to_owned(),
            });
        }
        let mut facts = KeyFacts::new(Kind::Private, Format::Sshcom);
        facts.encrypted = true;
        facts.cipher = Some(cipher);
        facts.kdf = Some("md5".to_owned());
        facts.kdf_rounds = Some(1);
        facts.algorithm = Some(if dsa { "ssh-dss" } else { "ssh-rsa" }.to_owned());
        facts
    };
    facts.openssh_loads = false;
    facts.comment = armor.header("Comment").map(str::to_owned);
    Ok(facts)
}
