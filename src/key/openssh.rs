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
//! string  encrypted private section (§3), followed by a 16-byte tag for AEAD ciphers
//! ```
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
use super::blob::{self, Reader, Writer};
use super::{Format, KeyFacts, Kind, ParseError, SkFacts};

/// `AUTH_MAGIC` (PROTOCOL.key §1), NUL included.
const MAGIC: &[u8] = b"openssh-key-v1\0";

/// Length of the authentication tag that follows the private section when the cipher is
/// an AEAD (`chacha20-poly1305@openssh.com`, `aes*-gcm@openssh.com`), PROTOCOL.key §1.
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
        // PROTOCOL.key: a cipher needs a key, and only a KDF makes one from a passphrase;
        // OpenSSH rejects this combination as SSH_ERR_INVALID_FORMAT.
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
struct Envelope<'a> {
    /// `ciphername`, exactly as written.
    cipher: String,
    /// `kdfname`, exactly as written.
    kdf: String,
    /// `kdfoptions`, still encoded.
    kdf_options: &'a [u8],
    /// The public key blob of the one key.
    public: &'a [u8],
    /// The private section: ciphertext, or the cleartext of §3 when the cipher is `none`.
    private: &'a [u8],
    /// What follows the private section: the AEAD tag, if any.
    after: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Splits `body` into its fields.
    fn parse(body: &'a [u8]) -> Result<Self, ParseError> {
        let rest = body.strip_prefix(MAGIC).ok_or_else(|| ParseError::Invalid {
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
    if key.public_blob != public {
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

/// The public facts recovered from a private key's fields.
struct PrivateKeyFields {
    /// The public key blob the private key implies (public data only).
    public_blob: Vec<u8>,
    /// The FIDO flags byte of `sk-` keys.
    sk_flags: Option<u8>,
}

/// Reads one private key's fields after its key type, as `sshkey_private_serialize`
/// writes them, and rebuilds the public blob they imply. `None` for an algorithm whose
/// layout keycheck does not know. The secret fields are skipped, never copied.
fn read_private_key(
    r: &mut Reader<'_>,
    algorithm: &str,
) -> Result<Option<PrivateKeyFields>, ParseError> {
    let head = Writer::new().string(algorithm.as_bytes());
    let (public_blob, sk_flags) = match algorithm {
        // RFC 4253 §6.6 order is e, n; the private key stores n, e, d, iqmp, p, q.
        "ssh-rsa" => {
            let n = r.mpint("rsa modulus")?;
            let e = r.mpint("rsa public exponent")?;
            for context in ["rsa d", "rsa iqmp", "rsa p", "rsa q"] {
                r.mpint(context)?;
            }
            (head.string(e).string(n).finish(), None)
        }
        "ssh-dss" => {
            let p = r.mpint("dsa p")?;
            let q = r.mpint("dsa q")?;
            let g = r.mpint("dsa g")?;
            let y = r.mpint("dsa y")?;
            r.mpint("dsa x")?;
            (head.string(p).string(q).string(g).string(y).finish(), None)
        }
        // RFC 8709 keys: 32-byte public key, then the 64-byte seed || public key.
        "ssh-ed25519" => {
            let pk = r.string("ed25519 public key")?;
            let sk = r.string("ed25519 private key")?;
            check_ed25519_lengths(pk, sk)?;
            (head.string(pk).finish(), None)
        }
        a if a.starts_with("ecdsa-sha2-") => {
            let curve = r.string("ecdsa curve")?;
            let point = r.string("ecdsa point")?;
            r.mpint("ecdsa private scalar")?;
            (head.string(curve).string(point).finish(), None)
        }
        // PROTOCOL.u2f: the public fields, then uint8 flags, string key_handle,
        // string reserved. The secret lives on the token; the handle only names it.
        "sk-ssh-ed25519@openssh.com" => {
            let pk = r.string("ed25519 public key")?;
            let application = r.string("sk application")?;
            let flags = read_sk_tail(r)?;
            (head.string(pk).string(application).finish(), Some(flags))
        }
        "sk-ecdsa-sha2-nistp256@openssh.com" => {
            let curve = r.string("ecdsa curve")?;
            let point = r.string("ecdsa point")?;
            let application = r.string("sk application")?;
            let flags = read_sk_tail(r)?;
            let public = head.string(curve).string(point).string(application);
            (public.finish(), Some(flags))
        }
        _ => return Ok(None),
    };
    Ok(Some(PrivateKeyFields {
        public_blob,
        sk_flags,
    }))
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
