//! PURE: whether a private key found in the home tree is an SSH key.
//!
//! OpenSSH, PuTTY, ssh.com and SSH-1 files are SSH keys by their format. PEM keys
//! (PKCS#1, PKCS#8, SEC1, DSA) are also what TLS servers, code signing and a hundred other
//! tools use, so outside `~/.ssh` a PEM key counts as an SSH key only with a sign of SSH
//! use. This module weighs those signs; it is given everything as plain values and never
//! touches the filesystem.

use crate::key::{Format, KeyFacts, Kind};

/// What is known about one private key file, for [`ssh_use`].
#[derive(Debug, Clone, Copy)]
pub struct Clues<'a> {
    /// What the file's bytes say.
    pub facts: &'a KeyFacts,
    /// The file's name (the last path component), lossily as text.
    pub file_name: &'a str,
    /// True if and only if the same file holds a `BEGIN CERTIFICATE` block.
    pub with_certificate: bool,
    /// True if and only if an `IdentityFile` line in the ssh configuration names the file.
    pub identity_file: bool,
    /// The facts of the readable public key file `NAME.pub` beside it, if there is one.
    pub public_beside: Option<&'a KeyFacts>,
}

/// Why a private key is taken for an SSH key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshSign {
    /// Its format is only used by SSH (OpenSSH, PuTTY, ssh.com, SSH-1).
    Format,
    /// An `IdentityFile` names it.
    IdentityFile,
    /// `NAME.pub` beside it is the OpenSSH public key of the same key (or of a key of the
    /// same algorithm, when the PEM is encrypted and hides its public part).
    MatchingPublicKey,
    /// Its name is one `ssh-keygen` gives (`id_rsa`, `id_ecdsa`, `id_dsa`, `id_ed25519`,
    /// optionally with a suffix).
    DefaultName,
}

/// Whether a private key is an SSH key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An SSH key, and the strongest sign of it.
    Ssh(SshSign),
    /// Not taken for an SSH key; the text says why, for the `skipped` list.
    NotSsh(&'static str),
}

/// The reason given for a PEM key without any sign of SSH use.
pub const NO_SIGN: &str = "PEM private key with no sign of SSH use (a TLS key?)";

/// The reason given for a PEM key stored with a certificate.
pub const WITH_CERTIFICATE: &str =
    "PEM private key stored with a certificate in the same file (a TLS key)";

/// The reason given for anything that is not a private key.
pub const NOT_PRIVATE: &str = "not a private key";

/// The `ssh-keygen` default file names (ssh-keygen(1), FILES), without `_sk`: a name
/// that starts with one of these (`id_ed25519_sk`, `id_rsa.work`) is a default name too.
const DEFAULT_NAMES: [&str; 4] = ["id_rsa", "id_ecdsa", "id_dsa", "id_ed25519"];

/// Decides whether the private key described by `clues` is an SSH key.
///
/// A PEM key stored with a certificate is never one (it is a TLS key and certificate
/// bundle), whatever else is known; otherwise an `IdentityFile` naming it, a matching
/// `NAME.pub` or a default `ssh-keygen` name makes it one.
#[must_use]
pub fn ssh_use(clues: &Clues<'_>) -> Verdict {
    let facts = clues.facts;
    if facts.kind != Kind::Private {
        return Verdict::NotSsh(NOT_PRIVATE);
    }
    if !is_pem(facts.format) {
        return Verdict::Ssh(SshSign::Format);
    }
    if clues.with_certificate {
        return Verdict::NotSsh(WITH_CERTIFICATE);
    }
    if clues.identity_file {
        return Verdict::Ssh(SshSign::IdentityFile);
    }
    if clues
        .public_beside
        .is_some_and(|public| matching_public(facts, public))
    {
        return Verdict::Ssh(SshSign::MatchingPublicKey);
    }
    if is_default_name(clues.file_name) {
        return Verdict::Ssh(SshSign::DefaultName);
    }
    Verdict::NotSsh(NO_SIGN)
}

/// Returns true if and only if `format` is one of the PEM private key formats, which TLS
/// and SSH share.
#[must_use]
pub fn is_pem(format: Format) -> bool {
    matches!(
        format,
        Format::Pkcs1Pem
            | Format::Pkcs8Pem
            | Format::Pkcs8EncryptedPem
            | Format::Sec1Pem
            | Format::DsaPem
    )
}

