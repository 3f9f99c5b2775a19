//! PURE: PuTTY private key files, versions 2 and 3 (PuTTY manual, appendix C "PuTTY's key
//! file format").
//!
//! A PPK file is text: a header naming the version and algorithm, `Encryption`, `Comment`,
//! the SSH public blob in the clear (`Public-Lines`), for an encrypted v3 file the Argon2
//! parameters (`Key-Derivation`, `Argon2-*`), the private blob (`Private-Lines`) and a MAC.
//! The public blob gives algorithm, bits and fingerprint even when the private part is
//! encrypted. The private lines are only counted and checked to be base64, never decoded.

use zeroize::Zeroizing;

use super::armor::decode_base64;
use super::blob;
use super::{Format, KeyFacts, Kind, ParseError};

/// The most base64 lines a `Public-Lines` / `Private-Lines` count may announce.
///
/// PuTTY's own bound (`MAX_KEY_BLOB_LINES` in `sshpubk.c`): a 256 KiB blob at 48 bytes a
/// line; anything larger could not pass through the SSH agent protocol anyway.
const MAX_BLOB_LINES: usize = 262_144 / 48;

/// The first header's name without its version digit.
const HEADER_PREFIX: &str = "PuTTY-User-Key-File-";

/// Facts of a `PuTTY-User-Key-File-N` text.
///
/// # Errors
/// [`ParseError::Truncated`] when the text ends before a field the format requires,
/// [`ParseError::Invalid`] when a field is out of order or holds a value the format does
/// not allow (unknown version or encryption, a line count above PuTTY's bound, a public
/// blob whose algorithm contradicts the header), [`ParseError::Base64`] for bad base64.
pub(super) fn inspect(text: &str) -> Result<KeyFacts, ParseError> {
    let mut lines = Lines::new(text.trim_start());
    let (name, algorithm) = lines.header()?;
    let algorithm = algorithm.trim();
    let format = match name.strip_prefix(HEADER_PREFIX) {
        Some("3") => Format::PuttyV3,
        Some("2") => Format::PuttyV2,
        Some(version) => {
            return Err(ParseError::Invalid {
                context: "putty key version",
                detail: format!("version {} is not supported (only 2 and 3)", clip(version)),
            })
        }
        None => {
            return Err(ParseError::Invalid {
                context: "putty key header",
                detail: "does not start with PuTTY-User-Key-File-".to_owned(),
            })
        }
    };
    let mut facts = KeyFacts::new(Kind::Private, format);
    // PuTTY keys are PuTTY's own; OpenSSH needs `puttygen -O private-openssh` first.
    facts.openssh_loads = false;

    facts.encrypted = match lines.field("Encryption")? {
        "none" => false,
        "aes256-cbc" => true,
        other => {
            return Err(ParseError::Invalid {
                context: "putty Encryption",
                detail: format!("\"{}\" is not none or aes256-cbc", clip(other)),
            })
        }
    };
    if facts.encrypted {
        facts.cipher = Some("aes256-cbc".to_owned());
    }
    // The comment may hold any bytes but CR and LF, colons and spaces included.
    facts.comment = Some(lines.field("Comment")?.to_owned());

    let public_count = line_count(lines.field("Public-Lines")?, "putty Public-Lines")?;
    let public_text = lines.take(public_count, "putty public key")?;
    let public_blob = decode_base64(&public_text, "putty public key")?;
    let info = blob::describe(&public_blob)?;
    if info.algorithm != algorithm {
        return Err(ParseError::Invalid {
            context: "putty public key",
            detail: format!(
                "blob algorithm {} contradicts the header's {}",
                info.algorithm,
                clip(algorithm)
            ),
        });
    }
    facts.set_public(info);

    if facts.encrypted {
        match format {
            Format::PuttyV3 => argon2(&mut lines, &mut facts)?,
            // Appendix C.4 (PPK v2): the AES key is SHA-1(uint32 0 || passphrase) followed
            // by SHA-1(uint32 1 || passphrase): one hash round each, no salt.
            _ => {
                facts.kdf = Some("sha1".to_owned());
                facts.kdf_rounds = Some(1);
            }
        }
    }

    let private_count = line_count(lines.field("Private-Lines")?, "putty Private-Lines")?;
    let private_text = lines.take(private_count, "putty private key")?;
    let private_len = base64_len(&private_text, "putty private key")?;
    if private_len == 0 {
        return Err(ParseError::Truncated {
            context: "putty private key",
        });
    }
    // Appendix C.3: the private blob is padded to the cipher's block (16 bytes for AES).
    if facts.encrypted && private_len % 16 != 0 {
        return Err(ParseError::Invalid {
            context: "putty private key",
            detail: format!("{private_len} bytes is not a multiple of the AES block"),
        });
    }

    mac(&mut lines, format)?;
    Ok(facts)
}

