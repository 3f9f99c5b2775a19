//! PURE: SSH wire-format public key blobs (RFC 4253 §6.6, RFC 5656, RFC 8709,
//! OpenSSH PROTOCOL.u2f): algorithm, bit length and fingerprint.
//!
//! The fingerprint is the SHA-256 of the blob in unpadded base64, exactly as
//! `ssh-keygen -l -E sha256` prints it. Bits follow `ssh-keygen -l`: the modulus bit
//! length for RSA, the bit length of `p` for DSA, the curve size for ECDSA, 256 for
//! Ed25519.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::ParseError;

/// What a public key blob says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicInfo {
    /// The algorithm name at the head of the blob.
    pub algorithm: String,
    /// Bits as `ssh-keygen -l` prints them; `None` for algorithms keycheck does not know.
    pub bits: Option<u32>,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// The FIDO application of `sk-` keys.
    pub sk_application: Option<String>,
}

/// The `SHA256:` fingerprint of a public key blob.
#[must_use]
pub fn fingerprint(blob: &[u8]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(blob)))
}

/// The bit length of a big-endian unsigned integer (leading zero bytes ignored).
#[must_use]
pub fn bit_length(be: &[u8]) -> u32 {
    let Some(first) = be.iter().position(|&b| b != 0) else {
        return 0;
    };
    let bytes = u32::try_from(be.len() - first).unwrap_or(u32::MAX);
    bytes.saturating_mul(8) - be[first].leading_zeros()
}

/// Bits of an ECDSA curve by its SSH name.
#[must_use]
pub fn curve_bits(curve: &str) -> Option<u32> {
    match curve {
        "nistp256" => Some(256),
        "nistp384" => Some(384),
        "nistp521" => Some(521),
        _ => None,
    }
}

/// Describes a public key blob.
///
/// # Errors
/// [`ParseError`] when the blob is truncated or its algorithm name is not printable.
/// Algorithms keycheck does not know are not an error: they get `bits: None`.
pub fn describe(blob: &[u8]) -> Result<PublicInfo, ParseError> {
    let mut r = Reader::new(blob);
    let algorithm = r.name("public key algorithm")?;
    let mut sk_application = None;
    let bits = match algorithm.as_str() {
        "ssh-rsa" => {
            r.mpint("rsa public exponent")?;
            Some(bit_length(r.mpint("rsa modulus")?))
        }
        "ssh-dss" => {
            let p = r.mpint("dsa p")?;
            r.mpint("dsa q")?;
            r.mpint("dsa g")?;
            r.mpint("dsa public value")?;
            Some(bit_length(p))
        }
        "ssh-ed25519" => {
            r.string("ed25519 public key")?;
            Some(256)
        }
        "sk-ssh-ed25519@openssh.com" => {
            r.string("ed25519 public key")?;
            sk_application = Some(r.name("sk application")?);
            Some(256)
        }
        a if a.starts_with("ecdsa-sha2-") => {
            let curve = r.name("ecdsa curve")?;
            r.string("ecdsa point")?;
            curve_bits(&curve)
        }
        "sk-ecdsa-sha2-nistp256@openssh.com" => {
            let curve = r.name("ecdsa curve")?;
            r.string("ecdsa point")?;
            sk_application = Some(r.name("sk application")?);
            curve_bits(&curve)
        }
        _ => None,
    };
    // ssh-keygen refuses a blob with bytes after a known key's fields ("not a public key
    // file"); so does keycheck. The layout of unknown algorithms is unknown.
    if bits.is_some() && !r.rest().is_empty() {
        return Err(ParseError::Invalid {
            context: "public key blob",
            detail: format!("{} bytes after the {algorithm} key", r.rest().len()),
        });
    }
    Ok(PublicInfo {
        algorithm,
        bits,
        fingerprint: fingerprint(blob),
        sk_application,
    })
}

