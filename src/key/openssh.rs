//! PURE: OpenSSH `openssh-key-v1` private keys (OpenSSH PROTOCOL.key, PROTOCOL.u2f).
//!
//! The armour body is, per PROTOCOL.key §1:
//!
//! ```text
//! byte[]  AUTH_MAGIC "openssh-key-v1\0"
//! string  ciphername          "none", "aes256-ctr", "chacha20-poly1305@openssh.com", ...
//! string  kdfname             "none" or "bcrypt"
//! string  kdfoptions          bcrypt: string salt, uint32 rounds (§2)
//! uint32  number of keys N    OpenSSH reads exactly one
//! string  publickey1          the SSH wire-format public key blob, never encrypted
//! string  encrypted, padded list of private keys (§3)
//! ```
//!
//! PROTOCOL.key leaves one thing out that OpenSSH's reader (`private2_decrypt` in
//! sshkey.c) requires: for AEAD ciphers the 16-byte authentication tag follows the private
//! section, outside its length, and nothing may follow that.
//!
//! Everything keycheck reports about the key itself (algorithm, bits, fingerprint, FIDO
//! application) comes from the public blob through [`blob::describe`], so it is the same
//! whether the private section is encrypted or not, and equals `ssh-keygen -l -E sha256`.
//! Only when the cipher is `none` is the private section read as well: the check integers,
//! that its public part is the envelope's public key, the comment, and the flags byte of
//! FIDO keys (PROTOCOL.u2f).
//!
//! # Why the envelope is parsed here and not by `ssh-key`
//!
//! `ssh_key::PrivateKey::from_bytes` (0.6.7) reads every file OpenSSH 9.2 writes, but it
//! does not fit a checker that must describe what it finds rather than load it:
//!
//! - a cipher or KDF name it does not know is an error, while keycheck must report the
//!   cipher exactly as written even when OpenSSH itself would refuse the file;
//! - an algorithm it does not know is accepted only when the name has an `@domain` part,
//!   and its private half is assumed to be one opaque string copied into a plain `Vec`
//!   that is never wiped;
//! - decoding an unencrypted key copies the private scalars out of the caller's
//!   [`Zeroizing`](zeroize::Zeroizing) buffer into its own types.
//!
//! So the envelope and the cleartext private section are walked with [`blob::Reader`],
//! whose reads borrow from the armour's zeroizing body and copy nothing secret. `ssh-key`
//! still supplies what it knows best: [`ssh_key::Cipher`] says each known cipher's block
//! size and whether an AEAD tag follows the private section, and the unit tests check
//! every generated key against `ssh_key::PrivateKey` as an independent reader.

use ssh_key::Cipher;

use super::armor::Armor;
use super::blob::{self, Reader};
use super::{Format, KeyFacts, Kind, ParseError, SkFacts};

/// `AUTH_MAGIC` (PROTOCOL.key §1), NUL included.
const MAGIC: &[u8] = b"openssh-key-v1\0";

/// Length of the authentication tag that follows the private section when the cipher is
/// an AEAD (`chacha20-poly1305@openssh.com`, `aes*-gcm@openssh.com`): OpenSSH's
/// `cipher_authlen`, read after the section by `private2_decrypt`.
const AEAD_TAG_LEN: usize = 16;

/// Facts of an `OPENSSH PRIVATE KEY` block.
///
/// # Errors
/// [`ParseError`] when the body is not an `openssh-key-v1` key OpenSSH could read: wrong
/// magic, a truncated field, more or fewer than one key, a private section whose length
/// does not fit its cipher, trailing bytes, a cipher without a KDF (or the reverse), and,
/// for unencrypted keys, differing check integers, a private key whose public part is not
/// the envelope's public key, or padding that is not `1, 2, 3, ...`.
pub(super) fn inspect(armor: &Armor) -> Result<KeyFacts, ParseError> {
    let envelope = Envelope::parse(&armor.body)?;
    let public = blob::describe(envelope.public)?;
    let algorithm = public.algorithm.clone();
    let mut facts = KeyFacts::new(Kind::Private, Format::Openssh);
    facts.set_public(public);

    match Cipher::new(&envelope.cipher) {
        Ok(cipher) => envelope.check_lengths(cipher)?,
        // OpenSSH refuses a cipher it does not know (SSH_ERR_KEY_UNKNOWN_CIPHER), and then
        // keycheck cannot know the block size or whether a tag follows either.
        Err(_) => facts.openssh_loads = false,
    }

    if envelope.cipher == "none" {
        if envelope.kdf != "none" {
            return Err(ParseError::Invalid {
                context: "kdf name",
                detail: format!("kdf {} without a cipher", envelope.kdf),
            });
        }
        let private = read_private_section(envelope.private, envelope.public, &algorithm)?;
        facts.comment = private.comment;
        if let (Some(sk), Some(flags)) = (facts.sk.as_mut(), private.sk_flags) {
            *sk = SkFacts::new(std::mem::take(&mut sk.application), Some(flags));
        }
        return Ok(facts);
    }

    facts.encrypted = true;
    facts.cipher = Some(envelope.cipher.clone());
    match envelope.kdf.as_str() {
        "bcrypt" => facts.kdf_rounds = Some(bcrypt_rounds(envelope.kdf_options)?),
        // A cipher needs a key, and only a KDF makes one from a passphrase (PROTOCOL.key
        // §4, §5); OpenSSH rejects this combination as SSH_ERR_INVALID_FORMAT.
        "none" => {
            return Err(ParseError::Invalid {
                context: "kdf name",
                detail: format!("cipher {} without a kdf", envelope.cipher),
            })
        }
        // Reported as written; OpenSSH knows only bcrypt and refuses the file.
        _ => facts.openssh_loads = false,
    }
    facts.kdf = Some(envelope.kdf.clone());
    Ok(facts)
}

/// The cleartext envelope of PROTOCOL.key §1, borrowing from the decoded armour body.
///
/// Deliberately not `Debug`: `private` may be an unencrypted private key.
pub(super) struct Envelope<'a> {
    /// `ciphername`, exactly as written.
    pub(super) cipher: String,
    /// `kdfname`, exactly as written.
    pub(super) kdf: String,
    /// `kdfoptions`, still encoded.
    pub(super) kdf_options: &'a [u8],
    /// The public key blob of the one key.
    pub(super) public: &'a [u8],
    /// The private section: ciphertext, or the cleartext of §3 when the cipher is `none`.
    pub(super) private: &'a [u8],
    /// What follows the private section: the AEAD tag, if any.
    pub(super) after: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Splits `body` into its fields.
    pub(super) fn parse(body: &'a [u8]) -> Result<Self, ParseError> {
        let rest = body
            .strip_prefix(MAGIC)
            .ok_or_else(|| ParseError::Invalid {
                context: "openssh private key",
                detail: "no openssh-key-v1 magic at the start".to_owned(),
            })?;
        let mut r = Reader::new(rest);
        let cipher = r.name("cipher name")?;
        let kdf = r.name("kdf name")?;
        let kdf_options = r.string("kdf options")?;
        let keys = r.u32("number of keys")?;
        if keys != 1 {
            // PROTOCOL.key allows N keys, but OpenSSH only ever writes and reads one.
            return Err(ParseError::Invalid {
                context: "number of keys",
                detail: format!("{keys} keys in one file; OpenSSH reads files with exactly one"),
            });
        }
        let public = r.string("public key")?;
        let private = r.string("private section")?;
        Ok(Envelope {
            cipher,
            kdf,
            kdf_options,
            public,
            private,
            after: r.rest(),
        })
    }

    /// Applies OpenSSH's length checks for a known cipher (`private2_decrypt` in
    /// sshkey.c): the private section is a whole number of cipher blocks, at least one,
    /// and exactly the AEAD tag (or nothing) follows it.
    fn check_lengths(&self, cipher: Cipher) -> Result<(), ParseError> {
        let block = cipher.block_size();
        let len = self.private.len();
        if len < block || len.checked_rem(block) != Some(0) {
            return Err(ParseError::Invalid {
                context: "private section",
                detail: format!(
                    "{len} bytes, not a whole number of {block}-byte blocks of {}",
                    cipher.as_str()
                ),
            });
        }
        let tag = if cipher.has_tag() { AEAD_TAG_LEN } else { 0 };
        match self.after.len().checked_sub(tag) {
            None => Err(ParseError::Truncated {
                context: "authentication tag",
            }),
            Some(0) => Ok(()),
            Some(extra) => Err(ParseError::Invalid {
                context: "openssh private key",
                detail: format!("{extra} bytes of trailing data after the private section"),
            }),
        }
    }
}

