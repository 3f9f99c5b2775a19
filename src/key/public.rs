//! PURE: public keys and certificates: one-line OpenSSH public keys, OpenSSH
//! certificates (PROTOCOL.certkeys), RFC 4716 public keys.
//!
//! All three carry the same SSH wire-format blob (RFC 4253 §6.6); algorithm, bits and
//! fingerprint come from it through [`blob::describe`], exactly as `ssh-keygen -l -E sha256`
//! prints them.
//!
//! # Certificates
//!
//! `ssh-keygen -l` prints a certificate's *certified key*: its plain algorithm's bits and
//! the fingerprint of the plain public key blob (`sshkey_fingerprint` serialises certified
//! keys "force plain"). The certificate blob holds that key's fields in the same order right
//! after the nonce, so keycheck cuts them out and prefixes the plain algorithm name.
//!
//! The certificate is read with [`blob::Reader`] rather than `ssh_key::Certificate`:
//! ssh-key 0.6.7 rejects any `valid_before` above `i64::MAX` (`Error::Time`), and
//! `u64::MAX` is exactly what `ssh-keygen -s` writes when no `-V` is given ("Valid:
//! forever"), as host certificates often are. The tests still check a bounded certificate
//! against `ssh_key::Certificate` field by field, and that it refuses the unbounded one.

use super::armor::{self, Armor};
use super::blob::{self, Reader, Writer};
use super::{CertFacts, Format, KeyFacts, Kind, ParseError};

