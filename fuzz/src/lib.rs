//! What keycheck's fuzz targets share: the invariants every key reader must keep, and the
//! armour the binary targets wrap their input in (so that libFuzzer mutates the decoded
//! bytes of a format, not its base64).
//!
//! Every check is an `assert!`: a broken invariant is a crash libFuzzer keeps, like a
//! panic inside keycheck.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use keycheck::key::decrypt::{self, DecryptError};
use keycheck::key::{self, Inspection, KeyFacts, Kind};

/// The throwaway passphrase of the committed fixtures and of the keys `scripts/fuzz.sh`
/// generates for the seed corpora, so that a seed's decryption can succeed.
pub const FIXTURE_PASSPHRASE: &[u8] = b"keycheck-test";

/// `body` armoured as `-----BEGIN {label}-----` with `headers` (each line ending in
/// `\n`, then a blank line, as PEM writes them) and base64 in lines of 70 characters.
#[must_use]
pub fn armor(label: &str, headers: &str, body: &[u8]) -> String {
    let encoded = STANDARD.encode(body);
    let mut text = format!("-----BEGIN {label}-----\n");
    if !headers.is_empty() {
        text.push_str(headers);
        text.push('\n');
    }
    push_wrapped(&mut text, &encoded, 70);
    text.push_str(&format!("-----END {label}-----\n"));
    text
}

/// `encoded` in lines of at most `width` characters, each ending in `\n`.
pub fn push_wrapped(text: &mut String, encoded: &str, width: usize) {
    // Base64 is ASCII, so byte chunks are character chunks.
    for chunk in encoded.as_bytes().chunks(width) {
        text.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        text.push('\n');
    }
}

/// `bytes` as standard base64 (no line breaks).
#[must_use]
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Inspects `bytes` as the scan does, checks the facts' invariants, then prepares the
/// passphrase audit on the same bytes and checks that both readers agree. Returns what
/// `inspect` said.
#[must_use]
pub fn check_key(bytes: &[u8]) -> Inspection {
    let inspection = key::inspect(bytes);
    match &inspection {
        Inspection::Key(facts) => check_facts(facts),
        Inspection::NotKey(reason) => assert!(!reason.is_empty(), "a NotKey without a reason"),
        Inspection::Malformed { error, .. } => {
            assert!(!error.to_string().is_empty(), "an error without a message");
        }
    }
    check_audit(bytes, &inspection);
    inspection
}

/// What holds of any facts `inspect` returns.
fn check_facts(facts: &KeyFacts) {
    if facts.kind != Kind::Private {
        assert!(
            !facts.encrypted,
            "a public key or certificate is never encrypted"
        );
    }
    if facts.kind == Kind::Certificate {
        assert!(
            facts.certificate.is_some(),
            "a certificate without its facts"
        );
    }
    if let Some(fingerprint) = &facts.fingerprint {
        // `SHA256:` and 43 characters of unpadded base64, as ssh-keygen prints it.
        assert!(
            fingerprint.starts_with("SHA256:") && fingerprint.len() == 50,
            "fingerprint {fingerprint:?}"
        );
    }
    assert_eq!(
        facts.needs_public_part(),
        facts.kind == Kind::Private && facts.fingerprint.is_none()
    );
    // Reports carry the facts as JSON: they must come back the same.
    let json = serde_json::to_string(facts).expect("facts serialise");
    let back: KeyFacts = serde_json::from_str(&json).expect("facts deserialise");
    assert_eq!(&back, facts, "facts change through JSON");
}

/// `decrypt::prepare` reads the same bytes through `inspect`: its answer must match, and
/// an encrypted key it can audit gets a few passphrases tried when one attempt is cheap.
fn check_audit(bytes: &[u8], inspection: &Inspection) {
    let prepared = decrypt::prepare(bytes);
    if let Err(e) = &prepared {
        assert!(!e.to_string().is_empty(), "an error without a message");
    }
    match (inspection, prepared) {
        (Inspection::NotKey(_), result) => assert!(
            matches!(result, Err(DecryptError::NotKey { .. })),
            "inspect: not a key; prepare: {result:?}"
        ),
        (Inspection::Malformed { .. }, result) => assert!(
            matches!(result, Err(DecryptError::Malformed(_))),
            "inspect: malformed; prepare: {result:?}"
        ),
        (Inspection::Key(facts), Err(DecryptError::NotEncrypted { .. })) => assert!(
            facts.kind != Kind::Private || !facts.encrypted,
            "an encrypted private key read as not encrypted"
        ),
        (Inspection::Key(facts), Err(_)) => assert!(
            facts.kind == Kind::Private && facts.encrypted,
            "an unencrypted key failed the audit's reader"
        ),
        (Inspection::Key(facts), Ok(unlocker)) => {
            assert!(facts.kind == Kind::Private && facts.encrypted);
            assert_eq!(unlocker.format(), facts.format);
            assert!(!unlocker.protection().is_empty());
            if cheap(facts, unlocker.memory_per_attempt()) {
                // The empty one (refused early by some formats) and the seeds' own, which
                // a wrong one only differs from once the KDF has run.
                for passphrase in [b"".as_slice(), FIXTURE_PASSPHRASE] {
                    let _ = unlocker.try_passphrase(passphrase);
                }
            }
        }
    }
}

/// Returns true if and only if one passphrase attempt costs next to nothing: the seeds
/// `scripts/fuzz.sh` writes use the smallest parameters each format allows, and the
/// fuzzer's own mutations of the cost fields mostly raise them (bcrypt's 16 rounds are
/// about 0.1 s an attempt, far too slow to try on every input).
fn cheap(facts: &KeyFacts, memory: u64) -> bool {
    let rounds = facts.kdf_rounds.unwrap_or(1);
    let rounds_ok = match facts.kdf.as_deref() {
        Some("bcrypt") => rounds <= 1,
        _ => rounds <= 16,
    };
    rounds_ok && memory <= 256 * 1024 && facts.kdf_memory_kib.unwrap_or(0) <= 256
}