/// The bcrypt `rounds` from `kdfoptions` (PROTOCOL.key §2: string salt, uint32 rounds).
fn bcrypt_rounds(options: &[u8]) -> Result<u32, ParseError> {
    let mut r = Reader::new(options);
    r.string("bcrypt salt")?;
    r.u32("bcrypt rounds")
}

/// What the cleartext private section tells beyond the public blob.
struct PrivateSection {
    /// The key's comment, `None` when empty.
    comment: Option<String>,
    /// The FIDO flags byte of `sk-` keys (PROTOCOL.u2f).
    sk_flags: Option<u8>,
}

/// Reads an unencrypted private section (PROTOCOL.key §3):
///
/// ```text
/// uint32  checkint
/// uint32  checkint
/// string  keytype, then the algorithm's private key fields
/// string  comment
/// byte    1, 2, 3, ... padding to the block size
/// ```
///
/// For an algorithm keycheck does not know, the field boundaries are unknown, so only the
/// check integers and the key type are verified and the comment stays unread.
fn read_private_section(
    section: &[u8],
    public: &[u8],
    algorithm: &str,
) -> Result<PrivateSection, ParseError> {
    let mut r = Reader::new(section);
    let check1 = r.u32("check integers")?;
    let check2 = r.u32("check integers")?;
    if check1 != check2 {
        // Equal after a right decryption; with cipher "none" a mismatch is damage.
        return Err(ParseError::Invalid {
            context: "check integers",
            detail: "the two check integers differ: the file is corrupted".to_owned(),
        });
    }
    let key_type = r.name("private key type")?;
    if key_type != algorithm {
        return Err(ParseError::Invalid {
            context: "private key type",
            detail: format!("the private key is {key_type} but the public key is {algorithm}"),
        });
    }
    let Some(key) = read_private_key(&mut r, algorithm)? else {
        return Ok(PrivateSection {
            comment: None,
            sk_flags: None,
        });
    };
    // OpenSSH checks the same (`sshkey_equal(pubkey, k)` in sshkey_parse_private2).
    if !key.matches(public) {
        return Err(ParseError::Invalid {
            context: "private key",
            detail: "its public part is not the file's public key".to_owned(),
        });
    }
    let comment = r.text("comment")?;
    check_padding(r.rest())?;
    Ok(PrivateSection {
        comment: (!comment.is_empty()).then_some(comment),
        sk_flags: key.sk_flags,
    })
}

/// One public field of a key, as the private serialisation holds it.
enum PublicField<'a> {
    /// An `mpint`: equal to another of the same magnitude, as OpenSSH compares numbers.
    Mpint(&'a [u8]),
    /// A `string`: equal only byte for byte.
    Bytes(&'a [u8]),
}

/// The public part of a private key and what else keycheck reports from it.
struct PrivateKeyFields<'a> {
    /// The public fields in the order of the public key blob (RFC 4253 §6.6,
    /// RFC 5656 §3.1, RFC 8709 §4, PROTOCOL.u2f); borrowed, public data only.
    public: Vec<PublicField<'a>>,
    /// The FIDO flags byte of `sk-` keys.
    sk_flags: Option<u8>,
}

impl PrivateKeyFields<'_> {
    /// Returns true if and only if `blob` (whose algorithm is already known to be this
    /// key's) holds these public fields.
    fn matches(&self, blob: &[u8]) -> bool {
        let mut r = Reader::new(blob);
        if r.string("public key algorithm").is_err() {
            return false;
        }
        self.public
            .iter()
            .all(|field| match (field, r.string("public key field")) {
                (PublicField::Mpint(mine), Ok(theirs)) => magnitude(mine) == magnitude(theirs),
                (PublicField::Bytes(mine), Ok(theirs)) => *mine == theirs,
                (_, Err(_)) => false,
            })
    }
}

/// A big-endian integer without its leading zero bytes.
fn magnitude(be: &[u8]) -> &[u8] {
    let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(first..).unwrap_or_default()
}

/// Reads one private key's fields after its key type, as `sshkey_private_serialize`
/// writes them (PROTOCOL.key §3: "the same rules as used for SSH agent"), and returns its
/// public fields. `None` for an algorithm whose layout keycheck does not know. The secret
/// fields are skipped, never copied.
fn read_private_key<'a>(
    reader: &mut Reader<'a>,
    algorithm: &str,
) -> Result<Option<PrivateKeyFields<'a>>, ParseError> {
    use PublicField::{Bytes, Mpint};
    let (public, sk_flags) = match algorithm {
        // The public blob holds e, n; the private key n, e, d, iqmp, p, q.
        "ssh-rsa" => {
            let n = reader.mpint("rsa modulus")?;
            let e = reader.mpint("rsa public exponent")?;
            for context in ["rsa d", "rsa iqmp", "rsa p", "rsa q"] {
                reader.mpint(context)?;
            }
            (vec![Mpint(e), Mpint(n)], None)
        }
        "ssh-dss" => {
            let mut public = Vec::with_capacity(4);
            for context in ["dsa p", "dsa q", "dsa g", "dsa y"] {
                public.push(Mpint(reader.mpint(context)?));
            }
            reader.mpint("dsa x")?;
            (public, None)
        }
        // RFC 8709 keys: 32-byte public key, then the 64-byte seed || public key.
        "ssh-ed25519" => {
            let pk = reader.string("ed25519 public key")?;
            let sk = reader.string("ed25519 private key")?;
            check_ed25519_lengths(pk, sk)?;
            (vec![Bytes(pk)], None)
        }
        a if a.starts_with("ecdsa-sha2-") => {
            let curve = reader.string("ecdsa curve")?;
            let point = reader.string("ecdsa point")?;
            reader.mpint("ecdsa private scalar")?;
            (vec![Bytes(curve), Bytes(point)], None)
        }
        // PROTOCOL.u2f: the public fields, then uint8 flags, string key_handle,
        // string reserved. The secret lives on the token; the handle only names it.
        "sk-ssh-ed25519@openssh.com" => {
            let pk = reader.string("ed25519 public key")?;
            let application = reader.string("sk application")?;
            let flags = read_sk_tail(reader)?;
            (vec![Bytes(pk), Bytes(application)], Some(flags))
        }
        "sk-ecdsa-sha2-nistp256@openssh.com" => {
            let curve = reader.string("ecdsa curve")?;
            let point = reader.string("ecdsa point")?;
            let application = reader.string("sk application")?;
            let flags = read_sk_tail(reader)?;
            (
                vec![Bytes(curve), Bytes(point), Bytes(application)],
                Some(flags),
            )
        }
        _ => return Ok(None),
    };
    Ok(Some(PrivateKeyFields { public, sk_flags }))
}

/// OpenSSH's own size check of Ed25519 keys (`ED25519_PK_SZ`, `ED25519_SK_SZ`).
fn check_ed25519_lengths(pk: &[u8], sk: &[u8]) -> Result<(), ParseError> {
    if pk.len() != 32 || sk.len() != 64 {
        return Err(ParseError::Invalid {
            context: "ed25519 private key",
            detail: format!(
                "{}-byte public and {}-byte private key, expected 32 and 64",
                pk.len(),
                sk.len()
            ),
        });
    }
    Ok(())
}

/// Reads the private tail of a FIDO key (PROTOCOL.u2f) and returns its flags byte.
fn read_sk_tail(r: &mut Reader<'_>) -> Result<u8, ParseError> {
    let flags = r.u8("sk flags")?;
    r.string("sk key handle")?;
    r.string("sk reserved")?;
    Ok(flags)
}

