//! Why a file that looks like a key could not be read as one.
//!
//! Messages are lowercase, name the part that failed, and never carry key bytes.

/// A key file's content could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The armour's body is not valid base64.
    #[error("{context}: invalid base64")]
    Base64 {
        /// Which part of the file.
        context: &'static str,
    },
    /// The data ends before a field it announces.
    #[error("{context}: truncated")]
    Truncated {
        /// Which field was cut off.
        context: &'static str,
    },
    /// A field holds a value the format does not allow.
    #[error("{context}: {detail}")]
    Invalid {
        /// Which field.
        context: &'static str,
        /// What is wrong with it (never key bytes).
        detail: String,
    },
    /// An ASN.1 structure could not be decoded.
    #[error("{context}: malformed ASN.1 ({detail})")]
    Asn1 {
        /// Which structure.
        context: &'static str,
        /// The decoder's description of the fault.
        detail: String,
    },
    /// A BEGIN line without its END line.
    #[error("no \"{end}\" line after the BEGIN line")]
    MissingEnd {
        /// The END line that was expected.
        end: String,
    },
    /// A PEM private key of a kind keycheck does not read.
    #[error("unsupported private key type \"{label}\"")]
    UnsupportedLabel {
        /// The armour label, e.g. `FOO PRIVATE KEY`.
        label: String,
    },
}