/// The suffix of every OpenSSH certificate type name (PROTOCOL.certkeys).
const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// Plain key algorithms whose blob layout keycheck knows (those [`blob::describe`] sizes).
const PLAIN_ALGORITHMS: &[&str] = &[
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// Certificate types of PROTOCOL.certkeys: the type name, the certified key's plain
/// algorithm, and how many `string`/`mpint` fields that key has between the nonce and the
/// serial.
const CERT_TYPES: &[(&str, &str, usize)] = &[
    // mpint e, mpint n
    ("ssh-rsa-cert-v01@openssh.com", "ssh-rsa", 2),
    // mpint p, q, g, y
    ("ssh-dss-cert-v01@openssh.com", "ssh-dss", 4),
    // string curve, string public_key
    (
        "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp256",
        2,
    ),
    (
        "ecdsa-sha2-nistp384-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384",
        2,
    ),
    (
        "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "ecdsa-sha2-nistp521",
        2,
    ),
    // string pk
    ("ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", 1),
    // string curve, string ec_point, string application
    (
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
        3,
    ),
    // string pk, string application
    (
        "sk-ssh-ed25519-cert-v01@openssh.com",
        "sk-ssh-ed25519@openssh.com",
        2,
    ),
];

/// Facts of a `---- BEGIN SSH2 PUBLIC KEY ----` block (RFC 4716).
///
/// The body is the key blob; the `Comment` header (RFC 4716 §3.3.2, already unquoted and
/// joined by the armour reader) is the comment. `ssh-keygen -e` also exports certificates
/// this way; those become [`Kind::Certificate`] facts in this format.
///
/// # Errors
/// [`ParseError`] when the blob is truncated, or is a certificate that cannot be read.
pub(super) fn inspect_rfc4716(armor: &Armor) -> Result<KeyFacts, ParseError> {
    let algorithm = Reader::new(&armor.body).name("public key algorithm")?;
    let mut facts = if algorithm.ends_with(CERT_SUFFIX) {
        certificate(&armor.body, Format::Rfc4716Public)?
    } else {
        public_key(&armor.body, Format::Rfc4716Public)?
    };
    facts.comment = armor
        .header("Comment")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    Ok(facts)
}

/// Facts of a one-line public key or certificate; `None` when the text is not one.
///
/// The key is the file's first non-blank line that is not a `#` comment:
/// `ALGORITHM BASE64 [COMMENT]`, optionally after an `authorized_keys` options field
/// (sshd(8), `AUTHORIZED_KEYS FILE FORMAT`). Returns `None` when that line is not a key, and
/// also when a later line holds a key too: a list of keys is an `authorized_keys` or
/// `known_hosts` file, which the caller names.
///
/// # Errors
/// `Some(Err(_))` when the line claims a key but cannot be one: the type names a known
/// algorithm but the base64 or the blob is broken, or the type and the blob disagree.
pub(super) fn inspect_line(text: &str) -> Option<Result<KeyFacts, ParseError>> {
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let result = key_line(lines.next()?)?;
    if lines.any(|line| key_line(line).is_some()) {
        return None;
    }
    Some(result)
}

/// Reads one line as a key, with or without an options field in front. (A lone
/// `known_hosts` entry, `HOST TYPE BASE64`, reads as its key the same way.)
fn key_line(line: &str) -> Option<Result<KeyFacts, ParseError>> {
    typed_key(line).or_else(|| typed_key(skip_options(line)?))
}

/// Reads `TYPE BASE64 [COMMENT]`; `None` when `TYPE` is no key type, or is an unknown one
/// whose blob does not start with the same name (so the line is probably prose).
pub(super) fn typed_key(line: &str) -> Option<Result<KeyFacts, ParseError>> {
    let (key_type, rest) = token(line);
    if !looks_like_algorithm(key_type) {
        return None;
    }
    let known = is_known(key_type);
    let (encoded, comment) = token(rest);
    if encoded.is_empty() {
        return known.then(|| {
            Err(ParseError::Invalid {
                context: "public key line",
                detail: format!("no key after {key_type}"),
            })
        });
    }
    let blob = match armor::decode_base64(encoded, "public key base64") {
        Ok(blob) => blob,
        Err(error) => return known.then_some(Err(error)),
    };
    let blob_type = match Reader::new(&blob).name("public key algorithm") {
        Ok(name) => name,
        Err(error) => return known.then_some(Err(error)),
    };
    if blob_type != key_type {
        // sshkey_read refuses a line whose type and blob disagree. For a type keycheck
        // does not know, only a real key blob makes the line worth an error.
        return (known || is_known(&blob_type)).then(|| {
            Err(ParseError::Invalid {
                context: "public key type",
                detail: format!("the line says {key_type} but the key is {blob_type}"),
            })
        });
    }
    let facts = if key_type.ends_with(CERT_SUFFIX) {
        certificate(&blob, Format::OpensshCertificate)
    } else {
        public_key(&blob, Format::OpensshPublic)
    };
    let comment = comment.trim();
    Some(facts.map(|mut facts| {
        facts.comment = (!comment.is_empty()).then(|| comment.to_owned());
        facts
    }))
}

/// Splits off the first space- or tab-separated token, after leading whitespace.
fn token(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    text.split_once([' ', '\t']).unwrap_or((text, ""))
}

/// Returns true if and only if `token` is shaped like an SSH key type name: the families
/// OpenSSH uses (`ssh-`, `ecdsa-`, `sk-`) or an `@domain` extension name (RFC 4251 §6).
fn looks_like_algorithm(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-@._+".contains(&b))
        && (token.starts_with("ssh-")
            || token.starts_with("ecdsa-")
            || token.starts_with("sk-")
            || token.contains('@'))
}

/// Returns true if and only if keycheck knows the layout of key type `name`.
fn is_known(name: &str) -> bool {
    PLAIN_ALGORITHMS.contains(&name) || CERT_TYPES.iter().any(|(cert, _, _)| *cert == name)
}

/// Skips an `authorized_keys` options field the way sshd does
/// (`sshkey_advance_past_options`); `None` when quotes are unbalanced or nothing follows.
fn skip_options(line: &str) -> Option<&str> {
    let end = options_end(line)?;
    let rest = line.get(end..)?.trim_start();
    (!rest.is_empty()).then_some(rest)
}

/// Where an `authorized_keys` options field ends, as sshd's `sshkey_advance_past_options`
/// finds it: at the first space or tab outside double quotes, where `\"` never toggles
/// quoting. `None` when a quote is left open.
pub(super) fn options_end(line: &str) -> Option<usize> {
    let mut quoted = false;
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' if !quoted => return Some(at),
            '\\' if chars.peek().is_some_and(|&(_, next)| next == '"') => {
                chars.next();
            }
            '"' => quoted = !quoted,
            _ => {}
        }
    }
    (!quoted).then_some(line.len())
}

/// Facts of a plain public key blob.
fn public_key(blob: &[u8], format: Format) -> Result<KeyFacts, ParseError> {
    let mut facts = KeyFacts::new(Kind::Public, format);
    facts.set_public(blob::describe(blob)?);
    Ok(facts)
}