/// Checks the deterministic padding `1, 2, 3, ...` after the comment (PROTOCOL.key §3;
/// OpenSSH's `private2_check_padding` counts modulo 256 and rejects anything else).
fn check_padding(padding: &[u8]) -> Result<(), ParseError> {
    let mut expected: u8 = 0;
    for &byte in padding {
        expected = expected.wrapping_add(1);
        if byte != expected {
            return Err(ParseError::Invalid {
                context: "private section padding",
                detail: "not the 1, 2, 3, ... sequence OpenSSH writes".to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    //! Keys generated once with OpenSSH 9.2 `ssh-keygen` (throwaway passphrase
    //! `keycheck-test`). The `sk-` and unknown-algorithm keys were built by hand following
    //! PROTOCOL.key and PROTOCOL.u2f around public keys `ssh-keygen` made; `ssh-keygen -l`
    //! reads all four `sk-` files without a token and `ssh-keygen -y` loads the two
    //! unencrypted ones. Expected bits and fingerprints are copied from
    //! `ssh-keygen -l -E sha256 -f`, except the unknown key's (OpenSSH 9.2 cannot read it),
    //! which is the SHA-256 of its public blob computed separately.

    use zeroize::Zeroizing;

    use super::*;
    use crate::key::armor;
    use crate::key::blob::Writer;

    /// `ssh-keygen -t ed25519 -N '' -C alice@example.com`.
    const ED25519: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACAOAgYeG5zwaI9ijmQl1ME0rfzo0oPOCFltgK41hvAYZQAAAJgQHnx4EB58
eAAAAAtzc2gtZWQyNTUxOQAAACAOAgYeG5zwaI9ijmQl1ME0rfzo0oPOCFltgK41hvAYZQ
AAAED2Cjdj2HXLcqbEXV9eI1TL65l7l5vzZfzK/bWPop9gWw4CBh4bnPBoj2KOZCXUwTSt
/OjSg84IWW2ArjWG8BhlAAAAEWFsaWNlQGV4YW1wbGUuY29tAQIDBA==
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 3071 -N keycheck-test -C rsa3071` (default aes256-ctr, bcrypt 16).
    const RSA_3071: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABBdycptQi
7AyAoi30NTNxeBAAAAEAAAAAEAAAGWAAAAB3NzaC1yc2EAAAADAQABAAABgCrfbke398tW
Wh1yiozmC2XdB3H1yZT8/codUK/EobTxgpYLHzJRzNhqFgCXrFuSJsS8iuJDjf9Ic2ZRR7
yl+CfRn6oqIlg3TOYoTT/wJQQ9jxK9NXrV1JkMJ9BdQrKf1Yj907zfV2jckasPOtExQUZB
WjL2yKubEfUsPpy4M/erM8VdHyfm8whiJDESCvZ6ixdceYkbOVL0dqZ7dw2HKuXIfB5JKI
50hiZo+hTCw32dzBDy7FxTQG8B2B2XIkKOx7YZVpPAvDCmvf469bLxb1NPzP5Lm7aBzPyj
9klV8mq1liPUJ+Mro6ar11VE4NQ9NKR0uaiFvnIMw4HW0HGQkHtHJGpVnKc4+3MEf9hkez
h5sg6aYkvc6aQhY579K2Hei16sDSmifVb3QpeZXslSD/Q4txPnuxLgvBsl5gIbb5bbR39j
MYCN43RY2BnWM8GRFhlEun+wxdl74JMxH7reyz9EmEWYESzLdWKp41tUllQlS8s4bitRR+
uaFIgx9puSCQAABYAUYbRttXAFlovtWHFDEsddByd5qwVBBkyZXoBJ/qcwMSIc1CW2J1nc
UO0plaKNuY1NantbshBolh3Qb+LhYgnQMm+n5O5sbXKYEACA6P1hGhMsfS9PBzfBbSH1Bf
ilNuZk55MDg4TzrjRhRkWSauDLX7I426SRtVeRPsNP4hZanhyjPYp2/LKclHhfbvMmyDmP
6/YccjiHn10HgJq5+vTDQXZXkR+2HvXl1Wi9+ue+NxGLrFzFGmOETXodXytbchu5qnQKLG
y/dxqC9PWTAxMd/7TcSsY+2lten/ps2ua5+to86r4nLEZhY/Ge6SzPv45w3yo6FNCXi6dM
Z3trHv8EgyYhBNU3RSlS/44/lvmrvv13DSJJcofbaLPVl6eO0KFBBZ9jUZ7DFZvSC9UC0x
GfBkGiUg7CaghkGcJYIenVR0O/B8GnejZ8uH7xWqQeDkY0ADmZhwFHajj9n0eZX3beuNDh
DR9Hj/+kA4yj3SuXE1ZWNDaKbacpeaqkXifL8dg7LcZVcBHOJ7ImAhBevlsWzVDA2vqPuQ
lOAMr2ito6FjUAV5cCEZSQUS+lDyAD2B3QJt/LBefvOlpK3gOm3AYs5wQ6wpyC3HnmTPfd
wtgo57r+6r06z/0XLimPPR3drtoHKg/tYKMRRf1sLHfGeEJA7yOEz6JJGlCYvzHlBn+Lrc
Z39dB4QiMrDF9B2ke8CmmmUJwg8clHEzo6dYNS9E8CU5fjvvpVUR4ThLD6Y6Q6aTZXUdCh
OKj3/AXPluRTtq2M/1b//lkKJWaTDBLnnLkWZfgPc8iaV5VqfkQ0D95/ctDZ6giXl/eUP+
YRBg7tDOngOpwoAQV5CKVd7K6ZLpG9nVZ0Hg02NetFzsfW3unVHOomeImWX+d7cIaS6e8J
MiI+fdmgeIjGKSmL4Y0+K99nz28azAPCtilv+5bSP3cVwpPilgjc3UUHVqixTB2uUPsBfC
mqeFMnT3q+jHdKV3YLETn/WM+lMQXaLx2a6PVUjGDFobLvOsr/OeFxo35GK3CZ3X0ylUsp
yN3KqELMiOugGRxKwC0c7kfGhAf5/w4ccWYc0IeKBGKtHK4QUq9JgM2udn/uJX3Vr5vrft
kt+23Daf7zoz8l9ypiXgu1ZL0mrSPMELXwgoGD+H4fJc2gjaJDI8prAqoLYdNxuJ5u3FBo
GgU2m5A/9pn2LMykJWEPPmcCEubpxFpOpJeBsEkr3LdZwR7mctS+njKAgk+h0rotDtfFgY
XNycQXgmmcVoW8VcApLlf+neRAlVIxEbES+DthjPSbIulQ3WIKg1WplEvIV9549e2wj8Q5
dMm/vTbI/YYbuKU0OqlC0bOwn7JNZsbbXhIw4KYmfWDzuIskeCxHsN3QJYioI/xfLjY9EP
mI4riHjhLbmeSLO+HfwPt+sh3h3kSOaOsL36bYYwMbfSKtvZa5TxdFIPkcXczp0z6/a5it
6ZbLEB8SZiUt05LBn9asBVK1sBLZ1D0r4aqzhxMJx5oCXSYMbw2/a6qTKl0rPjc4JqmB2T
E4uQQb5b8im78b2WJoofWaTKnxCXL/ddiBhrzuqU9kZwBXkeow75B5R0dCGzTQ6HJZXEns
h27LpsJtiAIcWggUHli2tx2tYxHrsFcVIefrI0WPH3+DHRyGpzQCGyGOSj1RiKX5N2RrNp
m2nLmULyrXCgvWTzQnOHqQ6nP/QX/+OcCRd42VCtlfnyntJ1S+0RNfl6yoWgMZWmOMtv1Y
WrzURJz129S99ANB6fzDudoyngiscy4jsS5xowpD59HbQ1IqGRJ2wYFgWqtxAJ3f2HhNt0
uVBLqGdBpuOIGGlBpB7nmXDcmc81TDiHX4M4W4KGBKj6D9eahlhDszxVOzAgtmpEJNTuPR
qpV9
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 1024 -Z chacha20-poly1305@openssh.com -a 32 -C 'rsa chacha'`.
    const RSA_CHACHA: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAAHWNoYWNoYTIwLXBvbHkxMzA1QG9wZW5zc2guY29tAAAABm
JjcnlwdAAAABgAAAAQotkI7cWExULK51e9k87d4gAAACAAAAABAAAAlwAAAAdzc2gtcnNh
AAAAAwEAAQAAAIEAt1q5zgeret3qsd4dsHfMyc0vmuDvfJGY3Ga5vGatmdO2rjHsfGZYma
OshAidxeH7ehAJvdx0N3h6Wbvugtb67E+hXwWukFeU5MeO9QVAKZCkoGjGlx5o18xOq3xL
Dr8HTVMWXYFQgat513ah78CQIEvViNzfKW1CsT60k2PCo1UAAAIAHmhaRVgJTY9186uMWb
utV+rJapjOwvAYzA0OTVmpM/t5NNtYsbKwq5f4nQkglxOi92HWe/6ibCCNhLahxFA6uWMF
tJCIWwdPWxKh++rEb/inMhQGGXQQtpQSkNHPgLPyVRNEBRmS2xbcam0Roo/1b/f+xSn2qL
DlCDgDexeUPIVcArALqoz3OhaOsU2TymVb0799E//bwVAF1EVZyQxrq3meKHCN3PiPQLVU
hDGkNaJUTZAD8CXozfbYdTwTc16j6nM+Exf6qcRK6EWWjsSbPzd1Kc+1MOHj/r4osmxZAF
m0VDv4jxuUUDWGj/fhQSXdLTYLCo97K+jRkTux0WgqBu+o/MymovDgx9C2TxlHmmxHwvqT
zdFaKFDwpPDOTbDethq8pY18dceVWFeoIR5Pk/DjVAfy/BYEhYG0wamZrRQiRhv3MSCwwo
D32CHncnx1wZTzrLPePI2Smcc7UM1s5v84IragaM9XyD3bNM0A+zYhKwyTSodr5w0IECbb
oFCn4nbslVihQv04xMaRTuep6ZpOwTa9uQX3aALn1bY31xPk+/0scefc+DCLG2Z3GGK2a0
b91T8Cr/mIme0jL8Hs4dp7ehysd6hiN50TFIfBuCrMiloIeo+vQUiarKQXnuiDtfmd72im
pqmU2a7cLL0EMy81+v2eLFASYzJxJ/cmPfag8n2j+oL9//KHthxc4viC
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t ed25519 -Z aes256-gcm@openssh.com -a 32 -C gcm`.
    pub(crate) const ED25519_GCM: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAAFmFlczI1Ni1nY21Ab3BlbnNzaC5jb20AAAAGYmNyeXB0AA
AAGAAAABCkUA0g3qrxEPNwAnvtJs4gAAAAIAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAA
IJ/0B95DlLi4o6sxDFufLSWcDsCawAqGLtE6rdViYEuUAAAAkH+dWNBz26vaeVlEU5PRFF
wrobezWRwrVMDvNRT6JMzOWv3Kf4lOFtQ6JjzgwpdMXISW0666pW0PaL/izkEIAqDF1y/s
WQGkPtc4XpO/miVxXK/J7wvc2Iu1g9FqX+13KhMILFBiSHE6sXpiIg+VwL/XVjF/aifw85
yxXvE/p3WmHFOLmjeIRQTpRBYXN5ncTpGqmP7wTeyu06qPGycjpsM=
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t ed25519 -Z chacha20-poly1305@openssh.com -a 32 -C chacha`.
    pub(crate) const ED25519_CHACHA: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAAHWNoYWNoYTIwLXBvbHkxMzA1QG9wZW5zc2guY29tAAAABm
JjcnlwdAAAABgAAAAQQ0QR/qoKUdLuiCLYHAMLZwAAACAAAAABAAAAMwAAAAtzc2gtZWQy
NTUxOQAAACC1j34MTX/5Hkle4l+J685UyNvKI3UDzjMUpOyPx0uD7QAAAJCIe4098ZM+cX
KxwLbBwfdyZVniW/ONzI/6ixi1ft7fFGEFAAYeW1pDde/6unrqBz/KQjC/Qkrfuf0iEzXm
pNLa4nc1sYZtCtFAqPh7bi/vJd+YYJjb1+VDFRg0ZUK6XiDvpApkv+LSrxkfMlDpd6fXAw
RqhUQnejv4etVxUOLrhtmCdUmMqGrAg5fEuTUYx5kSvmKqdf2sxxT5WBTk8PFr
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 384 -N '' -C ecdsa384`.
    const ECDSA_384: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAiAAAABNlY2RzYS
1zaGEyLW5pc3RwMzg0AAAACG5pc3RwMzg0AAAAYQQdTxwqrn8ayDUnEPJRH3t5oGokO0yE
Kk/akqU0S0XUnUnlzXBWtBEVQNeOuQdttAxZDhhRUtYFK0TKM6hW+nYbUTW5jbmXjPcyBo
qnkD85uUbriu9iKQOrVttNmpw9pMgAAADYRrhFUUa4RVEAAAATZWNkc2Etc2hhMi1uaXN0
cDM4NAAAAAhuaXN0cDM4NAAAAGEEHU8cKq5/Gsg1JxDyUR97eaBqJDtMhCpP2pKlNEtF1J
1J5c1wVrQRFUDXjrkHbbQMWQ4YUVLWBStEyjOoVvp2G1E1uY25l4z3MgaKp5A/OblG64rv
YikDq1bbTZqcPaTIAAAAMQDoQdh4Lh6/756a5LB2tsrChZ6WcGqSq2sDJdXIYH/+oI60PI
VMwulVT3c0+4BY83oAAAAIZWNkc2EzODQBAgMEBQYH
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t ecdsa -b 256 -N keycheck-test -Z aes128-cbc -C 'p256 cbc'`.
    pub(crate) const ECDSA_CBC: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczEyOC1jYmMAAAAGYmNyeXB0AAAAGAAAABDZUs70/X
ZSsoXO61gG9JqXAAAAEAAAAAEAAABoAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlz
dHAyNTYAAABBBJ8f6jPumADs61jl0lbwtW4+PdLm7AFBHcYajpkpuMRm6z1QS7LGlMl/Vh
1kjGCj7rbc5A1C5IN9fd4TIKOeEIQAAACwyMcIE3845B5vOmuT3dJSF2tuWI7tLphoB7rH
9JqSRpNZU32FeKL8G79Ffloz5wn/e2dHf+Wj7L/hFTmU6DMU28XwpK+tpHkVAm7f6lcj3i
m6Df4UI9lV4qJywHwihp7YzxT9yVaIGM5yUs93pcwZs7RRLud/iKKUg0x7Z7h0o5i5qM2L
YoCUfmFv1y6iL2i7INCgoHrZaSc/IDgpWHoLjmbFZOCcBaJW+sFAJeklsc8=
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t rsa -b 1024 -N '' -C rsa1024` (unencrypted: the RSA private fields are read).
    const RSA_1024: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn
NhAAAAAwEAAQAAAIEAsoYcRJ7cruGHamgwKu53qsG1ZvO8AByViCe6j5Fg5uh3SEwMTGZE
6/wn72h9y8/uP2d8rPpge4MOiSQEA/Hsf8gGOQ1xuXnKOPwt0BBQJrr04RRjvEoDyw+miP
ILH6Iu387t6bRzHtxWGwEh/Q6XIXsN/UmAf+R4HjbtMy+iHHEAAAIAw/BEx8PwRMcAAAAH
c3NoLXJzYQAAAIEAsoYcRJ7cruGHamgwKu53qsG1ZvO8AByViCe6j5Fg5uh3SEwMTGZE6/
wn72h9y8/uP2d8rPpge4MOiSQEA/Hsf8gGOQ1xuXnKOPwt0BBQJrr04RRjvEoDyw+miPIL
H6Iu387t6bRzHtxWGwEh/Q6XIXsN/UmAf+R4HjbtMy+iHHEAAAADAQABAAAAgDC1+xyWJC
zriKF2ED6GlsxW0oJm2tNE+WAPRw5JYqFeqL1nUqu98+xX/yWJ41krQRy3xgMExjKtTdgJ
pbbV2euGi4EbYjhhKmFcbzY2lBJLA0mjx2Otb05uBq3i4JuviWig2y/yLftmW9UmKLyvRW
jJ+BKj4wwbzGRxxP+SDQgBAAAAQGwaEe8QO49on5izTnoLpGltOb5QvGBdZXDsU01Sfjgf
Y+JQF4jEPcLyspyQnmL3WE0SUPWeidqZ4JtKyVorzDEAAABBAOyOY95K/diPk7N2tFU3jA
/Jma6wM0AEpdyTn6su15U6daxl1vubewZj+Cqq7Ld9fC2QoYp0G7zrAz4Xed90VLEAAABB
AMEymu8GYcp6JOobQRlKsqzr72yO7C4scXwvOsyCHFsa1ikBSkcH1Xqey4KEbEcmlipJ1y
bCLUErd12Zbxy/M8EAAAAHcnNhMTAyNAECAwQ=
-----END OPENSSH PRIVATE KEY-----
";

    /// `ssh-keygen -t dsa -N '' -C dsa` (unencrypted).
    const DSA: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAABsQAAAAdzc2gtZH
NzAAAAgQD3YxK59fae8P9+XkHu/u4Hj/gb3pD4iuMcvgc7/OLNFU0k8MCjm8A6uxp8Dxv2
VZ9kx4EuvWr+CUPGU1TFHuZGy9U50O9IRdRjCwOIs3u+l5WcqjNlIoDL/f86QbLBxSftyu
igQjHxcKFjxYWTravOSIWRiJFmy0VCC6J8is4WMwAAABUAp0Ky9/vveq8KNgY3n/fzshdJ
o5cAAACAJd+utB5hU3u9fDdfuQ5c/5tOTA7WK+BW4UodmE2rFFJhQAr2ZNDHZKkLNiO/4o
yALpx3CTS0f2myvUBlH8OvoJYI42mRHDq1uMQUxHAs7GpQF+iJQxviIIExCDD/WXDJaCZN
p2mcAiTcx8EFrv7fEpPXESFgJd2Oiqi6BhHj9aEAAACAZCAfrz1uUXHXUSmgUWDSUsc2mr
k8W/MK50VRbyt3FxlRPw+ckff7m90RPpiqyppqfmi0S8X28kQxfipfMM2nDu0mUngjJaq/
ctrlKVLa/MJQ1+GzkSvVbd4wvSYLVk0YcZL+8Y92wsK5S1puA1BE2crszzVhA8fXKZdN8a
6bjb4AAAHYMMvDRzDLw0cAAAAHc3NoLWRzcwAAAIEA92MSufX2nvD/fl5B7v7uB4/4G96Q
+IrjHL4HO/zizRVNJPDAo5vAOrsafA8b9lWfZMeBLr1q/glDxlNUxR7mRsvVOdDvSEXUYw
sDiLN7vpeVnKozZSKAy/3/OkGywcUn7crooEIx8XChY8WFk62rzkiFkYiRZstFQguifIrO
FjMAAAAVAKdCsvf773qvCjYGN5/387IXSaOXAAAAgCXfrrQeYVN7vXw3X7kOXP+bTkwO1i
vgVuFKHZhNqxRSYUAK9mTQx2SpCzYjv+KMgC6cdwk0tH9psr1AZR/Dr6CWCONpkRw6tbjE
FMRwLOxqUBfoiUMb4iCBMQgw/1lwyWgmTadpnAIk3MfBBa7+3xKT1xEhYCXdjoqougYR4/
WhAAAAgGQgH689blFx11EpoFFg0lLHNpq5PFvzCudFUW8rdxcZUT8PnJH3+5vdET6Yqsqa
an5otEvF9vJEMX4qXzDNpw7tJlJ4IyWqv3La5SlS2vzCUNfhs5Er1W3eML0mC1ZNGHGS/v
GPdsLCuUtabgNQRNnK7M81YQPH1ymXTfGum42+AAAAFBudfDrcA5781OiD1Bm7gmavtg7U
AAAAA2RzYQ==
-----END OPENSSH PRIVATE KEY-----
";

    /// Hand-built sk-ssh-ed25519 key, unencrypted, flags 0x21, application `ssh:`.
    const SK_ED25519: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAASgAAABpzay1zc2
gtZWQyNTUxOUBvcGVuc3NoLmNvbQAAACDNg2xAVSIxBqxaJ5hz2vG1DRFeokA43pjvfZ/X
kIi9uwAAAARzc2g6AAAAkBI0VngSNFZ4AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY2
9tAAAAIM2DbEBVIjEGrFonmHPa8bUNEV6iQDjemO99n9eQiL27AAAABHNzaDohAAAAIKqq
qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqAAAAAAAAABFzay1lZEBleGFtcGxlLm
NvbQ==
-----END OPENSSH PRIVATE KEY-----
";

    /// Hand-built sk-ssh-ed25519 key in an aes256-ctr/bcrypt envelope (filler ciphertext).
    const SK_ED25519_ENC: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCRsqiBxC
GfVVoa8laHZXSJAAAAEAAAAAEAAABKAAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t
AAAAIM2DbEBVIjEGrFonmHPa8bUNEV6iQDjemO99n9eQiL27AAAABHNzaDoAAACACzBVep
/E6Q4zWH2ix+wRNluApcrvFDleg6jN8hc8YYar0PUaP2SJrtP4HUJnjLHW+yBFao+02f4j
SG2St9wBJktwlbrfBClOc5i94gcsUXabwOUKL1R5nsPoDTJXfKHG6xA1Wn+kye4TOF2Cp8
zxFjtgharP9Bk+Y4it0vccQWY=
-----END OPENSSH PRIVATE KEY-----
";

    /// Hand-built sk-ecdsa-sha2-nistp256 key, unencrypted, flags 0x05, application `ssh:keycheck`.
    const SK_ECDSA: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAhwAAACJzay1lY2
RzYS1zaGEyLW5pc3RwMjU2QG9wZW5zc2guY29tAAAACG5pc3RwMjU2AAAAQQSt9vlNCCte
2zXFBsjqI165GQRNPWs3TvL9ayuPuFqBqXJnQgIdmBc0hDWswnTjtBU76/Sf8ohEMjEFlI
YX1w1cAAAADHNzaDprZXljaGVjawAAAOASNFZ4EjRWeAAAACJzay1lY2RzYS1zaGEyLW5p
c3RwMjU2QG9wZW5zc2guY29tAAAACG5pc3RwMjU2AAAAQQSt9vlNCCte2zXFBsjqI165GQ
RNPWs3TvL9ayuPuFqBqXJnQgIdmBc0hDWswnTjtBU76/Sf8ohEMjEFlIYX1w1cAAAADHNz
aDprZXljaGVjawUAAAAwu7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7
u7u7u7u7u7u7u7AAAAAAAAABRzay1lY2RzYUBleGFtcGxlLmNvbQ==
-----END OPENSSH PRIVATE KEY-----
";

    /// Hand-built sk-ecdsa-sha2-nistp256 key in an aes256-ctr/bcrypt envelope (filler ciphertext).
    const SK_ECDSA_ENC: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABABQxHmdk
w/hw1Mbu9ypqRgAAAAEAAAAAEAAACHAAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3Bl
bnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBK32+U0IK17bNcUGyOojXrkZBE09azdO8v1rK4
+4WoGpcmdCAh2YFzSENazCdOO0FTvr9J/yiEQyMQWUhhfXDVwAAAAMc3NoOmtleWNoZWNr
AAAAgAswVXqfxOkOM1h9osfsETZbgKXK7xQ5XoOozfIXPGGGq9D1Gj9kia7T+B1CZ4yx1v
sgRWqPtNn+I0htkrfcASZLcJW63wQpTnOYveIHLFF2m8DlCi9UeZ7D6A0yV3yhxusQNVp/
pMnuEzhdgqfM8RY7YIWqz/QZPmOIrdL3HEFm
-----END OPENSSH PRIVATE KEY-----
";

    /// Hand-built unencrypted `ssh-mldsa44-ed25519@openssh.com` key, unknown to OpenSSH 9.2.
    const UNKNOWN: &str = r"-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAATwAAAB9zc2gtbW
xkc2E0NC1lZDI1NTE5QG9wZW5zc2guY29tAAAAKAABAgMEBQYHCAkKCwwNDg8QERITFBUW
FxgZGhscHR4fICEiIyQlJicAAAC4EjRWeBI0VngAAAAfc3NoLW1sZHNhNDQtZWQyNTUxOU
BvcGVuc3NoLmNvbQAAACgAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyAhIiMk
JSYnAAAAQGRlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJ
GSk5SVlpeYmZqbnJ2en6ChoqMAAAASZnV0dXJlQGV4YW1wbGUuY29tAQIDBAUGBw==
-----END OPENSSH PRIVATE KEY-----
";

    /// What a real key file is expected to yield.
    struct Expected {
        algorithm: &'static str,
        bits: Option<u32>,
        fingerprint: &'static str,
        cipher: Option<&'static str>,
        kdf_rounds: Option<u32>,
        comment: Option<&'static str>,
    }

    fn armored(pem: &str) -> Armor {
        armor::find(pem).unwrap().unwrap()
    }

    fn from_body(body: &[u8]) -> Result<KeyFacts, ParseError> {
        let empty =
            armor::find("-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----\n");
        inspect(&empty.unwrap().unwrap().with_body(body))
    }

    /// Inspects `pem`, checks it against `expected`, and checks the same facts against
    /// `ssh_key::PrivateKey`, an independent reader of the format.
    fn check(pem: &str, expected: &Expected) -> KeyFacts {
        let facts = inspect(&armored(pem)).unwrap();
        assert_eq!(facts.kind, Kind::Private);
        assert_eq!(facts.format, Format::Openssh);
        assert_eq!(facts.algorithm.as_deref(), Some(expected.algorithm));
        assert_eq!(facts.bits, expected.bits);
        assert_eq!(facts.fingerprint.as_deref(), Some(expected.fingerprint));
        assert_eq!(facts.encrypted, expected.cipher.is_some());
        assert_eq!(facts.cipher.as_deref(), expected.cipher);
        assert_eq!(facts.kdf.as_deref(), expected.cipher.map(|_| "bcrypt"));
        assert_eq!(facts.kdf_rounds, expected.kdf_rounds);
        assert_eq!(facts.comment.as_deref(), expected.comment);
        assert_eq!(facts.kdf_memory_kib, None);
        assert_eq!(facts.public_from, None);
        assert!(facts.quirks.is_empty());
        assert!(facts.openssh_loads);
        assert!(!facts.needs_public_part());

        let oracle = ssh_key::PrivateKey::from_openssh(pem).unwrap();
        assert_eq!(oracle.algorithm().as_str(), expected.algorithm);
        assert_eq!(
            oracle.fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            expected.fingerprint
        );
        assert_eq!(oracle.is_encrypted(), facts.encrypted);
        if facts.encrypted {
            assert_eq!(Some(oracle.cipher().as_str()), expected.cipher);
            match oracle.kdf() {
                ssh_key::Kdf::Bcrypt { rounds, .. } => assert_eq!(Some(*rounds), facts.kdf_rounds),
                other => panic!("unexpected kdf {other:?}"),
            }
        } else {
            assert_eq!(oracle.comment(), expected.comment.unwrap_or(""));
        }
        facts
    }

    #[test]
    fn ed25519_unencrypted_with_comment() {
        let facts = check(
            ED25519,
            &Expected {
                algorithm: "ssh-ed25519",
                bits: Some(256),
                fingerprint: "SHA256:snnGhKYBSBqjfSwbLaFLaD5SZdlXpjICI/Q2WqW/onw",
                cipher: None,
                kdf_rounds: None,
                comment: Some("alice@example.com"),
            },
        );
        assert!(!facts.hardware_backed);
        assert_eq!(facts.sk, None);
    }

    #[test]
    fn rsa_3071_default_encryption() {
        // ssh-keygen -b 3071 made a 3070-bit modulus, and `ssh-keygen -l` says 3070.
        check(
            RSA_3071,
            &Expected {
                algorithm: "ssh-rsa",
                bits: Some(3070),
                fingerprint: "SHA256:7FAmCg1f7VDDG1spPCameDgl2uAZ30A1ERGuJ7U1HIc",
                cipher: Some("aes256-ctr"),
                kdf_rounds: Some(16),
                comment: None,
            },
        );
    }

    #[test]
    fn chacha20_poly1305_with_32_rounds() {
        check(
            RSA_CHACHA,
            &Expected {
                algorithm: "ssh-rsa",
                bits: Some(1024),
                fingerprint: "SHA256:KNCgcvhaKhnooudxbiWq8OsXPi/jMJhWNSjAQb8UTx4",
                cipher: Some("chacha20-poly1305@openssh.com"),
                kdf_rounds: Some(32),
                comment: None,
            },
        );
        check(
            ED25519_CHACHA,
            &Expected {
                algorithm: "ssh-ed25519",
                bits: Some(256),
                fingerprint: "SHA256:rDh4Y7tYcvPuzYwFnRZjGSrmFJ5orsivtRGfwXoMBzI",
                cipher: Some("chacha20-poly1305@openssh.com"),
                kdf_rounds: Some(32),
                comment: None,
            },
        );
    }

    #[test]
    fn aes256_gcm_with_32_rounds() {
        check(
            ED25519_GCM,
            &Expected {
                algorithm: "ssh-ed25519",
                bits: Some(256),
                fingerprint: "SHA256:FKMOH3Bn2mxsnNLmwbgUO02iyzYrJ9aY0PYwSWWSK7g",
                cipher: Some("aes256-gcm@openssh.com"),
                kdf_rounds: Some(32),
                comment: None,
            },
        );
    }

    #[test]
    fn ecdsa_keys() {
        check(
            ECDSA_384,
            &Expected {
                algorithm: "ecdsa-sha2-nistp384",
                bits: Some(384),
                fingerprint: "SHA256:8n22vu5L8Vm/29TCmdq8n8/v8jnQhq46wPtt3SAYtpY",
                cipher: None,
                kdf_rounds: None,
                comment: Some("ecdsa384"),
            },
        );
        check(
            ECDSA_CBC,
            &Expected {
                algorithm: "ecdsa-sha2-nistp256",
                bits: Some(256),
                fingerprint: "SHA256:dUuXCJY/PEeq6Hp/YtESuBtO2jZWtIABeUxlSYejy8g",
                cipher: Some("aes128-cbc"),
                kdf_rounds: Some(16),
                comment: None,
            },
        );
    }

    #[test]
    fn rsa_and_dsa_unencrypted() {
        check(
            RSA_1024,
            &Expected {
                algorithm: "ssh-rsa",
                bits: Some(1024),
                fingerprint: "SHA256:xI8yMLs7NXGgCoJbWsRI/HaQGWWo4AWEDApJUJWSn04",
                cipher: None,
                kdf_rounds: None,
                comment: Some("rsa1024"),
            },
        );
        check(
            DSA,
            &Expected {
                algorithm: "ssh-dss",
                bits: Some(1024),
                fingerprint: "SHA256:u1QuENVg9RXH9SOc7W+ppOq3Goqkdaf77LOL0feqKE8",
                cipher: None,
                kdf_rounds: None,
                comment: Some("dsa"),
            },
        );
    }

    #[test]
    fn sk_ed25519_unencrypted_has_flags() {
        let facts = check(
            SK_ED25519,
            &Expected {
                algorithm: "sk-ssh-ed25519@openssh.com",
                bits: Some(256),
                fingerprint: "SHA256:J5QRMdZ3aSwnczZsy+fZmQXPaFQjeu5C09iZ8LLBSM8",
                cipher: None,
                kdf_rounds: None,
                comment: Some("sk-ed@example.com"),
            },
        );
        assert!(facts.hardware_backed);
        assert_eq!(facts.sk, Some(SkFacts::new("ssh:".to_owned(), Some(0x21))));
        let sk = facts.sk.unwrap();
        assert_eq!(sk.user_presence_required, Some(true));
        assert_eq!(sk.user_verification_required, Some(false));
        assert_eq!(sk.resident, Some(true));
    }

    #[test]
    fn sk_ed25519_encrypted_hides_flags() {
        let facts = check(
            SK_ED25519_ENC,
            &Expected {
                algorithm: "sk-ssh-ed25519@openssh.com",
                bits: Some(256),
                fingerprint: "SHA256:J5QRMdZ3aSwnczZsy+fZmQXPaFQjeu5C09iZ8LLBSM8",
                cipher: Some("aes256-ctr"),
                kdf_rounds: Some(16),
                comment: None,
            },
        );
        assert!(facts.hardware_backed);
        assert_eq!(facts.sk, Some(SkFacts::new("ssh:".to_owned(), None)));
    }

    #[test]
    fn sk_ecdsa_unencrypted_and_encrypted() {
        let facts = check(
            SK_ECDSA,
            &Expected {
                algorithm: "sk-ecdsa-sha2-nistp256@openssh.com",
                bits: Some(256),
                fingerprint: "SHA256:pNNE94dZsFdTNSQQVva2yiIgtb0Shhy0RJqUKl3OHSU",
                cipher: None,
                kdf_rounds: None,
                comment: Some("sk-ecdsa@example.com"),
            },
        );
        assert!(facts.hardware_backed);
        let sk = facts.sk.unwrap();
        assert_eq!(sk.application, "ssh:keycheck");
        assert_eq!(sk.flags, Some(0x05));
        assert_eq!(sk.user_presence_required, Some(true));
        assert_eq!(sk.user_verification_required, Some(true));
        assert_eq!(sk.resident, Some(false));

        let facts = check(
            SK_ECDSA_ENC,
            &Expected {
                algorithm: "sk-ecdsa-sha2-nistp256@openssh.com",
                bits: Some(256),
                fingerprint: "SHA256:pNNE94dZsFdTNSQQVva2yiIgtb0Shhy0RJqUKl3OHSU",
                cipher: Some("aes256-ctr"),
                kdf_rounds: Some(16),
                comment: None,
            },
        );
        assert_eq!(
            facts.sk,
            Some(SkFacts::new("ssh:keycheck".to_owned(), None))
        );
    }

    #[test]
    fn unknown_algorithm_reports_name_and_fingerprint() {
        let facts = inspect(&armored(UNKNOWN)).unwrap();
        assert_eq!(
            facts.algorithm.as_deref(),
            Some("ssh-mldsa44-ed25519@openssh.com")
        );
        assert_eq!(facts.bits, None);
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:SvyxGgTAe8ZN+L7cyjxRctOzTJ2HOdl7Su7DGvFN8Zs")
        );
        assert!(!facts.encrypted);
        // The private layout of an unknown algorithm is unknown, so is where its comment is.
        assert_eq!(facts.comment, None);
        assert!(!facts.hardware_backed);
    }

    #[test]
    fn unknown_algorithm_encrypted() {
        let public = Writer::new()
            .string(b"ssh-mldsa44-ed25519@openssh.com")
            .string(&[3; 40])
            .finish();
        let body = envelope(
            "aes256-gcm@openssh.com",
            "bcrypt",
            &bcrypt_options(24),
            1,
            &public,
            &[0x5a; 64],
            &[0; AEAD_TAG_LEN],
        );
        let facts = from_body(&body).unwrap();
        assert_eq!(
            facts.algorithm.as_deref(),
            Some("ssh-mldsa44-ed25519@openssh.com")
        );
        assert_eq!(facts.bits, None);
        assert_eq!(facts.fingerprint, Some(blob::fingerprint(&public)));
        assert!(facts.encrypted);
        assert_eq!(facts.cipher.as_deref(), Some("aes256-gcm@openssh.com"));
        assert_eq!(facts.kdf_rounds, Some(24));
    }

    #[test]
    fn through_the_dispatcher() {
        use crate::key::{inspect as inspect_file, Inspection, Quirk};
        let crlf = ED25519.replace('\n', "\r\n");
        let Inspection::Key(facts) = inspect_file(crlf.as_bytes()) else {
            panic!("not a key");
        };
        assert_eq!(facts.quirks, [Quirk::CrlfLineEndings]);
        assert_eq!(facts.comment.as_deref(), Some("alice@example.com"));
        let broken =
            "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        assert!(matches!(
            inspect_file(broken.as_bytes()),
            Inspection::Malformed {
                format: Some(Format::Openssh),
                ..
            }
        ));
    }

    // Synthetic envelopes, built field by field from PROTOCOL.key, for the error paths.

    /// A made-up Ed25519 public key (no curve arithmetic happens here).
    const PK: [u8; 32] = [7; 32];

    fn ed25519_public() -> Vec<u8> {
        blob::ed25519_blob(&PK)
    }

    /// `string keytype, string pk, string seed || pk` with a made-up seed.
    fn ed25519_fields(pk: &[u8], sk_len: usize) -> Vec<u8> {
        let mut sk = vec![9u8; sk_len.saturating_sub(pk.len())];
        sk.extend_from_slice(pk);
        Writer::new()
            .string(b"ssh-ed25519")
            .string(pk)
            .string(&sk)
            .finish()
    }

    /// A cleartext private section padded to 8 bytes with 1, 2, 3, ...
    fn section(check1: u32, check2: u32, fields: &[u8], comment: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&check1.to_be_bytes());
        out.extend_from_slice(&check2.to_be_bytes());
        out.extend_from_slice(fields);
        out.extend_from_slice(&Writer::new().string(comment.as_bytes()).finish());
        let mut pad = 0u8;
        while out.len() % 8 != 0 {
            pad += 1;
            out.push(pad);
        }
        out
    }

    fn bcrypt_options(rounds: u32) -> Vec<u8> {
        let mut out = Writer::new().string(&[1; 16]).finish();
        out.extend_from_slice(&rounds.to_be_bytes());
        out
    }

    fn envelope(
        cipher: &str,
        kdf: &str,
        kdf_options: &[u8],
        keys: u32,
        public: &[u8],
        private: &[u8],
        after: &[u8],
    ) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(
            &Writer::new()
                .string(cipher.as_bytes())
                .string(kdf.as_bytes())
                .string(kdf_options)
                .finish(),
        );
        out.extend_from_slice(&keys.to_be_bytes());
        out.extend_from_slice(&Writer::new().string(public).string(private).finish());
        out.extend_from_slice(after);
        out
    }

    fn plain(private: &[u8]) -> Vec<u8> {
        envelope("none", "none", &[], 1, &ed25519_public(), private, &[])
    }

    fn context(result: Result<KeyFacts, ParseError>) -> &'static str {
        match result.unwrap_err() {
            ParseError::Invalid { context, .. } | ParseError::Truncated { context } => context,
            other => panic!("unexpected error {other:?}"),
        }
    }

    #[test]
    fn synthetic_key_reads() {
        let body = plain(&section(1, 1, &ed25519_fields(&PK, 64), "synthetic"));
        let facts = from_body(&body).unwrap();
        assert_eq!(facts.comment.as_deref(), Some("synthetic"));
        assert_eq!(
            facts.fingerprint,
            Some(blob::fingerprint(&ed25519_public()))
        );
        let empty = plain(&section(1, 1, &ed25519_fields(&PK, 64), ""));
        assert_eq!(from_body(&empty).unwrap().comment, None);
    }

    #[test]
    fn check_integer_mismatch_is_an_error() {
        let body = plain(&section(1, 2, &ed25519_fields(&PK, 64), "x"));
        let error = from_body(&body).unwrap_err();
        assert_eq!(
            error.to_string(),
            "check integers: the two check integers differ: the file is corrupted"
        );
    }

    #[test]
    fn private_part_must_match_public_key() {
        let body = plain(&section(5, 5, &ed25519_fields(&[8; 32], 64), "x"));
        let error = from_body(&body).unwrap_err();
        assert_eq!(
            error.to_string(),
            "private key: its public part is not the file's public key"
        );
        let rsa_fields = Writer::new().string(b"ssh-rsa").finish();
        let body = plain(&section(5, 5, &rsa_fields, "x"));
        assert_eq!(context(from_body(&body)), "private key type");
    }

    #[test]
    fn rsa_public_part_compares_numbers_not_encodings() {
        let mut n = vec![0x00, 0xc5];
        n.extend_from_slice(&[0x11; 127]);
        // A needless leading zero on e in the public blob: the same number.
        let public = Writer::new()
            .string(b"ssh-rsa")
            .string(&[0, 1, 0, 1])
            .string(&n)
            .finish();
        let fields = |modulus: &[u8]| {
            Writer::new()
                .string(b"ssh-rsa")
                .string(modulus)
                .string(&[1, 0, 1])
                .string(&[2; 128])
                .string(&[3; 64])
                .string(&[4; 64])
                .string(&[5; 64])
                .finish()
        };
        let body = envelope(
            "none",
            "none",
            &[],
            1,
            &public,
            &section(9, 9, &fields(&n), "r"),
            &[],
        );
        let facts = from_body(&body).unwrap();
        assert_eq!(facts.bits, Some(1024));
        assert_eq!(facts.comment.as_deref(), Some("r"));
        let mut other = n.clone();
        other[5] ^= 1;
        let body = envelope(
            "none",
            "none",
            &[],
            1,
            &public,
            &section(9, 9, &fields(&other), "r"),
            &[],
        );
        assert_eq!(context(from_body(&body)), "private key");
    }

    #[test]
    fn bad_ed25519_lengths_and_padding() {
        let body = plain(&section(5, 5, &ed25519_fields(&PK, 48), "x"));
        assert_eq!(context(from_body(&body)), "ed25519 private key");
        let mut private = section(5, 5, &ed25519_fields(&PK, 64), "x");
        if let Some(last) = private.last_mut() {
            *last = 0xee;
        }
        assert_eq!(
            context(from_body(&plain(&private))),
            "private section padding"
        );
    }

    #[test]
    fn key_count_must_be_one() {
        let private = section(1, 1, &ed25519_fields(&PK, 64), "x");
        for keys in [0, 2, u32::MAX] {
            let body = envelope("none", "none", &[], keys, &ed25519_public(), &private, &[]);
            assert_eq!(context(from_body(&body)), "number of keys");
        }
    }

    #[test]
    fn cipher_and_kdf_must_agree() {
        let private = section(1, 1, &ed25519_fields(&PK, 64), "x");
        let public = ed25519_public();
        let kdf_only = envelope(
            "none",
            "bcrypt",
            &bcrypt_options(16),
            1,
            &public,
            &private,
            &[],
        );
        assert_eq!(context(from_body(&kdf_only)), "kdf name");
        let cipher_only = envelope("aes256-ctr", "none", &[], 1, &public, &[0; 32], &[]);
        assert_eq!(context(from_body(&cipher_only)), "kdf name");
        let short_options = envelope(
            "aes256-ctr",
            "bcrypt",
            &[0, 0, 0, 16],
            1,
            &public,
            &[0; 32],
            &[],
        );
        assert_eq!(context(from_body(&short_options)), "bcrypt salt");
    }

    #[test]
    fn unknown_cipher_and_kdf_are_reported_as_written() {
        let public = ed25519_public();
        let body = envelope(
            "twofish256-cbc",
            "bcrypt",
            &bcrypt_options(64),
            1,
            &public,
            &[0; 40],
            &[1, 2],
        );
        let facts = from_body(&body).unwrap();
        assert!(facts.encrypted);
        assert_eq!(facts.cipher.as_deref(), Some("twofish256-cbc"));
        assert_eq!(facts.kdf.as_deref(), Some("bcrypt"));
        assert_eq!(facts.kdf_rounds, Some(64));
        assert!(!facts.openssh_loads);

        let body = envelope(
            "aes256-ctr",
            "argon2id",
            &[1, 2, 3],
            1,
            &public,
            &[0; 32],
            &[],
        );
        let facts = from_body(&body).unwrap();
        assert_eq!(facts.cipher.as_deref(), Some("aes256-ctr"));
        assert_eq!(facts.kdf.as_deref(), Some("argon2id"));
        assert_eq!(facts.kdf_rounds, None);
        assert!(!facts.openssh_loads);
    }

    #[test]
    fn lengths_must_fit_the_cipher() {
        let public = ed25519_public();
        let options = bcrypt_options(16);
        let ragged = envelope("aes256-ctr", "bcrypt", &options, 1, &public, &[0; 24], &[]);
        assert_eq!(context(from_body(&ragged)), "private section");
        let empty = envelope("aes256-ctr", "bcrypt", &options, 1, &public, &[], &[]);
        assert_eq!(context(from_body(&empty)), "private section");
        let no_tag = envelope(
            "chacha20-poly1305@openssh.com",
            "bcrypt",
            &options,
            1,
            &public,
            &[0; 32],
            &[0; 15],
        );
        assert_eq!(context(from_body(&no_tag)), "authentication tag");
        let trailing = envelope("aes256-ctr", "bcrypt", &options, 1, &public, &[0; 32], &[0]);
        assert_eq!(context(from_body(&trailing)), "openssh private key");
        let unpadded = plain(&[0, 0, 0, 1, 0, 0, 0, 1, 0]);
        assert_eq!(context(from_body(&unpadded)), "private section");
    }

    #[test]
    fn wrong_magic_is_an_error() {
        assert_eq!(
            context(from_body(b"openssh-key-v2\0")),
            "openssh private key"
        );
        assert_eq!(context(from_body(b"")), "openssh private key");
    }

    /// All real bodies, for the robustness loops.
    fn bodies() -> Vec<Zeroizing<Vec<u8>>> {
        [
            ED25519,
            RSA_3071,
            RSA_1024,
            DSA,
            RSA_CHACHA,
            ED25519_GCM,
            ED25519_CHACHA,
            ECDSA_384,
            ECDSA_CBC,
            SK_ED25519,
            SK_ED25519_ENC,
            SK_ECDSA,
            SK_ECDSA_ENC,
            UNKNOWN,
        ]
        .iter()
        .map(|pem| armored(pem).body)
        .collect()
    }

    #[test]
    fn every_truncation_is_an_error() {
        for body in bodies() {
            assert!(from_body(&body).is_ok());
            for len in 0..body.len() {
                assert!(from_body(&body[..len]).is_err(), "prefix of {len} bytes");
            }
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        for body in bodies() {
            for at in 0..body.len() {
                for mask in [0x01, 0x80, 0xff] {
                    let mut bad = body.to_vec();
                    bad[at] ^= mask;
                    if let Ok(facts) = from_body(&bad) {
                        assert!(facts.fingerprint.is_some());
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut state: u32 = 0x1234_5678;
        for len in [0, 1, 4, 15, 16, 19, 64, 300] {
            for _ in 0..200 {
                let mut body = MAGIC.to_vec();
                for _ in 0..len {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    body.push(state.to_be_bytes()[1]);
                }
                let _ = from_body(&body);
            }
        }
        let huge = [MAGIC, &[0xff; 64][..]].concat();
        assert_eq!(context(from_body(&huge)), "cipher name");
    }
}