/// Reads the Argon2 fields of an encrypted v3 file (appendix C.3) into `facts`.
fn argon2(lines: &mut Lines<'_>, facts: &mut KeyFacts) -> Result<(), ParseError> {
    let kdf = match lines.field("Key-Derivation")? {
        "Argon2id" => "argon2id",
        "Argon2i" => "argon2i",
        "Argon2d" => "argon2d",
        other => {
            return Err(ParseError::Invalid {
                context: "putty Key-Derivation",
                detail: format!("\"{}\" is not Argon2id, Argon2i or Argon2d", clip(other)),
            })
        }
    };
    facts.kdf = Some(kdf.to_owned());
    facts.kdf_memory_kib = Some(decimal(
        lines.field("Argon2-Memory")?,
        "putty Argon2-Memory",
    )?);
    facts.kdf_rounds = Some(decimal(
        lines.field("Argon2-Passes")?,
        "putty Argon2-Passes",
    )?);
    facts.kdf_parallelism = Some(decimal(
        lines.field("Argon2-Parallelism")?,
        "putty Argon2-Parallelism",
    )?);
    let salt = lines.field("Argon2-Salt")?.trim();
    if salt.len() % 2 != 0 || !salt.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::Invalid {
            context: "putty Argon2-Salt",
            detail: "not an even number of hex digits".to_owned(),
        });
    }
    Ok(())
}

/// Checks the closing MAC line: HMAC-SHA-256 in v3, HMAC-SHA-1 in v2 (appendix C.3, C.4).
/// `Private-Hash` (the unkeyed SHA-1 of format 1) is tolerated in v2 files too; PuTTY's
/// own reader accepts it only in v1 files.
fn mac(lines: &mut Lines<'_>, format: Format) -> Result<(), ParseError> {
    let (name, value) = lines.header()?;
    let value = value.trim();
    let digits = match (format, name) {
        (Format::PuttyV3, "Private-MAC") => 64,
        (Format::PuttyV2, "Private-MAC" | "Private-Hash") => 40,
        _ => {
            return Err(ParseError::Invalid {
                context: "putty key",
                detail: format!("\"{}\" where Private-MAC belongs", clip(name)),
            })
        }
    };
    if value.len() != digits || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::Invalid {
            context: "putty Private-MAC",
            detail: format!("not {digits} hex digits"),
        });
    }
    Ok(())
}

/// At most 64 characters of a field value, for error messages.
pub(super) fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A decimal `uint32` as PuTTY writes it (digits only).
pub(super) fn decimal(text: &str, context: &'static str) -> Result<u32, ParseError> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Invalid {
            context,
            detail: format!("\"{}\" is not a decimal number", clip(text)),
        });
    }
    text.parse().map_err(|_| ParseError::Invalid {
        context,
        detail: "above 4294967295".to_owned(),
    })
}

/// A `Public-Lines` / `Private-Lines` count, bounded by [`MAX_BLOB_LINES`].
fn line_count(text: &str, context: &'static str) -> Result<usize, ParseError> {
    let count = decimal(text, context)?;
    match usize::try_from(count) {
        Ok(count) if count < MAX_BLOB_LINES => Ok(count),
        _ => Err(ParseError::Invalid {
            context,
            detail: format!("{count} lines is more than any key needs (at most {MAX_BLOB_LINES})"),
        }),
    }
}

/// The byte length of padded base64 `text` (RFC 4648 §4) without decoding it.
fn base64_len(text: &str, context: &'static str) -> Result<usize, ParseError> {
    let bytes = text.as_bytes();
    let body = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(bytes);
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    if !bytes.len().is_multiple_of(4) || !body.iter().all(alphabet) {
        return Err(ParseError::Base64 { context });
    }
    let padding = bytes.len() - body.len();
    Ok((bytes.len() / 4 * 3).saturating_sub(padding))
}