/// Facts of a certificate blob (PROTOCOL.certkeys):
///
/// ```text
/// string  type name ("ssh-ed25519-cert-v01@openssh.com", ...)
/// string  nonce
/// ...     the certified key's public fields, as in its plain blob
/// uint64  serial
/// uint32  type            1 = user, 2 = host
/// string  key id
/// string  valid principals (packed strings)
/// uint64  valid after
/// uint64  valid before    0xffffffffffffffff = forever
/// string  critical options
/// string  extensions
/// string  reserved
/// string  signature key   (the CA's public key blob)
/// string  signature
/// ```
fn certificate(blob: &[u8], format: Format) -> Result<KeyFacts, ParseError> {
    let mut r = Reader::new(blob);
    let type_name = r.name("certificate key type")?;
    let Some(&(_, plain, fields)) = CERT_TYPES.iter().find(|(name, _, _)| *name == type_name)
    else {
        return Err(ParseError::Invalid {
            context: "certificate key type",
            detail: format!("{type_name} certifies a key type keycheck does not know"),
        });
    };
    r.string("certificate nonce")?;
    let key_start = r.rest();
    for _ in 0..fields {
        r.string("certified public key")?;
    }
    let key_len = key_start.len().saturating_sub(r.rest().len());
    let key_fields = key_start.get(..key_len).unwrap_or_default();
    let mut plain_blob = Writer::new().string(plain.as_bytes()).finish();
    plain_blob.extend_from_slice(key_fields);

    let serial = r.u64("certificate serial")?;
    let cert_type = match r.u32("certificate type")? {
        1 => "user",
        2 => "host",
        other => {
            return Err(ParseError::Invalid {
                context: "certificate type",
                detail: format!("{other} is neither user (1) nor host (2)"),
            })
        }
    };
    let key_id = r.text("certificate key id")?;
    let principals = read_principals(r.string("certificate principals")?)?;
    let valid_after = r.u64("certificate valid after")?;
    let valid_before = r.u64("certificate valid before")?;
    r.string("certificate critical options")?;
    r.string("certificate extensions")?;
    r.string("certificate reserved")?;
    let ca = blob::describe(r.string("certificate signature key")?)?;
    r.string("certificate signature")?;

    let mut facts = KeyFacts::new(Kind::Certificate, format);
    facts.set_public(blob::describe(&plain_blob)?);
    facts.certificate = Some(CertFacts {
        cert_type: cert_type.to_owned(),
        key_id,
        serial,
        principals,
        valid_after,
        valid_before,
        ca_fingerprint: ca.fingerprint,
        ca_algorithm: ca.algorithm,
    });
    Ok(facts)
}