/// A bounds-checked reader of SSH wire-format data (RFC 4251 §5).
///
/// It also reads unencrypted private sections (OpenSSH, SSH-1, ssh.com), so its `Debug`
/// shows how many bytes are left, never the bytes.
#[derive(Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl std::fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("remaining", &self.data.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Reader<'a> {
    /// Reads from the start of `data`.
    #[must_use]
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// What is left unread.
    #[must_use]
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Reads `n` raw bytes.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn bytes(&mut self, n: usize, context: &'static str) -> Result<&'a [u8], ParseError> {
        if n > self.data.len() {
            return Err(ParseError::Truncated { context });
        }
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        Ok(head)
    }

    /// Reads one byte.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn u8(&mut self, context: &'static str) -> Result<u8, ParseError> {
        Ok(self.bytes(1, context)?[0])
    }

    /// Reads a big-endian `uint32`.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn u32(&mut self, context: &'static str) -> Result<u32, ParseError> {
        let b = self.bytes(4, context)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads a big-endian `uint64`.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn u64(&mut self, context: &'static str) -> Result<u64, ParseError> {
        let hi = u64::from(self.u32(context)?);
        let lo = u64::from(self.u32(context)?);
        Ok(hi << 32 | lo)
    }

    /// Reads a `string` (uint32 length + bytes).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn string(&mut self, context: &'static str) -> Result<&'a [u8], ParseError> {
        let len = self.u32(context)?;
        self.bytes(usize::try_from(len).unwrap_or(usize::MAX), context)
    }

    /// Reads a `string` that must be a printable ASCII name (algorithm, cipher, curve).
    ///
    /// # Errors
    /// [`ParseError::Truncated`], or [`ParseError::Invalid`] when it is not printable.
    pub fn name(&mut self, context: &'static str) -> Result<String, ParseError> {
        let raw = self.string(context)?;
        if raw.len() > 256 || !raw.iter().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::Invalid {
                context,
                detail: "not a printable name".to_owned(),
            });
        }
        Ok(String::from_utf8_lossy(raw).into_owned())
    }

    /// Reads a `string` as UTF-8 text (comments), replacing invalid sequences.
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn text(&mut self, context: &'static str) -> Result<String, ParseError> {
        Ok(String::from_utf8_lossy(self.string(context)?).into_owned())
    }

    /// Reads an `mpint` and returns its magnitude bytes (big-endian, sign byte included).
    ///
    /// # Errors
    /// [`ParseError::Truncated`] naming `context`.
    pub fn mpint(&mut self, context: &'static str) -> Result<&'a [u8], ParseError> {
        self.string(context)
    }
}

/// Builds SSH wire-format blobs (for keys found in PEM and other non-SSH containers).
///
/// Meant for public blobs, but nothing stops a caller from writing private fields: its
/// `Debug` shows the length only.
#[derive(Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("len", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// An empty writer.
    #[must_use]
    pub fn new() -> Self {
        Writer::default()
    }

    /// Appends a `string`.
    #[must_use]
    pub fn string(mut self, data: &[u8]) -> Self {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(data);
        self
    }

    /// Appends an `mpint` from an unsigned big-endian magnitude.
    #[must_use]
    pub fn mpint(self, be: &[u8]) -> Self {
        let first = be.iter().position(|&b| b != 0).unwrap_or(be.len());
        let magnitude = &be[first..];
        if magnitude.first().is_some_and(|&b| b & 0x80 != 0) {
            let mut padded = Vec::with_capacity(magnitude.len() + 1);
            padded.push(0);
            padded.extend_from_slice(magnitude);
            self.string(&padded)
        } else {
            self.string(magnitude)
        }
    }

    /// The finished blob.
    #[must_use]
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// The `ssh-rsa` blob of a public exponent and modulus.
#[must_use]
pub fn rsa_blob(e: &[u8], n: &[u8]) -> Vec<u8> {
    Writer::new().string(b"ssh-rsa").mpint(e).mpint(n).finish()
}

/// The `ssh-dss` blob of DSA parameters and public value.
#[must_use]
pub fn dsa_blob(p: &[u8], q: &[u8], g: &[u8], y: &[u8]) -> Vec<u8> {
    Writer::new()
        .string(b"ssh-dss")
        .mpint(p)
        .mpint(q)
        .mpint(g)
        .mpint(y)
        .finish()
}

