//! PURE: whether a rewritten key file may replace the original. `keycheck fix` lets
//! `ssh-keygen -p` rewrite a copy of the key; the copy replaces the original only when
//! its bytes show the same key, encrypted, in the OpenSSH format, with bcrypt rounds at
//! or above the policy's.

use crate::key::{self, Format, Inspection, KeyFacts, Kind};

/// Why a rewritten copy was refused. Never holds key bytes: only facts a person may see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The copy is not a private key keycheck can read.
    #[error("the rewritten file is not a private key keycheck can read ({0})")]
    NotAKey(String),
    /// The copy is not in the OpenSSH format.
    #[error("the rewritten file is in the {0} format, not OpenSSH's")]
    NotOpenssh(&'static str),
    /// No passphrase protects the copy (an empty passphrase was given).
    #[error("the rewritten file has no passphrase (an empty passphrase was given)")]
    NotEncrypted,
    /// The copy's key derivation is weaker than asked.
    #[error("the rewritten file uses {kdf} with {got} rounds, not bcrypt with at least {want}")]
    WeakKdf {
        /// The key derivation function found.
        kdf: String,
        /// Its rounds.
        got: u32,
        /// The rounds asked for.
        want: u32,
    },
    /// The copy holds another key than the original.
    #[error("the rewritten file holds another key ({got}, expected {expected})")]
    OtherKey {
        /// The fingerprint of the original.
        expected: String,
        /// The fingerprint found in the copy.
        got: String,
    },
}

/// The fingerprint (`SHA256:...`) of the key in `bytes`, completed from the bytes of
/// its `.pub` file when the private file hides it (encrypted legacy PEM or PKCS#8).
/// `None` when neither shows it.
#[must_use]
pub fn fingerprint(bytes: &[u8], public: Option<&[u8]>) -> Option<String> {
    let Inspection::Key(mut facts) = key::inspect(bytes) else {
        return None;
    };
    if facts.needs_public_part() {
        if let Some(Inspection::Key(public)) = public.map(key::inspect) {
            facts.complete_from_public(&public, ".pub");
        }
    }
    facts.fingerprint
}

/// Accepts `new` (the rewritten copy) as the replacement of a key whose fingerprint is
/// `expected` when it is that key, in the OpenSSH format, encrypted with bcrypt of at
/// least `rounds` rounds; returns its facts.
///
/// # Errors
/// [`Refused`] saying what is wrong with the copy.
pub fn check(expected: &str, rounds: u32, new: &[u8]) -> Result<KeyFacts, Refused> {
    let facts = match key::inspect(new) {
        Inspection::Key(facts) if facts.kind == Kind::Private => *facts,
        Inspection::Key(_) => return Err(Refused::NotAKey("a public key".to_owned())),
        Inspection::NotKey(reason) => return Err(Refused::NotAKey(reason)),
        Inspection::Malformed { error, .. } => return Err(Refused::NotAKey(error.to_string())),
    };
    if facts.format != Format::Openssh {
        return Err(Refused::NotOpenssh(facts.format.as_str()));
    }
    if !facts.encrypted {
        return Err(Refused::NotEncrypted);
    }
    let kdf = facts.kdf.clone().unwrap_or_default();
    let got = facts.kdf_rounds.unwrap_or(0);
    if kdf != "bcrypt" || got < rounds {
        return Err(Refused::WeakKdf {
            kdf,
            got,
            want: rounds,
        });
    }
    match &facts.fingerprint {
        Some(fp) if fp == expected => Ok(facts),
        other => Err(Refused::OtherKey {
            expected: expected.to_owned(),
            got: other.clone().unwrap_or_else(|| "none".to_owned()),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const PLAIN: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_ed25519");
    const ENC: &[u8] = include_bytes!("../../tests/fixtures/ssh/id_ed25519_enc");

    fn fp(bytes: &[u8]) -> String {
        fingerprint(bytes, None).unwrap()
    }

    #[test]
    fn an_encrypted_copy_of_the_same_key_is_accepted() {
        let facts = check(&fp(ENC), 16, ENC).unwrap();
        assert!(facts.encrypted);
    }

    #[test]
    fn an_unencrypted_copy_is_refused() {
        assert_eq!(check(&fp(PLAIN), 16, PLAIN), Err(Refused::NotEncrypted));
    }

    #[test]
    fn too_few_rounds_are_refused() {
        let rounds = match key::inspect(ENC) {
            Inspection::Key(f) => f.kdf_rounds.unwrap(),
            other => panic!("{other:?}"),
        };
        let err = check(&fp(ENC), rounds + 1, ENC).unwrap_err();
        assert!(
            matches!(err, Refused::WeakKdf { got, .. } if got == rounds),
            "{err}"
        );
    }

    #[test]
    fn a_hidden_fingerprint_comes_from_the_pub_file() {
        let pem = include_bytes!("../../tests/fixtures/ssh/id_rsa_pem_enc");
        let public = include_bytes!("../../tests/fixtures/ssh/id_rsa_pem_enc.pub");
        assert_eq!(fingerprint(pem, None), None);
        assert_eq!(fingerprint(pem, Some(public)), fingerprint(public, None));
        assert!(fingerprint(pem, Some(public)).is_some());
        // A .pub of another algorithm does not complete it.
        let other = include_bytes!("../../tests/fixtures/ssh/id_ed25519.pub");
        assert_eq!(fingerprint(pem, Some(other)), None);
    }

    #[test]
    fn another_key_is_refused_and_garbage_is_not_a_key() {
        let err = check("SHA256:not-this-one", 1, ENC).unwrap_err();
        assert!(matches!(err, Refused::OtherKey { .. }), "{err}");
        assert!(matches!(check("x", 1, b""), Err(Refused::NotAKey(_))));
        assert!(matches!(
            check(
                "x",
                1,
                b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
            ),
            Err(Refused::NotAKey(_))
        ));
    }
}