/// The principals of a certificate: a sequence of strings packed into one string.
fn read_principals(packed: &[u8]) -> Result<Vec<String>, ParseError> {
    let mut r = Reader::new(packed);
    let mut principals = Vec::new();
    while !r.rest().is_empty() {
        principals.push(r.text("certificate principal")?);
    }
    Ok(principals)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    //! Keys and certificates generated once with OpenSSH 9.2 `ssh-keygen` (CA `ca@example.com`,
    //! SHA256:7qKsKnZdm46gFhqBLoPdQnWVdNCTQyf3VoVBq3lbOi4); the `sk-` and unknown-algorithm
    //! keys were built by hand. Expected bits and fingerprints are copied from
    //! `ssh-keygen -l -E sha256 -f`, certificate fields from `ssh-keygen -L -f`.

    use super::*;
    use crate::key::armor::find;
    use crate::key::SkFacts;

    /// `ssh-keygen -t ed25519 -C alice@example.com`, the `.pub` file.
    const ED25519_PUB: &str = r"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA4CBh4bnPBoj2KOZCXUwTSt/OjSg84IWW2ArjWG8Bhl alice@example.com
";

    /// `ssh-keygen -t rsa -b 3071 -C rsa3071`, the `.pub` file.
    const RSA_3071_PUB: &str = r"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgCrfbke398tWWh1yiozmC2XdB3H1yZT8/codUK/EobTxgpYLHzJRzNhqFgCXrFuSJsS8iuJDjf9Ic2ZRR7yl+CfRn6oqIlg3TOYoTT/wJQQ9jxK9NXrV1JkMJ9BdQrKf1Yj907zfV2jckasPOtExQUZBWjL2yKubEfUsPpy4M/erM8VdHyfm8whiJDESCvZ6ixdceYkbOVL0dqZ7dw2HKuXIfB5JKI50hiZo+hTCw32dzBDy7FxTQG8B2B2XIkKOx7YZVpPAvDCmvf469bLxb1NPzP5Lm7aBzPyj9klV8mq1liPUJ+Mro6ar11VE4NQ9NKR0uaiFvnIMw4HW0HGQkHtHJGpVnKc4+3MEf9hkezh5sg6aYkvc6aQhY579K2Hei16sDSmifVb3QpeZXslSD/Q4txPnuxLgvBsl5gIbb5bbR39jMYCN43RY2BnWM8GRFhlEun+wxdl74JMxH7reyz9EmEWYESzLdWKp41tUllQlS8s4bitRR+uaFIgx9puSCQ== rsa3071
";

    /// `ssh-keygen -t ecdsa -b 384 -C ecdsa384`, the `.pub` file.
    const ECDSA_384_PUB: &str = r"ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBB1PHCqufxrINScQ8lEfe3mgaiQ7TIQqT9qSpTRLRdSdSeXNcFa0ERVA1465B220DFkOGFFS1gUrRMozqFb6dhtRNbmNuZeM9zIGiqeQPzm5RuuK72IpA6tW202anD2kyA== ecdsa384
";

    /// Hand-built sk-ssh-ed25519 public key, application `ssh:`, no comment.
    const SK_ED25519_PUB: &str = r"sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIM2DbEBVIjEGrFonmHPa8bUNEV6iQDjemO99n9eQiL27AAAABHNzaDo=
";

    /// Hand-built sk-ecdsa-sha2-nistp256 public key, application `ssh:keycheck`, no comment.
    const SK_ECDSA_PUB: &str = r"sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAIbmlzdHAyNTYAAABBBK32+U0IK17bNcUGyOojXrkZBE09azdO8v1rK4+4WoGpcmdCAh2YFzSENazCdOO0FTvr9J/yiEQyMQWUhhfXDVwAAAAMc3NoOmtleWNoZWNr
";

    /// Hand-built public key of `ssh-mldsa44-ed25519@openssh.com`, unknown to OpenSSH 9.2.
    const UNKNOWN_PUB: &str = r"ssh-mldsa44-ed25519@openssh.com AAAAH3NzaC1tbGRzYTQ0LWVkMjU1MTlAb3BlbnNzaC5jb20AAAAoAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJw==
";

    /// `ssh-keygen -s ca -I id-alice -n alice -V +52w -z 42 ed25519.pub` (user certificate).
    const ED25519_CERT: &str = r"ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAINrBYuw5P+xy000wJzo1UlKXNzna+t6rtIiZGiqeC1ncAAAAIA4CBh4bnPBoj2KOZCXUwTSt/OjSg84IWW2ArjWG8BhlAAAAAAAAACoAAAABAAAACGlkLWFsaWNlAAAACQAAAAVhbGljZQAAAABrA8Y0AAAAAGzjqIkAAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACBGlPRb+qa0juYciA12lrMZUjzwXyTB2sAkr87oOpTOOwAAAFMAAAALc3NoLWVkMjU1MTkAAABAwzXHz+qW4SEF94FjXwPNS9yz1sTAQxbn37Z0i2HCdyB3Ez90+c5RfEUirRh3ORDUCZeTMeZjhe8bAvqj729WDA== alice@example.com
";

    /// `ssh-keygen -s ca -I host-id -h -n host.example.com,alt.example.com rsa1024.pub` (forever).
    const RSA_HOST_CERT: &str = r"ssh-rsa-cert-v01@openssh.com AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgRiHD1dim4iFGHJSpMgUwScRj2Q2rVxhiOLYIZbqPAa4AAAADAQABAAAAgQCyhhxEntyu4YdqaDAq7neqwbVm87wAHJWIJ7qPkWDm6HdITAxMZkTr/CfvaH3Lz+4/Z3ys+mB7gw6JJAQD8ex/yAY5DXG5eco4/C3QEFAmuvThFGO8SgPLD6aI8gsfoi7fzu3ptHMe3FYbASH9Dpchew39SYB/5HgeNu0zL6IccQAAAAAAAAAAAAAAAgAAAAdob3N0LWlkAAAAJwAAABBob3N0LmV4YW1wbGUuY29tAAAAD2FsdC5leGFtcGxlLmNvbQAAAAAAAAAA//////////8AAAAAAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIEaU9Fv6prSO5hyIDXaWsxlSPPBfJMHawCSvzug6lM47AAAAUwAAAAtzc2gtZWQyNTUxOQAAAEBZHfMszPhJFUQG0XPEVSyj2glWbBif4O3HNogutCT2sjtiFkef4s+7r6pW04IzjTQYM09k9MukD/bpUoif3JYF rsa1024
";

    /// `ssh-keygen -e -f ed25519.pub` (RFC 4716).
    const ED25519_RFC: &str = r#"---- BEGIN SSH2 PUBLIC KEY ----
Comment: "256-bit ED25519, converted by root@vm from OpenSSH"
AAAAC3NzaC1lZDI1NTE5AAAAIA4CBh4bnPBoj2KOZCXUwTSt/OjSg84IWW2ArjWG8Bhl
---- END SSH2 PUBLIC KEY ----
"#;

    /// `ssh-keygen -e -f rsa3071.pub` (RFC 4716).
    const RSA_3071_RFC: &str = r#"---- BEGIN SSH2 PUBLIC KEY ----
Comment: "3070-bit RSA, converted by root@vm from OpenSSH"
AAAAB3NzaC1yc2EAAAADAQABAAABgCrfbke398tWWh1yiozmC2XdB3H1yZT8/codUK/Eob
TxgpYLHzJRzNhqFgCXrFuSJsS8iuJDjf9Ic2ZRR7yl+CfRn6oqIlg3TOYoTT/wJQQ9jxK9
NXrV1JkMJ9BdQrKf1Yj907zfV2jckasPOtExQUZBWjL2yKubEfUsPpy4M/erM8VdHyfm8w
hiJDESCvZ6ixdceYkbOVL0dqZ7dw2HKuXIfB5JKI50hiZo+hTCw32dzBDy7FxTQG8B2B2X
IkKOx7YZVpPAvDCmvf469bLxb1NPzP5Lm7aBzPyj9klV8mq1liPUJ+Mro6ar11VE4NQ9NK
R0uaiFvnIMw4HW0HGQkHtHJGpVnKc4+3MEf9hkezh5sg6aYkvc6aQhY579K2Hei16sDSmi
fVb3QpeZXslSD/Q4txPnuxLgvBsl5gIbb5bbR39jMYCN43RY2BnWM8GRFhlEun+wxdl74J
MxH7reyz9EmEWYESzLdWKp41tUllQlS8s4bitRR+uaFIgx9puSCQ==
---- END SSH2 PUBLIC KEY ----
"#;

    /// `ssh-keygen -e -f ed25519-cert.pub` (RFC 4716 export of the user certificate).
    const ED25519_CERT_RFC: &str = r#"---- BEGIN SSH2 PUBLIC KEY ----
Comment: "256-bit ED25519-CERT, converted by root@vm from OpenSSH"
AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAINrBYuw5P+xy000wJz
o1UlKXNzna+t6rtIiZGiqeC1ncAAAAIA4CBh4bnPBoj2KOZCXUwTSt/OjSg84IWW2ArjWG
8BhlAAAAAAAAACoAAAABAAAACGlkLWFsaWNlAAAACQAAAAVhbGljZQAAAABrA8Y0AAAAAG
zjqIkAAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1h
Z2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAA
pwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gt
ZWQyNTUxOQAAACBGlPRb+qa0juYciA12lrMZUjzwXyTB2sAkr87oOpTOOwAAAFMAAAALc3
NoLWVkMjU1MTkAAABAwzXHz+qW4SEF94FjXwPNS9yz1sTAQxbn37Z0i2HCdyB3Ez90+c5R
fEUirRh3ORDUCZeTMeZjhe8bAvqj729WDA==
---- END SSH2 PUBLIC KEY ----
"#;

    /// `ssh-keygen -l -E sha256 -f ca.pub`.
    const CA_FINGERPRINT: &str = "SHA256:7qKsKnZdm46gFhqBLoPdQnWVdNCTQyf3VoVBq3lbOi4";

    const ED25519_FINGERPRINT: &str = "SHA256:snnGhKYBSBqjfSwbLaFLaD5SZdlXpjICI/Q2WqW/onw";

    fn line(text: &str) -> KeyFacts {
        inspect_line(text).unwrap().unwrap()
    }

    fn rfc4716(text: &str) -> Result<KeyFacts, ParseError> {
        inspect_rfc4716(&find(text).unwrap().unwrap())
    }

    /// The base64 field of a one-line key.
    fn base64_of(text: &str) -> &str {
        text.split_whitespace().nth(1).unwrap()
    }

    fn encode(blob: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(blob)
    }

    #[test]
    fn ed25519_with_comment() {
        let facts = line(ED25519_PUB);
        assert_eq!(facts.kind, Kind::Public);
        assert_eq!(facts.format, Format::OpensshPublic);
        assert_eq!(facts.algorithm.as_deref(), Some("ssh-ed25519"));
        assert_eq!(facts.bits, Some(256));
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
        assert_eq!(facts.comment.as_deref(), Some("alice@example.com"));
        assert!(!facts.encrypted);
        assert!(!facts.hardware_backed);
        assert_eq!(facts.certificate, None);
        assert!(facts.openssh_loads);
    }

    #[test]
    fn without_comment_crlf_whitespace_and_comment_lines() {
        let bare = format!("ssh-ed25519 {}", base64_of(ED25519_PUB));
        assert_eq!(line(&bare).comment, None);
        assert_eq!(
            line(&bare).fingerprint.as_deref(),
            Some(ED25519_FINGERPRINT)
        );
        let messy = format!(
            "\r\n# my laptop key\r\n\r\n   ssh-ed25519\t{}   a comment with  spaces \r\n\r\n",
            base64_of(ED25519_PUB)
        );
        let facts = line(&messy);
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
        assert_eq!(facts.comment.as_deref(), Some("a comment with  spaces"));
    }

    #[test]
    fn rsa_and_ecdsa() {
        let facts = line(RSA_3071_PUB);
        assert_eq!(facts.algorithm.as_deref(), Some("ssh-rsa"));
        assert_eq!(facts.bits, Some(3070));
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:7FAmCg1f7VDDG1spPCameDgl2uAZ30A1ERGuJ7U1HIc")
        );
        assert_eq!(facts.comment.as_deref(), Some("rsa3071"));
        let facts = line(ECDSA_384_PUB);
        assert_eq!(facts.algorithm.as_deref(), Some("ecdsa-sha2-nistp384"));
        assert_eq!(facts.bits, Some(384));
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:8n22vu5L8Vm/29TCmdq8n8/v8jnQhq46wPtt3SAYtpY")
        );
    }

    #[test]
    fn sk_keys_are_hardware_backed() {
        let facts = line(SK_ED25519_PUB);
        assert_eq!(
            facts.algorithm.as_deref(),
            Some("sk-ssh-ed25519@openssh.com")
        );
        assert_eq!(facts.bits, Some(256));
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:J5QRMdZ3aSwnczZsy+fZmQXPaFQjeu5C09iZ8LLBSM8")
        );
        assert!(facts.hardware_backed);
        assert_eq!(facts.sk, Some(SkFacts::new("ssh:".to_owned(), None)));
        assert_eq!(facts.comment, None);
        let facts = line(SK_ECDSA_PUB);
        assert_eq!(
            facts.algorithm.as_deref(),
            Some("sk-ecdsa-sha2-nistp256@openssh.com")
        );
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:pNNE94dZsFdTNSQQVva2yiIgtb0Shhy0RJqUKl3OHSU")
        );
        assert_eq!(facts.sk.unwrap().application, "ssh:keycheck");
    }

    #[test]
    fn unknown_algorithm_is_a_public_key_without_bits() {
        let facts = line(UNKNOWN_PUB);
        assert_eq!(facts.kind, Kind::Public);
        assert_eq!(
            facts.algorithm.as_deref(),
            Some("ssh-mldsa44-ed25519@openssh.com")
        );
        assert_eq!(facts.bits, None);
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:SvyxGgTAe8ZN+L7cyjxRctOzTJ2HOdl7Su7DGvFN8Zs")
        );
        // An unknown name without a domain, as long as the blob names it too.
        let blob = Writer::new().string(b"ssh-foo").string(&[1, 2, 3]).finish();
        let facts = line(&format!("ssh-foo {} later", encode(&blob)));
        assert_eq!(facts.algorithm.as_deref(), Some("ssh-foo"));
        assert_eq!(facts.fingerprint, Some(blob::fingerprint(&blob)));
        assert_eq!(facts.comment.as_deref(), Some("later"));
    }

    #[test]
    fn authorized_keys_options_are_skipped() {
        let text = format!(
            "command=\"echo \\\"hi there\\\"\",no-pty,from=\"10.0.0.0/8\" ssh-ed25519 {} ci@build",
            base64_of(ED25519_PUB)
        );
        let facts = line(&text);
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
        assert_eq!(facts.comment.as_deref(), Some("ci@build"));
        let unbalanced = format!("command=\"oops ssh-ed25519 {}", base64_of(ED25519_PUB));
        assert!(inspect_line(&unbalanced).is_none());
    }

    #[test]
    fn several_keys_are_a_list_not_a_key() {
        let two = format!("{ED25519_PUB}{RSA_3071_PUB}");
        assert!(inspect_line(&two).is_none());
        let with_options = format!("{ED25519_PUB}\nno-pty {SK_ED25519_PUB}");
        assert!(inspect_line(&with_options).is_none());
        // Prose after the key is not a second key.
        let noted = format!("{ED25519_PUB}\nthis is alice's laptop key\n");
        assert!(inspect_line(&noted).unwrap().is_ok());
    }

    #[test]
    fn mismatched_type_is_an_error() {
        let text = format!("ssh-rsa {} alice", base64_of(ED25519_PUB));
        let error = inspect_line(&text).unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            "public key type: the line says ssh-rsa but the key is ssh-ed25519"
        );
        let typo = format!("ssh-ed25591 {}", base64_of(ED25519_PUB));
        assert!(inspect_line(&typo).unwrap().is_err());
        // An unknown type is an error too when the blob is a key keycheck knows.
        assert!(inspect_line("ssh-foo AAAAB3NzaC1yc2E=").unwrap().is_err());
        let cert_as_key = format!("ssh-ed25519 {}", base64_of(ED25519_CERT));
        assert!(inspect_line(&cert_as_key).unwrap().is_err());
    }

    #[test]
    fn broken_known_keys_are_errors() {
        assert!(inspect_line("ssh-ed25519").unwrap().is_err());
        assert!(inspect_line("ssh-ed25519 !!!!").unwrap().is_err());
        assert!(inspect_line("ssh-rsa AAAA").unwrap().is_err());
        assert!(inspect_line("ecdsa-sha2-nistp256 AAAAE2VjZHNh")
            .unwrap()
            .is_err());
    }

    #[test]
    fn text_that_is_not_a_key() {
        for text in [
            "",
            "\n\n",
            "# only a comment\n",
            "Host example\n  User alice\n",
            "ssh-agent started at boot\n",
            "alice@example.com wrote:\n",
            "ssh-foo aGVsbG8gd29ybGQ=\n",
            "-----BEGIN SOMETHING-----\n",
        ] {
            assert!(inspect_line(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn user_certificate() {
        let facts = line(ED25519_CERT);
        assert_eq!(facts.kind, Kind::Certificate);
        assert_eq!(facts.format, Format::OpensshCertificate);
        // `ssh-keygen -l -E sha256 -f ed25519-cert.pub`:
        // 256 SHA256:snnG... alice@example.com (ED25519-CERT), the certified key's own.
        assert_eq!(facts.algorithm.as_deref(), Some("ssh-ed25519"));
        assert_eq!(facts.bits, Some(256));
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
        assert_eq!(facts.comment.as_deref(), Some("alice@example.com"));
        assert_eq!(
            facts.certificate,
            Some(CertFacts {
                cert_type: "user".to_owned(),
                key_id: "id-alice".to_owned(),
                serial: 42,
                principals: vec!["alice".to_owned()],
                // Valid: from 2026-11-23T04:51:00 to 2027-11-22T04:52:25 (UTC)
                valid_after: 1_795_409_460,
                valid_before: 1_826_859_145,
                ca_fingerprint: CA_FINGERPRINT.to_owned(),
                ca_algorithm: "ssh-ed25519".to_owned(),
            })
        );

        // ssh-key reads this bounded certificate; its fields agree with ours.
        let oracle = ssh_key::Certificate::from_openssh(ED25519_CERT).unwrap();
        let cert = facts.certificate.unwrap();
        assert_eq!(oracle.serial(), cert.serial);
        assert_eq!(oracle.key_id(), cert.key_id);
        assert_eq!(oracle.valid_principals(), cert.principals.as_slice());
        assert_eq!(oracle.valid_after(), cert.valid_after);
        assert_eq!(oracle.valid_before(), cert.valid_before);
        assert!(oracle.cert_type().is_user());
        assert_eq!(
            oracle
                .public_key()
                .fingerprint(ssh_key::HashAlg::Sha256)
                .to_string(),
            ED25519_FINGERPRINT
        );
        assert_eq!(
            oracle
                .signature_key()
                .fingerprint(ssh_key::HashAlg::Sha256)
                .to_string(),
            cert.ca_fingerprint
        );
    }

    #[test]
    fn host_certificate_valid_forever() {
        let facts = line(RSA_HOST_CERT);
        assert_eq!(facts.kind, Kind::Certificate);
        // `ssh-keygen -l`: 1024 SHA256:xI8y... rsa1024 (RSA-CERT)
        assert_eq!(facts.algorithm.as_deref(), Some("ssh-rsa"));
        assert_eq!(facts.bits, Some(1024));
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:xI8yMLs7NXGgCoJbWsRI/HaQGWWo4AWEDApJUJWSn04")
        );
        let cert = facts.certificate.unwrap();
        assert_eq!(cert.cert_type, "host");
        assert_eq!(cert.key_id, "host-id");
        assert_eq!(cert.serial, 0);
        assert_eq!(cert.principals, ["host.example.com", "alt.example.com"]);
        assert_eq!(cert.valid_after, 0);
        assert_eq!(cert.valid_before, u64::MAX);
        assert_eq!(cert.ca_fingerprint, CA_FINGERPRINT);
        // Why this module does not use ssh_key::Certificate: it refuses "forever".
        assert!(ssh_key::Certificate::from_openssh(RSA_HOST_CERT).is_err());
    }

    #[test]
    fn broken_certificates_are_errors() {
        let mut blob = armor::decode_base64(base64_of(ED25519_CERT), "test").unwrap();
        // The uint32 type sits after the name, nonce, key and serial.
        let at = 4 + 32 + 4 + 32 + 4 + 32 + 8 + 3;
        assert_eq!(blob[at], 1);
        blob[at] = 3;
        let text = format!("ssh-ed25519-cert-v01@openssh.com {}", encode(&blob));
        let error = inspect_line(&text).unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            "certificate type: 3 is neither user (1) nor host (2)"
        );
        let unknown = Writer::new()
            .string(b"ssh-xmss-cert-v01@openssh.com")
            .string(&[0; 32])
            .finish();
        let text = format!("ssh-xmss-cert-v01@openssh.com {}", encode(&unknown));
        assert!(inspect_line(&text).unwrap().is_err());
    }

    #[test]
    fn rfc4716_public_keys() {
        let facts = rfc4716(ED25519_RFC).unwrap();
        assert_eq!(facts.kind, Kind::Public);
        assert_eq!(facts.format, Format::Rfc4716Public);
        assert_eq!(facts.algorithm.as_deref(), Some("ssh-ed25519"));
        assert_eq!(facts.bits, Some(256));
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
        assert_eq!(
            facts.comment.as_deref(),
            Some("256-bit ED25519, converted by root@vm from OpenSSH")
        );
        let facts = rfc4716(RSA_3071_RFC).unwrap();
        assert_eq!(facts.bits, Some(3070));
        assert_eq!(
            facts.fingerprint.as_deref(),
            Some("SHA256:7FAmCg1f7VDDG1spPCameDgl2uAZ30A1ERGuJ7U1HIc")
        );
        let bare = "---- BEGIN SSH2 PUBLIC KEY ----\nAAAAC3NzaC1lZDI1NTE5AAAAIA4CBh4bnPBoj2KOZCXUwTSt/OjSg84IWW2ArjWG8Bhl\n---- END SSH2 PUBLIC KEY ----\n";
        let facts = rfc4716(bare).unwrap();
        assert_eq!(facts.comment, None);
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
    }

    #[test]
    fn rfc4716_certificate() {
        let facts = rfc4716(ED25519_CERT_RFC).unwrap();
        assert_eq!(facts.kind, Kind::Certificate);
        assert_eq!(facts.format, Format::Rfc4716Public);
        assert_eq!(facts.fingerprint.as_deref(), Some(ED25519_FINGERPRINT));
        assert_eq!(facts.certificate.unwrap().key_id, "id-alice");
    }

    #[test]
    fn through_the_dispatcher() {
        use crate::key::{inspect, Inspection};
        let Inspection::Key(facts) = inspect(ED25519_CERT.as_bytes()) else {
            panic!("not a key");
        };
        assert_eq!(facts.format, Format::OpensshCertificate);
        let Inspection::Key(facts) = inspect(ED25519_RFC.as_bytes()) else {
            panic!("not a key");
        };
        assert_eq!(facts.format, Format::Rfc4716Public);
        assert!(matches!(
            inspect(format!("{ED25519_PUB}{ECDSA_384_PUB}").as_bytes()),
            Inspection::NotKey(_)
        ));
    }

    /// Every real blob, for the robustness loops.
    fn blobs() -> Vec<Vec<u8>> {
        [
            ED25519_PUB,
            RSA_3071_PUB,
            ECDSA_384_PUB,
            SK_ED25519_PUB,
            SK_ECDSA_PUB,
            UNKNOWN_PUB,
            ED25519_CERT,
            RSA_HOST_CERT,
        ]
        .iter()
        .map(|text| {
            armor::decode_base64(base64_of(text), "test")
                .unwrap()
                .to_vec()
        })
        .collect()
    }

    fn blob_type(blob: &[u8]) -> String {
        Reader::new(blob).name("test").unwrap()
    }

    #[test]
    fn every_truncation_is_an_error() {
        for blob in blobs() {
            let key_type = blob_type(&blob);
            for len in 0..blob.len() {
                let prefix = &blob[..len];
                let text = format!("{key_type} {} comment", encode(prefix));
                let found = inspect_line(&text);
                if is_known(&key_type) {
                    assert!(found.unwrap().is_err(), "{key_type} prefix {len}");
                }
                let armored = format!(
                    "---- BEGIN SSH2 PUBLIC KEY ----\n{}\n---- END SSH2 PUBLIC KEY ----\n",
                    encode(prefix)
                );
                let result = rfc4716(&armored);
                if is_known(&key_type) {
                    assert!(result.is_err(), "rfc4716 {key_type} prefix {len}");
                }
            }
        }
    }

    #[test]
    fn corrupted_bytes_never_panic() {
        for blob in blobs() {
            let key_type = blob_type(&blob);
            for at in 0..blob.len() {
                for mask in [0x01, 0x80, 0xff] {
                    let mut bad = blob.clone();
                    bad[at] ^= mask;
                    let text = format!("{key_type} {}", encode(&bad));
                    if let Some(Ok(facts)) = inspect_line(&text) {
                        assert!(facts.fingerprint.is_some());
                    }
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut state: u32 = 0x9e37_79b9;
        for len in [0, 1, 3, 4, 11, 40, 200] {
            for _ in 0..200 {
                let mut blob = Writer::new()
                    .string(b"ssh-ed25519-cert-v01@openssh.com")
                    .finish();
                for _ in 0..len {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    blob.push(state.to_be_bytes()[1]);
                }
                let text = format!("ssh-ed25519-cert-v01@openssh.com {}", encode(&blob));
                assert!(inspect_line(&text).unwrap().is_err());
                let _ = inspect_line(&String::from_utf8_lossy(&blob));
            }
        }
        for text in [
            "\"",
            "\\",
            "a \"",
            "\"\\\"",
            "ssh- ",
            "@ @",
            "\u{feff}ssh-rsa",
            "é ssh-ed25519 x",
        ] {
            let _ = inspect_line(text);
        }
    }
}