/// The `ecdsa-sha2-<curve>` blob of an uncompressed SEC1 point; `curve` is `nistp256` etc.
#[must_use]
pub fn ecdsa_blob(curve: &str, point: &[u8]) -> Vec<u8> {
    Writer::new()
        .string(format!("ecdsa-sha2-{curve}").as_bytes())
        .string(curve.as_bytes())
        .string(point)
        .finish()
}

/// The `ssh-ed25519` blob of a 32-byte public key.
#[must_use]
pub fn ed25519_blob(public: &[u8]) -> Vec<u8> {
    Writer::new().string(b"ssh-ed25519").string(public).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_ignores_leading_zeros() {
        assert_eq!(bit_length(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(bit_length(&[0x01, 0xff]), 9);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[]), 0);
    }

    #[test]
    fn rsa_blob_roundtrip() {
        let mut n = vec![0xc5u8];
        n.extend(std::iter::repeat_n(0x11, 255));
        let blob = rsa_blob(&[1, 0, 1], &n);
        let info = describe(&blob).expect("describes");
        assert_eq!(info.algorithm, "ssh-rsa");
        assert_eq!(info.bits, Some(2048));
        assert!(info.fingerprint.starts_with("SHA256:"));
        assert_eq!(info.fingerprint.len(), 7 + 43);
    }

    #[test]
    fn unknown_algorithm_keeps_name_and_fingerprint() {
        let blob = Writer::new()
            .string(b"ssh-mldsa44-ed25519@openssh.com")
            .string(&[7; 40])
            .finish();
        let info = describe(&blob).expect("describes");
        assert_eq!(info.algorithm, "ssh-mldsa44-ed25519@openssh.com");
        assert_eq!(info.bits, None);
        assert_eq!(info.fingerprint, fingerprint(&blob));
    }

    #[test]
    fn truncated_and_garbage_blobs_are_errors() {
        assert!(describe(&[0, 0, 0, 7, b's']).is_err());
        assert!(describe(&[0, 0, 0, 2, 0, 1]).is_err());
        let rsa_cut = Writer::new().string(b"ssh-rsa").mpint(&[1, 0, 1]).finish();
        assert!(describe(&rsa_cut).is_err());
        assert!(describe(&[0xff, 0xff, 0xff, 0xff]).is_err());
        let mut trailing = Writer::new()
            .string(b"ssh-ed25519")
            .string(&[1; 32])
            .finish();
        assert!(describe(&trailing).is_ok());
        trailing.push(0);
        assert!(describe(&trailing).is_err());
    }

    #[test]
    fn debug_of_a_reader_and_a_writer_never_shows_their_bytes() {
        // An Ed25519 private field as the OpenSSH private section holds it.
        let secret: Vec<u8> = (0u8..64)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        let section = Writer::new()
            .string(b"ssh-ed25519")
            .string(&secret)
            .finish();
        let mut reader = Reader::new(&section);
        reader.name("key type").expect("the key type");
        let writer = Writer::new().string(&secret);
        // What a derived `Debug` would print of the bytes: `[11, 48, 85, 122, ...]`, or
        // with `{:x?}` `[b, 30, 55, 7a, ...]`.
        let trim = |s: String| s.trim_matches(['[', ']']).to_owned();
        let leaks = [
            trim(format!("{:?}", &secret[..4])),
            trim(format!("{:x?}", &secret[..4])),
        ];
        for shown in [
            format!("{reader:?}"),
            format!("{reader:#?}"),
            format!("{reader:x?}"),
            format!("{writer:?}"),
            format!("{writer:#?}"),
        ] {
            for leak in &leaks {
                assert!(!shown.contains(leak.as_str()), "{shown} shows {leak}");
            }
        }
        assert_eq!(format!("{reader:?}"), "Reader { remaining: 68, .. }");
        assert_eq!(format!("{writer:?}"), "Writer { len: 68, .. }");
    }
}