/// Returns true if and only if `public` is an OpenSSH public key line for the private key
/// `private`: the same fingerprint, or, when the private file hides its public part
/// (encrypted PEM), a public key that does not contradict what the file shows.
#[must_use]
pub fn matching_public(private: &KeyFacts, public: &KeyFacts) -> bool {
    if public.kind != Kind::Public
        || public.format != Format::OpensshPublic
        || public.fingerprint.is_none()
    {
        return false;
    }
    match &private.fingerprint {
        Some(fingerprint) => public.fingerprint.as_ref() == Some(fingerprint),
        None => match (&private.algorithm, &public.algorithm) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        },
    }
}

/// Returns true if and only if `name` is an `ssh-keygen` default key file name
/// (`id_rsa`, `id_ecdsa`, `id_dsa`, `id_ed25519`), alone or followed by a suffix that
/// starts with `_`, `-`, `.` or a digit (`id_ed25519_sk`, `id_rsa-work`, `id_rsa.old`,
/// `id_rsa2`), and is not a public key (`.pub`).
#[must_use]
pub fn is_default_name(name: &str) -> bool {
    if name.ends_with(".pub") {
        return false;
    }
    DEFAULT_NAMES.iter().any(|stem| {
        name.strip_prefix(stem).is_some_and(|rest| {
            rest.chars()
                .next()
                .is_none_or(|c| matches!(c, '_' | '-' | '.') || c.is_ascii_digit())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(format: Format, fingerprint: Option<&str>, algorithm: Option<&str>) -> KeyFacts {
        let mut facts = KeyFacts::new(Kind::Private, format);
        facts.fingerprint = fingerprint.map(str::to_owned);
        facts.algorithm = algorithm.map(str::to_owned);
        facts
    }

    fn public(fingerprint: &str, algorithm: &str) -> KeyFacts {
        let mut facts = KeyFacts::new(Kind::Public, Format::OpensshPublic);
        facts.fingerprint = Some(fingerprint.to_owned());
        facts.algorithm = Some(algorithm.to_owned());
        facts
    }

    fn clues<'a>(facts: &'a KeyFacts, name: &'a str) -> Clues<'a> {
        Clues {
            facts,
            file_name: name,
            with_certificate: false,
            identity_file: false,
            public_beside: None,
        }
    }

    #[test]
    fn ssh_only_formats_are_ssh_keys_whatever_their_name() {
        for format in [
            Format::Openssh,
            Format::PuttyV2,
            Format::PuttyV3,
            Format::Sshcom,
            Format::Ssh1,
        ] {
            let facts = private(format, Some("SHA256:a"), Some("ssh-ed25519"));
            let mut c = clues(&facts, "server.key");
            c.with_certificate = true;
            assert_eq!(ssh_use(&c), Verdict::Ssh(SshSign::Format), "{format:?}");
        }
    }

    #[test]
    fn pem_without_any_sign_is_not_an_ssh_key() {
        for format in [
            Format::Pkcs1Pem,
            Format::Pkcs8Pem,
            Format::Pkcs8EncryptedPem,
            Format::Sec1Pem,
            Format::DsaPem,
        ] {
            let facts = private(format, Some("SHA256:a"), Some("ssh-rsa"));
            assert_eq!(
                ssh_use(&clues(&facts, "server.key")),
                Verdict::NotSsh(NO_SIGN),
                "{format:?}"
            );
        }
    }

    #[test]
    fn pem_with_a_matching_public_key_beside_is_an_ssh_key() {
        let facts = private(Format::Pkcs1Pem, Some("SHA256:same"), Some("ssh-rsa"));
        let same = public("SHA256:same", "ssh-rsa");
        let mut c = clues(&facts, "deploy.pem");
        c.public_beside = Some(&same);
        assert_eq!(ssh_use(&c), Verdict::Ssh(SshSign::MatchingPublicKey));

        let other = public("SHA256:other", "ssh-rsa");
        c.public_beside = Some(&other);
        assert_eq!(ssh_use(&c), Verdict::NotSsh(NO_SIGN));
    }

    #[test]
    fn encrypted_pem_takes_any_public_key_of_its_algorithm() {
        // Encrypted PKCS#8 hides even the algorithm.
        let hidden = private(Format::Pkcs8EncryptedPem, None, None);
        let any = public("SHA256:x", "ecdsa-sha2-nistp256");
        let mut c = clues(&hidden, "signing.pem");
        c.public_beside = Some(&any);
        assert_eq!(ssh_use(&c), Verdict::Ssh(SshSign::MatchingPublicKey));

        // Legacy-encrypted PKCS#1 shows it is RSA: an Ed25519 .pub is not its own.
        let rsa = private(Format::Pkcs1Pem, None, Some("ssh-rsa"));
        let ed = public("SHA256:x", "ssh-ed25519");
        let mut c = clues(&rsa, "signing.pem");
        c.public_beside = Some(&ed);
        assert_eq!(ssh_use(&c), Verdict::NotSsh(NO_SIGN));
        let rsa_pub = public("SHA256:x", "ssh-rsa");
        c.public_beside = Some(&rsa_pub);
        assert_eq!(ssh_use(&c), Verdict::Ssh(SshSign::MatchingPublicKey));
    }

    #[test]
    fn only_openssh_public_lines_count_as_the_public_key_beside() {
        let facts = private(Format::Pkcs8Pem, Some("SHA256:same"), Some("ssh-rsa"));
        let mut rfc4716 = public("SHA256:same", "ssh-rsa");
        rfc4716.format = Format::Rfc4716Public;
        let mut cert = public("SHA256:same", "ssh-rsa");
        cert.kind = Kind::Certificate;
        cert.format = Format::OpensshCertificate;
        let mut other_private = public("SHA256:same", "ssh-rsa");
        other_private.kind = Kind::Private;
        for beside in [&rfc4716, &cert, &other_private] {
            let mut c = clues(&facts, "tls.pem");
            c.public_beside = Some(beside);
            assert_eq!(ssh_use(&c), Verdict::NotSsh(NO_SIGN), "{beside:?}");
        }
    }

    #[test]
    fn identity_file_and_default_names_make_pem_an_ssh_key() {
        let facts = private(
            Format::Sec1Pem,
            Some("SHA256:a"),
            Some("ecdsa-sha2-nistp256"),
        );
        let mut c = clues(&facts, "github.pem");
        c.identity_file = true;
        assert_eq!(ssh_use(&c), Verdict::Ssh(SshSign::IdentityFile));
        assert_eq!(
            ssh_use(&clues(&facts, "id_ecdsa_work")),
            Verdict::Ssh(SshSign::DefaultName)
        );
    }

    #[test]
    fn a_certificate_in_the_same_file_outweighs_every_sign() {
        let facts = private(Format::Pkcs8Pem, Some("SHA256:same"), Some("ssh-rsa"));
        let same = public("SHA256:same", "ssh-rsa");
        let c = Clues {
            facts: &facts,
            file_name: "id_rsa",
            with_certificate: true,
            identity_file: true,
            public_beside: Some(&same),
        };
        assert_eq!(ssh_use(&c), Verdict::NotSsh(WITH_CERTIFICATE));
    }

    #[test]
    fn public_keys_are_never_reported() {
        let facts = public("SHA256:a", "ssh-ed25519");
        assert_eq!(
            ssh_use(&clues(&facts, "id_ed25519")),
            Verdict::NotSsh(NOT_PRIVATE)
        );
    }

    #[test]
    fn default_names() {
        for name in [
            "id_rsa",
            "id_ecdsa",
            "id_dsa",
            "id_ed25519",
            "id_ed25519_sk",
            "id_ecdsa_sk",
            "id_rsa_work",
            "id_rsa-github",
            "id_rsa.old",
            "id_rsa2",
            "id_rsa.pem",
        ] {
            assert!(is_default_name(name), "{name}");
        }
        for name in [
            "id_rsa.pub",
            "id_rsabc",
            "my_id_rsa",
            "id_ed",
            "server.key",
            "ID_RSA",
            "",
        ] {
            assert!(!is_default_name(name), "{name}");
        }
    }
}