/// The lines of a PPK file. PuTTY writes LF and reads CR LF and bare CR too (appendix
/// C.2), so both characters end a line; the empty strings between them are skipped.
pub(super) struct Lines<'a> {
    inner: std::str::Split<'a, [char; 2]>,
}

impl<'a> Lines<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Lines {
            inner: text.split(['\r', '\n']),
        }
    }

    /// The next non-empty line.
    pub(super) fn next_line(&mut self) -> Option<&'a str> {
        self.inner.by_ref().find(|line| !line.is_empty())
    }

    /// The next line as `Name: value`.
    pub(super) fn header(&mut self) -> Result<(&'a str, &'a str), ParseError> {
        let line = self.next_line().ok_or(ParseError::Truncated {
            context: "putty key header line",
        })?;
        let (name, value) = line.split_once(':').ok_or_else(|| ParseError::Invalid {
            context: "putty key",
            detail: "a line without \"Name: value\" where a header belongs".to_owned(),
        })?;
        Ok((name, value.strip_prefix(' ').unwrap_or(value)))
    }

    /// The value of the next line, which must be the header `name`.
    pub(super) fn field(&mut self, name: &'static str) -> Result<&'a str, ParseError> {
        let (found, value) = match self.header() {
            Err(ParseError::Truncated { .. }) => {
                return Err(ParseError::Truncated { context: name })
            }
            other => other?,
        };
        if found != name {
            return Err(ParseError::Invalid {
                context: "putty key",
                detail: format!("\"{}\" where {name} belongs", clip(found)),
            });
        }
        Ok(value)
    }

    /// The next `count` lines joined, in a buffer wiped on drop (they may be private).
    /// The buffer is sized first so that growing it leaves no unwiped copy behind.
    pub(super) fn take(
        &mut self,
        count: usize,
        context: &'static str,
    ) -> Result<Zeroizing<String>, ParseError> {
        let mut ahead = Lines {
            inner: self.inner.clone(),
        };
        let mut total = 0usize;
        for _ in 0..count {
            let line = ahead.next_line().ok_or(ParseError::Truncated { context })?;
            total = total.saturating_add(line.trim().len());
        }
        let mut joined = Zeroizing::new(String::with_capacity(total));
        for _ in 0..count {
            let line = self.next_line().ok_or(ParseError::Truncated { context })?;
            joined.push_str(line.trim());
        }
        Ok(joined)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Real keys written once by puttygen 0.78 in a temp dir; encrypted ones under the
    //! throwaway passphrase `keycheck-test`. Fingerprints are `ssh-keygen -l -E sha256` of
    //! `puttygen KEY -O public-openssh`.

    use super::*;

    /// `puttygen -t ed25519` with an empty passphrase: v3, unencrypted.
    const V3_ED25519: &str = "\
PuTTY-User-Key-File-3: ssh-ed25519
Encryption: none
Comment: ppk3-ed25519
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAILZyvcG0iaZ4qnPOQwPgWfYDwTJkhXD9lFm6w4sr
Mh5K
Private-Lines: 1
AAAAIJIjZUK9yWPyysOIvEeZk7i2Yslrx3leIEZAuRTg5UQV
Private-MAC: 94e6268f276f2146d4bd8a534b421aa49948983fb839eccb3ced8138b6032e5c
";

    /// `puttygen -t ed25519 --new-passphrase`: v3, Argon2id defaults.
    const V3_ED25519_ARGON2ID: &str = "\
PuTTY-User-Key-File-3: ssh-ed25519
Encryption: aes256-cbc
Comment: ppk3-ed25519-enc
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIKqF1XNci9Rx0ZZ0L3xBJMQs6N1oeTf7eNg6zf62
381B
Key-Derivation: Argon2id
Argon2-Memory: 8192
Argon2-Passes: 34
Argon2-Parallelism: 1
Argon2-Salt: e25d243d58911aed95455cc39910113e
Private-Lines: 1
r29aBpYBsK/XXJTht6d5oqDXSlk+sh/J1+5e7379rHQx8rzBb35HrnGlA1c0/zsJ
Private-MAC: 9aa46071820f2adb5738b0c287d745299a8d5d56ee56e86340aaaaee05ccdde2
";

    /// `--ppk-param kdf=argon2i,memory=1024,passes=3,parallelism=2`.
    pub(crate) const V3_ED25519_ARGON2I: &str = "\
PuTTY-User-Key-File-3: ssh-ed25519
Encryption: aes256-cbc
Comment: ppk3-ed25519-argon2i
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIP1amHnxSDRCIWGDDzN2KV9GDrEZ3MufIVECX3TQ
qlNf
Key-Derivation: Argon2i
Argon2-Memory: 1024
Argon2-Passes: 3
Argon2-Parallelism: 2
Argon2-Salt: dfafa30edadf5308985cc378bb48d18e
Private-Lines: 1
XkfuSFs708DWOCFcfomzyo7oUDMYI1JZNmD0zVojo9n6WmLSowAVWjlK+IQS8BAV
Private-MAC: 879179f7775a77bc6567ae0074c8778b3efb580d2064113e53d352004edbcc01
";

    /// `--ppk-param kdf=argon2d`.
    const V3_ED25519_ARGON2D: &str = "\
PuTTY-User-Key-File-3: ssh-ed25519
Encryption: aes256-cbc
Comment: ppk3-ed25519-argon2d
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIPmeVgdjexegrVVULr+GvB/VhOKLi26937m7NTPZ
r2b8
Key-Derivation: Argon2d
Argon2-Memory: 8192
Argon2-Passes: 34
Argon2-Parallelism: 1
Argon2-Salt: 546833f6489342374e17f41e06c0deb1
Private-Lines: 1
9pK7LcnBZJmqrm63zjZ+O+Y8y5ZLk5zwUWzRJmC+vH00WytbIs5nnLaez793JjnE
Private-MAC: 8a22dbbf95fc18fd5524194f04e6ae6bc49d6335b1cc9153170a3a1a56b2812c
";

    /// `puttygen -t ed25519 --ppk-param version=2`, unencrypted.
    const V2_ED25519: &str = "\
PuTTY-User-Key-File-2: ssh-ed25519
Encryption: none
Comment: ppk2-ed25519
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIBaWyHlOfiCoVhcBZzlHMWLXfQNyWmaMbGcJCAmt
76BW
Private-Lines: 1
AAAAILMEI/LBywbiEhcWH7jclVMd+kCXP1pqAjqJCHknf5sV
Private-MAC: cf277108c44df64d6feb4c9c7c4c085d47cae6e1
";

    /// `puttygen -t ed25519 --ppk-param version=2 --new-passphrase`.
    pub(crate) const V2_ED25519_AES: &str = "\
PuTTY-User-Key-File-2: ssh-ed25519
Encryption: aes256-cbc
Comment: ppk2-ed25519-enc
Public-Lines: 2
AAAAC3NzaC1lZDI1NTE5AAAAIHN5Pq1VwdgjAJxXlfwzJv2iT2OTFlP8R1YrMGsb
YoXa
Private-Lines: 1
h6sbeiRabXb6LiTFL3XScXNbsR7kqMmMrd/dl7OqatsCaQetBZvJ9Y6PG+EE5ouq
Private-MAC: c5b8285d759cd82e670a060e52cc60ac6cc05040
";

    /// `puttygen -t rsa -b 1031`: an odd size.
    const V3_RSA1031: &str = "\
PuTTY-User-Key-File-3: ssh-rsa
Encryption: none
Comment: ppk3-rsa1031
Public-Lines: 4
AAAAB3NzaC1yc2EAAAADAQABAAAAgVUdv81sCowW004/Yf3LGJzf4EDxfKe2KceB
b8e5JaOUkItd6ITfn4GeiB0WmruB4d7PbVlWfBff7wLc8bMqizSphWxQib5D2iP9
Y1oCH0xNf8shIlxaIye5lDuwDq0Y0GYemNrdiHnuNyhxagzuUVxuF1+FdIwi+yJM
ICK+eSd+Ow==
Private-Lines: 8
AAAAgQ1/d0BDZvTKVd4tzQNrZs7R7gU+ho8uIzgBPdHFecOUNsvzK4GO2QO8OUer
owQjV8d2y5eEUI+UspmYojfQglznmiCt41ntowdw37UdZA6RlvrBDEYidmqhVCTI
8xHPTJzePhJrZN9I77gnTiujTJPXp4nGFcNSwM44CvoJgG9K+QAAAEELfA2wjS4o
wsWLR9ENnYbZCjV7bfzCMLN7ptJp9QD3QoefxOV1hJ+9K6CXY1v12e5gOMR+PiEw
XDVqUp4SbPBXHwAAAEEHaU3f9Hz3krMCeMq4U6lI3zKs5XwsUQOOk/hClNzeX1XQ
89DqNmFgYzfe/mqV4lRCQJsJlrGtkwEPMdee6EIBZQAAAEEGn16l7V4xv7ZivwWG
ZVsrln4z2TZmsoYmjTUcQHLUMiuaXRs/SGDyZyvfwlgd1nYlRisIxk1n7lLloIR3
GHed6Q==
Private-MAC: 94fe22e8139a85e86fed64dcccc57b2cdaf276d13126a9647318ad83094cfae1
";

    /// `puttygen -t ecdsa -b 256`.
    const V3_P256: &str = "\
PuTTY-User-Key-File-3: ecdsa-sha2-nistp256
Encryption: none
Comment: ppk3-p256
Public-Lines: 3
AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGL+M8tYu8l+
6/OJUA+tdLMgCtf1DhZkvIxt8d652jdvSYvNchx2XCUUAOsOrSfBRHcTe/6RPLRc
WiSm6MnF6ZI=
Private-Lines: 1
AAAAIQCAtpWq2ZoWkYqXdVWTA+40/VDgrbH735AkkNiqIZuUfw==
Private-MAC: 7f930c7272985e211e02da2b014f75a0436b7d26e22b73866bff08396a6d6ff8
";

    /// `puttygen -t ecdsa -b 384 --ppk-param version=2`.
    const V2_P384: &str = "\
PuTTY-User-Key-File-2: ecdsa-sha2-nistp384
Encryption: none
Comment: ppk2-p384
Public-Lines: 3
AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBIh1zzRPsSHY
YV3bXDOyHv+NXdLu0g0Rde8tWUPItE7E/yc5BxfjLiyLdyPUAOZ/QiqELjunzUS5
p967pOXR9rNLeokMuEV/bRQBjvxzAmXYAvrl0NVw3B8W0+AukMI3NA==
Private-Lines: 2
AAAAMHJjmXLb1ngYuRtUGRWImB1LofY0osQlwMirOIaCS4p05rj1LcMJjTDA4xDJ
WqFRAA==
Private-MAC: 0f222f5aced3ef1f8d0d616d81065586736085f0
";

    /// `puttygen -t ecdsa -b 521`.
    const V3_P521: &str = "\
PuTTY-User-Key-File-3: ecdsa-sha2-nistp521
Encryption: none
Comment: ppk3-p521
Public-Lines: 4
AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAA2xelUD+Pu
s73zYnmj+aTtzZxBTQU69iRq4dFKWBU53eWq+YeK05jaT/kGe8ZzgqMLr1VOLuNb
a3cFGROctOOGIwFHX2WF1aDk9fR4ZMdK/nb1b9ear7rKcVT8se7dFiMIEmxWvONE
HUGss92COmG1ev6tSGHGOzlAH6qvuo6jD1ka6g==
Private-Lines: 2
AAAAQgGjjqn9iW17/rKb2h4PYFezRKsaKqBCha4HRubRKa3k9CRZyVs8H0dLZRuK
iW7vcsJOFnz5QgjBVrKey+HHSwSQXw==
Private-MAC: 6f49517c82cf1261ff3605851cbe989d489a1617ccc5957011f5b9045c0339b5
";

    /// `puttygen -t dsa -b 1024`.
    const V3_DSA: &str = "\
PuTTY-User-Key-File-3: ssh-dss
Encryption: none
Comment: ppk3-dsa
Public-Lines: 10
AAAAB3NzaC1kc3MAAACBAKqBujoPaIs+AkDv5gPYTdEDbiPrDFdAoUPg73jXs/Hg
/FSdr7FYIf1wrt9VPq+nN97nT5DBNLwAV846gfkPXfzLvVjOt6yvm7NTqSUY8eSj
H6au6o1VVJ1lx8w7nLIYkoHUWrriLaNGsS0aWGXGeRN/MpBtUQ4L6tQr0Ff3OW+P
AAAAFQCGaa6UQzxrJKYQCO1qwLfvUxy9UQAAAIAwYVYKmpQiuzuoqKzK5KWQdXjq
6pPLyTn/8cH140ZFOtEu30yM8IK8FGtom5xGVR0ecy7H3wY4Nb1h8U9eqXl3Nz60
cZCda4kWrpu1Adjg9TqdZa9nvw2slJQ3l3/bqZElitkQT5TUC6dFjd62EroqPbMM
Hdz53gS7meRRCSs8fQAAAIEAkpOKzNs4OyGRBCrXZVXCjn4r18mdN0FxrfKFw7j0
lXkDPhEY2T9qDWjHSSmw8CKzHLVB70I+GVw2ujGQCRkywBPvrhSYMLaGt9i7wozw
VxsM7aeSS0tRBz1mGFFHaDJZPOGK2I6MHm2kbnPBM8J3ORN1OR9eDhFmdRDBi7FS
Pfg=
Private-Lines: 1
AAAAFQCA7voEkqZZJ16VBZI3ZLVpokR4DA==
Private-MAC: 5346933866e80e195e149b0204177cebd99c074c236bbc892f096f9b3d141db4
";

    /// Inspects a test constant.
    fn facts(text: &str) -> KeyFacts {
        inspect(text).expect("inspects")
    }

    #[test]
    fn every_algorithm_and_version() {
        for (text, format, algorithm, bits, fingerprint, comment) in [
            (
                V3_ED25519,
                Format::PuttyV3,
                "ssh-ed25519",
                256,
                "SHA256:c7KIrlt28w6C9hrlQItgoazq4pskSGP9+13FNJh4Lt4",
                "ppk3-ed25519",
            ),
            (
                V2_ED25519,
                Format::PuttyV2,
                "ssh-ed25519",
                256,
                "SHA256:3l+xjIId2ZTnc0rM/fYIN/GCwOeQFUvcL7L6FtBSfng",
                "ppk2-ed25519",
            ),
            (
                V3_RSA1031,
                Format::PuttyV3,
                "ssh-rsa",
                1031,
                "SHA256:WEgcJuTOP4eoZ/pvaMP6gL2hbuPeFQk5VQA629Eqg2k",
                "ppk3-rsa1031",
            ),
            (
                V3_P256,
                Format::PuttyV3,
                "ecdsa-sha2-nistp256",
                256,
                "SHA256:VA3r3fYSaZqyYA6QvsGDKVvjjWx53HXRjUILjDlTWf4",
                "ppk3-p256",
            ),
            (
                V2_P384,
                Format::PuttyV2,
                "ecdsa-sha2-nistp384",
                384,
                "SHA256:UtcDhuupgc5y2oKBC7c0w5pRvr/CQgM57+PKprhlfNc",
                "ppk2-p384",
            ),
            (
                V3_P521,
                Format::PuttyV3,
                "ecdsa-sha2-nistp521",
                521,
                "SHA256:iLJZx9/DLhDyH6+4z4A7Yomo6jE2xNAPsFWyEOmiS7o",
                "ppk3-p521",
            ),
            (
                V3_DSA,
                Format::PuttyV3,
                "ssh-dss",
                1024,
                "SHA256:OgLsMvZHvgV0lA20DxZCHZENIxieCrQeLNDjYM5Rnv0",
                "ppk3-dsa",
            ),
        ] {
            let f = facts(text);
            assert_eq!(f.kind, Kind::Private);
            assert_eq!(f.format, format, "{comment}");
            assert_eq!(f.algorithm.as_deref(), Some(algorithm));
            assert_eq!(f.bits, Some(bits));
            assert_eq!(f.fingerprint.as_deref(), Some(fingerprint));
            assert_eq!(f.comment.as_deref(), Some(comment));
            assert!(!f.encrypted);
            assert_eq!(
                (f.cipher.as_deref(), f.kdf.as_deref(), f.kdf_rounds),
                (None, None, None)
            );
            assert!(!f.openssh_loads);
            assert!(!f.needs_public_part());
        }
    }

    #[test]
    fn v3_argon2_flavours() {
        for (text, kdf, memory, passes, parallelism, fingerprint) in [
            (
                V3_ED25519_ARGON2ID,
                "argon2id",
                8192,
                34,
                1,
                "SHA256:i/X+C5M6RcPs4eO2BmoQ9hQT1lgShf35FqKWCW4LvaM",
            ),
            (
                V3_ED25519_ARGON2I,
                "argon2i",
                1024,
                3,
                2,
                "SHA256:+HPngaF4Umf2hoNkOJ2JQ0RxBHhFMTGh4dc+4gZMuYo",
            ),
            (
                V3_ED25519_ARGON2D,
                "argon2d",
                8192,
                34,
                1,
                "SHA256:PZKtopxWS6KfJcKmfQv8o3/j/J021p4OWLZLlBGTzmM",
            ),
        ] {
            let f = facts(text);
            assert_eq!(f.format, Format::PuttyV3);
            assert!(f.encrypted);
            assert_eq!(f.cipher.as_deref(), Some("aes256-cbc"));
            assert_eq!(f.kdf.as_deref(), Some(kdf));
            assert_eq!(f.kdf_memory_kib, Some(memory));
            assert_eq!(f.kdf_rounds, Some(passes));
            assert_eq!(f.kdf_parallelism, Some(parallelism));
            // The public half stays readable under encryption.
            assert_eq!(f.fingerprint.as_deref(), Some(fingerprint));
            assert_eq!(f.bits, Some(256));
        }
    }

    #[test]
    fn v2_encrypted_uses_sha1() {
        let f = facts(V2_ED25519_AES);
        assert_eq!(f.format, Format::PuttyV2);
        assert!(f.encrypted);
        assert_eq!(f.cipher.as_deref(), Some("aes256-cbc"));
        assert_eq!((f.kdf.as_deref(), f.kdf_rounds), (Some("sha1"), Some(1)));
        assert_eq!((f.kdf_memory_kib, f.kdf_parallelism), (None, None));
        assert_eq!(
            f.fingerprint.as_deref(),
            Some("SHA256:/DlJs5Dd79VOzGulewgzB8dUDp4VfxNPUdiCMN+gK74")
        );
        assert_eq!(f.comment.as_deref(), Some("ppk2-ed25519-enc"));
    }

    #[test]
    fn crlf_and_bare_cr_line_endings() {
        for text in [
            V3_ED25519_ARGON2ID.replace('\n', "\r\n"),
            V3_ED25519_ARGON2ID.replace('\n', "\r"),
        ] {
            assert_eq!(facts(&text), facts(V3_ED25519_ARGON2ID));
        }
        assert_eq!(facts(&format!("\n\n{V2_P384}")), facts(V2_P384));
    }

    #[test]
    fn comment_keeps_colons_and_spaces() {
        let text = V3_ED25519.replace("Comment: ppk3-ed25519", "Comment: me@host: work key ");
        assert_eq!(facts(&text).comment.as_deref(), Some("me@host: work key "));
        let empty = V3_ED25519.replace("Comment: ppk3-ed25519", "Comment: ");
        assert_eq!(facts(&empty).comment.as_deref(), Some(""));
    }

    #[test]
    fn v2_private_hash_is_accepted() {
        let text = V2_ED25519.replace("Private-MAC:", "Private-Hash:");
        assert_eq!(facts(&text).format, Format::PuttyV2);
        let v3 = V3_ED25519.replace("Private-MAC:", "Private-Hash:");
        assert!(inspect(&v3).is_err());
    }

    #[test]
    fn header_must_match_blob() {
        let text = V3_ED25519.replace(
            "PuTTY-User-Key-File-3: ssh-ed25519",
            "PuTTY-User-Key-File-3: ssh-rsa",
        );
        let error = inspect(&text).expect_err("mismatch");
        assert!(error.to_string().contains("contradicts"), "{error}");
    }

    #[test]
    fn unsupported_versions_and_values() {
        for (from, to) in [
            ("PuTTY-User-Key-File-3:", "PuTTY-User-Key-File-1:"),
            ("PuTTY-User-Key-File-3:", "PuTTY-User-Key-File-4:"),
            ("PuTTY-User-Key-File-3:", "PuTTY-User-Key-File:"),
            ("Encryption: aes256-cbc", "Encryption: aes128-cbc"),
            ("Key-Derivation: Argon2id", "Key-Derivation: scrypt"),
            ("Argon2-Memory: 8192", "Argon2-Memory: 8k"),
            ("Argon2-Passes: 34", "Argon2-Passes: 99999999999"),
            ("Argon2-Parallelism: 1", "Argon2-Parallelism: -1"),
            ("Argon2-Salt: e25d", "Argon2-Salt: x25d"),
            ("Public-Lines: 2", "Public-Lines: 5461"),
            ("Public-Lines: 2", "Public-Lines: 18446744073709551617"),
            ("Public-Lines: 2", "Public-Lines: two"),
            ("Private-Lines: 1", "Private-Lines: 99999"),
            ("Private-MAC: 9aa4", "Private-MAC: 9aa"),
            ("Private-MAC: 9aa4", "Private-MAC: zaa4"),
            (
                "Encryption: aes256-cbc\nComment: ppk3-ed25519-enc",
                "Comment: ppk3-ed25519-enc\nEncryption: aes256-cbc",
            ),
        ] {
            let text = V3_ED25519_ARGON2ID.replacen(from, to, 1);
            assert_ne!(text, V3_ED25519_ARGON2ID, "{from}");
            assert!(inspect(&text).is_err(), "{to}");
        }
        // A 40-digit (v2) MAC in a v3 file, and Argon2 lines missing from an encrypted v3.
        let short_mac = V3_ED25519.replace(
            "94e6268f276f2146d4bd8a534b421aa49948983fb839eccb3ced8138b6032e5c",
            "cf277108c44df64d6feb4c9c7c4c085d47cae6e1",
        );
        assert!(inspect(&short_mac).is_err());
        let no_argon = V3_ED25519_ARGON2ID.replace("Key-Derivation: Argon2id\n", "");
        assert!(inspect(&no_argon).is_err());
    }

    #[test]
    fn private_blob_is_checked_without_decoding() {
        // Not a whole number of AES blocks, bad base64, and nothing at all.
        let partial = V3_ED25519_ARGON2ID.replace(
            "r29aBpYBsK/XXJTht6d5oqDXSlk+sh/J1+5e7379rHQx8rzBb35HrnGlA1c0/zsJ",
            "r29aBpYBsK/XXJTht6d5oqDX",
        );
        assert!(inspect(&partial).is_err());
        let bad = V3_ED25519.replace(
            "AAAAIJIjZUK9yWPyysOIvEeZk7i2Yslrx3leIEZAuRTg5UQV",
            "AAAAIJIjZUK9yWPyysOIvEeZk7i2Yslrx3leIEZAuRTg5UQ!",
        );
        assert!(matches!(inspect(&bad), Err(ParseError::Base64 { .. })));
        let none = V3_ED25519.replace(
            "Private-Lines: 1\nAAAAIJIjZUK9yWPyysOIvEeZk7i2Yslrx3leIEZAuRTg5UQV\n",
            "Private-Lines: 0\n",
        );
        assert!(inspect(&none).is_err());
    }

    #[test]
    fn every_prefix_is_an_error_never_a_panic() {
        for text in [V3_ED25519_ARGON2I, V2_ED25519_AES, V3_RSA1031] {
            let end = text.len() - 1; // all but the final newline
            for n in (0..end).filter(|&n| text.is_char_boundary(n)) {
                assert!(
                    inspect(text.get(..n).expect("prefix")).is_err(),
                    "prefix of {n}"
                );
            }
            assert!(inspect(text.get(..end).expect("without newline")).is_ok());
        }
    }

    #[test]
    fn garbage_is_an_error() {
        for text in [
            "",
            "PuTTY-User-Key-File-3: ssh-ed25519\n",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\nPublic-Lines: 1\n!!!!\n",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: x\nPublic-Lines: 1\nAAAA\n",
            "PuTTY-User-Key-File-3: ssh-ed25519\nnot a header\n",
            "\u{0}\u{1}PuTTY-User-Key-File-2",
        ] {
            assert!(inspect(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn dispatch_through_key_inspect() {
        let crate::key::Inspection::Key(f) = crate::key::inspect(V3_P256.as_bytes()) else {
            panic!("not a key");
        };
        assert_eq!(f.format, Format::PuttyV3);
        let crate::key::Inspection::Malformed { format, .. } = crate::key::inspect(
            V2_P384
                .replace("Public-Lines: 3", "Public-Lines: 9")
                .as_bytes(),
        ) else {
            panic!("not malformed");
        };
        assert_eq!(format, Some(Format::PuttyV2));
    }
}
