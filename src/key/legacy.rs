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
/// so a copy of the same key pair converted to an SSH-2 format has exactly this
/// fingerprint, and duplicates are found across the two protocols.
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
        if !private.len().is_multiple_of(8) {
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

#[cfg(test)]
mod tests {
    //! Real keys written once by puttygen 0.78 in a temp dir; encrypted ones under the
    //! throwaway passphrase `keycheck-test`. Fingerprints are `ssh-keygen -l -E sha256` of
    //! the public half as OpenSSH sees it (`puttygen -O public-openssh`, or for SSH-1 the
    //! ssh-rsa key of the same e and n).

    use super::*;
    use crate::key::armor::{self, decode_base64};
    use crate::key::blob::Writer;

    /// `puttygen -t rsa -b 1024`, then `-O private-sshcom` with an empty passphrase.
    const SSHCOM_RSA: &str = "\
---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----
Comment: \"sshcom-rsa1024\"
P2/56wAAAi4AAAA3aWYtbW9kbntzaWdue3JzYS1wa2NzMS1zaGExfSxlbmNyeXB0e3JzYS
1wa2NzMXYyLW9hZXB9fQAAAARub25lAAAB3wAAAdsAAAARAQABAAAD/2PRSjF85W82Av5f
UFwdwi+ZOpN6HL0Dp8qU5ajDDm+eclf0I5pnr7lrujPQHB+P9ZqKi4sEcwa5BZAjOzk8Zr
hgXw8vqrr6ctdPFmRvHuOfQjU9NStijmP2PbvbHFQFuNrFnVOPRQpkzGMHU6ibSTfOMIqV
Z2rJdKeXlD+YLWsBAAAEAMKl+sfO79JiP6cMXFjVRQXBEVeaeqlJ1RYYYIH8ZgfGu7zGIt
hqWlGADt2G2uLnHaKFvnkk+XFgEht9MSZjVBOXoC8FIoRaSf4JsKQtWVEyXOLjcIYUrOuG
LEmncPx6QXs9ZFxR4JXqLbx/2R5LrF6FVOg3ocq/iwoKZph+Ts+3AAACANObkj57ssICLV
qEdRpX354ZUYqPnjJoVqPS2fGqc5rUDeOKePVy6GE4FagL/lH75UkDpJZe+O/XL9F9dd14
yEgAAAIA2i4Mf2isvvpHptmW/WbHMmrex26gfkQJusprHw/TNpWjUzPiKKahh0h+OOIDmb
Vrwn5nI03l85/RHbwv0NJDEQAAAgDkY7Ipolxpa3yaMGuo8dkM4Xe2hwqjzXDXX8gKTDSF
sNYoxZVN6AqdWBzLRXiMK1TQi9l0ePFIPIFohenVDtZH
---- END SSH2 ENCRYPTED PRIVATE KEY ----
";

    /// The same key exported with `--new-passphrase`: 3des-cbc.
    const SSHCOM_RSA_3DES: &str = "\
---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----
Comment: \"sshcom-rsa1024\"
P2/56wAAAjMAAAA3aWYtbW9kbntzaWdue3JzYS1wa2NzMS1zaGExfSxlbmNyeXB0e3JzYS
1wa2NzMXYyLW9hZXB9fQAAAAgzZGVzLWNiYwAAAeB+NB85r35+/9eSb21fogCEbGfYqFOP
Tjfhay7WNKldz9O7lB8t5nBpGy6dPro/N4erxXEXGVIQ7vMrOme1+DwR2xnjAKaRJmTr2E
HG/bvN9e3KIixSaFo0yzkuwOybEV9K6JsNBzXyBzX+UZbi6BRxWrKBWgy/n2Ms/t5HLoiX
z9hnxhd/9dcZeYPv/r19Hr9aAiNJAU4iPx4Ecl8eSQWydc8MmDFsW3WJtDdpwh31hU7EUs
A1T2rJ0zjiX/BXXJ/gPDDsrDxeKejl0qLYfnwp0/SWcFRUTv6J2Y8dQzAVqmyRDcgpav+Q
Y8n1sVAzZgj1vcPkPsQGNDXTb8pMUBuRzKxdJ66OXuZkB58FamV9OMKsQ2qtFiWVuNMDOh
c7C6qDoSnYiZZq8hKkjUzBMgyWZcG9GUH9Dz63JdnIrBAd8EzUF2c1cKxlNP+M+CMEc2aA
dy2x2lODO5Z1PyJ7TQBtbtnwdbk8tHpXVagR/yFsiZacDVSpO03pa0rlaJPjtOfl7nZRuS
URHP5OyP9J8/0MrL0Gj74JKywzz33nDCuAj6GTnqfqF78zDxErJGnWaMA2Q2UZyp2Sjmhe
1UCLHqz0ZTf0TQDwXimMVxxbyt+wYh+x7u0hrBoiOasWpzZjFN4=
---- END SSH2 ENCRYPTED PRIVATE KEY ----
";

    /// `puttygen -t dsa -b 1024`, then `-O private-sshcom` with an empty passphrase.
    const SSHCOM_DSA: &str = "\
---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----
Comment: \"ppk3-dsa\"
P2/56wAAAgIAAAAmZGwtbW9kcHtzaWdue2RzYS1uaXN0LXNoYTF9LGRoe3BsYWlufX0AAA
AEbm9uZQAAAcQAAAHAAAAAAAAABACqgbo6D2iLPgJA7+YD2E3RA24j6wxXQKFD4O9417Px
4PxUna+xWCH9cK7fVT6vpzfe50+QwTS8AFfOOoH5D138y71Yzresr5uzU6klGPHkox+mru
qNVVSdZcfMO5yyGJKB1Fq64i2jRrEtGlhlxnkTfzKQbVEOC+rUK9BX9zlvjwAAA/4wYVYK
mpQiuzuoqKzK5KWQdXjq6pPLyTn/8cH140ZFOtEu30yM8IK8FGtom5xGVR0ecy7H3wY4Nb
1h8U9eqXl3Nz60cZCda4kWrpu1Adjg9TqdZa9nvw2slJQ3l3/bqZElitkQT5TUC6dFjd62
EroqPbMMHdz53gS7meRRCSs8fQAAAKCGaa6UQzxrJKYQCO1qwLfvUxy9UQAABACSk4rM2z
g7IZEEKtdlVcKOfivXyZ03QXGt8oXDuPSVeQM+ERjZP2oNaMdJKbDwIrMctUHvQj4ZXDa6
MZAJGTLAE++uFJgwtoa32LvCjPBXGwztp5JLS1EHPWYYUUdoMlk84YrYjowebaRuc8Ezwn
c5E3U5H14OEWZ1EMGLsVI9+AAAAKCA7voEkqZZJ16VBZI3ZLVpokR4DA==
---- END SSH2 ENCRYPTED PRIVATE KEY ----
";

    /// The same key exported with `--new-passphrase`: 3des-cbc.
    const SSHCOM_DSA_3DES: &str = "\
---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----
Comment: \"ppk3-dsa\"
P2/56wAAAgoAAAAmZGwtbW9kcHtzaWdue2RzYS1uaXN0LXNoYTF9LGRoe3BsYWlufX0AAA
AIM2Rlcy1jYmMAAAHIqOqxuvRlfnRltaIPfeT+Cdy0nIyEzIW1p3sk2bzYIdMEZ0M+whg5
jkgzq8TeN42NlYw6SdH4yFyRjiyyE52FEtl9thsDhbb8/0aNP8lf4GgQhn1IsMf3yjhL0o
yF0onMAClYHZU74Ttrq2cMryLy9ebyIeNcvxqZcxhbgTY4aP7dmaO2aZmEUw+EFrehtLqQ
/U5Qgl9pqugtlGkFHhAIOPqNRp9HpiAtd5kVO4V/gByKxz4WZnlj4V+MenKPa8TxpI2d46
OaNhcZ947VnGJYWjIaQLy7nNJ/8jiambSkqvUHpPTaImKnJ2zByh8qNfaYiRvxeKZVIB5r
Atnm8p5LmC08+T+6h1KuIWwr6SiXxM52seV/fkVOEPDYoHvdB56OsdNjUy1NKWM222eZBB
VtCdr2GyAq5/SDmE/v2TgJIGUL5v/xZIotnDpYi921wqX3q70nSeb2M1giZlbzFrZ7GBie
i+reJOi/3GVf7H598nW9KYcO5UHZV6/R7kmZBfvDuc3PMTQA2Xw121Uy71TCykh9rdfn+v
QkwjQC7kSqCxDe4SGb3p6rJVm5bFl0BmzcHeIp3/gZq4p3NtYhFzmO6qxHHTWbCLNm
---- END SSH2 ENCRYPTED PRIVATE KEY ----
";

    /// `puttygen -t rsa1 -b 1031` with an empty passphrase (base64 of the binary file).
    const SSH1_RSA1031: &str = "\
U1NIIFBSSVZBVEUgS0VZIEZJTEUgRk9STUFUIDEuMQoAAAAAAAAAAAQHBAdgrRA2ZX7bQ0Xvhmi8
z7qRkS/bH8oR333lf/3gU9oEAEjHxxeScvzClAOHEdeYQPHNwA24IHCHTuZKpwJwed90CY6qUZ4R
iENHJoYyJi4epPVVF/y23VzQuhxEFQGPPyNKdlc8asLnKsCtiiR8rchgUkLfEWjrqOK1VPq4W1H9
vRkAEQEAAQAAAAxzc2gxLXJzYTEwMzFNkU2RBAQIy9ZczLFVK/LSD226OEBmfEpZarQNGkOvPQ0R
ey+sC4aTvtazOYkr/yGvCX2PWeFmciINbc4vUYt8oWOEbmJZf6smxcZzZa1fLsetsZ6GiARFv9LL
zN/dlqLTwBqqAf76QB0B6cafVDmq9OS/b/qGTWOWWU1bVupvTIeVA1LRHD0CBAnhVxXPtKqW/6ZU
nDqa66KAQ0JhV2eQgy5TuCAWmP3Ac2SejmUhZLzqMyelbhruw1InDp7rkYuAPzmnlcXbkwG8AgMH
1LTvDVU+Umx8FcyDaTf3t1d3yjkoecmeZv3dgYVLKCBnmWb3ODgYMpPd6OCNdjf9LptWoaYaMKoN
wFrSXTy/BwIEDFhxPss+XZIGUgyapLEPcDO9e2yt48hC+dw9Sj5OW31HYDbbNqRaNCCpCiLz+cUo
ovYjUjXK5AKH/tnKEdQmet8=
";

    /// `puttygen -t rsa1 -b 1024 --new-passphrase`: 3DES (base64 of the binary file).
    const SSH1_RSA1024_3DES: &str = "\
U1NIIFBSSVZBVEUgS0VZIEZJTEUgRk9STUFUIDEuMQoAAwAAAAAAAAQABADhX1EqjYs1SOICzLp5
8yao5eYiIGWkh7kinJMdtpCdudgXlhNVM1zT9ND7YIDQn8fD7OciT0zB7g+OVpcYsfgLi8Xrdm8F
+CoxIBN+8ICKByM1CwJvo3g+IZsjoPQq0COc7QXCEcBo5a4OtHa1R4VhLNyfOCjTjpSZZG2Ybfux
MQARAQABAAAAEHNzaDEtcnNhMTAyNC1lbmNnGmFQVZiAr1nZHlvdvYVNi9ahGuFBj7IUZnrDASOV
UayBGBF28exmsMdxCNqaTAA9wbiARNKwh4IwM8onuHUfc/E9lGYPIS2+cFI0faPuP1I1sGdiW+qQ
EnO+10gDcjTCxRQ5qApl2egnBNSW30feFYDJrdcNvl2sz31+Asxwf6hhudH14Slhl3qMHf1SuPlv
G2Nrc+2sjvV9jhYPk/BQMiTEDFHeN2u3otX74/2QpyRKM33YMbst0pm3owKIsUV7ZkjeIIyTnaZa
Wx2ko5enm9vR4i41D9W5o13FcazeRc83Fd6GrVXPyLHta9QELqIxetgkCc9yHlOnEqqAqGD6WSNl
tgeisA3ZAWhOQ7ZjTisDHywHttlL0/f6nYxbvr28J6apCsiSmeGeAFWbsj5PlYTaqDhP1uWxJo61
ZVVPcF8gDdQyy2hLtEY60oeP8RI=
";

    /// The bytes of an SSH-1 test constant.
    fn ssh1_bytes(text: &str) -> Vec<u8> {
        decode_base64(text, "test constant")
            .expect("base64")
            .to_vec()
    }

    /// The bytes after the magic of an SSH-1 test constant.
    fn ssh1_rest(text: &str) -> Vec<u8> {
        let bytes = ssh1_bytes(text);
        bytes.strip_prefix(SSH1_MAGIC).expect("magic").to_vec()
    }

    /// Decodes the armour of an ssh.com test constant.
    fn armor_of(text: &str) -> Armor {
        armor::find(text).expect("armour").expect("armour parses")
    }

    #[test]
    fn ssh1_plain() {
        let f = inspect_ssh1(&ssh1_rest(SSH1_RSA1031)).expect("inspects");
        assert_eq!((f.kind, f.format), (Kind::Private, Format::Ssh1));
        assert_eq!(f.algorithm.as_deref(), Some("rsa1"));
        assert_eq!(f.bits, Some(1031));
        // `ssh-keygen -l` of the ssh-rsa public key built from `puttygen -O public`'s e and n.
        assert_eq!(
            f.fingerprint.as_deref(),
            Some("SHA256:ducRa3ZpW6359LjTbgrJsMuNLlgfqDcONcIXQRKXxas")
        );
        assert_eq!(f.comment.as_deref(), Some("ssh1-rsa1031"));
        assert!(!f.encrypted);
        assert_eq!(
            (f.cipher.as_deref(), f.kdf.as_deref(), f.kdf_rounds),
            (None, None, None)
        );
        assert!(!f.openssh_loads);
    }

    #[test]
    fn ssh1_encrypted_keeps_its_public_half() {
        let f = inspect_ssh1(&ssh1_rest(SSH1_RSA1024_3DES)).expect("inspects");
        assert!(f.encrypted);
        assert_eq!(f.cipher.as_deref(), Some("3des"));
        assert_eq!((f.kdf.as_deref(), f.kdf_rounds), (Some("md5"), Some(1)));
        assert_eq!(f.bits, Some(1024));
        assert_eq!(
            f.fingerprint.as_deref(),
            Some("SHA256:PbqEte8xs84qwNHWtmxciEKr9l47cIKJOeyJha7j4h4")
        );
        assert_eq!(f.comment.as_deref(), Some("ssh1-rsa1024-enc"));
        assert!(!f.needs_public_part());
    }

    #[test]
    fn ssh1_matches_the_same_key_as_ssh_rsa() {
        let rest = ssh1_rest(SSH1_RSA1031);
        let mut r = Reader::new(&rest);
        r.bytes(9, "header").expect("header");
        let n = ssh1_mpint(&mut r, "n").expect("n");
        let e = ssh1_mpint(&mut r, "e").expect("e");
        let info = blob::describe(&blob::rsa_blob(e, n)).expect("describes");
        let f = inspect_ssh1(&rest).expect("inspects");
        assert_eq!(f.fingerprint, Some(info.fingerprint));
        assert_eq!(f.bits, info.bits);
    }

    #[test]
    fn ssh1_broken_fields_are_errors() {
        let rest = ssh1_rest(SSH1_RSA1031);
        let mut reserved = rest.clone();
        reserved[2] = 1;
        let mut cipher = rest.clone();
        cipher[0] = 9;
        let comment_end = rest
            .windows(b"ssh1-rsa1031".len())
            .position(|w| w == b"ssh1-rsa1031")
            .expect("comment")
            + b"ssh1-rsa1031".len();
        let mut check = rest.clone();
        check[comment_end] ^= 0xff;
        for bad in [reserved, cipher, check] {
            assert!(matches!(
                inspect_ssh1(&bad),
                Err(ParseError::Invalid { .. })
            ));
        }
        let mut zero = Vec::new();
        zero.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 8]);
        zero.extend_from_slice(&[0, 8, 0, 0, 8, 1, 0, 0, 0, 0, 1, 2, 1, 2]);
        assert!(inspect_ssh1(&zero).is_err());
        let mut odd_blocks = ssh1_rest(SSH1_RSA1024_3DES);
        odd_blocks.pop();
        assert!(inspect_ssh1(&odd_blocks).is_err());
    }

    #[test]
    fn ssh1_every_prefix_is_an_error_never_a_panic() {
        for (text, comment) in [
            (SSH1_RSA1031, &b"ssh1-rsa1031"[..]),
            (SSH1_RSA1024_3DES, &b"ssh1-rsa1024-enc"[..]),
        ] {
            let rest = ssh1_rest(text);
            let public_end = rest
                .windows(comment.len())
                .position(|w| w == comment)
                .expect("comment")
                + comment.len();
            let encrypted = rest.first() != Some(&0);
            for n in 0..rest.len() {
                let result = inspect_ssh1(rest.get(..n).expect("prefix"));
                // An encrypted private part is opaque: cut at a block boundary it still
                // reads, as the file's own tools would only notice on decrypting.
                let opaque_cut = encrypted && n > public_end && (n - public_end) % 8 == 0;
                assert_eq!(result.is_ok(), opaque_cut, "prefix of {n}");
            }
        }
    }

    #[test]
    fn ssh1_garbage_is_an_error() {
        for rest in [
            &b""[..],
            &[0xff; 40],
            &[0; 9],
            &[0, 0, 0, 0, 0, 0, 0, 4, 0, 0xff, 0xff],
        ] {
            assert!(inspect_ssh1(rest).is_err(), "{rest:?}");
        }
    }

    #[test]
    fn sshcom_plain_rsa_and_dsa() {
        for (text, algorithm, fingerprint, comment) in [
            (
                SSHCOM_RSA,
                "ssh-rsa",
                "SHA256:bt+LhZcpOor9+xBcLgOC3ceD9jtaCY+ZZPIBfPWAjDE",
                "sshcom-rsa1024",
            ),
            (
                SSHCOM_DSA,
                "ssh-dss",
                "SHA256:OgLsMvZHvgV0lA20DxZCHZENIxieCrQeLNDjYM5Rnv0",
                "ppk3-dsa",
            ),
        ] {
            let f = inspect_sshcom(&armor_of(text)).expect("inspects");
            assert_eq!((f.kind, f.format), (Kind::Private, Format::Sshcom));
            assert_eq!(f.algorithm.as_deref(), Some(algorithm));
            assert_eq!(f.bits, Some(1024));
            assert_eq!(f.fingerprint.as_deref(), Some(fingerprint));
            assert_eq!(f.comment.as_deref(), Some(comment));
            assert!(!f.encrypted);
            assert!(!f.openssh_loads);
        }
    }

    #[test]
    fn sshcom_encrypted_needs_the_public_file() {
        for (text, algorithm, comment) in [
            (SSHCOM_RSA_3DES, "ssh-rsa", "sshcom-rsa1024"),
            (SSHCOM_DSA_3DES, "ssh-dss", "ppk3-dsa"),
        ] {
            let f = inspect_sshcom(&armor_of(text)).expect("inspects");
            assert!(f.encrypted);
            assert_eq!(f.cipher.as_deref(), Some("3des-cbc"));
            assert_eq!((f.kdf.as_deref(), f.kdf_rounds), (Some("md5"), Some(1)));
            assert_eq!(f.algorithm.as_deref(), Some(algorithm));
            assert_eq!((f.bits, f.fingerprint.as_deref()), (None, None));
            assert_eq!(f.comment.as_deref(), Some(comment));
            assert!(f.needs_public_part());
        }
    }

    #[test]
    fn sshcom_every_prefix_is_an_error_never_a_panic() {
        for text in [SSHCOM_RSA, SSHCOM_RSA_3DES, SSHCOM_DSA, SSHCOM_DSA_3DES] {
            let armor = armor_of(text);
            for n in 0..armor.body.len() {
                let cut = armor.with_body(armor.body.get(..n).expect("prefix"));
                assert!(inspect_sshcom(&cut).is_err(), "prefix of {n}");
            }
        }
    }

    #[test]
    fn sshcom_broken_bodies_are_errors() {
        let armor = armor_of(SSHCOM_RSA);
        /// An ssh.com body around a key type, cipher and key data.
        fn body(key_type: &[u8], cipher: &[u8], data: &[u8]) -> Vec<u8> {
            let inner = Writer::new()
                .string(key_type)
                .string(cipher)
                .string(data)
                .finish();
            let total = u32::try_from(inner.len() + 8).expect("small");
            let mut out = SSHCOM_MAGIC.to_be_bytes().to_vec();
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&inner);
            out
        }
        let dsa = b"dl-modp{sign{dsa-nist-sha1},dh{plain}}";
        let predefined = Writer::new().string(&[0, 0, 0, 1, 0, 0, 0, 0]).finish();
        let short_rsa = Writer::new().string(&[0, 0, 0, 17, 1, 0, 1]).finish();
        for bad in [
            body(b"ec-modp{sign{ecdsa}}", b"none", b"xxxx"),
            body(dsa, b"none", &predefined),
            body(dsa, b"none", b""),
            body(b"if-modn{sign{rsa-pkcs1-sha1}}", b"none", &short_rsa),
            body(b"if-modn{sign{rsa-pkcs1-sha1}}", b"3des-cbc", b"1234567"),
            body(b"if-modn{sign{rsa-pkcs1-sha1}}", b"no\x01ne", b"12345678"),
            vec![0x3f, 0x6f, 0xf9, 0xec, 0, 0, 0, 8],
            vec![0xff; 64],
        ] {
            assert!(inspect_sshcom(&armor.with_body(&bad)).is_err());
        }
        let error = inspect_sshcom(&armor.with_body(&body(b"ec-modp{sign{ecdsa}}", b"none", b"x")))
            .expect_err("type");
        assert_eq!(
            error.to_string(),
            "ssh.com key type: \"ec-modp{sign{ecdsa}}\" is not an RSA or DSA key"
        );
    }

    #[test]
    fn dispatch_through_key_inspect() {
        let crate::key::Inspection::Key(f) = crate::key::inspect(&ssh1_bytes(SSH1_RSA1031)) else {
            panic!("not a key");
        };
        assert_eq!(f.format, Format::Ssh1);
        let crate::key::Inspection::Key(f) = crate::key::inspect(SSHCOM_DSA_3DES.as_bytes()) else {
            panic!("not a key");
        };
        assert_eq!((f.format, f.openssh_loads), (Format::Sshcom, false));
    }
}
